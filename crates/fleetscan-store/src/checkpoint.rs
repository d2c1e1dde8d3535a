//! The writer's checkpointer: a thread with its own connection that copies
//! committed WAL frames into the database file while the writer goes on
//! inserting, instead of the writer doing it after its commits.
//!
//! A checkpoint copies every page the writer wrote once more and waits for
//! the disk twice (`fsync`); done by the writer's own connection
//! (SQLite's auto-checkpoint) it was about a sixth of the writer's wall time.
//! The work is the same, it only runs beside the writer.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use rusqlite::{Connection, OpenFlags};

/// WAL pages after which the writer waits for the checkpointer to catch up
/// before its next transaction, so that the transaction starts the WAL over
/// from its beginning. Without it the WAL would grow to the size of the
/// whole snapshot: the checkpointer always trails the writer by the frames
/// of its last commit. 32,768 pages are 128 MiB at SQLite's 4 KiB pages;
/// the WAL ends at most one commit (`COMMIT_EVERY_ROWS` rows) beyond. In
/// store_bench at 1,000,000 rows the WAL file peaked at 150 MB in the scan
/// order and 237 MB in the worst-case order (20 and 69 MB when the writer
/// checkpointed itself); 8,192 pages gave 49 and 114 MB for about 4% fewer
/// rows/s in both orders.
pub(crate) const WAL_PAGES_LIMIT: i64 = 32_768;

/// Rows committed between two checkpoint requests. A scan's writer commits
/// whenever the channel is momentarily empty, often a few hundred rows at a
/// time: a checkpoint (two fsyncs) after each of those commits cost a scan
/// about 13% more CPU than SQLite's own auto-checkpoint, which waits for
/// 1,000 WAL pages (4 MiB). Small commits re-append the pages they share, so
/// this many rows in small commits fill about as much WAL. The writer's
/// 50,000-row commits each ask for a checkpoint, as before.
pub(crate) const CHECKPOINT_EVERY_ROWS: usize = 2_000;

/// What the checkpointer has done, shared with the writer.
#[derive(Default)]
struct Progress {
    /// Commits the writer asked to be checkpointed.
    requested: u64,
    /// The last request a finished checkpoint covered.
    done: u64,
    /// Frames in the WAL at the last checkpoint.
    wal_frames: i64,
    /// The thread ended (told to stop, could not open or checkpoint, or
    /// panicked): the writer checkpoints itself again.
    ended: bool,
    stop: bool,
}

struct Shared {
    progress: Mutex<Progress>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Progress> {
        // A panic elsewhere leaves plain counters behind: still usable.
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The writer's handle. While it lives, the writer's connection does not
/// checkpoint by itself; dropping it stops the thread and gives the
/// connection its auto-checkpoint back.
pub(crate) struct Checkpointer<'conn> {
    conn: &'conn Connection,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// The connection's `wal_autocheckpoint` before, `None` once restored.
    auto_checkpoint: Option<i64>,
    wal_pages_limit: i64,
    /// Rows committed since the last checkpoint request.
    rows_unrequested: usize,
}

impl<'conn> Checkpointer<'conn> {
    /// Starts the thread. When it cannot start, the connection keeps
    /// checkpointing by itself: slower, nothing else changes.
    pub(crate) fn start(
        conn: &'conn Connection,
        path: &Path,
        wal_pages_limit: i64,
    ) -> Checkpointer<'conn> {
        let shared = Arc::new(Shared {
            progress: Mutex::new(Progress::default()),
            changed: Condvar::new(),
        });
        let mut checkpointer = Checkpointer {
            conn,
            shared: shared.clone(),
            thread: None,
            auto_checkpoint: None,
            wal_pages_limit,
            rows_unrequested: 0,
        };
        let Ok(previous) = conn.query_row("PRAGMA wal_autocheckpoint", [], |row| row.get(0)) else {
            return checkpointer;
        };
        let path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("fleetscan-checkpoint".to_owned())
            .spawn(move || run(&path, &shared));
        match thread {
            Ok(thread) => {
                checkpointer.thread = Some(thread);
                if conn.pragma_update(None, "wal_autocheckpoint", 0).is_ok() {
                    checkpointer.auto_checkpoint = Some(previous);
                }
            }
            Err(err) => {
                tracing::debug!(error = %err, "no checkpoint thread; the writer checkpoints itself")
            }
        }
        checkpointer
    }

