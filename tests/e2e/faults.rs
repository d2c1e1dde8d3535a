//! Fault tolerance, end to end: the `fleetscan` binary against the fake AWS
//! endpoint (`fleetscan-fakeaws`) with one injected fault per test, every
//! outcome compared with the fake's ground truth rather than fixed counts.
//!
//! Each test starts its own fake on 127.0.0.1 and works in its own temporary
//! directory, so the tests run in parallel. The behaviours are the list of
//! issue 5 and the README's "What happens when…" section:
//! - [`aws`]: throttling, 5xx, hangs and the scan deadline, denied roles and
//!   operations, regions not enabled, paging faults;
//! - [`credentials`]: credentials that expire during a long scan, and no
//!   credential material in the database or the most verbose logs;
//! - [`database`]: `kill -9`, a full disk, two scans at once, bad
//!   configuration and database files;
//! - [`endpoints`]: the emulator given by `AWS_ENDPOINT_URL`, a service's
//!   own variable or the shared config profile instead of `endpoint_url`;
//! - [`hostile`]: names with quotes, SQL, unicode and control characters;
//! - [`reporting`]: what a run that went wrong tells its watchers (a signal
//!   while planning, no role assumable, a denied account, output paths on
//!   the database).

#[path = "faults/common.rs"]
mod common;

#[path = "faults/aws.rs"]
mod aws;
#[path = "faults/credentials.rs"]
mod credentials;
#[path = "faults/database.rs"]
mod database;
#[path = "faults/endpoints.rs"]
mod endpoints;
#[path = "faults/hostile.rs"]
mod hostile;
#[path = "faults/reporting.rs"]
mod reporting;
