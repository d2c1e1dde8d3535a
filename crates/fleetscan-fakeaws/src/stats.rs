//! Call counting: every call by operation, account and region, every
//! AssumeRole by target account, and every injected fault by kind.

use crate::fleet::Fleet;
use crate::operation::Operation;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The kinds of answers the fault injection produced (and regions not enabled,
/// which are the fleet's truth rather than a fault, but worth counting).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Injected {
    /// Throttling error from an empty token bucket.
    Throttled,
    /// 500 or 503.
    ServerError,
    /// Never answered.
    Hung,
    /// Signed with expired credentials.
    ExpiredToken,
    /// `UnauthorizedOperation` / `AccessDenied` from `Faults::unauthorized`.
    Unauthorized,
    /// AssumeRole denied (fault list, unknown or non-ACTIVE account, role or
    /// external id mismatch).
    AssumeRoleDenied,
    /// A call into a region the account has not enabled.
    RegionDisabled,
    /// An empty page with a NextToken.
    EmptyPage,
    /// A page answered with the endless NextToken.
    EndlessToken,
}

impl Injected {
    const ALL: [Injected; 9] = [
        Injected::Throttled,
        Injected::ServerError,
        Injected::Hung,
        Injected::ExpiredToken,
        Injected::Unauthorized,
        Injected::AssumeRoleDenied,
        Injected::RegionDisabled,
        Injected::EmptyPage,
        Injected::EndlessToken,
    ];
}

/// Calls of one operation by one account in one region.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CallCount {
    /// `service:Operation`.
    pub operation: Operation,
    /// The caller's account (management for base credentials); `unknown` for
    /// unusable credentials.
    pub account: String,
    /// The region the call was signed for.
    pub region: String,
    /// Number of calls (every attempt counts, answered or not).
    pub count: u64,
}

/// A snapshot of the counters. Also served as JSON at `GET /_fake/stats`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Stats {
    /// Every call to a served operation.
    pub total_calls: u64,
    /// Totals per operation.
    pub by_operation: BTreeMap<Operation, u64>,
    /// Per operation, account and region, sorted.
    pub calls: Vec<CallCount>,
    /// AssumeRole calls per target account (successful or not).
    pub assume_role: BTreeMap<String, u64>,
    /// Requests for operations the fake does not serve, by description.
    pub unsupported: BTreeMap<String, u64>,
    /// Injected faults by kind.
    pub injected: BTreeMap<Injected, u64>,
}

impl Stats {
    /// Calls of one operation, all accounts and regions.
    pub fn count(&self, operation: Operation) -> u64 {
        self.by_operation.get(&operation).copied().unwrap_or(0)
    }

    /// Calls of one operation by one account, all regions.
    pub fn count_for(&self, operation: Operation, account_id: &str) -> u64 {
        self.calls
            .iter()
            .filter(|c| c.operation == operation && c.account == account_id)
            .map(|c| c.count)
            .sum()
    }

    /// Calls of one operation by one account in one region.
    pub fn count_in(&self, operation: Operation, account_id: &str, region: &str) -> u64 {
        self.calls
            .iter()
            .filter(|c| c.operation == operation && c.account == account_id && c.region == region)
            .map(|c| c.count)
            .sum()
    }

    /// AssumeRole calls into one account.
    pub fn assume_role_count(&self, account_id: &str) -> u64 {
        self.assume_role.get(account_id).copied().unwrap_or(0)
    }

    /// How often a kind of fault was injected.
    pub fn injected(&self, kind: Injected) -> u64 {
        self.injected.get(&kind).copied().unwrap_or(0)
    }
}

/// Account and region positions in the fleet; these mark "not in the fleet".
pub(crate) const UNKNOWN_ACCOUNT: u32 = u32::MAX;
pub(crate) const UNKNOWN_REGION: u16 = u16::MAX;

/// The live counters, cheap to bump from many connections.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    calls: Mutex<HashMap<(Operation, u32, u16), u64>>,
    assume_role: Mutex<HashMap<u32, u64>>,
    unsupported: Mutex<BTreeMap<String, u64>>,
    injected: [AtomicU64; Injected::ALL.len()],
}

