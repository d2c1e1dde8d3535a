//! AWS sessions: the base configuration (the caller's own credentials chain,
//! retry, timeouts, endpoint), and per account one auto-refreshing assumed-role
//! session shared by every client of that account.
//!
//! Per account there is exactly one `AssumeRoleProvider`, wrapped in its own
//! lazy identity cache. Every client of the account (EC2 in each region, S3 in
//! each bucket region, S3 Control) is built from that one `SdkConfig`, so the
//! role is assumed once and refreshed before expiry however long the scan
//! runs — never once per client or per call.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider, future};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_runtime::client::identity::IdentityCache;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns, ResolveDnsError};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;
use aws_types::SdkConfig;
use aws_types::region::Region;
use aws_types::service_config::ServiceConfigKey;

use crate::classify::AwsFailure;
use crate::config::Config;

/// The caller's configuration: everything every account session starts from.
#[derive(Clone, Debug)]
pub struct BaseAws {
    pub sdk: SdkConfig,
    /// Where the SDK sends S3, when not to AWS: an emulator, and S3 goes
    /// path-style (see [`custom_endpoint`]).
    pub s3_endpoint_url: Option<String>,
    pub home_region: String,
    /// For S3, whose host names are per bucket
    /// (`bucket.s3.region.amazonaws.com`): see [`S3_POOL`] and
    /// [`PATH_STYLE_S3_POOL`].
    pub s3_http: SharedHttpClient,
    /// For S3 Control, whose host names are per account: see [`S3_CONTROL_POOL`].
    pub s3control_http: SharedHttpClient,
}

/// How an HTTP client keeps idle connections.
#[derive(Debug, Clone, Copy)]
struct Pool {
    /// Dropped after this long idle (`None`: the client's default, 90 s).
    idle: Option<Duration>,
    /// At most this many idle connections per host (`None`: no limit).
    max_idle_per_host: Option<usize>,
}

/// EC2, STS and Organizations: a handful of hosts (one per region), reused
/// for the whole scan.
const DEFAULT_POOL: Pool = Pool {
    idle: None,
    max_idle_per_host: None,
};

/// S3 with virtual-hosted names (AWS): a bucket's posture calls run at
/// once, so each opens its own connection, and the bucket's host is not seen
/// again. Idle connections go after a second and a host keeps few, so the
/// pool does not grow with the buckets scanned per second (each idle
/// connection holds its buffers: 2,000 of them were ~50 MB).
const S3_POOL: Pool = Pool {
    idle: Some(Duration::from_secs(1)),
    max_idle_per_host: Some(8),
};

/// S3 with path-style names (an emulator): every bucket is on one host, whose
/// idle connections are reused; at most as many as the scan has S3 calls in
/// flight, which the configured concurrency bounds.
const PATH_STYLE_S3_POOL: Pool = Pool {
    idle: Some(Duration::from_secs(5)),
    max_idle_per_host: None,
};

/// S3 Control: one call per account, on a host of the account's own; an
/// idle connection would never be used again.
const S3_CONTROL_POOL: Pool = Pool {
    idle: None,
    max_idle_per_host: Some(0),
};

/// Loads the standard AWS credential chain and applies the configuration's
/// retry, timeout and endpoint settings. Makes no AWS call.
pub async fn load_base(config: &Config) -> BaseAws {
    load_base_with(config, None).await
}

