//! `fleetscan-fakeaws`: runs the fake AWS endpoint as a process (for the
//! benchmark scripts) until killed.

use fleetscan_fakeaws::{FakeAws, Faults, FleetSpec};
use std::io::Write as _;
use std::process::ExitCode;

const USAGE: &str = "usage: fleetscan-fakeaws [--spec FILE.json] [--faults FILE.json] [--port N]

Serves a synthetic AWS organization on 127.0.0.1 and prints
`listening on http://127.0.0.1:PORT` once ready. Control API: /_fake/stats,
/_fake/stats/reset, /_fake/faults, /_fake/fleet.";

struct Options {
    spec: FleetSpec,
    faults: Faults,
    port: u16,
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|error| format!("cannot read {path}: {error}"))
}

fn parse(arguments: &[String]) -> Result<Options, String> {
    let mut options = Options {
        spec: FleetSpec::default(),
        faults: Faults::none(),
        port: 0,
    };
    let mut iter = arguments.iter();
    while let Some(argument) = iter.next() {
        let mut value = || {
            iter.next()
                .ok_or_else(|| format!("{argument} needs a value"))
        };
        match argument.as_str() {
            "--spec" => {
                let path = value()?;
                options.spec =
                    FleetSpec::from_json(&read(path)?).map_err(|e| format!("{path}: {e}"))?;
            }
            "--faults" => {
                let path = value()?;
                options.faults = serde_json::from_str(&read(path)?)
                    .map_err(|e| format!("{path}: invalid faults: {e}"))?;
            }
            "--port" => {
                let text = value()?;
                options.port = text
                    .parse()
                    .map_err(|_| format!("--port {text:?} is not a port number"))?;
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&arguments) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let fake = match FakeAws::start_on_port(options.spec, options.faults, options.port).await {
            Ok(fake) => fake,
            Err(error) => {
                eprintln!("{error}");
                return ExitCode::FAILURE;
            }
        };
        println!("listening on {}", fake.endpoint_url());
        let _ = std::io::stdout().flush();
        // Serve until the process is killed.
        std::future::pending::<()>().await;
        drop(fake);
        ExitCode::SUCCESS
    })
}
