//! Shell completions and the man page are generated from the command-line
//! definition: every shell's script and every page must exist and mention
//! every visible subcommand (read from `--help`, so a new command is covered
//! without editing this test).

use fleetscan_tests::fleetscan::Fleetscan;

/// The visible subcommands, from the `Commands:` section of `--help`.
fn subcommands(fleetscan: &Fleetscan) -> Vec<String> {
    let help = fleetscan.run(["--help"]);
    help.expect_code(0, "--help");
    let names: Vec<String> = help
        .stdout
        .lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        // Entries are indented by two; wrapped descriptions by more.
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect();
    for expected in ["scan", "plan", "snapshots", "diff", "prune", "check"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    for hidden in ["completions", "man"] {
        assert!(!names.iter().any(|n| n == hidden), "{hidden} is hidden");
    }
    names
}

#[test]
fn completions_for_every_shell_mention_every_subcommand() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let fleetscan = Fleetscan::new(env!("CARGO_BIN_EXE_fleetscan"), dir.path());
    let names = subcommands(&fleetscan);
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = fleetscan.run(["completions", shell]);
        output.expect_code(0, shell);
        assert!(output.stdout.len() > 200, "{shell}: {}", output.stdout);
        for name in &names {
            assert!(
                output.stdout.contains(name.as_str()),
                "{shell} lacks {name}"
            );
        }
        assert!(output.stdout.contains("summary-json"), "{shell}");
    }
    fleetscan
        .run(["completions", "tcsh"])
        .expect_code(2, "an unknown shell");
}

#[test]
fn the_man_pages_cover_every_subcommand() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let fleetscan = Fleetscan::new(env!("CARGO_BIN_EXE_fleetscan"), dir.path());
    let names = subcommands(&fleetscan);

    let output = fleetscan.run(["man"]);
    output.expect_code(0, "man");
    assert!(
        output.stdout.contains(".TH fleetscan 1"),
        "{}",
        output.stdout
    );
    for name in &names {
        assert!(
            output.stdout.contains(name.as_str()),
            "the page lacks {name}"
        );
    }

    let pages = dir.path().join("man1");
    fleetscan
        .run(["man", "--out-dir", pages.to_str().expect("path")])
        .expect_code(0, "man --out-dir");
    let page = std::fs::read_to_string(pages.join("fleetscan.1")).expect("fleetscan.1");
    assert!(page.starts_with(".ie") || page.starts_with(".TH"), "{page}");
    for name in &names {
        let path = pages.join(format!("fleetscan-{name}.1"));
        let page = std::fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        assert!(page.contains(&format!(".TH fleetscan-{name} 1")), "{page}");
        assert!(page.contains(".SH OPTIONS"), "{page}");
    }
    assert!(
        std::fs::read_to_string(pages.join("fleetscan-scan.1"))
            .expect("scan page")
            .contains("summary\\-json")
    );
}
