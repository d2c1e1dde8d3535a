//! `Faults`: what goes wrong, changeable while the fake runs; and the token
//! buckets that implement throttling.

use crate::operation::Operation;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Selects calls by operation, account and region; an empty field matches
/// everything, so `CallFilter::default()` matches every call.
///
/// The account is the caller's account (for `AssumeRole`: the target account).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallFilter {
    /// Only this operation.
    pub operation: Option<Operation>,
    /// Only calls of (or, for AssumeRole, into) this account.
    pub account: Option<String>,
    /// Only calls signed for this region.
    pub region: Option<String>,
}

impl CallFilter {
    /// Matches every call.
    pub fn any() -> Self {
        CallFilter::default()
    }

    /// Matches one operation.
    pub fn operation(operation: Operation) -> Self {
        CallFilter {
            operation: Some(operation),
            ..CallFilter::default()
        }
    }

    /// Narrows to one account.
    pub fn account(mut self, account_id: impl Into<String>) -> Self {
        self.account = Some(account_id.into());
        self
    }

    /// Narrows to one region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    pub(crate) fn matches(&self, operation: Operation, account: &str, region: &str) -> bool {
        self.operation.is_none_or(|op| op == operation)
            && self.account.as_deref().is_none_or(|a| a == account)
            && self.region.as_deref().is_none_or(|r| r == region)
    }
}

/// Added before every answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Latency {
    /// Always this many milliseconds. JSON: `{"fixed_ms": 50}`.
    FixedMs(u64),
    /// Uniform within the bounds. JSON: `{"uniform_ms": {"min": 20, "max": 80}}`.
    UniformMs {
        /// Lowest, in milliseconds.
        min: u64,
        /// Highest, in milliseconds.
        max: u64,
    },
}

/// Token buckets per (account, region, operation), as EC2 throttles: each call
/// takes a token; an empty bucket answers the service's throttling error
/// (`RequestLimitExceeded`, `SlowDown`, `TooManyRequestsException`,
/// `Throttling`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Throttle {
    /// Bucket size (EC2: 100).
    pub capacity: f64,
    /// Tokens added per second (EC2: 20).
    pub refill_per_second: f64,
    /// Which calls are throttled.
    pub only: CallFilter,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            capacity: 100.0,
            refill_per_second: 20.0,
            only: CallFilter::default(),
        }
    }
}

/// A fraction of calls answers 500 or 503 (alternately).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerErrors {
    /// 0.0 ..= 1.0.
    pub fraction: f64,
    /// Which calls may fail.
    pub only: CallFilter,
}

/// Paginated answers put this many empty pages (each with a NextToken)
/// before every page that has items.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmptyPages {
    /// Empty pages before each real page.
    pub before_each_page: u32,
    /// Which calls (paginated operations only).
    pub only: CallFilter,
}

/// Which error answers a call into a region the account has not enabled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DisabledRegionError {
    /// `OptInRequired` (HTTP 403).
    #[default]
    OptInRequired,
    /// `AuthFailure` (HTTP 401), what some opt-in regions answer.
    AuthFailure,
}

/// Everything the fake can do wrong. All off by default; replace or edit at
/// runtime through [`crate::FakeAws::set_faults`] /
/// [`crate::FakeAws::update_faults`] or `PUT /_fake/faults`.
///
/// Order of evaluation per call: latency, hang, expired credentials, 5xx,
/// throttling, unauthorized, then the call itself (region not enabled, denied
/// AssumeRole, ...).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added before every answer (including error answers).
    pub latency: Option<Latency>,
    /// Token-bucket throttling.
    pub throttle: Option<Throttle>,
    /// Random 500/503 answers.
    pub server_errors: Option<ServerErrors>,
    /// Calls that never get an answer (the connection stays open).
    pub hang: Vec<CallFilter>,
    /// `AssumeRole` into these accounts answers `AccessDenied`.
    pub deny_assume_role: Vec<String>,
    /// Calls answered with `UnauthorizedOperation` (EC2), `AccessDenied` (S3,
    /// STS) or `AccessDeniedException` (Organizations).
    pub unauthorized: Vec<CallFilter>,
    /// The answer for regions not enabled in the account.
    pub disabled_region_error: DisabledRegionError,
    /// Credentials issued by `AssumeRole` expire after this many seconds (at
    /// most the requested DurationSeconds); calls signed with them afterwards
    /// answer `ExpiredToken` (EC2: `RequestExpired`).
    pub credential_lifetime_seconds: Option<u64>,
    /// Empty pages with a NextToken.
    pub empty_pages: Option<EmptyPages>,
    /// Paginated calls that answer the first page with the same NextToken
    /// forever.
    pub endless_next_token: Vec<CallFilter>,
}

impl Faults {
    /// No faults.
    pub fn none() -> Self {
        Faults::default()
    }

    /// Sets a fixed latency.
    pub fn with_latency_ms(mut self, milliseconds: u64) -> Self {
        self.latency = Some(Latency::FixedMs(milliseconds));
        self
    }

    /// Throttles every call with the given bucket.
    pub fn with_throttle(mut self, capacity: f64, refill_per_second: f64) -> Self {
        self.throttle = Some(Throttle {
            capacity,
            refill_per_second,
            only: CallFilter::default(),
        });
        self
    }

    /// Fails a fraction of every call with 500/503.
    pub fn with_server_errors(mut self, fraction: f64) -> Self {
        self.server_errors = Some(ServerErrors {
            fraction,
            only: CallFilter::default(),
        });
        self
    }

    /// Denies AssumeRole into an account.
    pub fn deny_assume_role(mut self, account_id: impl Into<String>) -> Self {
        self.deny_assume_role.push(account_id.into());
        self
    }

