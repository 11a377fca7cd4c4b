//! Pure rules of the tree.

use super::model::{Org, OrgNode, OrgRow, OrgStatus};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::people::model::{PersonRow, PersonStatus};

/// A move is a cycle when the new parent is the org itself or inside its subtree.
pub fn is_cycle(org_path: &str, new_parent_path: &str) -> bool {
    new_parent_path.starts_with(org_path)
}

/// `%` and `_` match themselves in a name search.
pub fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// A new org goes under an active parent only.
pub fn check_parent_active(parent: Option<&OrgRow>) -> ApiResult<()> {
    match parent {
        Some(parent) if !parent.is_active() => Err(ApiError::conflict(
            ErrorCode::ParentArchived,
            "The parent org is archived.",
        )),
        _ => Ok(()),
    }
}

/// An org moves under an active parent outside its own subtree.
pub fn check_move(org: &OrgRow, new_parent: &OrgRow) -> ApiResult<()> {
    if is_cycle(&org.path, &new_parent.path) {
        return Err(ApiError::conflict(
            ErrorCode::Cycle,
            "An org cannot move into its own subtree.",
        ));
    }
    if !new_parent.is_active() {
        return Err(ApiError::conflict(
            ErrorCode::ParentArchived,
            "The new parent org is archived.",
        ));
    }
    Ok(())
}

/// What archiving an org does: nothing when it is archived already, refused while it has
/// active children.
pub fn archiving_needed(org: &OrgRow, active_children: i64) -> ApiResult<bool> {
    if org.status == OrgStatus::Archived {
        return Ok(false);
    }
    if active_children > 0 {
        return Err(ApiError::conflict(
            ErrorCode::HasActiveChildren,
            "Archive or move the org's children first.",
        ));
    }
    Ok(true)
}

/// An org's secretary is an active person of that org.
pub fn check_secretary(person: Option<&PersonRow>, org_id: i64) -> ApiResult<()> {
    match person {
        Some(p) if p.org_id == org_id && p.status == PersonStatus::Active => Ok(()),
        _ => Err(ApiError::field(
            "secretary_id",
            "must be an active person of this org",
        )),
    }
}

/// A PATCH that sets an `external_id` sets a non-blank one of at most 100 characters
/// (`null` clears it).
pub fn check_external_id_patch(external_id: &Option<Option<String>>) -> ApiResult<()> {
    match external_id {
        Some(Some(e)) if e.trim().is_empty() || e.chars().count() > 100 => Err(ApiError::field(
            "external_id",
            "length must be between 1 and 100",
        )),
        _ => Ok(()),
    }
}