    /// The writer committed `rows` rows: once [`CHECKPOINT_EVERY_ROWS`] are
    /// committed, or whenever the WAL is past its limit (the next
    /// transaction waits for this commit to be copied so that the WAL
    /// starts over), the frames are to be copied.
    pub(crate) fn committed(&mut self, rows: usize) {
        if self.thread.is_none() {
            return;
        }
        self.rows_unrequested += rows;
        let mut progress = self.shared.lock();
        if self.rows_unrequested < CHECKPOINT_EVERY_ROWS
            && progress.wal_frames < self.wal_pages_limit
        {
            return;
        }
        self.rows_unrequested = 0;
        progress.requested += 1;
        drop(progress);
        self.shared.changed.notify_all();
    }

    /// Whether the writer should commit now, however few rows its
    /// transaction holds: the WAL is past the limit and every earlier commit
    /// is copied, so once this short commit is copied too (a short wait in
    /// [`Checkpointer::before_transaction`]) the next transaction starts the
    /// WAL over. Waiting right after a full commit would wait for all of it.
    pub(crate) fn wants_commit(&self) -> bool {
        if self.thread.is_none() {
            return false;
        }
        let progress = self.shared.lock();
        progress.wal_frames >= self.wal_pages_limit && progress.done == progress.requested
    }

    /// Called before the writer starts a transaction: when the WAL has
    /// grown past the limit, waits until every commit is checkpointed, so
    /// that the transaction writes the WAL from its start again.
    pub(crate) fn before_transaction(&mut self) {
        if self.thread.is_none() {
            return;
        }
        let mut progress = self.shared.lock();
        if progress.wal_frames >= self.wal_pages_limit {
            while !progress.ended && progress.done < progress.requested {
                progress = self
                    .shared
                    .changed
                    .wait(progress)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            // All of it is in the file: the next transaction starts the WAL
            // over, and the thread's next report gives its new size.
            progress.wal_frames = 0;
        }
        let ended = progress.ended;
        drop(progress);
        if ended {
            self.stop();
        }
    }

    /// Stops the thread and lets the connection checkpoint by itself again.
    fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.shared.lock().stop = true;
            self.shared.changed.notify_all();
            let _ = thread.join();
        }
        if let Some(previous) = self.auto_checkpoint.take()
            && let Err(err) = self
                .conn
                .pragma_update(None, "wal_autocheckpoint", previous)
        {
            tracing::debug!(error = %err, "could not restore the auto-checkpoint");
        }
    }

    /// Stops the thread and checkpoints what is left, as the writer's last
    /// commit did before. A checkpoint that fails costs nothing: the rows
    /// are in the WAL, the next one copies them.
    pub(crate) fn finish(mut self) {
        self.stop();
        if let Err(err) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        {
            tracing::debug!(error = %err, "checkpoint after writing failed");
        }
    }
}

impl Drop for Checkpointer<'_> {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The thread: one PASSIVE checkpoint (it never blocks the writer) per
/// round of commits, until told to stop.
fn run(path: &PathBuf, shared: &Shared) {
    // However the thread ends (a panic included), a writer waiting for it
    // must not wait forever.
    struct Ended<'a>(&'a Shared);
    impl Drop for Ended<'_> {
        fn drop(&mut self) {
            self.0.lock().ended = true;
            self.0.changed.notify_all();
        }
    }
    let _ended = Ended(shared);
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match Connection::open_with_flags(path, flags) {
        Ok(conn) => conn,
        Err(err) => return give_up(&err),
    };
    loop {
        let target = {
            let mut progress = shared.lock();
            while !progress.stop && progress.done == progress.requested {
                progress = shared
                    .changed
                    .wait(progress)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if progress.stop {
                return;
            }
            progress.requested
        };
        let frames = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            row.get::<_, i64>(1)
        });
        match frames {
            Ok(frames) => {
                let mut progress = shared.lock();
                progress.done = target;
                progress.wal_frames = frames;
                drop(progress);
                shared.changed.notify_all();
            }
            Err(err) => return give_up(&err),
        }
    }
}

