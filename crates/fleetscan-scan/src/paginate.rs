//! A guard every pagination loop goes through: it stops a continuation token
//! that repeats, and a listing that never ends, with a clear error instead of
//! an infinite loop.

use std::collections::HashSet;

use crate::classify::{AwsFailure, ErrorClass};

/// More pages than any real listing has (10,000 accounts at 20 per page is 500).
pub const MAX_PAGES: usize = 10_000;

#[derive(Debug)]
pub struct PageGuard {
    operation: &'static str,
    seen: HashSet<String>,
    pages: usize,
    max_pages: usize,
}

impl PageGuard {
    pub fn new(operation: &'static str) -> Self {
        Self::with_limit(operation, MAX_PAGES)
    }

    pub fn with_limit(operation: &'static str, max_pages: usize) -> Self {
        PageGuard {
            operation,
            seen: HashSet::new(),
            pages: 0,
            max_pages,
        }
    }

    /// Pages fetched so far.
    pub fn pages(&self) -> usize {
        self.pages
    }

    /// Records one fetched page and its continuation token. Returns the token
    /// to ask for next, `None` when the listing is finished (an empty token
    /// counts as none), or an error if the listing loops or never ends.
    pub fn next(&mut self, token: Option<String>) -> Result<Option<String>, AwsFailure> {
        self.pages += 1;
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        if !self.seen.insert(token.clone()) {
            return Err(AwsFailure::new(
                ErrorClass::Error,
                "PaginationLoop",
                format!(
                    "{} returned a continuation token it had already returned (after {} pages); stopped",
                    self.operation, self.pages
                ),
            ));
        }
        if self.pages >= self.max_pages {
            return Err(AwsFailure::new(
                ErrorClass::Error,
                "PaginationLimit",
                format!(
                    "{} was still returning continuation tokens after {} pages; stopped",
                    self.operation, self.pages
                ),
            ));
        }
        Ok(Some(token))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn follows_tokens_until_none_and_treats_empty_as_none() {
        let mut guard = PageGuard::new("ListAccounts");
        assert_eq!(guard.next(Some("a".into())).unwrap(), Some("a".into()));
        assert_eq!(guard.next(Some("b".into())).unwrap(), Some("b".into()));
        assert_eq!(guard.next(Some(String::new())).unwrap(), None);
        assert_eq!(guard.pages(), 3);
    }

    #[test]
    fn a_repeating_token_is_stopped() {
        let mut guard = PageGuard::new("ListAccounts");
        guard.next(Some("same".into())).unwrap();
        let err = guard.next(Some("same".into())).unwrap_err();
        assert_eq!(err.code, "PaginationLoop");
        assert!(err.message.contains("ListAccounts"));
    }

    #[test]
    fn an_endless_listing_is_stopped() {
        let mut guard = PageGuard::with_limit("DescribeInstances", 5);
        for page in 0..4 {
            guard.next(Some(format!("t{page}"))).unwrap();
        }
        let err = guard.next(Some("t4".into())).unwrap_err();
        assert_eq!(err.code, "PaginationLimit");
    }
}
