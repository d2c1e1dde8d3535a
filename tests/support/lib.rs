//! Test support for fleetscan's end-to-end tests: moto, its seeder, the binary, the database.
//!
//! The pieces, one module each:
//! - [`venv`]: finds the Python virtualenv `scripts/test` makes (moto lives there);
//! - [`moto`]: starts `tests/moto/launcher.py` on a free loopback port, seeds and
//!   mutates the sample organization, reads the launcher's call counts;
//! - [`manifest`]: the seeder's ground truth, typed;
//! - [`config`]: writes a scan configuration pointing at one moto;
//! - [`fleetscan`]: runs the built binary with test credentials and no real AWS config;
//! - [`db`]: reads a snapshot back out of the SQLite file in the manifest's shapes.
//!
//! Nothing here talks to anything but 127.0.0.1.

pub mod config;
pub mod db;
pub mod fleetscan;
pub mod manifest;
pub mod moto;
pub mod venv;

use std::path::PathBuf;

/// The repository's root (this crate lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}

/// The command the README gives for running the tests; named in every
/// "cannot run" message so the fix is one copy-paste away.
pub const TEST_COMMAND: &str = "scripts/test";
