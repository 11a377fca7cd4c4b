//! Pure rules of the tree.

use super::model::{Org, OrgNode, OrgRow};

/// A move is a cycle when the new parent is the org itself or inside its subtree.
pub fn is_cycle(org_path: &str, new_parent_path: &str) -> bool {
    new_parent_path.starts_with(org_path)
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

    fn row(id: i64, path: &str) -> OrgRow {
        let now = chrono::Utc::now().naive_utc();
        OrgRow {
            id,
            parent_id: None,
            name: format!("org {id}"),
            kind: "branch".into(),
            domain: "other".into(),
            window_unit: false,
            external_id: None,
            secretary_id: None,
            status: "active".into(),
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
}
