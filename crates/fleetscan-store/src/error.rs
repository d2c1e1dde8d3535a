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

    #[error("cannot {operation} {path}: {source}")]
    Io {
        path: PathBuf,
        operation: &'static str,
        #[source]
        source: std::io::Error,
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
        "the disk holding {path} is full (or the database reached its size limit) while trying to {operation}; \
         earlier snapshots are intact, free some space (or run `fleetscan prune`) and scan again"
    )]
    DiskFull { path: PathBuf, operation: String },

    #[error("database {path}: cannot {operation}: {source}")]
    Sqlite {
        path: PathBuf,
        operation: String,
        #[source]
        source: rusqlite::Error,
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
            _ => StoreError::Sqlite {
                path: path.to_path_buf(),
                operation,
                source,
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
