//! One moto server per test: started from `tests/moto/launcher.py`, killed on drop.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::manifest::Manifest;
use crate::venv;

/// How long moto may take to import and bind (it imports every service).
const START_TIMEOUT: Duration = Duration::from_secs(60);
const LISTENING_PREFIX: &str = "listening on ";

/// A running moto. Dropping it kills the server; closing its stdin (which
/// happens when this process dies, however it dies) stops it too.
pub struct Moto {
    child: Child,
    // Held open for as long as the server should live: the launcher runs with
    // --exit-on-stdin-close, so a test process that is killed leaves no moto behind.
    _lifeline: Option<ChildStdin>,
    endpoint: String,
    address: String,
}

/// The launcher's call counts (`GET /_fleetscan/calls`). Operations are
/// named `service:Operation`, e.g. `sts:AssumeRole`, `s3:GetBucketVersioning`.
#[derive(Debug, Clone, Deserialize)]
pub struct Calls {
    pub total: u64,
    pub operations: BTreeMap<String, u64>,
    /// Calls answered with an HTTP error, by operation.
    pub errors: BTreeMap<String, u64>,
    /// Account of the caller's credentials → operation → calls.
    pub by_account: BTreeMap<String, BTreeMap<String, u64>>,
    /// Region of the request's signature → operation → calls.
    pub by_region: BTreeMap<String, BTreeMap<String, u64>>,
    /// Account named in AssumeRole's RoleArn → calls.
    pub assume_role: BTreeMap<String, u64>,
    /// RoleArn → calls.
    pub assume_role_arns: BTreeMap<String, u64>,
}

impl Calls {
    pub fn operation(&self, name: &str) -> u64 {
        self.operations.get(name).copied().unwrap_or(0)
    }
}

/// A credential moto handed out (`GET /_fleetscan/credentials`): what must
/// never appear in a database or a log.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IssuedCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub account: String,
}

impl Moto {
    /// Starts a launcher on a free port of 127.0.0.1 and waits until it listens.
    pub fn start() -> Moto {
        let python = venv::python();
        let launcher = venv::harness_dir().join("launcher.py");
        let mut child = python_command(&python)
            .arg(&launcher)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--exit-on-stdin-close",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot start {} {}: {err}",
                    python.display(),
                    launcher.display()
                )
            });
        let lifeline = child.stdin.take();
        let Some(stdout) = child.stdout.take() else {
            panic!("the launcher's stdout was not captured");
        };

        // Read the announcement on a thread so a silent launcher meets a
        // timeout instead of hanging the test; keep draining afterwards.
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if let Some(endpoint) = line.strip_prefix(LISTENING_PREFIX) {
                    let _ = sender.send(endpoint.trim().to_string());
                    break;
                }
            }
            for _ in lines {}
        });
        let endpoint = match receiver.recv_timeout(START_TIMEOUT) {
            Ok(endpoint) => endpoint,
            Err(_) => {
                let status = child.try_wait().ok().flatten();
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "moto did not announce its port within {START_TIMEOUT:?} (exit status: {status:?}); \
                     its stderr is above"
                );
            }
        };
        let address = endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        Moto {
            child,
            _lifeline: lifeline,
            endpoint,
            address,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Seeds the sample organization and returns its manifest (also written to `dir/manifest.json`).
    pub fn seed(&self, dir: &Path) -> Manifest {
        let out = dir.join("manifest.json");
        run_harness_script("seed.py", &[self.endpoint.as_str(), path_str(&out)]);
        Manifest::read(&out)
    }

    /// Applies mutate.py's changes to a seeded fleet and returns the new manifest.
    pub fn mutate(&self, seeded: &Path, dir: &Path) -> Manifest {
        let out = dir.join("manifest-mutated.json");
        run_harness_script(
            "mutate.py",
            &[self.endpoint.as_str(), path_str(seeded), path_str(&out)],
        );
        Manifest::read(&out)
    }

    pub fn calls(&self) -> Calls {
        self.private_json("GET", "/_fleetscan/calls")
    }

    /// Zeroes the counts, e.g. between seeding and scanning.
    pub fn reset_calls(&self) {
        let _: serde_json::Value = self.private_json("POST", "/_fleetscan/calls/reset");
    }

    /// Delays every AWS answer by `milliseconds` from now on (0: no delay).
    pub fn set_delay(&self, milliseconds: u64) {
        let _: serde_json::Value =
            self.private_json("POST", &format!("/_fleetscan/delay?ms={milliseconds}"));
    }

    /// From now on, answers `operation` (`service:Operation`, as counted)
    /// with AccessDenied when called with `account`'s credentials (signed for
    /// `region`, or any region when `None`): a way to make one scan unit fail.
    pub fn deny(&self, operation: &str, account: &str, region: Option<&str>) {
        let mut path = format!("/_fleetscan/deny?operation={operation}&account={account}");
        if let Some(region) = region {
            path.push_str(&format!("&region={region}"));
        }
        let _: serde_json::Value = self.private_json("POST", &path);
    }

    /// Lifts every [`Moto::deny`].
    pub fn reset_denials(&self) {
        let _: serde_json::Value = self.private_json("POST", "/_fleetscan/deny/reset");
    }

    pub fn issued_credentials(&self) -> Vec<IssuedCredentials> {
        self.private_json("GET", "/_fleetscan/credentials")
    }

    /// A raw request as an SDK would send it, signed for `service` in
    /// `us-east-1` with moto's test key (moto routes by the signature's
    /// service and does not check the signature itself). Returns status line and body.
    pub fn raw_request(&self, method: &str, path: &str, service: &str) -> (String, String) {
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/{service}/aws4_request, \
             SignedHeaders=host, Signature=0000"
        );
        send(
            &self.address,
            method,
            path,
            &[("Authorization", authorization.as_str())],
        )
        .unwrap_or_else(|err| panic!("{method} {path} on moto at {}: {err}", self.endpoint))
    }

    fn private_json<T: DeserializeOwned>(&self, method: &str, path: &str) -> T {
        let body = http_request(&self.address, method, path)
            .unwrap_or_else(|err| panic!("{method} {path} on moto at {}: {err}", self.endpoint));
        serde_json::from_str(&body)
            .unwrap_or_else(|err| panic!("{method} {path}: not JSON ({err}): {body}"))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Python command with no AWS configuration of the machine in sight and no
/// proxy between it and the loopback.
fn python_command(python: &Path) -> Command {
    let mut command = Command::new(python);
    command
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL");
    command
}

fn run_harness_script(script: &str, args: &[&str]) {
    let python = venv::python();
    let path: PathBuf = venv::harness_dir().join(script);
    let output = python_command(&python)
        .arg(&path)
        .args(args)
        .current_dir(venv::harness_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", path.display()));
    if !output.status.success() {
        panic!(
            "{script} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str()
        .unwrap_or_else(|| panic!("test paths are UTF-8: {}", path.display()))
}

/// The launcher's JSON endpoints: the body of a 200 answer, else an error.
fn http_request(address: &str, method: &str, path: &str) -> std::io::Result<String> {
    let (status, body) = send(address, method, path, &[])?;
    if !status.contains(" 200 ") {
        return Err(std::io::Error::other(format!("{status}: {body}")));
    }
    Ok(body)
}

/// The smallest HTTP/1.0 client: one request, the status line and the body.
fn send(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<(String, String)> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request =
        format!("{method} {path} HTTP/1.0\r\nHost: {address}\r\nContent-Length: 0\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP header end in {response:?}")))?;
    let status = head.lines().next().unwrap_or_default().to_string();
    Ok((status, body.to_string()))
}