/// [`load_base`] with the caller's credentials given instead of taken from
/// the standard chain (tests, embedding).
pub async fn load_base_with(
    config: &Config,
    credentials: Option<SharedCredentialsProvider>,
) -> BaseAws {
    let region_chain = match &config.home_region {
        Some(region) => RegionProviderChain::first_try(Region::new(region.clone())),
        None => RegionProviderChain::default_provider().or_else(Region::from_static("us-east-1")),
    };
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region_chain)
        .retry_config(RetryConfig::standard().with_max_attempts(config.retry_max_attempts))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(config.timeouts.connect)
                .read_timeout(config.timeouts.attempt)
                .operation_attempt_timeout(config.timeouts.attempt)
                .operation_timeout(config.timeouts.operation)
                .build(),
        );
    if let Some(credentials) = credentials {
        loader = loader.credentials_provider(credentials);
    }
    if let Some(url) = &config.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    // Read once: the same proxy for every client, as the SDK's default client
    // would pick it up.
    let proxy = ProxyConfig::from_env();
    // EC2, STS and Organizations put nothing in front of the endpoint's
    // host: their client needs no alias for an emulator.
    loader = loader.http_client(http_client(None, DEFAULT_POOL, proxy.clone()));
    let sdk = loader.load().await;
    let home_region = sdk
        .region()
        .map_or_else(|| "us-east-1".to_string(), |r| r.to_string());
    let s3_endpoint_url = custom_endpoint(&sdk, S3_SERVICE_ID);
    let s3control_endpoint_url = custom_endpoint(&sdk, S3_CONTROL_SERVICE_ID);
    BaseAws {
        s3_http: http_client(
            s3_endpoint_url.as_deref(),
            if s3_path_style(s3_endpoint_url.as_deref()) {
                PATH_STYLE_S3_POOL
            } else {
                S3_POOL
            },
            proxy.clone(),
        ),
        s3control_http: http_client(s3control_endpoint_url.as_deref(), S3_CONTROL_POOL, proxy),
        sdk,
        s3_endpoint_url,
        home_region,
    }
}

/// The service ids the SDK names the services' endpoint settings after
/// (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_S3_CONTROL`, a profile's
/// `[services]` section).
const S3_SERVICE_ID: &str = "S3";
const S3_CONTROL_SERVICE_ID: &str = "S3 Control";

/// The endpoint the SDK sends `service_id` to when one is configured: the
/// configuration's `endpoint_url`, `AWS_ENDPOINT_URL` or
/// `AWS_ENDPOINT_URL_<SERVICE>`, or `endpoint_url` in the shared config
/// profile (its `[services]` section too). `None` means AWS's own endpoints.
///
/// The one rule for "an emulator stands in for AWS": S3 goes path-style and
/// S3 Control's per-account host resolves to the endpoint. It decides as the
/// service's `config::Builder::from(&SdkConfig)` does (aws-sdk-s3 and
/// aws-sdk-s3control): an endpoint set on a client wins; otherwise a
/// service-specific setting, else the general one (a programmatic
/// `endpoint_url` on the loader counts as general, so
/// `AWS_ENDPOINT_URL_<SERVICE>` overrides it for that service).
fn custom_endpoint(sdk: &SdkConfig, service_id: &str) -> Option<String> {
    if sdk.get_origin("endpoint_url").is_client_config() {
        return sdk.endpoint_url().map(str::to_string);
    }
    let key = ServiceConfigKey::builder()
        .service_id(service_id)
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .ok();
    sdk.service_config()
        .zip(key)
        .and_then(|(service_config, key)| service_config.load_config(key))
        .or_else(|| sdk.endpoint_url().map(str::to_string))
}

/// S3 goes path-style against an emulator: its endpoint has one host, with
/// no name per bucket under it.
fn s3_path_style(s3_endpoint_url: Option<&str>) -> bool {
    s3_endpoint_url.is_some()
}

/// An HTTPS client like the SDK's default one (rustls with aws-lc, the
/// proxy of `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY`), with the given
/// [`Pool`] policy for idle connections.
///
/// Against an emulator (`endpoint_url`), S3 Control puts the account id in
/// front of the endpoint's host (`123456789012.127.0.0.1`), which no resolver
/// knows: any name under the endpoint's host then resolves to the endpoint.
fn http_client(endpoint_url: Option<&str>, pool: Pool, proxy: ProxyConfig) -> SharedHttpClient {
    let resolver = endpoint_url.map(|url| EndpointAliasResolver {
        endpoint_host: Arc::new(endpoint_host(url)),
    });
    let client = aws_smithy_http_client::Builder::new().build_with_connector_fn(
        move |settings, components| {
            let mut builder = aws_smithy_http_client::Connector::builder();
            builder.set_connector_settings(settings.cloned());
            if let Some(components) = components {
                builder.set_sleep_impl(components.sleep_impl());
            }
            builder.set_pool_idle_timeout(pool.idle.map(Some));
            builder.set_pool_max_idle_per_host(pool.max_idle_per_host);
            builder.set_proxy_config(Some(proxy.clone()));
            let builder = builder.tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc,
            ));
            match &resolver {
                Some(resolver) => builder.build_with_resolver(resolver.clone()),
                None => builder.build(),
            }
        },
    );
    WarmOnce::wrap(client)
}

