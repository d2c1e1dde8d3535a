//! Applies the SQL files of the root `migrations/` folder (embedded by
//! `build.rs`) in order, tracked by `PRAGMA user_version`.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{SqliteContext, StoreError};

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// The schema version this build produces and understands.
pub fn latest_version() -> i64 {
    MIGRATIONS
        .last()
        .map_or(0, |(version, _, _)| i64::from(*version))
}

/// Reads `PRAGMA user_version`; this is also the first read of a freshly
/// opened file, so a file that is not SQLite fails here.
pub(crate) fn schema_version(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
        .context(path, "read the schema version of")
}

/// Brings the database up to [`latest_version`]. Each file runs in its own
/// immediate transaction together with the version bump, so a crash leaves
/// the database at the previous version, never half-migrated, and two
/// processes opening an old file at once cannot both apply the same file.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let known = latest_version();
    let found = schema_version(conn, path)?;
    if found > known {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            known,
        });
    }
    if found == 0 {
        // Version 0 with tables in it is somebody else's database: refuse
        // rather than mix our tables into it.
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
            .context(path, "inspect")?;
        if tables > 0 {
            return Err(StoreError::NotADatabase {
                path: path.to_path_buf(),
            });
        }
    }
    for (version, file_name, sql) in MIGRATIONS {
        let version = i64::from(*version);
        if version <= found {
            continue;
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context(path, format!("start migration {file_name} on"))?;
        let current: i64 = tx
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .context(path, "read the schema version of")?;
        if current >= version {
            continue; // another process applied it meanwhile
        }
        tx.execute_batch(sql)
            .context(path, format!("apply migration {file_name} to"))?;
        tx.pragma_update(None, "user_version", version)
            .context(path, format!("record migration {file_name} in"))?;
        tx.commit()
            .context(path, format!("commit migration {file_name} to"))?;
        tracing::debug!(path = %path.display(), migration = file_name, "applied migration");
    }
    Ok(())
}
