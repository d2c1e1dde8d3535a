//! A fast fake AWS endpoint for fleetscan's tests and benchmarks: a synthetic
//! organization served over STS, Organizations, EC2, S3 and S3 Control in
//! their real wire protocols, with injectable faults and call counting.
//!
//! ```no_run
//! use fleetscan_fakeaws::{CallFilter, FakeAws, Faults, FleetSpec, Operation};
//!
//! // From a plain #[test]: the fake runs on its own runtime until dropped.
//! let fake = FakeAws::start_blocking(FleetSpec::default(), Faults::none())?;
//! let endpoint = fake.endpoint_url(); // http://127.0.0.1:PORT, for `endpoint_url:`
//! let member = fake.fleet().members()[0].id.clone();
//! fake.update_faults(|faults| {
//!     faults.unauthorized.push(
//!         CallFilter::operation(Operation::DescribeVolumes).account(&member).region("eu-west-1"),
//!     );
//! });
//! // ... run the scanner against `endpoint` ...
//! let expected = fake.fleet().expected_instances(&member, "us-east-1");
//! let calls = fake.stats().count_for(Operation::DescribeInstances, &member);
//! # let _ = (endpoint, expected, calls);
//! # Ok::<(), fleetscan_fakeaws::Error>(())
//! ```
//!
//! How requests are understood: the SigV4 credential scope of the
//! `Authorization` header names the service and region (signatures are not
//! checked). Access keys issued by the fake's `AssumeRole` act as the role's
//! account; any other key is the organization's management account.

mod control;
mod faults;
mod fleet;
mod operation;
mod paging;
mod prng;
mod server;
mod services;
mod spec;
mod stats;
mod time;
mod wire;

pub use faults::{
    CallFilter, DisabledRegionError, EmptyPages, Faults, Latency, ServerErrors, Throttle,
};
pub use fleet::{
    Account, AccountResources, AccountState, Bucket, Encryption, Fleet, FleetSummary, Instance,
    Logging, OrganizationalUnit, Permission, PublicAccessBlock, Region, RegionResources,
    RuleSource, SecurityGroup, Tag, Versioning, Volume,
};
pub use operation::{Operation, Service, UnknownOperation};
pub use spec::{Count, FleetSpec, SpecError};
pub use stats::{CallCount, Injected, Stats};
pub use time::iso8601;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use server::State;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Why the fake could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec cannot be generated.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// Binding the port (or building the runtime) failed.
    #[error("fake AWS endpoint: {0}")]
    Io(#[from] std::io::Error),
}

/// A running fake AWS endpoint on `127.0.0.1`. Stops when dropped: open
/// connections (including hung calls) are closed.
///
/// Every method takes `&self` and is cheap; the handle can be shared between
/// threads (`FakeAws` is `Send + Sync`).
pub struct FakeAws {
    state: Arc<State>,
    address: SocketAddr,
    shutdown: watch::Sender<bool>,
    accept_task: JoinHandle<()>,
    /// Present when started with [`FakeAws::start_blocking`].
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for FakeAws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeAws")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl FakeAws {
    /// Generates the fleet and serves it on an ephemeral port, on the current
    /// tokio runtime.
    pub async fn start(spec: FleetSpec, faults: Faults) -> Result<FakeAws, Error> {
        Self::start_on_port(spec, faults, 0).await
    }

    /// Like [`FakeAws::start`] on a chosen port (0: any free port).
    pub async fn start_on_port(
        spec: FleetSpec,
        faults: Faults,
        port: u16,
    ) -> Result<FakeAws, Error> {
        let fleet = Arc::new(Fleet::generate(spec)?);
        let state = Arc::new(State::new(fleet, faults));
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        let address = listener.local_addr()?;
        let (shutdown, stopped) = watch::channel(false);
        let accept_task = tokio::spawn(accept_loop(listener, state.clone(), stopped));
        Ok(FakeAws {
            state,
            address,
            shutdown,
            accept_task,
            runtime: None,
        })
    }

    /// For plain `#[test]` functions and other synchronous code: starts a
    /// private two-thread tokio runtime that serves the fake until the handle
    /// is dropped.
    pub fn start_blocking(spec: FleetSpec, faults: Faults) -> Result<FakeAws, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fakeaws")
            .enable_all()
            .build()?;
        let mut fake = runtime.block_on(Self::start(spec, faults))?;
        fake.runtime = Some(runtime);
        Ok(fake)
    }

    /// `http://127.0.0.1:PORT`: the value for fleetscan's `endpoint_url`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The listening address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The served fleet: the ground truth to compare a scan against.
    pub fn fleet(&self) -> &Fleet {
        &self.state.fleet
    }

    /// A snapshot of the call counters.
    pub fn stats(&self) -> Stats {
        self.state.stats.snapshot(&self.state.fleet)
    }

    /// Zeroes the call counters.
    pub fn reset_stats(&self) {
        self.state.stats.reset();
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        (*self.state.faults()).clone()
    }

    /// Replaces the faults; calls arriving from now on see the new ones.
    /// Throttling buckets restart full.
    pub fn set_faults(&self, faults: Faults) {
        self.state.set_faults(faults);
    }

    /// Edits the faults in place (read, modify, replace).
    pub fn update_faults(&self, edit: impl FnOnce(&mut Faults)) {
        let mut faults = self.faults();
        edit(&mut faults);
        self.set_faults(faults);
    }

    /// How many credentials `AssumeRole` has issued.
    pub fn issued_credentials(&self) -> usize {
        self.state.issued_count()
    }
}

impl Drop for FakeAws {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.accept_task.abort();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, mut stopped: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors and the like: back off, keep serving.
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| server::handle(state.clone(), request));
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = stopped.changed() => {}
            }
        });
    }
}
