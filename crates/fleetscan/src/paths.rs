//! Refuses output paths that would overwrite the database (or its `-wal`,
//! `-shm` and `.lock` companions) or another output of the same command,
//! before anything is opened or written. Paths are compared after resolving
//! symlinks and `..`; a file that does not exist yet is compared by its
//! resolved directory and its name.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// An output flag names a file the command reads or writes otherwise.
/// A usage error (exit 2); the run leaves every file alone, its summary
/// files included, since they are among the paths in question.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OutputConflict(pub String);

/// Fails when one of `outputs` (flag, path) is the database at `db`, one of
/// its companion files, or the same file as an earlier output.
pub fn check_outputs(db: &Path, outputs: &[(&str, &Path)]) -> Result<(), OutputConflict> {
    let database = database_files(db);
    let mut seen: Vec<(&str, PathBuf)> = Vec::new();
    for &(flag, path) in outputs {
        let resolved = resolve(path);
        if let Some((_, what)) = database.iter().find(|(file, _)| *file == resolved) {
            let named = if path == db {
                String::new()
            } else {
                format!(" (as {})", path.display())
            };
            return Err(OutputConflict(format!(
                "{flag} points at {what} {}{named}; choose another file",
                db.display(),
            )));
        }
        if let Some((other, _)) = seen.iter().find(|(_, file)| *file == resolved) {
            return Err(OutputConflict(format!(
                "{flag} and {other} name the same file {}; give each output its own file",
                path.display()
            )));
        }
        seen.push((flag, resolved));
    }
    Ok(())
}

/// The database and its companions, each with how to name it in a message;
/// under the database's path as given and as resolved (SQLite names the WAL
/// after the path it opened, which may be a symlink).
fn database_files(db: &Path) -> Vec<(PathBuf, &'static str)> {
    let mut files = Vec::new();
    for base in [resolve_parent(db), resolve(db)] {
        files.push((base.clone(), "the database"));
        for suffix in ["-wal", "-shm", ".lock"] {
            let mut name = OsString::from(base.as_os_str());
            name.push(suffix);
            files.push((
                resolve(Path::new(&name)),
                "a companion file of the database",
            ));
        }
    }
    files
}

/// The path with every symlink resolved, the file's own included.
fn resolve(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| resolve_parent(path))
}

/// The path with its directory resolved and its file name kept as it is
/// (for files that do not exist yet, or to keep a symlink's own name).
fn resolve_parent(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) => std::fs::canonicalize(parent)
            .unwrap_or_else(|_| parent.to_path_buf())
            .join(name),
        _ => absolute,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_output_on_the_database_or_its_companions_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("fleet.db");
        std::fs::write(&db, b"SQLite format 3\0").unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let via_dots = sub.join("..").join("fleet.db");
        let err = check_outputs(&db, &[("--summary-json", &via_dots)]).unwrap_err();
        assert!(
            err.0.starts_with("--summary-json points at the database"),
            "{err}"
        );
        for companion in ["fleet.db-wal", "fleet.db-shm", "fleet.db.lock"] {
            let path = dir.path().join(companion);
            let err = check_outputs(&db, &[("--prometheus", &path)]).unwrap_err();
            assert!(err.0.contains("companion file of the database"), "{err}");
        }
        let link = dir.path().join("link.prom");
        std::os::unix::fs::symlink(&db, &link).unwrap();
        assert!(check_outputs(&db, &[("--prometheus", &link)]).is_err());
        // Through a symlinked directory, to a database that does not exist yet.
        let new_db = sub.join("new.db");
        let linked_dir = dir.path().join("linked");
        std::os::unix::fs::symlink(&sub, &linked_dir).unwrap();
        assert!(check_outputs(&new_db, &[("--out", &linked_dir.join("new.db"))]).is_err());
    }

    #[test]
    fn two_outputs_on_one_file_are_refused_and_distinct_ones_pass() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("fleet.db");
        let summary = dir.path().join("last-run.json");
        let metrics = dir.path().join("fleetscan.prom");
        check_outputs(
            &db,
            &[("--summary-json", &summary), ("--prometheus", &metrics)],
        )
        .unwrap();
        let err = check_outputs(
            &db,
            &[("--summary-json", &summary), ("--prometheus", &summary)],
        )
        .unwrap_err();
        assert!(
            err.0
                .starts_with("--prometheus and --summary-json name the same file"),
            "{err}"
        );
    }
}
