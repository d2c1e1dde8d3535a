//! Runs the built `fleetscan` binary as a user would, with moto's test credentials and nothing else.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The credentials moto's default account accepts; also what must never be stored.
pub const TEST_ACCESS_KEY_ID: &str = "testing";
pub const TEST_SECRET_ACCESS_KEY: &str = "testing";

/// No test scan of the sample organization comes near this; hitting it means a hang.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// The binary plus an environment with no real AWS configuration in reach:
/// an empty HOME, empty config and credentials files, no instance metadata,
/// and the standard variables set to moto's test values.
pub struct Fleetscan {
    binary: PathBuf,
    home: PathBuf,
}

/// What one run printed and how it ended.
#[derive(Debug)]
pub struct RunOutput {
    /// `None` when the process was killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl RunOutput {
    /// Panics with both outputs unless the exit code is `expected`.
    pub fn expect_code(&self, expected: i32, what: &str) -> &RunOutput {
        assert_eq!(
            self.code,
            Some(expected),
            "{what}: expected exit code {expected}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// stdout parsed as JSON (for `--format json`).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|err| {
            panic!(
                "stdout is not JSON ({err}):\n--- stdout\n{}\n--- stderr\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

impl Fleetscan {
    /// `binary` is `env!("CARGO_BIN_EXE_fleetscan")` in the test; `workdir` a
    /// per-test directory that becomes HOME and holds the empty AWS files.
    pub fn new(binary: impl Into<PathBuf>, workdir: &Path) -> Fleetscan {
        let home = workdir.join("home");
        let aws = home.join(".aws");
        std::fs::create_dir_all(&aws)
            .unwrap_or_else(|err| panic!("create {}: {err}", aws.display()));
        for file in ["config", "credentials"] {
            std::fs::write(aws.join(file), "").unwrap_or_else(|err| panic!("write {file}: {err}"));
        }
        Fleetscan {
            binary: binary.into(),
            home,
        }
    }

    /// A command for `fleetscan ARGS...` with the test environment and nothing
    /// inherited but PATH (so no AWS_PROFILE, AWS_* or proxy of the machine leaks in).
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let aws = self.home.join(".aws");
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", TEST_SECRET_ACCESS_KEY)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", aws.join("config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", aws.join("credentials"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .env("NO_COLOR", "1")
            .current_dir(&self.home)
            .stdin(Stdio::null());
        if let Some(backtrace) = std::env::var_os("RUST_BACKTRACE") {
            command.env("RUST_BACKTRACE", backtrace);
        }
        command
    }

    /// Runs to completion (or panics after a generous timeout, killing it).
    pub fn run<I, S>(&self, args: I) -> RunOutput
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", self.binary.display()));
        Running::new(child).finish(RUN_TIMEOUT)
    }

    /// Starts without waiting, for tests that interrupt a scan.
    pub fn spawn<I, S>(&self, args: I) -> Running
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", self.binary.display()));
        Running::new(child)
    }
}

/// A started fleetscan whose output is drained on threads (so a full pipe never blocks it).
pub struct Running {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

impl Running {
    fn new(mut child: Child) -> Running {
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);
        Running {
            child,
            stdout,
            stderr,
        }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has exited.
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// SIGKILL: the process gets no chance to clean up, as with `kill -9` or the OOM killer.
    pub fn kill(mut self) -> RunOutput {
        let _ = self.child.kill();
        self.finish(RUN_TIMEOUT)
    }

    /// SIGTERM, as `systemctl stop` or `timeout(1)` send it; then waits for
    /// the exit and checks it came within 20 s (the runtime's shutdown is
    /// bounded by 10 s; a hang would reach the 60 s cap).
    pub fn terminate(self) -> RunOutput {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.id().to_string()])
            .status()
            .expect("kill(1) runs");
        assert!(sent.success(), "kill -TERM {}", self.id());
        let stopping = Instant::now();
        let output = self.finish(Duration::from_secs(60));
        assert!(
            stopping.elapsed() < Duration::from_secs(20),
            "took {:?} to stop after SIGTERM\n--- exit {:?}\n--- stderr\n{}",
            stopping.elapsed(),
            output.code,
            output.stderr
        );
        output
    }

    /// Waits for the exit (killing it after `timeout`) and collects the output.
    pub fn finish(mut self, timeout: Duration) -> RunOutput {
        let deadline = Instant::now() + timeout;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Ok(None) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!("fleetscan did not finish within {timeout:?}; killed it");
                }
                Err(err) => panic!("waiting for fleetscan: {err}"),
            }
        };
        let stdout = self.stdout.take().map(join).unwrap_or_default();
        let stderr = self.stderr.take().map(join).unwrap_or_default();
        RunOutput {
            code: status.code(),
            stdout,
            stderr,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn drain<R: Read + Send + 'static>(mut reader: R) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = reader.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn join(handle: JoinHandle<String>) -> String {
    handle
        .join()
        .unwrap_or_else(|_| String::from("<output reader panicked>"))
}
