//! Embeds every `migrations/*.sql` file of the workspace root into the store,
//! in order, so that a new migration is never silently left out of the binary.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::{env, fs};

fn main() {
    let manifest_dir =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let migrations_dir = manifest_dir.join("../../migrations");
    // The folder itself: a file added or removed reruns this script.
    println!("cargo:rerun-if-changed={}", migrations_dir.display());

    let mut files: Vec<(u32, String, PathBuf)> = Vec::new();
    let entries = fs::read_dir(&migrations_dir)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", migrations_dir.display()));
    for entry in entries {
        let path = entry.expect("readable directory entry").path();
        let Some(file_name) = path
            .file_name()
            .and_then(|name| name.to_str())
            .map(str::to_owned)
        else {
            continue;
        };
        if !file_name.ends_with(".sql") {
            continue;
        }
        // Names are NNNN_what.sql: the number is the schema version it produces.
        let version: u32 = file_name
            .split('_')
            .next()
            .and_then(|digits| digits.parse().ok())
            .unwrap_or_else(|| {
                panic!("migration {file_name} must start with its number, e.g. 0004_what.sql")
            });
        println!("cargo:rerun-if-changed={}", path.display());
        files.push((version, file_name, path));
    }
    files.sort();
    // Versions must be 1, 2, 3, ... with no gap and no duplicate: a gap would
    // make user_version lie about which files were applied.
    for (index, (version, file_name, _)) in files.iter().enumerate() {
        let expected = u32::try_from(index + 1).expect("fewer than 2^32 migrations");
        assert_eq!(
            *version, expected,
            "migration {file_name} should be number {expected}"
        );
    }

    let mut generated =
        String::from("/// (schema version, file name, SQL), in the order they apply.\n");
    generated.push_str("pub(crate) const MIGRATIONS: &[(u32, &str, &str)] = &[\n");
    for (version, file_name, path) in &files {
        let absolute = path.canonicalize().expect("migration path resolves");
        writeln!(
            generated,
            "    ({version}, {file_name:?}, include_str!({:?})),",
            absolute.display().to_string()
        )
        .expect("writing to a String");
    }
    generated.push_str("];\n");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("migrations.rs");
    fs::write(&out, generated)
        .unwrap_or_else(|err| panic!("cannot write {}: {err}", out.display()));
}