/// Ends the thread; the guard in [`run`] tells the writer.
fn give_up(err: &rusqlite::Error) {
    tracing::warn!(error = %err, "background checkpoint failed; the writer checkpoints itself");
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::testing::temp_db;

    fn auto_checkpoint(conn: &Connection) -> i64 {
        conn.query_row("PRAGMA wal_autocheckpoint", [], |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn a_checkpointer_that_cannot_work_hands_checkpoints_back_to_the_writer() {
        let (dir, path) = temp_db();
        let store = Store::open_for_scan(&path).unwrap();
        // The thread cannot open this file: it ends at once.
        let missing = dir.path().join("missing.db");
        let mut checkpointer = Checkpointer::start(store.connection(), &missing, 0);
        checkpointer.committed(CHECKPOINT_EVERY_ROWS);
        // With a limit of 0 the writer would wait for that commit's
        // checkpoint: it must not wait for a thread that is gone.
        checkpointer.before_transaction();
        assert_eq!(auto_checkpoint(store.connection()), 1000);
        checkpointer.finish();
        assert_eq!(auto_checkpoint(store.connection()), 1000);
    }

    #[test]
    fn past_the_limit_the_writer_commits_once_earlier_commits_are_copied() {
        let (_dir, path) = temp_db();
        let store = Store::open_for_scan(&path).unwrap();
        let conn = store.connection();
        let mut checkpointer = Checkpointer::start(conn, &path, 4);
        assert!(!checkpointer.wants_commit(), "nothing is in the WAL yet");
        // Small commits do not ask for a checkpoint: the WAL is not copied.
        conn.execute_batch(
            "INSERT INTO snapshots (started_at, status, tool_version, \
             config_digest, caller_arn) VALUES ('t', 'running', 'v', 'd', zeroblob(40000))",
        )
        .unwrap();
        checkpointer.committed(CHECKPOINT_EVERY_ROWS - 1);
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert_eq!(checkpointer.shared.lock().requested, 0);
        conn.execute_batch(
            "INSERT INTO snapshots (started_at, status, tool_version, \
             config_digest, caller_arn) VALUES ('t', 'running', 'v', 'd', zeroblob(40000))",
        )
        .unwrap();
        checkpointer.committed(1);
        // The thread copies the commits and reports a WAL past 4 pages.
        let started = std::time::Instant::now();
        while !checkpointer.wants_commit() {
            assert!(started.elapsed().as_secs() < 10, "no checkpoint report");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        checkpointer.before_transaction();
        assert!(!checkpointer.wants_commit());
        // Everything was copied: the next commit writes the WAL from its
        // start again, so the WAL now holds that commit's frames only.
        conn.execute_batch(
            "INSERT INTO snapshots (started_at, status, tool_version, \
             config_digest) VALUES ('t', 'running', 'v', 'd')",
        )
        .unwrap();
        let frames: i64 = conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))
            .unwrap();
        assert!(frames < 10, "the WAL did not start over: {frames} frames");
        checkpointer.finish();
    }

    #[test]
    fn the_writer_does_not_checkpoint_while_the_thread_does() {
        let (_dir, path) = temp_db();
        let store = Store::open_for_scan(&path).unwrap();
        let checkpointer = Checkpointer::start(store.connection(), &path, WAL_PAGES_LIMIT);
        assert_eq!(auto_checkpoint(store.connection()), 0);
        drop(checkpointer);
        assert_eq!(auto_checkpoint(store.connection()), 1000);
    }
}
