//! Shared by the operations-kit tests (`ops_*.rs`): a fake AWS endpoint, a
//! configuration pointing at it, and the binary in a private directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use fleetscan_fakeaws::{AccountState, FakeAws, Faults, FleetSpec};
use fleetscan_tests::fleetscan::Fleetscan;
use tempfile::TempDir;

/// One test's world: its directory, its fake, its binary.
pub struct World {
    pub dir: TempDir,
    pub fake: FakeAws,
    pub fleetscan: Fleetscan,
}

impl World {
    /// The default synthetic fleet (4 members, one suspended; 2 regions and
    /// an opt-in one) with `faults`.
    pub fn start(faults: Faults) -> World {
        let dir = tempfile::tempdir().expect("temporary directory");
        let fake = FakeAws::start_blocking(FleetSpec::default(), faults).expect("fake AWS");
        let fleetscan = Fleetscan::new(env!("CARGO_BIN_EXE_fleetscan"), dir.path());
        World {
            dir,
            fake,
            fleetscan,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `config.yaml` (endpoint, home region, database `fleet.db`, plus
    /// `extra` YAML lines) and returns its path.
    pub fn config(&self, extra: &str) -> PathBuf {
        self.config_named("config.yaml", extra)
    }

    pub fn config_named(&self, name: &str, extra: &str) -> PathBuf {
        let path = self.path(name);
        let text = format!(
            "endpoint_url: {:?}\nhome_region: us-east-1\ndatabase: {:?}\n{extra}",
            self.fake.endpoint_url(),
            self.path("fleet.db").display().to_string(),
        );
        std::fs::write(&path, text).expect("write the configuration");
        path
    }

    /// Ids of the ACTIVE member accounts: the ones a default plan scans.
    pub fn active_members(&self) -> Vec<String> {
        self.fake
            .fleet()
            .members()
            .iter()
            .filter(|a| a.state == AccountState::Active)
            .map(|a| a.id.clone())
            .collect()
    }

    pub fn management_account(&self) -> String {
        self.fake.fleet().management_account().id.clone()
    }
}

/// The file's text, or a panic naming it.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("read {}: {err}", path.display()))
}
