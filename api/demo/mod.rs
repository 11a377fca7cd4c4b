//! `pingyi demo`: a realistic data set — 大连市委 down to the branches of a vocational
//! college, across the six domains, with secretaries, members and a demo user per role.
//! Loading it twice changes nothing: it goes through the CSV import, keyed by external id.

use diesel::prelude::*;

use crate::auth::{Actor, Role};
use crate::db::schema::{grants, orgs, people, users};
use crate::db::{self, DbConn};
use crate::error::{ApiError, ApiResult};
use crate::imports::{self, csv_rows};
use crate::people::model::{MemberType, Position};

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
const USERS: [(&str, &str, Role, &str); 6] = [
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
];

pub struct Summary {
    pub orgs: u32,
    pub people: u32,
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

pub fn load(conn: &mut DbConn) -> ApiResult<Summary> {
    db::write_transaction(conn, |conn| {
        let admin_id: i64 = grants::table
            .filter(grants::role.eq(Role::Admin))
            .select(grants::user_id)
            .first(conn)
            .optional()?
            .ok_or_else(|| ApiError::internal("no administrator: start the server once first"))?;
        let mut admin = Actor::administrator(admin_id, "demo loader");
        admin.request_id = "demo".into();
        let (org_records, errors) = csv_rows::parse_orgs(ORGS_CSV);
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let branches: Vec<(String, i64)> = org_records
            .iter()
            .filter(|r| r.kind.as_str() == "branch")
            .enumerate()
            .map(|(i, r)| (r.external_id.clone(), 5 + (i as i64 % 4)))
            .collect();
        let org_report = imports::apply_orgs(conn, &admin, org_records)?;
        let people_report = imports::apply_people(conn, &admin, people_records(&branches))?;

        // Each branch's secretary is its first person.
        for (external_id, _) in &branches {
            let org_id: i64 = orgs::table
                .filter(orgs::external_id.eq(external_id))
                .select(orgs::id)
                .first(conn)?;
            let secretary: i64 = people::table
                .filter(people::external_id.eq(format!("{external_id}-P01")))
                .select(people::id)
                .first(conn)?;
            diesel::update(orgs::table.find(org_id))
                .set(orgs::secretary_id.eq(secretary))
                .execute(conn)?;
        }

        let mut logins = Vec::new();
        for (username, display_name, role, org_external_id) in USERS {
            let org_id: i64 = orgs::table
                .filter(orgs::external_id.eq(org_external_id))
                .select(orgs::id)
                .first(conn)?;
            let exists: i64 = users::table
                .filter(users::username.eq(username))
                .count()
                .get_result(conn)?;
            if exists == 0 {
                let person_id = if role == Role::Member {
                    people::table
                        .filter(people::external_id.eq(format!("{org_external_id}-P04")))
                        .select(people::id)
                        .first(conn)
                        .optional()?
                } else {
                    None
                };
                let hash = crate::auth::password::hash(DEMO_PASSWORD)?;
                let id = crate::users::insert_user(
                    conn,
                    username,
                    display_name,
                    &hash,
                    person_id,
                    Some(org_id),
                )?;
                crate::users::insert_grant(conn, id, Some(org_id), role)?;
            }
            logins.push((
                username.to_owned(),
                DEMO_PASSWORD.to_owned(),
                role,
                org_external_id.to_owned(),
            ));
        }
        Ok(Summary {
            orgs: org_report.created,
            people: people_report.created,
            logins,
        })
    })
}
