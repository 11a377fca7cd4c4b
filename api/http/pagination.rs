use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult};

pub const DEFAULT_PER_PAGE: i64 = 50;
pub const MAX_PER_PAGE: i64 = 200;

/// `?page=1&per_page=50`; `per_page` is at most 200.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number, from 1.
    #[param(minimum = 1, example = 1)]
    pub page: Option<i64>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200, example = 50)]
    pub per_page: Option<i64>,
}

impl PageQuery {
    pub fn checked(self) -> ApiResult<PageQuery> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(DEFAULT_PER_PAGE);
        if page < 1 {
            return Err(ApiError::bad_request("page must be 1 or more"));
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(ApiError::bad_request(format!(
                "per_page must be between 1 and {MAX_PER_PAGE}"
            )));
        }
        Ok(PageQuery {
            page: Some(page),
            per_page: Some(per_page),
        })
    }

    pub fn page(&self) -> i64 {
        self.page.unwrap_or(1)
    }

    pub fn per_page(&self) -> i64 {
        self.per_page.unwrap_or(DEFAULT_PER_PAGE)
    }

    pub fn offset(&self) -> i64 {
        (self.page() - 1).saturating_mul(self.per_page())
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// How many items the whole list holds.
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

impl<T> Page<T> {
    pub fn new(items: Vec<T>, total: i64, query: &PageQuery) -> Self {
        Self {
            items,
            total,
            page: query.page(),
            per_page: query.per_page(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        let q = PageQuery {
            page: None,
            per_page: None,
        }
        .checked()
        .unwrap();
        assert_eq!((q.page(), q.per_page(), q.offset()), (1, 50, 0));
        let q = PageQuery {
            page: Some(3),
            per_page: Some(20),
        }
        .checked()
        .unwrap();
        assert_eq!(q.offset(), 40);
        assert!(PageQuery {
            page: Some(0),
            per_page: None
        }
        .checked()
        .is_err());
        assert!(PageQuery {
            page: None,
            per_page: Some(201)
        }
        .checked()
        .is_err());
    }
}