/// Nests rows (in path order, the root first) into a tree.
pub fn build_tree(rows: Vec<OrgRow>) -> Option<OrgNode> {
    let mut rows = rows.into_iter();
    let root = rows.next()?;
    let mut stack: Vec<(String, OrgNode)> = vec![(
        root.path.clone(),
        OrgNode {
            org: Org::from(root),
            children: vec![],
        },
    )];
    for row in rows {
        // Pop finished siblings' subtrees until the top of the stack is this row's parent.
        while stack.len() > 1 && !row.path.starts_with(&stack.last().expect("non-empty").0) {
            let (_, done) = stack.pop().expect("non-empty");
            stack.last_mut().expect("root stays").1.children.push(done);
        }
        if !row.path.starts_with(&stack.last().expect("non-empty").0) {
            continue; // not under the root: cannot happen with a subtree query
        }
        let path = row.path.clone();
        stack.push((
            path,
            OrgNode {
                org: Org::from(row),
                children: vec![],
            },
        ));
    }
    while stack.len() > 1 {
        let (_, done) = stack.pop().expect("non-empty");
        stack.last_mut().expect("root stays").1.children.push(done);
    }
    stack.pop().map(|(_, node)| node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orgs::model::{Domain, OrgKind};
    use crate::people::model::MemberType;

    fn row(id: i64, path: &str) -> OrgRow {
        let now = chrono::Utc::now().naive_utc();
        OrgRow {
            id,
            parent_id: None,
            name: format!("org {id}"),
            kind: OrgKind::Branch,
            domain: Domain::Other,
            window_unit: false,
            external_id: None,
            secretary_id: None,
            status: OrgStatus::Active,
            path: path.into(),
            depth: path.matches('/').count() as i32 - 2,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn cycles() {
        assert!(is_cycle("/1/2/", "/1/2/"));
        assert!(is_cycle("/1/2/", "/1/2/5/"));
        assert!(!is_cycle("/1/2/", "/1/"));
        assert!(!is_cycle("/1/2/", "/1/20/"));
    }

    #[test]
    fn nests_rows_in_path_order() {
        let tree = build_tree(vec![
            row(1, "/1/"),
            row(2, "/1/2/"),
            row(5, "/1/2/5/"),
            row(6, "/1/2/6/"),
            row(3, "/1/3/"),
            row(9, "/1/3/9/"),
        ])
        .unwrap();
        assert_eq!(tree.org.id, 1);
        let ids: Vec<i64> = tree.children.iter().map(|c| c.org.id).collect();
        assert_eq!(ids, vec![2, 3]);
        let grandchildren: Vec<i64> = tree.children[0].children.iter().map(|c| c.org.id).collect();
        assert_eq!(grandchildren, vec![5, 6]);
        assert_eq!(tree.children[1].children[0].org.id, 9);
    }

    fn archived(mut org: OrgRow) -> OrgRow {
        org.status = OrgStatus::Archived;
        org
    }

    fn code(result: ApiResult<impl std::fmt::Debug>) -> ErrorCode {
        result.expect_err("refused").code
    }

    #[test]
    fn escapes_like_patterns() {
        assert_eq!(escape_like(r"50%_a\b"), r"50\%\_a\\b");
    }

    #[test]
    fn parents_and_moves() {
        assert!(check_parent_active(None).is_ok());
        assert!(check_parent_active(Some(&row(1, "/1/"))).is_ok());
        assert_eq!(
            code(check_parent_active(Some(&archived(row(1, "/1/"))))),
            ErrorCode::ParentArchived
        );
        let org = row(2, "/1/2/");
        assert!(check_move(&org, &row(3, "/1/3/")).is_ok());
        assert_eq!(code(check_move(&org, &row(5, "/1/2/5/"))), ErrorCode::Cycle);
        assert_eq!(
            code(check_move(&org, &archived(row(5, "/1/2/5/")))),
            ErrorCode::Cycle,
            "a cycle is named first"
        );
        assert_eq!(
            code(check_move(&org, &archived(row(3, "/1/3/")))),
            ErrorCode::ParentArchived
        );
    }

    #[test]
    fn archiving() {
        assert!(archiving_needed(&row(2, "/1/2/"), 0).unwrap());
        assert!(!archiving_needed(&archived(row(2, "/1/2/")), 3).unwrap());
        assert_eq!(
            code(archiving_needed(&row(2, "/1/2/"), 1)),
            ErrorCode::HasActiveChildren
        );
    }

    #[test]
    fn secretaries_and_external_ids() {
        let now = chrono::Utc::now().naive_utc();
        let person = PersonRow {
            id: 41,
            org_id: 7,
            name: "李明".into(),
            member_type: MemberType::Full,
            position: None,
            joined_on: None,
            external_id: None,
            phone: None,
            status: PersonStatus::Active,
            created_at: now,
            updated_at: now,
        };
        assert!(check_secretary(Some(&person), 7).is_ok());
        assert!(check_secretary(Some(&person), 8).is_err());
        assert!(check_secretary(None, 7).is_err());
        let gone = PersonRow {
            status: PersonStatus::Archived,
            ..person
        };
        assert!(check_secretary(Some(&gone), 7).is_err());
        assert!(check_external_id_patch(&None).is_ok());
        assert!(check_external_id_patch(&Some(None)).is_ok());
        assert!(check_external_id_patch(&Some(Some("X-1".into()))).is_ok());
        assert!(check_external_id_patch(&Some(Some("  ".into()))).is_err());
        assert!(check_external_id_patch(&Some(Some("x".repeat(101)))).is_err());
    }
}