/// The host of an endpoint URL, without port or IPv6 brackets.
fn endpoint_host(endpoint_url: &str) -> String {
    let host = endpoint_url
        .split_once("://")
        .map_or(endpoint_url, |(_, rest)| rest)
        .split(['/', '?'])
        .next()
        .unwrap_or_default();
    let host = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

/// An HTTP client that is validated once, however many SDK clients use it.
///
/// Every SDK client built asks its HTTP client to validate itself, and the
/// hyper client answers by building a whole TLS configuration (root
/// certificates included) that it then throws away. A scan builds several
/// clients per account (EC2 per region, S3, S3 Control, STS), so that alone
/// was about 5% of a scan's CPU. The first validation still happens (it
/// loads the root certificates before the first request); later ones are
/// skipped. The connectors that
/// carry requests are cached per settings by the inner client either way.
#[derive(Debug)]
struct WarmOnce {
    inner: SharedHttpClient,
    validated: AtomicBool,
}

impl WarmOnce {
    fn wrap(inner: SharedHttpClient) -> SharedHttpClient {
        SharedHttpClient::new(WarmOnce {
            inner,
            validated: AtomicBool::new(false),
        })
    }
}

impl HttpClient for WarmOnce {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.inner.http_connector(settings, components)
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        if self.validated.load(Ordering::Acquire) {
            return Ok(());
        }
        self.inner
            .validate_base_client_config(runtime_components, cfg)?;
        self.validated.store(true, Ordering::Release);
        Ok(())
    }

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

/// Resolves `<anything>.<endpoint host>` as `<endpoint host>`.
#[derive(Debug, Clone)]
struct EndpointAliasResolver {
    endpoint_host: Arc<String>,
}

impl ResolveDns for EndpointAliasResolver {
    fn resolve_dns<'a>(&'a self, name: &'a str) -> DnsFuture<'a> {
        let target = if name.len() > self.endpoint_host.len()
            && name.ends_with(&format!(".{}", self.endpoint_host))
        {
            self.endpoint_host.as_str()
        } else {
            name
        };
        if let Ok(ip) = target.parse::<IpAddr>() {
            return DnsFuture::ready(Ok(vec![ip]));
        }
        let target = target.to_string();
        DnsFuture::new(async move {
            let addresses = tokio::net::lookup_host((target.as_str(), 0))
                .await
                .map_err(ResolveDnsError::new)?;
            Ok(addresses.map(|a| a.ip()).collect())
        })
    }
}

/// Wraps the account's `AssumeRoleProvider` so that:
/// - the role can be assumed once up front, to detect a denied role before any
///   resource call, and that first set of credentials is then handed to the
///   identity cache instead of assuming the role a second time;
/// - credentials are refreshed halfway through their life when that is sooner
///   than the cache's refresh buffer (short-lived sessions never thrash);
/// - every AssumeRole is counted.
struct AccountCredentials {
    inner: AssumeRoleProvider,
    primed: Mutex<Option<Credentials>>,
    refresh_buffer: Duration,
    assume_calls: Arc<AtomicU64>,
}

/// Written by hand: the primed credentials must never reach a log line
/// (the SDK prints providers when tracing).
impl std::fmt::Debug for AccountCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountCredentials")
            .field("refresh_buffer", &self.refresh_buffer)
            .finish_non_exhaustive()
    }
}

