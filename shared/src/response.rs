//! Success bodies: `{"data": ..., "message"?: ..., "pagination"?: ...}`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::Problems;

/// The `page` (1 to 100000, default 1) and `limit` (1 to 100, default 10) of an `/api` list;
/// out-of-range values are noted in `problems`.
pub fn page_and_limit(
    page: Option<u32>,
    limit: Option<u32>,
    problems: &mut Problems,
) -> (u32, u32) {
    let page = problems.check("page", count_up_to(100_000, page, 1));
    let limit = problems.check("limit", count_up_to(100, limit, 10));
    (page.unwrap_or(1), limit.unwrap_or(10))
}

/// A page number or size from a query: `raw`, or `default` when absent, if it is 1 to `max`.
pub fn count_up_to(max: u32, raw: Option<u32>, default: u32) -> Result<u32, String> {
    match raw.unwrap_or(default) {
        n if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("must be between 1 and {max}")),
    }
}

/// One object, with an optional human message.
#[derive(Debug, Serialize, ToSchema)]
pub struct DataResponse<T> {
    pub data: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl<T> DataResponse<T> {
    pub fn new(data: T) -> Self {
        Self {
            data,
            message: None,
        }
    }

    pub fn with_message(data: T, message: impl Into<String>) -> Self {
        Self {
            data,
            message: Some(message.into()),
        }
    }
}

/// One page of a list counted in full (small collections paged in memory).
#[derive(Debug, Serialize, ToSchema)]
pub struct PageResponse<T> {
    pub data: Vec<T>,
    pub pagination: Pagination,
}

/// Page numbers start at 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub page: u32,
    pub limit: u32,
    pub total: u64,
    pub total_pages: u64,
    pub has_next: bool,
    pub has_prev: bool,
}

impl<T> PageResponse<T> {
    /// Cuts page `page` (1-based) of `limit` items out of the whole, already ordered list.
    pub fn paginate(items: Vec<T>, page: u32, limit: u32) -> Self {
        let page = page.max(1);
        let limit = limit.max(1);
        let total = items.len() as u64;
        let total_pages = total.div_ceil(u64::from(limit));
        let skip = (u64::from(page) - 1) * u64::from(limit);
        let data = items
            .into_iter()
            .skip(skip as usize)
            .take(limit as usize)
            .collect();
        Self {
            data,
            pagination: Pagination {
                page,
                limit,
                total,
                total_pages,
                has_next: u64::from(page) < total_pages,
                has_prev: page > 1,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_cut_and_counted() {
        let page = PageResponse::paginate((1..=25).collect(), 3, 10);
        assert_eq!(page.data, vec![21, 22, 23, 24, 25]);
        assert_eq!(page.pagination.total, 25);
        assert_eq!(page.pagination.total_pages, 3);
        assert!(!page.pagination.has_next);
        assert!(page.pagination.has_prev);
        let beyond = PageResponse::paginate((1..=5).collect::<Vec<i32>>(), 4, 10);
        assert!(beyond.data.is_empty());
        assert_eq!(
            PageResponse::paginate(Vec::<i32>::new(), 1, 10)
                .pagination
                .total_pages,
            0
        );
    }

    #[test]
    fn counts_default_when_absent_and_stay_within_one_to_max() {
        assert_eq!(count_up_to(50, None, 20), Ok(20));
        assert_eq!(count_up_to(50, Some(1), 20), Ok(1));
        assert_eq!(count_up_to(50, Some(50), 20), Ok(50));
        assert_eq!(
            count_up_to(50, Some(51), 20),
            Err("must be between 1 and 50".into())
        );
        assert_eq!(
            count_up_to(100_000, Some(0), 1),
            Err("must be between 1 and 100000".into())
        );
    }
}
