//! `pingyi demo`: a realistic data set — 大连市委 down to the branches of a vocational
//! college, across the six domains, with secretaries, members and a demo user per role.
//! Loading it twice changes nothing: it goes through the CSV import, keyed by external id.

mod campaign;
pub mod evaluation;
mod instant;
mod queries;
mod records;

use crate::auth::{Actor, Role};
use crate::db::{self, DbConn};
use crate::error::{ApiError, ApiResult};
use crate::imports::{self, csv_rows};
use crate::orgs::model::{OrgKind, OrgRow};
use crate::orgs::queries as org_queries;
use crate::people::model::{MemberType, Position};
use crate::people::queries as people_queries;

const ORGS_CSV: &str = include_str!("orgs.csv");
pub const DEMO_PASSWORD: &str = "pingyi-demo-2026";

const SURNAMES: [&str; 16] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
];
const GIVEN: [&str; 20] = [
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "华", "建国",
];

/// Demo users: (username, display name, role, org external id).
const USERS: [(&str, &str, Role, &str); 7] = [
    ("demo.city", "市委组织部", Role::OrgAdmin, "DL"),
    ("demo.college", "学院组织部", Role::OrgAdmin, "DLVTC"),
    (
        "demo.secretary",
        "教工第一党支部书记",
        Role::Secretary,
        "DLVTC-JD-01",
    ),
    ("demo.observer", "市教育工委派员", Role::Observer, "DLVTC"),
    (
        "demo.member",
        "教工第一党支部党员",
        Role::Member,
        "DLVTC-JD-01",
    ),
    (
        "demo.integration",
        "市党员信息系统",
        Role::Integration,
        "DL",
    ),
    (
        "demo.desk",
        "后勤服务中心窗口负责人",
        Role::OrgAdmin,
        instant::DESK,
    ),
];

pub struct Summary {
    pub orgs: u32,
    pub people: u32,
    /// Whether the demo campaign (with closed sessions) was loaded now.
    pub campaign: bool,
    pub logins: Vec<(String, String, Role, String)>,
}

/// The people of the demo: a secretary and several members in every branch.
fn people_records(branches: &[(String, i64)]) -> Vec<csv_rows::PersonRecord> {
    let mut records = Vec::new();
    let mut n = 0usize;
    for (external_id, size) in branches {
        for i in 0..*size {
            n += 1;
            let name = format!(
                "{}{}",
                SURNAMES[(n * 7) % SURNAMES.len()],
                GIVEN[(n * 11) % GIVEN.len()]
            );
            records.push(csv_rows::PersonRecord {
                line: n as u64 + 1,
                external_id: format!("{external_id}-P{:02}", i + 1),
                org_external_id: external_id.clone(),
                name,
                member_type: if i % 7 == 6 {
                    MemberType::Probationary
                } else {
                    MemberType::Full
                },
                position: Some(match i {
                    0 => Position::Secretary,
                    1 => Position::DeputySecretary,
                    2 => Position::CommitteeMember,
                    _ => Position::Member,
                }),
                joined_on: chrono::NaiveDate::from_ymd_opt(
                    1985 + (n % 35) as i32,
                    1 + (n % 12) as u32,
                    1,
                ),
                phone: Some(format!("138{:08}", 41_000_000 + n * 137)),
            });
        }
    }
    records
}

/// Refuses a database that already holds orgs or people, unless `force`: the demo users'
/// passwords are published.
pub fn ensure_empty(conn: &mut DbConn, force: bool) -> ApiResult<()> {
    if !force && queries::holds_data(conn)? {
        return Err(ApiError::conflict(
            crate::error::ErrorCode::Conflict,
            "The database already holds orgs or people; the demo (whose passwords are \
             published) loads only into an empty one. Pass --force to load it anyway.",
        ));
    }
    Ok(())
}