    /// Never answers matching calls.
    pub fn hang(mut self, filter: CallFilter) -> Self {
        self.hang.push(filter);
        self
    }

    /// Answers matching calls as unauthorized.
    pub fn unauthorized(mut self, filter: CallFilter) -> Self {
        self.unauthorized.push(filter);
        self
    }

    /// Issued credentials expire after `seconds`.
    pub fn with_credential_lifetime(mut self, seconds: u64) -> Self {
        self.credential_lifetime_seconds = Some(seconds);
        self
    }

    /// Inserts `pages` empty pages before every real page of matching calls.
    pub fn with_empty_pages(mut self, pages: u32, only: CallFilter) -> Self {
        self.empty_pages = Some(EmptyPages {
            before_each_page: pages,
            only,
        });
        self
    }

    /// Matching paginated calls repeat their NextToken forever.
    pub fn with_endless_next_token(mut self, filter: CallFilter) -> Self {
        self.endless_next_token.push(filter);
        self
    }
}

/// Key of one token bucket: (account position, region position, operation).
pub(crate) type BucketKey = (u32, u16, Operation);

/// The token buckets; refilled lazily when a call arrives.
#[derive(Debug, Default)]
pub(crate) struct TokenBuckets {
    buckets: HashMap<BucketKey, (f64, Instant)>,
}

impl TokenBuckets {
    /// Takes a token; false when the bucket is empty (the call is throttled).
    pub(crate) fn take(&mut self, key: BucketKey, throttle: &Throttle, now: Instant) -> bool {
        let capacity = throttle.capacity.max(0.0);
        let (tokens, last) = self.buckets.entry(key).or_insert((capacity, now));
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * throttle.refill_per_second.max(0.0)).min(capacity);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    pub(crate) fn clear(&mut self) {
        self.buckets.clear();
    }
}

/// The latency to add for one call, given a uniform random `unit` in [0, 1).
pub(crate) fn latency_for(latency: Option<Latency>, unit: f64) -> Option<Duration> {
    match latency? {
        Latency::FixedMs(0) => None,
        Latency::FixedMs(ms) => Some(Duration::from_millis(ms)),
        Latency::UniformMs { min, max } => {
            let (low, high) = (min.min(max), max.max(min));
            let spread = (high - low) as f64 * unit;
            Some(Duration::from_millis(low + spread.round() as u64))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bucket_empties_then_refills_at_the_configured_rate() {
        let throttle = Throttle {
            capacity: 3.0,
            refill_per_second: 2.0,
            only: CallFilter::any(),
        };
        let mut buckets = TokenBuckets::default();
        let key = (1, 0, Operation::DescribeInstances);
        let start = Instant::now();
        assert!((0..3).all(|_| buckets.take(key, &throttle, start)));
        assert!(!buckets.take(key, &throttle, start));
        // Another key has its own bucket.
        assert!(buckets.take((2, 0, Operation::DescribeInstances), &throttle, start));
        assert!(buckets.take((1, 1, Operation::DescribeInstances), &throttle, start));
        assert!(buckets.take((1, 0, Operation::DescribeVolumes), &throttle, start));
        // Half a second refills one token, not more.
        let later = start + Duration::from_millis(500);
        assert!(buckets.take(key, &throttle, later));
        assert!(!buckets.take(key, &throttle, later));
        // A long pause refills to capacity only.
        let much_later = later + Duration::from_secs(60);
        assert_eq!(
            (0..10)
                .filter(|_| buckets.take(key, &throttle, much_later))
                .count(),
            3
        );
    }

    #[test]
    fn filters_match_by_each_field() {
        let filter = CallFilter::operation(Operation::DescribeVolumes).account("222200000001");
        assert!(filter.matches(Operation::DescribeVolumes, "222200000001", "eu-west-1"));
        assert!(!filter.matches(Operation::DescribeVolumes, "222200000002", "eu-west-1"));
        assert!(!filter.matches(Operation::DescribeInstances, "222200000001", "eu-west-1"));
        let filter = CallFilter::any().region("us-east-1");
        assert!(filter.matches(Operation::ListBuckets, "x", "us-east-1"));
        assert!(!filter.matches(Operation::ListBuckets, "x", "eu-west-1"));
    }

    #[test]
    fn faults_round_trip_through_json() {
        let faults = Faults::none()
            .with_latency_ms(5)
            .with_throttle(10.0, 1.0)
            .deny_assume_role("222200000001")
            .hang(CallFilter::operation(Operation::DescribeVolumes))
            .with_endless_next_token(CallFilter::operation(Operation::ListAccounts));
        let json = serde_json::to_string(&faults).unwrap();
        assert!(json.contains("\"ec2:DescribeVolumes\""));
        let back: Faults = serde_json::from_str(&json).unwrap();
        assert_eq!(back, faults);
        let parsed: Faults = serde_json::from_str(
            r#"{"latency": {"uniform_ms": {"min": 1, "max": 3}}, "unauthorized": [{"operation": "DescribeInstances", "region": "eu-west-1"}]}"#,
        )
        .unwrap();
        assert_eq!(parsed.latency, Some(Latency::UniformMs { min: 1, max: 3 }));
        assert!(serde_json::from_str::<Faults>(r#"{"latency_ms": 3}"#).is_err());
    }

    #[test]
    fn latency_stays_within_bounds() {
        assert_eq!(latency_for(None, 0.5), None);
        assert_eq!(
            latency_for(Some(Latency::FixedMs(7)), 0.9),
            Some(Duration::from_millis(7))
        );
        let uniform = Some(Latency::UniformMs { min: 10, max: 20 });
        assert_eq!(latency_for(uniform, 0.0), Some(Duration::from_millis(10)));
        assert_eq!(latency_for(uniform, 0.999), Some(Duration::from_millis(20)));
    }
}
