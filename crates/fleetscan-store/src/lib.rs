//! fleetscan's snapshot store: the SQLite file, its migrations, the writer
//! thread, the snapshot lifecycle, listing, retention and the diff.
//!
//! Nothing here knows about AWS or an async runtime: the scanner hands typed
//! [`rows::Row`]s to a [`RowSink`], one thread writes them (and a second
//! copies its WAL into the database file beside it).

mod checkpoint;
pub mod diff;
mod error;
mod insert;
mod migrate;
mod prune;
pub mod report;
pub mod rows;
mod store;
#[cfg(test)]
mod testing;
pub mod views;
mod writer;

pub use error::StoreError;
pub use migrate::latest_version as schema_version;
pub use prune::PruneReport;
pub use rows::*;
pub use store::{RESOURCE_TABLES, SnapshotMeta, SnapshotStatus, SnapshotSummary, Store};
pub use writer::{RowSink, WriterHandle};