impl AccountCredentials {
    async fn fetch(&self) -> provider::Result {
        self.assume_calls.fetch_add(1, Ordering::Relaxed);
        let mut credentials = self.inner.provide_credentials().await?;
        if let Some(expiry) = credentials.expiry() {
            *credentials.expiry_mut() = Some(reported_expiry(
                SystemTime::now(),
                expiry,
                self.refresh_buffer,
            ));
        }
        Ok(credentials)
    }
}

/// The refresh buffer the cache uses: the configured one, but never more than
/// a quarter of the credentials' life, so short-lived credentials (or a
/// buffer configured longer than the session) never make every call
/// re-assume the role.
fn effective_buffer(configured: Duration, lifetime: Duration) -> Duration {
    configured.min(lifetime / 4)
}

/// The expiry handed to the identity cache. The cache refreshes between
/// (expiry - buffer) and (expiry - buffer / 2) (it jitters the buffer);
/// reporting the earlier of the true expiry and (half-life + buffer) puts the
/// refresh between half and five eighths of the credentials' life, always
/// before they really expire.
fn reported_expiry(now: SystemTime, expiry: SystemTime, configured_buffer: Duration) -> SystemTime {
    match expiry.duration_since(now) {
        Ok(lifetime) => {
            expiry.min(now + lifetime / 2 + effective_buffer(configured_buffer, lifetime))
        }
        Err(_) => expiry,
    }
}

impl ProvideCredentials for AccountCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            let primed = self.primed.lock().ok().and_then(|mut slot| slot.take());
            match primed {
                Some(credentials) => Ok(credentials),
                None => self.fetch().await,
            }
        })
    }
}

/// Everything needed to assume the role of one account.
#[derive(Debug, Clone)]
pub struct RoleRequest {
    pub account_id: String,
    pub role_arn: String,
    pub external_id: Option<crate::config::Secret>,
    pub session_name: String,
    pub session_duration: Duration,
    pub refresh_buffer: Duration,
}

/// One account's session: the shared configuration and the clients built from it.
#[derive(Debug)]
pub struct AccountSession {
    pub account_id: String,
    pub home_region: String,
    sdk: SdkConfig,
    path_style: bool,
    s3_http: SharedHttpClient,
    s3control_http: SharedHttpClient,
    assume_calls: Arc<AtomicU64>,
    retry_partition: String,
    ec2_clients: Mutex<HashMap<String, aws_sdk_ec2::Client>>,
    s3_clients: Mutex<HashMap<String, aws_sdk_s3::Client>>,
}

impl AccountSession {
    /// Builds the session and assumes the role once, so a role that cannot be
    /// assumed is known before any resource call.
    pub async fn assume(
        base: &BaseAws,
        request: &RoleRequest,
    ) -> Result<AccountSession, AwsFailure> {
        let mut builder = AssumeRoleProvider::builder(request.role_arn.clone())
            .session_name(request.session_name.clone())
            .session_length(request.session_duration)
            .configure(&base.sdk);
        if let Some(external_id) = &request.external_id {
            builder = builder.external_id(external_id.expose());
        }
        let assume_calls = Arc::new(AtomicU64::new(0));
        let credentials = AccountCredentials {
            inner: builder.build().await,
            primed: Mutex::new(None),
            refresh_buffer: request.refresh_buffer,
            assume_calls: assume_calls.clone(),
        };
        let first = credentials
            .fetch()
            .await
            .map_err(|err| crate::classify::assume_role_failure(&request.role_arn, &err))?;
        // The first lifetime decides the cache's buffer (see effective_buffer).
        let lifetime = first
            .expiry()
            .and_then(|e| e.duration_since(SystemTime::now()).ok());
        let buffer = lifetime.map_or(request.refresh_buffer, |l| {
            effective_buffer(request.refresh_buffer, l)
        });
        if let Ok(mut slot) = credentials.primed.lock() {
            *slot = Some(first);
        }
        let cache = IdentityCache::lazy()
            .buffer_time(buffer)
            .load_timeout(Duration::from_secs(60))
            .build();
        let sdk = base
            .sdk
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .identity_cache(cache)
            .build();
        Ok(AccountSession {
            account_id: request.account_id.clone(),
            home_region: base.home_region.clone(),
            sdk,
            path_style: s3_path_style(base.s3_endpoint_url.as_deref()),
            s3_http: base.s3_http.clone(),
            s3control_http: base.s3control_http.clone(),
            assume_calls,
            retry_partition: format!("fleetscan-{}", request.account_id),
            ec2_clients: Mutex::new(HashMap::new()),
            s3_clients: Mutex::new(HashMap::new()),
        })
    }

