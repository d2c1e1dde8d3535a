//! The control API under `/_fake/` (never a valid bucket name, so it cannot
//! collide with S3 path-style requests): stats, faults and fleet summary for
//! scripts that run the fake as a separate process.
//!
//! | request | answer |
//! |---|---|
//! | `GET /_fake/health` | `ok` |
//! | `GET /_fake/stats` | [`crate::Stats`] as JSON |
//! | `POST /_fake/stats/reset` | zeroes the counters |
//! | `GET /_fake/faults` | the current [`crate::Faults`] as JSON |
//! | `PUT /_fake/faults` (or POST) | replaces the faults with the JSON body |
//! | `GET /_fake/fleet` | [`crate::FleetSummary`] as JSON |

use crate::faults::Faults;
use crate::server::{HttpResponse, State, respond};
use hyper::Method;

pub(crate) fn handle(state: &State, method: &Method, path: &str, body: &[u8]) -> HttpResponse {
    let json = |value: Result<String, serde_json::Error>| match value {
        Ok(text) => respond(200, "application/json", text + "\n"),
        Err(error) => respond(500, "text/plain", format!("{error}\n")),
    };
    match (method, path.trim_end_matches('/')) {
        (&Method::GET, "/_fake/health") => respond(200, "text/plain", "ok\n".to_owned()),
        (&Method::GET, "/_fake/stats") => json(serde_json::to_string_pretty(
            &state.stats.snapshot(&state.fleet),
        )),
        (&Method::POST, "/_fake/stats/reset") => {
            state.stats.reset();
            respond(200, "text/plain", "reset\n".to_owned())
        }
        (&Method::GET, "/_fake/faults") => json(serde_json::to_string_pretty(&*state.faults())),
        (&Method::PUT | &Method::POST, "/_fake/faults") => {
            match serde_json::from_slice::<Faults>(body) {
                Ok(faults) => {
                    let text = serde_json::to_string_pretty(&faults);
                    state.set_faults(faults);
                    json(text)
                }
                Err(error) => respond(400, "text/plain", format!("invalid faults: {error}\n")),
            }
        }
        (&Method::GET, "/_fake/fleet") => {
            json(serde_json::to_string_pretty(&state.fleet.summary()))
        }
        _ => respond(
            404,
            "text/plain",
            "unknown control path; try /_fake/stats, /_fake/faults, /_fake/fleet\n".to_owned(),
        ),
    }
}