impl Recorder {
    pub(crate) fn call(&self, operation: Operation, account: u32, region: u16) {
        if let Ok(mut calls) = self.calls.lock() {
            *calls.entry((operation, account, region)).or_insert(0) += 1;
        }
    }

    pub(crate) fn assume_role(&self, target_account: u32) {
        if let Ok(mut counts) = self.assume_role.lock() {
            *counts.entry(target_account).or_insert(0) += 1;
        }
    }

    pub(crate) fn unsupported(&self, description: String) {
        if let Ok(mut counts) = self.unsupported.lock() {
            *counts.entry(description).or_insert(0) += 1;
        }
    }

    pub(crate) fn injected(&self, kind: Injected) {
        let index = Injected::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        self.injected[index].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn reset(&self) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.clear();
        }
        if let Ok(mut counts) = self.assume_role.lock() {
            counts.clear();
        }
        if let Ok(mut counts) = self.unsupported.lock() {
            counts.clear();
        }
        for counter in &self.injected {
            counter.store(0, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self, fleet: &Fleet) -> Stats {
        let account_name = |position: u32| {
            if position == UNKNOWN_ACCOUNT {
                "unknown".to_owned()
            } else {
                fleet.account_at(position as usize).id.clone()
            }
        };
        let mut stats = Stats::default();
        if let Ok(calls) = self.calls.lock() {
            for (&(operation, account, region), &count) in calls.iter() {
                stats.total_calls += count;
                *stats.by_operation.entry(operation).or_insert(0) += count;
                stats.calls.push(CallCount {
                    operation,
                    account: account_name(account),
                    region: if region == UNKNOWN_REGION {
                        "unknown".to_owned()
                    } else {
                        fleet.regions()[region as usize].name.clone()
                    },
                    count,
                });
            }
        }
        stats.calls.sort_by(|a, b| {
            (a.operation, &a.account, &a.region).cmp(&(b.operation, &b.account, &b.region))
        });
        if let Ok(counts) = self.assume_role.lock() {
            stats.assume_role = counts
                .iter()
                .map(|(account, count)| (account_name(*account), *count))
                .collect();
        }
        if let Ok(counts) = self.unsupported.lock() {
            stats.unsupported = counts.clone();
        }
        for (kind, counter) in Injected::ALL.iter().zip(&self.injected) {
            let count = counter.load(Ordering::Relaxed);
            if count > 0 {
                stats.injected.insert(*kind, count);
            }
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::spec::FleetSpec;

    #[test]
    fn counts_by_operation_account_and_region() {
        let fleet = Fleet::generate(FleetSpec::default()).unwrap();
        let recorder = Recorder::default();
        recorder.call(Operation::DescribeInstances, 1, 0);
        recorder.call(Operation::DescribeInstances, 1, 0);
        recorder.call(Operation::DescribeInstances, 1, 1);
        recorder.call(Operation::DescribeInstances, 2, 0);
        recorder.call(Operation::ListBuckets, UNKNOWN_ACCOUNT, UNKNOWN_REGION);
        recorder.assume_role(1);
        recorder.injected(Injected::Throttled);
        let stats = recorder.snapshot(&fleet);
        let member = &fleet.members()[0].id;
        assert_eq!(stats.total_calls, 5);
        assert_eq!(stats.count(Operation::DescribeInstances), 4);
        assert_eq!(stats.count_for(Operation::DescribeInstances, member), 3);
        assert_eq!(
            stats.count_in(Operation::DescribeInstances, member, "us-east-1"),
            2
        );
        assert_eq!(stats.count_for(Operation::ListBuckets, "unknown"), 1);
        assert_eq!(stats.assume_role_count(member), 1);
        assert_eq!(stats.injected(Injected::Throttled), 1);
        let json = serde_json::to_value(&stats).unwrap();
        assert_eq!(json["by_operation"]["ec2:DescribeInstances"], 4);
        recorder.reset();
        assert_eq!(recorder.snapshot(&fleet).total_calls, 0);
    }
}