    /// How many times the role was assumed for this account so far.
    pub fn assume_calls(&self) -> u64 {
        self.assume_calls.load(Ordering::Relaxed)
    }

    fn partition(&self, service: &str) -> aws_smithy_runtime::client::retries::RetryPartition {
        aws_smithy_runtime::client::retries::RetryPartition::new(format!(
            "{}-{service}",
            self.retry_partition
        ))
    }

    /// The EC2 client of one region (built once, then shared).
    pub fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        let mut clients = self
            .ec2_clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        clients
            .entry(region.to_string())
            .or_insert_with(|| {
                let conf = aws_sdk_ec2::config::Builder::from(&self.sdk)
                    .region(Region::new(region.to_string()))
                    .retry_partition(self.partition("ec2"))
                    .build();
                aws_sdk_ec2::Client::from_conf(conf)
            })
            .clone()
    }

    /// The S3 client of one region (built once, then shared).
    pub fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let mut clients = self
            .s3_clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        clients
            .entry(region.to_string())
            .or_insert_with(|| {
                let conf = aws_sdk_s3::config::Builder::from(&self.sdk)
                    .region(Region::new(region.to_string()))
                    .force_path_style(self.path_style)
                    .endpoint_resolver(crate::endpoint_cache::CachedEndpoints::s3())
                    .http_client(self.s3_http.clone())
                    .retry_partition(self.partition("s3"))
                    .build();
                aws_sdk_s3::Client::from_conf(conf)
            })
            .clone()
    }

    /// The S3 Control client (account-level settings) in the home region.
    pub fn s3control(&self) -> aws_sdk_s3control::Client {
        let conf = aws_sdk_s3control::config::Builder::from(&self.sdk)
            .http_client(self.s3control_http.clone())
            .retry_partition(self.partition("s3control"))
            .build();
        aws_sdk_s3control::Client::from_conf(conf)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// An HTTP client that counts its validations and carries no request.
    #[derive(Debug, Default)]
    struct CountingClient {
        validations: Arc<AtomicU64>,
    }

    impl HttpClient for CountingClient {
        fn http_connector(
            &self,
            _: &HttpConnectorSettings,
            _: &RuntimeComponents,
        ) -> SharedHttpConnector {
            unreachable!("no request is sent in this test")
        }

        fn validate_base_client_config(
            &self,
            _: &RuntimeComponentsBuilder,
            _: &ConfigBag,
        ) -> Result<(), BoxError> {
            self.validations.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    }

    #[test]
    fn many_clients_validate_the_shared_http_client_once() {
        let validations = Arc::new(AtomicU64::new(0));
        let counting = || {
            SharedHttpClient::new(CountingClient {
                validations: Arc::clone(&validations),
            })
        };
        let sdk_with = |http: SharedHttpClient| {
            SdkConfig::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .http_client(http)
                .build()
        };
        let build_clients = |sdk: &SdkConfig| {
            for region in ["us-east-1", "eu-west-1", "ap-southeast-2"] {
                let conf = aws_sdk_ec2::config::Builder::from(sdk)
                    .region(Region::new(region))
                    .build();
                let _ = aws_sdk_ec2::Client::from_conf(conf);
            }
            let _ = aws_sdk_s3::Client::new(sdk);
        };

        // Unwrapped, every client validates (and the hyper client builds a
        // TLS configuration each time): the behaviour WarmOnce exists for.
        build_clients(&sdk_with(counting()));
        assert_eq!(validations.swap(0, Ordering::Relaxed), 4);

        build_clients(&sdk_with(WarmOnce::wrap(counting())));
        assert_eq!(validations.load(Ordering::Relaxed), 1);
    }

    /// When the cache refreshes credentials reported with `reported`, given
    /// the buffer it was built with: between (reported - buffer) and
    /// (reported - buffer / 2), as seconds after `now`.
    fn refresh_window(now: SystemTime, reported: SystemTime, buffer: Duration) -> (f64, f64) {
        let at = |d: Duration| {
            (reported - d)
                .duration_since(now)
                .map_or(-1.0, |x| x.as_secs_f64())
        };
        (at(buffer), at(buffer / 2))
    }

    #[test]
    fn refresh_falls_between_half_life_and_expiry_whatever_the_buffer() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        for (lifetime, configured) in [
            (3600, 300),
            (3600, 3000),
            (900, 900),
            (60, 300),
            (60, 15),
            (60, 3600),
        ] {
            let lifetime = Duration::from_secs(lifetime);
            let configured = Duration::from_secs(configured);
            let expiry = now + lifetime;
            let reported = reported_expiry(now, expiry, configured);
            let (earliest, latest) =
                refresh_window(now, reported, effective_buffer(configured, lifetime));
            let life = lifetime.as_secs_f64();
            assert!(
                earliest >= life / 2.0 - 1e-6,
                "{lifetime:?}/{configured:?}: refresh at {earliest} before half-life"
            );
            assert!(
                latest < life,
                "{lifetime:?}/{configured:?}: refresh at {latest} after expiry"
            );
        }
    }

    #[test]
    fn a_regression_buffer_longer_than_the_session_no_longer_refreshes_at_once() {
        // 60 s credentials with a 300 s buffer used to be refreshed on every call.
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(5_000);
        let expiry = now + Duration::from_secs(60);
        let reported = reported_expiry(now, expiry, Duration::from_secs(300));
        let (earliest, _) = refresh_window(
            now,
            reported,
            effective_buffer(Duration::from_secs(300), Duration::from_secs(60)),
        );
        assert!(
            earliest >= 30.0,
            "refresh {earliest} s after the credentials were issued"
        );
    }

    #[tokio::test]
    async fn account_credentials_debug_never_shows_the_primed_keys() {
        let sdk = SdkConfig::builder()
            .region(Region::new("us-east-1"))
            .behavior_version(BehaviorVersion::latest())
            .time_source(aws_smithy_async::time::SystemTimeSource::new())
            .build();
        let inner = AssumeRoleProvider::builder("arn:aws:iam::123456789012:role/Scan")
            .session_name("fleetscan-test")
            .configure(&sdk)
            .build()
            .await;
        let credentials = AccountCredentials {
            inner,
            primed: Mutex::new(Some(Credentials::new(
                "ASIAPRIMEDKEY",
                "primedSecret",
                Some("primedSessionToken".into()),
                None,
                "test",
            ))),
            refresh_buffer: Duration::from_secs(300),
            assume_calls: Arc::default(),
        };
        let printed = format!("{credentials:?}");
        for secret in ["ASIAPRIMEDKEY", "primedSecret", "primedSessionToken"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }

    /// A regression test: the clients fleetscan builds once dropped the
    /// proxy the SDK's default client takes from the environment, so a scan
    /// from a network that only gets out through a proxy failed.
    #[tokio::test]
    async fn every_client_sends_through_the_configured_proxy() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
        // The proxy records each request head and answers with an error.
        let heads = tokio::spawn(async move {
            let mut heads = Vec::new();
            while heads.len() < 3 {
                let (mut socket, _) = proxy.accept().await.unwrap();
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = socket.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    head.extend_from_slice(&buf[..n]);
                }
                socket
                    .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await
                    .unwrap();
                heads.push(String::from_utf8_lossy(&head).into_owned());
            }
            heads
        });

        // Nothing listens on the target: only the proxy can answer.
        let target = "http://127.0.0.2:9";
        let proxy_config = ProxyConfig::http(proxy_url.as_str()).unwrap();
        for pool in [DEFAULT_POOL, S3_POOL, S3_CONTROL_POOL] {
            let sdk = SdkConfig::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .endpoint_url(target)
                .credentials_provider(SharedCredentialsProvider::new(Credentials::for_tests()))
                .retry_config(RetryConfig::disabled())
                .http_client(http_client(Some(target), pool, proxy_config.clone()))
                .build();
            let answer = aws_sdk_sts::Client::new(&sdk)
                .get_caller_identity()
                .send()
                .await;
            assert!(answer.is_err(), "the proxy answers 503");
        }
        let heads = tokio::time::timeout(Duration::from_secs(10), heads)
            .await
            .expect("the proxy saw three requests")
            .unwrap();
        for head in heads {
            assert!(
                head.starts_with("POST http://127.0.0.2:9/ HTTP/1.1"),
                "not a proxied request: {head}"
            );
        }
    }

    use aws_types::origin::Origin;

    /// The SDK's service settings as `aws-config` reads them, from a fixed
    /// environment: `AWS_ENDPOINT_URL_<SERVICE ID>` first, then
    /// `AWS_ENDPOINT_URL`.
    #[derive(Debug)]
    struct FixedEnvironment(Environment);

    /// Environment variables: (name, value).
    type Environment = Vec<(&'static str, &'static str)>;

    impl aws_types::service_config::LoadServiceConfig for FixedEnvironment {
        fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
            let specific = format!(
                "{}_{}",
                key.env(),
                key.service_id().to_uppercase().replace(' ', "_")
            );
            [specific.as_str(), key.env()].into_iter().find_map(|name| {
                self.0
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, value)| value.to_string())
            })
        }
    }

    /// An HTTP client that records each request's URI and answers none.
    #[derive(Debug, Clone, Default)]
    struct RecordingClient {
        uris: Arc<Mutex<Vec<String>>>,
    }

    impl HttpClient for RecordingClient {
        fn http_connector(
            &self,
            _: &HttpConnectorSettings,
            _: &RuntimeComponents,
        ) -> SharedHttpConnector {
            SharedHttpConnector::new(self.clone())
        }
    }

    impl aws_smithy_runtime_api::client::http::HttpConnector for RecordingClient {
        fn call(
            &self,
            request: aws_smithy_runtime_api::client::orchestrator::HttpRequest,
        ) -> aws_smithy_runtime_api::client::http::HttpConnectorFuture {
            self.uris.lock().unwrap().push(request.uri().to_string());
            aws_smithy_runtime_api::client::http::HttpConnectorFuture::ready(Err(
                aws_smithy_runtime_api::client::result::ConnectorError::other(
                    "recorded, not sent".into(),
                    None,
                ),
            ))
        }
    }

    /// Where the SDK's own S3 and S3 Control clients send a request, built
    /// from `sdk` as `AccountSession` builds them.
    async fn sdk_destinations(sdk: &SdkConfig) -> (String, String) {
        let recorder = RecordingClient::default();
        let sdk = sdk
            .to_builder()
            .http_client(recorder.clone())
            .credentials_provider(SharedCredentialsProvider::new(Credentials::for_tests()))
            .retry_config(RetryConfig::disabled())
            .build();
        let s3 = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build();
        let _ = aws_sdk_s3::Client::from_conf(s3)
            .get_bucket_versioning()
            .bucket("a-bucket")
            .send()
            .await;
        let _ = aws_sdk_s3control::Client::new(&sdk)
            .get_public_access_block()
            .account_id("222200000000")
            .send()
            .await;
        let uris = recorder.uris.lock().unwrap().clone();
        assert_eq!(uris.len(), 2, "{uris:?}");
        (uris[0].clone(), uris[1].clone())
    }

    /// A regression test: the emulator handling (path-style S3, S3 Control's
    /// `<account>.<host>` resolving to the endpoint) was decided by the
    /// configuration's `endpoint_url` alone, so with `AWS_ENDPOINT_URL` (or a
    /// service's own variable) S3 Control asked DNS for
    /// `222200000000.127.0.0.1`. The rule must name the endpoint each SDK
    /// client really uses, however the endpoint was given.
    #[tokio::test]
    async fn the_custom_endpoint_is_the_one_the_sdk_clients_use() {
        let general = "http://127.0.0.1:4566";
        let s3_only = "http://localhost:4000";
        let s3control_only = "http://localhost:5000";
        // (case, the configuration's endpoint_url, the environment)
        let cases: [(&str, Option<&'static str>, Environment); 5] = [
            ("nothing configured", None, Vec::new()),
            (
                "endpoint_url in the configuration",
                Some(general),
                Vec::new(),
            ),
            (
                "AWS_ENDPOINT_URL",
                None,
                vec![("AWS_ENDPOINT_URL", general)],
            ),
            (
                "one variable per service",
                None,
                vec![
                    ("AWS_ENDPOINT_URL_S3", s3_only),
                    ("AWS_ENDPOINT_URL_S3_CONTROL", s3control_only),
                ],
            ),
            (
                "a service's variable over the configuration's endpoint_url",
                Some(general),
                vec![("AWS_ENDPOINT_URL_S3_CONTROL", s3control_only)],
            ),
        ];
        for (case, configured, environment) in cases {
            let mut builder = SdkConfig::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"));
            // As aws-config's loader sets the general endpoint: the
            // programmatic one, else `AWS_ENDPOINT_URL`.
            let from_environment = environment
                .iter()
                .find(|(name, _)| *name == "AWS_ENDPOINT_URL")
                .map(|(_, url)| *url);
            if let Some(url) = configured {
                builder.set_endpoint_url(Some(url.to_string()));
                builder.insert_origin("endpoint_url", Origin::shared_config());
            } else if let Some(url) = from_environment {
                builder.set_endpoint_url(Some(url.to_string()));
                builder.insert_origin("endpoint_url", Origin::shared_environment_variable());
            }
            let sdk = builder
                .service_config(FixedEnvironment(environment))
                .build();
            let (s3_uri, s3control_uri) = sdk_destinations(&sdk).await;
            let s3 = custom_endpoint(&sdk, S3_SERVICE_ID);
            let s3control = custom_endpoint(&sdk, S3_CONTROL_SERVICE_ID);
            match &s3 {
                Some(url) => assert!(
                    s3_uri.starts_with(url.as_str()),
                    "{case}: {s3_uri} vs {url}"
                ),
                None => assert!(s3_uri.contains(".amazonaws.com"), "{case}: {s3_uri}"),
            }
            match &s3control {
                Some(url) => {
                    // S3 Control puts the account in front of the host.
                    let host = endpoint_host(url);
                    let expected = url.replacen(&host, &format!("222200000000.{host}"), 1);
                    assert!(
                        s3control_uri.starts_with(&expected),
                        "{case}: {s3control_uri} vs {expected}"
                    );
                }
                None => assert!(
                    s3control_uri.contains(".amazonaws.com"),
                    "{case}: {s3control_uri}"
                ),
            }
        }
    }

    #[tokio::test]
    async fn names_under_the_endpoint_host_resolve_to_it() {
        let resolver = EndpointAliasResolver {
            endpoint_host: Arc::new("127.0.0.1".into()),
        };
        let ips = resolver
            .resolve_dns("123456789012.127.0.0.1")
            .await
            .unwrap();
        assert_eq!(ips, vec!["127.0.0.1".parse::<IpAddr>().unwrap()]);
        let ips = resolver.resolve_dns("127.0.0.1").await.unwrap();
        assert_eq!(ips, vec!["127.0.0.1".parse::<IpAddr>().unwrap()]);
        let ips = resolver.resolve_dns("localhost").await.unwrap();
        assert!(ips.iter().all(|ip| ip.is_loopback()), "{ips:?}");
    }
}