pub fn load(conn: &mut DbConn) -> ApiResult<Summary> {
    db::write_transaction(conn, |conn| {
        let mut admin = Actor::administrator(
            crate::users::queries::an_administrator(conn)?.ok_or_else(|| {
                crate::error::ApiError::internal("no administrator: start the server once first")
            })?,
            "demo loader",
        );
        admin.request_id = "demo".into();
        let (org_records, errors) = csv_rows::parse_orgs(ORGS_CSV);
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let branches = branch_sizes(&org_records);
        let org_report = imports::apply_orgs(
            &mut imports::Target::Transaction(conn),
            &admin,
            org_records,
            &|_| {},
        )?;
        let people_report = imports::apply_people(
            &mut imports::Target::Transaction(conn),
            &admin,
            people_records(&branches),
            &|_| {},
        )?;
        for (external_id, _) in &branches {
            appoint_first_person(conn, external_id)?;
        }
        let logins = USERS
            .into_iter()
            .map(|user| demo_login(conn, user))
            .collect::<ApiResult<_>>()?;
        let campaign = campaign::load(conn, &admin)?;
        Ok(Summary {
            orgs: org_report.created,
            people: people_report.created,
            campaign,
            logins,
        })
    })
}

/// Every branch of the file, with how many people it gets (5 to 8).
fn branch_sizes(org_records: &[csv_rows::OrgRecord]) -> Vec<(String, i64)> {
    org_records
        .iter()
        .filter(|r| r.kind == OrgKind::Branch)
        .enumerate()
        .map(|(i, r)| (r.external_id.clone(), 5 + (i as i64 % 4)))
        .collect()
}

fn org_by_external_id(conn: &mut DbConn, external_id: &str) -> ApiResult<OrgRow> {
    org_queries::find_by_external_id(conn, external_id)?
        .ok_or_else(|| ApiError::internal(format!("the demo org {external_id} is missing")))
}

/// A branch's secretary is its first person.
fn appoint_first_person(conn: &mut DbConn, external_id: &str) -> ApiResult<()> {
    let org = org_by_external_id(conn, external_id)?;
    let secretary = people_queries::find_by_external_id(conn, &format!("{external_id}-P01"))?
        .ok_or_else(|| ApiError::internal(format!("the secretary of {external_id} is missing")))?;
    org_queries::set_secretary(conn, org.id, secretary.id)
}

/// A demo user, created unless the username is taken already (a member's account belongs
/// to the fourth person of the org).
fn demo_login(
    conn: &mut DbConn,
    (username, display_name, role, org_external_id): (&str, &str, Role, &str),
) -> ApiResult<(String, String, Role, String)> {
    let org = org_by_external_id(conn, org_external_id)?;
    if !queries::username_taken(conn, username)? {
        let person_id = match role {
            Role::Member => {
                people_queries::find_by_external_id(conn, &format!("{org_external_id}-P04"))?
                    .map(|p| p.id)
            }
            _ => None,
        };
        let hash = crate::auth::password::hash(DEMO_PASSWORD)?;
        let id = crate::users::insert_user(
            conn,
            username,
            display_name,
            &hash,
            person_id,
            Some(org.id),
        )?;
        crate::users::insert_grant(conn, id, Some(org.id), role)?;
    }
    Ok((
        username.to_owned(),
        DEMO_PASSWORD.to_owned(),
        role,
        org_external_id.to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_file_parses_and_every_branch_gets_people() {
        let (records, errors) = csv_rows::parse_orgs(ORGS_CSV);
        assert!(errors.is_empty(), "{errors:?}");
        let branches = branch_sizes(&records);
        assert!(!branches.is_empty());
        assert!(branches.iter().all(|(_, size)| (5..=8).contains(size)));
        let people = people_records(&branches);
        let total: i64 = branches.iter().map(|(_, size)| size).sum();
        assert_eq!(people.len() as i64, total);
        assert!(people
            .iter()
            .all(|p| p.external_id.starts_with(&p.org_external_id)));
        for (_, _, _, org) in USERS {
            assert!(records.iter().any(|r| r.external_id == org), "{org}");
        }
    }
}
