//! The store's error type: every variant names the database file and what was
//! being done, so a message read in a cron mail is enough to act on.

use std::path::PathBuf;

/// What went wrong with the snapshot database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path} does not exist (run `fleetscan scan` first, or pass --db)")]
    Missing { path: PathBuf },

    #[error("{path} is not a fleetscan SQLite database (or it is corrupted)")]
    NotADatabase { path: PathBuf },

    // The cause is part of the message and deliberately not a `source`:
    // callers print the whole chain, which would repeat it.
    #[error("cannot {operation} {path}: {cause}")]
    Io {
        path: PathBuf,
        operation: &'static str,
        cause: std::io::Error,
    },

    #[error(
        "database {path} is in use by another fleetscan process (lock file {lock_path} is held); \
         wait for it to finish"
    )]
    Locked { path: PathBuf, lock_path: PathBuf },

    #[error(
        "database {path} has schema version {found}, but this fleetscan only knows up to {known}: \
         upgrade fleetscan to read it"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },

    #[error(
        "cannot {operation} database {path}: the disk holding it is full (or the database reached its size limit); \
         earlier snapshots are intact, free some space (or run `fleetscan prune`) and scan again"
    )]
    DiskFull { path: PathBuf, operation: String },

    #[error(
        "cannot {operation} database {path}: another process has held a write transaction on it for more than \
         10 seconds (an open sqlite3 session, a backup tool?); end it and try again"
    )]
    Busy { path: PathBuf, operation: String },

    // `operation` reads with the path as its object ("commit rows to",
    // "open"); the cause is in the message, not a `source` (see `Io`).
    #[error("cannot {operation} database {path}: {cause}")]
    Sqlite {
        path: PathBuf,
        operation: String,
        cause: rusqlite::Error,
    },

    #[error("database {path}: {message}")]
    Invalid { path: PathBuf, message: String },

    #[error(
        "snapshot {id} is {status} in {path}; only complete or partial snapshots can be compared"
    )]
    UnusableSnapshot {
        path: PathBuf,
        id: i64,
        status: String,
    },

    #[error("cannot write the diff: {source}")]
    Output {
        #[source]
        source: std::io::Error,
    },

    #[error("snapshot {id} does not exist in {path}")]
    UnknownSnapshot { path: PathBuf, id: i64 },

    #[error("the database writer for {path} stopped before all rows were written: {reason}")]
    WriterGone { path: PathBuf, reason: String },
}

impl StoreError {
    /// Wraps a SQLite error, recognising the cases that deserve their own message.
    pub(crate) fn sqlite(
        path: &std::path::Path,
        operation: impl Into<String>,
        source: rusqlite::Error,
    ) -> StoreError {
        let operation = operation.into();
        match source.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => StoreError::DiskFull {
                path: path.to_path_buf(),
                operation,
            },
            Some(rusqlite::ErrorCode::NotADatabase) => StoreError::NotADatabase {
                path: path.to_path_buf(),
            },
            Some(rusqlite::ErrorCode::DatabaseBusy) => StoreError::Busy {
                path: path.to_path_buf(),
                operation,
            },
            _ => StoreError::Sqlite {
                path: path.to_path_buf(),
                operation,
                cause: source,
            },
        }
    }

    /// Whether this is the disk-full case (the scan reports it specially).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::DiskFull { .. })
    }
}

/// Adds "what was being done" to a rusqlite result.
pub(crate) trait SqliteContext<T> {
    fn context(self, path: &std::path::Path, operation: impl Into<String>)
    -> Result<T, StoreError>;
}

impl<T> SqliteContext<T> for Result<T, rusqlite::Error> {
    fn context(
        self,
        path: &std::path::Path,
        operation: impl Into<String>,
    ) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::sqlite(path, operation, source))
    }
}
