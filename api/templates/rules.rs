//! Pure rules of criteria templates.

use std::collections::HashSet;

use super::model::{Criteria, Criterion, Level, NewCriteria, NewCriterion, Template};
use crate::error::{ApiError, ApiResult, ErrorCode, FieldError};

/// Whether a campaign of the org at `org_path` may use a template owned at `owner_path`:
/// the built-in one, or one owned by the org itself or a superior.
pub fn usable_by(owner_path: Option<&str>, org_path: &str) -> bool {
    owner_path.is_none_or(|owner| org_path.starts_with(owner))
}

/// At least one criterion; scale keys made of lower-case letters, digits and `_`, each used
/// once. (Lengths and counts are checked by the validator.)
pub fn check_new(criteria: &NewCriteria, scale: &[Level]) -> ApiResult<()> {
    let mut errors = Vec::new();
    if criteria.org.len() + criteria.secretary.len() + criteria.member.len() == 0 {
        errors.push(FieldError::new("criteria", "at least one criterion"));
    }
    let mut keys = HashSet::new();
    for (i, level) in scale.iter().enumerate() {
        let key_ok = level
            .level
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !key_ok {
            errors.push(FieldError::new(
                format!("scale[{i}].level"),
                "lower-case letters, digits and '_'",
            ));
        }
        if !keys.insert(level.level.as_str()) {
            errors.push(FieldError::new(format!("scale[{i}].level"), "used twice"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

/// The owner path of a template that may change: 409 `builtin_template` for the built-in one.
pub fn changeable(owner_path: Option<String>) -> ApiResult<String> {
    owner_path.ok_or_else(|| {
        ApiError::conflict(
            ErrorCode::BuiltinTemplate,
            "The built-in template never changes.",
        )
    })
}

/// The criteria and scale a change leaves (the current ones where the change gives none),
/// checked; `None` when the change keeps both.
pub fn changed_parts(
    current: &Template,
    criteria: Option<NewCriteria>,
    scale: Option<Vec<Level>>,
) -> ApiResult<Option<(NewCriteria, Vec<Level>)>> {
    if criteria.is_none() && scale.is_none() {
        return Ok(None);
    }
    let criteria = criteria.unwrap_or_else(|| to_new(&current.criteria));
    let scale = scale.unwrap_or_else(|| current.scale.clone());
    check_new(&criteria, &scale)?;
    Ok(Some((criteria, scale)))
}

fn to_new(criteria: &Criteria) -> NewCriteria {
    let copy = |list: &[Criterion]| {
        list.iter()
            .map(|c| NewCriterion {
                label_zh: c.label_zh.clone(),
                label_en: c.label_en.clone(),
            })
            .collect()
    };
    NewCriteria {
        org: copy(&criteria.org),
        secretary: copy(&criteria.secretary),
        member: copy(&criteria.member),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(key: &str) -> Level {
        Level {
            level: key.into(),
            label_zh: "好".into(),
            label_en: "Good".into(),
            score: 100,
            satisfied: true,
        }
    }

    fn one_criterion() -> NewCriteria {
        NewCriteria {
            member: vec![NewCriterion {
                label_zh: "联系群众".into(),
                label_en: "Close to the people".into(),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn superiors_templates_are_usable_below() {
        assert!(usable_by(None, "/1/2/"));
        assert!(usable_by(Some("/1/"), "/1/2/"));
        assert!(usable_by(Some("/1/2/"), "/1/2/"));
        assert!(!usable_by(Some("/1/2/5/"), "/1/2/"));
        assert!(!usable_by(Some("/1/3/"), "/1/2/"));
    }

    #[test]
    fn new_templates_need_a_criterion_and_distinct_plain_keys() {
        assert!(check_new(&one_criterion(), &[level("good"), level("bad_2")]).is_ok());
        assert!(check_new(&NewCriteria::default(), &[level("good"), level("bad")]).is_err());
        assert!(check_new(&one_criterion(), &[level("Good"), level("bad")]).is_err());
        assert!(check_new(&one_criterion(), &[level("good"), level("good")]).is_err());
    }

    #[test]
    fn changes_keep_what_they_do_not_give_and_the_builtin_never_changes() {
        let current = Template {
            id: 2,
            name: "t".into(),
            owner_org_id: Some(3),
            builtin: false,
            criteria: Criteria {
                org: vec![Criterion {
                    id: 1,
                    label_zh: "服务".into(),
                    label_en: "Service".into(),
                }],
                ..Default::default()
            },
            scale: vec![level("good"), level("bad")],
        };
        assert!(changed_parts(&current, None, None).unwrap().is_none());
        let (criteria, scale) = changed_parts(&current, None, Some(vec![level("a"), level("b")]))
            .unwrap()
            .unwrap();
        assert_eq!(criteria.org.len(), 1);
        assert_eq!(criteria.org[0].label_en, "Service");
        assert_eq!(scale[0].level, "a");
        let (criteria, scale) = changed_parts(&current, Some(one_criterion()), None)
            .unwrap()
            .unwrap();
        assert!(criteria.org.is_empty());
        assert_eq!(scale, current.scale);
        assert!(changed_parts(&current, Some(NewCriteria::default()), None).is_err());
        assert_eq!(changeable(Some("/1/".into())).unwrap(), "/1/");
        assert_eq!(changeable(None).unwrap_err().status, 409);
    }
}
