//! Finds the Python virtualenv holding moto, and fails loudly when it is missing.

use std::path::{Path, PathBuf};

use crate::{TEST_COMMAND, workspace_root};

/// The variable `scripts/test` exports with the virtualenv's directory.
pub const VENV_VARIABLE: &str = "FLEETSCAN_VENV";

/// The virtualenv's Python interpreter.
///
/// Looks at `$FLEETSCAN_VENV`, then at `<root>/.venv`. Panics (a test failure,
/// never a silent skip) with the command that creates it when neither has a
/// Python with moto installed.
pub fn python() -> PathBuf {
    match find_python() {
        Ok(python) => python,
        Err(reason) => panic!(
            "cannot run the moto tests: {reason}.\n\
             Run the README's test command from the repository root, which creates the \
             virtualenv and installs tests/moto/requirements.txt:\n\n    {TEST_COMMAND}\n"
        ),
    }
}

fn find_python() -> Result<PathBuf, String> {
    let venv = match std::env::var_os(VENV_VARIABLE) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root().join(".venv"),
    };
    let python = venv.join("bin").join("python");
    if !python.exists() {
        return Err(format!(
            "no virtualenv at {} (looked for {})",
            venv.display(),
            python.display()
        ));
    }
    if !has_moto(&venv) {
        return Err(format!(
            "the virtualenv at {} has no moto installed",
            venv.display()
        ));
    }
    Ok(python)
}

/// Cheap check without starting Python: moto's package directory exists.
fn has_moto(venv: &Path) -> bool {
    let Ok(lib) = std::fs::read_dir(venv.join("lib")) else {
        return false;
    };
    lib.flatten()
        .any(|entry| entry.path().join("site-packages").join("moto").is_dir())
}

/// `tests/moto`, where the launcher, seeder and mutator live.
pub fn harness_dir() -> PathBuf {
    workspace_root().join("tests").join("moto")
}
