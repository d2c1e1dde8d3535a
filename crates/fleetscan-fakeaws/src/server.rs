//! The HTTP side: accepting connections, identifying service, operation and
//! caller of each request, applying faults, counting, and rendering errors in
//! each protocol's own shape.

use crate::faults::{DisabledRegionError, Faults, TokenBuckets, latency_for};
use crate::fleet::Fleet;
use crate::operation::Operation;
use crate::paging::{self, Page, PageKind, PagingFaults};
use crate::prng::mix;
use crate::services;
use crate::stats::{Injected, Recorder, UNKNOWN_ACCOUNT, UNKNOWN_REGION};
use crate::wire::{self, Params, Scope, XmlWriter, push_json_string};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use std::borrow::Cow;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub(crate) type HttpResponse = Response<Full<Bytes>>;

const MAX_BODY: usize = 1 << 20;
/// Prefix of the access key ids this fake issues; the rest is the
/// credential's position in `State::credentials`, in hex.
pub(crate) const ISSUED_KEY_PREFIX: &str = "ASIAFAKE";

/// The wire protocol a request arrived in (and its errors are written in).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    Sts,
    Json,
    Ec2,
    S3,
    S3Control,
}

/// An error answer: HTTP status, code and message, rendered per protocol.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) code: Cow<'static, str>,
    pub(crate) message: Cow<'static, str>,
}

impl ApiError {
    pub(crate) fn new(
        status: u16,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Credentials issued by AssumeRole.
#[derive(Debug, Clone)]
pub(crate) struct IssuedCredential {
    pub(crate) account: u32,
    /// Seconds since the epoch; the credential is unusable from then on.
    pub(crate) expires_at: i64,
    pub(crate) role_arn: String,
    pub(crate) session_name: String,
}

/// State shared by every connection.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) fleet: Arc<Fleet>,
    faults: RwLock<Arc<Faults>>,
    credentials: RwLock<Vec<Arc<IssuedCredential>>>,
    buckets: Mutex<TokenBuckets>,
    pub(crate) stats: Recorder,
    counter: AtomicU64,
}

impl State {
    pub(crate) fn new(fleet: Arc<Fleet>, faults: Faults) -> Self {
        State {
            fleet,
            faults: RwLock::new(Arc::new(faults)),
            credentials: RwLock::new(Vec::new()),
            buckets: Mutex::new(TokenBuckets::default()),
            stats: Recorder::default(),
            counter: AtomicU64::new(1),
        }
    }

    pub(crate) fn faults(&self) -> Arc<Faults> {
        match self.faults.read() {
            Ok(faults) => faults.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub(crate) fn set_faults(&self, faults: Faults) {
        match self.faults.write() {
            Ok(mut current) => *current = Arc::new(faults),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(faults),
        }
        // New bucket sizes take effect from full buckets.
        if let Ok(mut buckets) = self.buckets.lock() {
            buckets.clear();
        }
    }

    /// Records new credentials and returns their access key id.
    pub(crate) fn issue(&self, credential: IssuedCredential) -> String {
        let mut credentials = match self.credentials.write() {
            Ok(credentials) => credentials,
            Err(poisoned) => poisoned.into_inner(),
        };
        credentials.push(Arc::new(credential));
        format!("{ISSUED_KEY_PREFIX}{:012X}", credentials.len() - 1)
    }

    /// The number of credentials issued so far.
    pub(crate) fn issued_count(&self) -> usize {
        self.credentials.read().map_or(0, |c| c.len())
    }

    fn lookup(&self, access_key_id: &str) -> Option<Option<Arc<IssuedCredential>>> {
        let Some(serial) = access_key_id.strip_prefix(ISSUED_KEY_PREFIX) else {
            // Not ours: the organization's management account.
            return Some(None);
        };
        let serial = usize::from_str_radix(serial, 16).ok()?;
        let credentials = self.credentials.read().ok()?;
        credentials.get(serial).cloned().map(Some)
    }

    /// A fresh per-request number: request ids and fault dice.
    fn next_number(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    fn dice(&self) -> f64 {
        (mix(self.next_number() ^ 0xD1CE) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Who is calling: the account's position in the fleet, and the credential.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) account: usize,
    pub(crate) credential: Option<Arc<IssuedCredential>>,
}

/// Everything a service handler needs for one call.
pub(crate) struct Call<'a> {
    pub(crate) state: &'a State,
    pub(crate) fleet: &'a Fleet,
    pub(crate) faults: &'a Faults,
    pub(crate) operation: Operation,
    pub(crate) caller: Caller,
    pub(crate) region: &'a str,
    pub(crate) region_position: Option<usize>,
    pub(crate) request_id: String,
    pub(crate) params: &'a Params<'a>,
    pub(crate) body: &'a [u8],
    pub(crate) headers: &'a HeaderMap,
    /// S3 bucket (path-style), when the request addresses one.
    pub(crate) bucket: Option<&'a str>,
}

impl Call<'_> {
    pub(crate) fn account_id(&self) -> &str {
        &self.fleet.account_at(self.caller.account).id
    }

    /// Cuts a list into the requested page, applying paging faults and
    /// counting what they injected.
    pub(crate) fn page(
        &self,
        total: usize,
        page_size: usize,
        token: Option<&str>,
        invalid: ApiError,
    ) -> Result<Page, ApiError> {
        let account = self.account_id();
        let matches = |filter: &crate::faults::CallFilter| {
            filter.matches(self.operation, account, self.region)
        };
        let faults = PagingFaults {
            empty_before_each: self
                .faults
                .empty_pages
                .as_ref()
                .filter(|empty| matches(&empty.only))
                .map_or(0, |empty| empty.before_each_page),
            endless: self.faults.endless_next_token.iter().any(matches),
        };
        let page = paging::page(total, page_size, token, faults).map_err(|_| invalid)?;
        match page.kind {
            PageKind::InjectedEmpty => self.state.stats.injected(Injected::EmptyPage),
            PageKind::Endless => self.state.stats.injected(Injected::EndlessToken),
            PageKind::Normal => {}
        }
        Ok(page)
    }
}

/// Builds a response with a body and content type.
pub(crate) fn respond(status: u16, content_type: &'static str, body: String) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Adds a header whose value we generated (never fails on our own values).
pub(crate) fn with_header(
    mut response: HttpResponse,
    name: &'static str,
    value: &str,
) -> HttpResponse {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
    response
}

/// A request id shaped like AWS's (UUID-like, or 16 hex digits for S3).
fn request_id(number: u64, protocol: Protocol) -> String {
    let hash = mix(number);
    match protocol {
        Protocol::S3 | Protocol::S3Control => format!("{hash:016X}"),
        _ => format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            hash >> 32,
            (hash >> 16) & 0xffff,
            hash & 0xfff,
            number & 0xfff,
            number & 0xffff_ffff_ffff
        ),
    }
}

/// Renders an error in the protocol's own shape.
pub(crate) fn error_response(
    protocol: Protocol,
    error: &ApiError,
    request_id: &str,
) -> HttpResponse {
    let mut body = String::with_capacity(256);
    let response = match protocol {
        Protocol::Sts => {
            let kind = if error.status >= 500 {
                "Receiver"
            } else {
                "Sender"
            };
            body.push_str(
                "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>",
            );
            body.leaf("Type", kind);
            body.leaf("Code", &error.code);
            body.leaf("Message", &error.message);
            body.push_str("</Error>");
            body.leaf("RequestId", request_id);
            body.push_str("</ErrorResponse>");
            respond(error.status, "text/xml", body)
        }
        Protocol::Ec2 => {
            body.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>");
            body.leaf("Code", &error.code);
            body.leaf("Message", &error.message);
            body.push_str("</Error></Errors>");
            body.leaf("RequestID", request_id);
            body.push_str("</Response>");
            respond(error.status, "text/xml;charset=UTF-8", body)
        }
        Protocol::S3 => {
            body.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
            body.leaf("Code", &error.code);
            body.leaf("Message", &error.message);
            body.leaf("RequestId", request_id);
            body.leaf("HostId", "ZmFrZWF3cw==");
            body.push_str("</Error>");
            respond(error.status, "application/xml", body)
        }
        Protocol::S3Control => {
            body.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error>");
            body.leaf("Code", &error.code);
            body.leaf("Message", &error.message);
            body.push_str("</Error>");
            body.leaf("RequestId", request_id);
            body.leaf("HostId", "ZmFrZWF3cw==");
            body.push_str("</ErrorResponse>");
            respond(error.status, "application/xml", body)
        }
        Protocol::Json => {
            body.push_str("{\"__type\":");
            push_json_string(&mut body, &error.code);
            body.push_str(",\"message\":");
            push_json_string(&mut body, &error.message);
            body.push('}');
            let response = respond(error.status, "application/x-amz-json-1.1", body);
            with_header(response, "x-amzn-ErrorType", &error.code)
        }
    };
    let header = match protocol {
        Protocol::S3 | Protocol::S3Control => "x-amz-request-id",
        _ => "x-amzn-RequestId",
    };
    with_header(response, header, request_id)
}

/// The operation a request asks for, or a description of what is unsupported.
fn classify(
    protocol: Protocol,
    method: &Method,
    path: &str,
    params: &Params<'_>,
    headers: &HeaderMap,
    bucket: Option<&str>,
    object_key: bool,
) -> Result<Operation, String> {
    let action = || params.get("Action").unwrap_or("(no Action)").to_owned();
    match protocol {
        Protocol::Sts => match params.get("Action") {
            Some("AssumeRole") => Ok(Operation::AssumeRole),
            Some("GetCallerIdentity") => Ok(Operation::GetCallerIdentity),
            _ => Err(format!("sts:{}", action())),
        },
        Protocol::Ec2 => match params.get("Action") {
            Some("DescribeRegions") => Ok(Operation::DescribeRegions),
            Some("DescribeInstances") => Ok(Operation::DescribeInstances),
            Some("DescribeSecurityGroups") => Ok(Operation::DescribeSecurityGroups),
            Some("DescribeVolumes") => Ok(Operation::DescribeVolumes),
            _ => Err(format!("ec2:{}", action())),
        },
        Protocol::Json => {
            let target = headers
                .get("x-amz-target")
                .and_then(|value| value.to_str().ok())
                .unwrap_or("");
            let name = target
                .strip_prefix("AWSOrganizationsV20161128.")
                .unwrap_or(target);
            match name {
                "DescribeOrganization" => Ok(Operation::DescribeOrganization),
                "ListAccounts" => Ok(Operation::ListAccounts),
                "ListRoots" => Ok(Operation::ListRoots),
                "ListOrganizationalUnitsForParent" => {
                    Ok(Operation::ListOrganizationalUnitsForParent)
                }
                "ListChildren" => Ok(Operation::ListChildren),
                "ListAccountsForParent" => Ok(Operation::ListAccountsForParent),
                "ListParents" => Ok(Operation::ListParents),
                _ => Err(format!("organizations:{target}")),
            }
        }
        Protocol::S3Control => {
            if method == Method::GET && path == "/v20180820/configuration/publicAccessBlock" {
                Ok(Operation::GetAccountPublicAccessBlock)
            } else {
                Err(format!("s3control:{method} {path}"))
            }
        }
        Protocol::S3 => {
            if method != Method::GET || object_key {
                return Err(format!(
                    "s3:{method} {}",
                    if object_key { "object" } else { "bucket" }
                ));
            }
            let Some(_bucket) = bucket else {
                return Ok(Operation::ListBuckets);
            };
            // The SDK may add `x-id=...`; the subresource key decides.
            for key in params.keys() {
                let operation = match key {
                    "location" => Operation::GetBucketLocation,
                    "publicAccessBlock" => Operation::GetPublicAccessBlock,
                    "policyStatus" => Operation::GetBucketPolicyStatus,
                    "encryption" => Operation::GetBucketEncryption,
                    "versioning" => Operation::GetBucketVersioning,
                    "ownershipControls" => Operation::GetBucketOwnershipControls,
                    "logging" => Operation::GetBucketLogging,
                    "tagging" => Operation::GetBucketTagging,
                    "acl" => Operation::GetBucketAcl,
                    _ => continue,
                };
                return Ok(operation);
            }
            let keys: Vec<&str> = params.keys().filter(|key| *key != "x-id").collect();
            Err(format!("s3:GET bucket ?{}", keys.join("&")))
        }
    }
}

/// Splits an S3 path-style (or virtual-hosted) request into bucket and
/// whether it names an object.
fn s3_target<'a>(path: &'a str, host: &'a str) -> (Option<&'a str>, bool) {
    let trimmed = path.trim_start_matches('/');
    // Virtual-hosted style: `bucket.127.0.0.1:PORT` or `bucket.localhost:PORT`.
    let host_name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    let virtual_bucket = [".127.0.0.1", ".localhost"]
        .iter()
        .find_map(|suffix| host_name.strip_suffix(suffix))
        .filter(|bucket| !bucket.is_empty());
    if let Some(bucket) = virtual_bucket {
        return (Some(bucket), !trimmed.is_empty());
    }
    if trimmed.is_empty() {
        return (None, false);
    }
    match trimmed.split_once('/') {
        Some((bucket, key)) => (Some(bucket), !key.is_empty()),
        None => (Some(trimmed), false),
    }
}

/// Serves one HTTP request; never fails (errors are answers).
pub(crate) async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<HttpResponse, Infallible> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    if path.starts_with("/_fake/") || path == "/_fake" {
        let body = match Limited::new(body, MAX_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return Ok(respond(413, "text/plain", "body too large\n".to_owned())),
        };
        return Ok(crate::control::handle(&state, &parts.method, &path, &body));
    }
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let error = ApiError::new(413, "RequestEntityTooLarge", "request body too large");
            return Ok(error_response(Protocol::S3, &error, "0"));
        }
    };
    Ok(serve(&state, &parts, &body).await)
}

async fn serve(state: &State, parts: &hyper::http::request::Parts, body: &Bytes) -> HttpResponse {
    let number = state.next_number();
    let query = parts.uri.query().unwrap_or("");
    let query_params = Params::parse(query);
    let authorization = parts
        .headers
        .get("authorization")
        .and_then(|value| value.to_str().ok());
    let scope: Option<Scope<'_>> =
        authorization
            .and_then(wire::parse_authorization)
            .or_else(|| {
                query_params
                    .get("X-Amz-Credential")
                    .and_then(wire::parse_credential)
            });
    let path = parts.uri.path();
    let host = parts
        .headers
        .get("host")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");

    // The protocol comes from the signing service (and S3 Control's path).
    let protocol = match scope.as_ref().map(|scope| scope.service) {
        Some("sts") => Protocol::Sts,
        Some("organizations") => Protocol::Json,
        Some("ec2") => Protocol::Ec2,
        Some("s3") if path.starts_with("/v20180820/") => Protocol::S3Control,
        Some("s3") => Protocol::S3,
        _ if parts.headers.contains_key("x-amz-target") => Protocol::Json,
        _ => Protocol::S3,
    };
    let request_id = request_id(number, protocol);
    let Some(scope) = scope else {
        let error = ApiError::new(
            403,
            "MissingAuthenticationToken",
            "Request is missing Authentication Token (the fake needs a SigV4 credential scope)",
        );
        state
            .stats
            .unsupported(format!("unsigned {} {path}", parts.method));
        return error_response(protocol, &error, &request_id);
    };
    if !matches!(scope.service, "sts" | "organizations" | "ec2" | "s3") {
        state
            .stats
            .unsupported(format!("service {}", scope.service));
        let error = ApiError::new(
            400,
            "UnknownService",
            format!("the fake does not serve {}", scope.service),
        );
        return error_response(protocol, &error, &request_id);
    }

    let body_text = match protocol {
        Protocol::Sts | Protocol::Ec2 => match std::str::from_utf8(body) {
            Ok(text) => text,
            Err(_) => {
                let error = ApiError::new(400, "MalformedQueryString", "request body is not UTF-8");
                return error_response(protocol, &error, &request_id);
            }
        },
        _ => "",
    };
    let form_params;
    let params = match protocol {
        Protocol::Sts | Protocol::Ec2 => {
            form_params = Params::parse(body_text);
            // awsQuery may also carry parameters in the query string.
            if form_params.get("Action").is_none() && query_params.get("Action").is_some() {
                &query_params
            } else {
                &form_params
            }
        }
        _ => &query_params,
    };
    let (bucket, object_key) = if protocol == Protocol::S3 {
        s3_target(path, host)
    } else {
        (None, false)
    };

    let operation = match classify(
        protocol,
        &parts.method,
        path,
        params,
        &parts.headers,
        bucket,
        object_key,
    ) {
        Ok(operation) => operation,
        Err(description) => {
            state.stats.unsupported(description.clone());
            let error = match protocol {
                Protocol::S3 | Protocol::S3Control => ApiError::new(
                    501,
                    "NotImplemented",
                    format!("the fake does not implement {description}"),
                ),
                Protocol::Json => ApiError::new(
                    400,
                    "UnknownOperationException",
                    format!("the fake does not implement {description}"),
                ),
                _ => ApiError::new(
                    400,
                    "InvalidAction",
                    format!("the fake does not implement {description}"),
                ),
            };
            return error_response(protocol, &error, &request_id);
        }
    };

    let fleet = state.fleet.as_ref();
    let region_position = fleet.region_position(scope.region);
    let region_key = region_position.map_or(UNKNOWN_REGION, |r| r as u16);
    let caller = match state.lookup(scope.access_key_id) {
        Some(None) => Caller {
            account: 0,
            credential: None,
        },
        Some(Some(credential)) => Caller {
            account: credential.account as usize,
            credential: Some(credential),
        },
        None => {
            state.stats.call(operation, UNKNOWN_ACCOUNT, region_key);
            let error = invalid_token_error(protocol);
            return error_response(protocol, &error, &request_id);
        }
    };
    state
        .stats
        .call(operation, caller.account as u32, region_key);

    let faults = state.faults();
    let account_id = fleet.account_at(caller.account).id.as_str();
    // AssumeRole faults follow the target account, not the caller.
    let fault_account = if operation == Operation::AssumeRole {
        params
            .get("RoleArn")
            .and_then(|arn| arn.split(':').nth(4))
            .unwrap_or(account_id)
    } else {
        account_id
    };
    let matches =
        |filter: &crate::faults::CallFilter| filter.matches(operation, fault_account, scope.region);

    if let Some(delay) = latency_for(faults.latency, state.dice()) {
        tokio::time::sleep(delay).await;
    }
    if faults.hang.iter().any(matches) {
        state.stats.injected(Injected::Hung);
        return std::future::pending::<HttpResponse>().await;
    }
    if let Some(credential) = &caller.credential
        && now_millis() >= credential.expires_at.saturating_mul(1000)
    {
        state.stats.injected(Injected::ExpiredToken);
        return error_response(protocol, &expired_error(protocol), &request_id);
    }
    if let Some(errors) = faults.server_errors.as_ref().filter(|e| matches(&e.only)) {
        let roll = state.dice();
        if roll < errors.fraction {
            state.stats.injected(Injected::ServerError);
            let unavailable = roll < errors.fraction / 2.0;
            return error_response(protocol, &server_error(protocol, unavailable), &request_id);
        }
    }
    if let Some(throttle) = faults.throttle.as_ref().filter(|t| matches(&t.only)) {
        let fault_position = fleet
            .account_position(fault_account)
            .unwrap_or(caller.account);
        let key = (fault_position as u32, region_key, operation);
        let allowed = state
            .buckets
            .lock()
            .map(|mut buckets| buckets.take(key, throttle, Instant::now()))
            .unwrap_or(true);
        if !allowed {
            state.stats.injected(Injected::Throttled);
            return error_response(protocol, &throttle_error(protocol), &request_id);
        }
    }
    if faults.unauthorized.iter().any(matches) {
        state.stats.injected(Injected::Unauthorized);
        return error_response(
            protocol,
            &unauthorized_error(protocol, operation, scope.region),
            &request_id,
        );
    }
    if protocol == Protocol::Ec2
        && !region_position.is_some_and(|region| fleet.region_enabled_at(caller.account, region))
    {
        state.stats.injected(Injected::RegionDisabled);
        let error = match faults.disabled_region_error {
            DisabledRegionError::OptInRequired => ApiError::new(
                403,
                "OptInRequired",
                "You are not subscribed to this service. Please go to http://aws.amazon.com to subscribe.",
            ),
            DisabledRegionError::AuthFailure => ApiError::new(
                401,
                "AuthFailure",
                "AWS was not able to validate the provided access credentials",
            ),
        };
        return error_response(protocol, &error, &request_id);
    }

    let call = Call {
        state,
        fleet,
        faults: &faults,
        operation,
        caller,
        region: scope.region,
        region_position,
        request_id,
        params,
        body,
        headers: &parts.headers,
        bucket,
    };
    let result = match protocol {
        Protocol::Sts => services::sts::handle(&call),
        Protocol::Json => services::organizations::handle(&call),
        Protocol::Ec2 => services::ec2::handle(&call),
        Protocol::S3 | Protocol::S3Control => services::s3::handle(&call),
    };
    match result {
        Ok(response) => {
            let header = match protocol {
                Protocol::S3 | Protocol::S3Control => "x-amz-request-id",
                _ => "x-amzn-RequestId",
            };
            with_header(response, header, &call.request_id)
        }
        Err(error) => error_response(protocol, &error, &call.request_id),
    }
}

pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

fn invalid_token_error(protocol: Protocol) -> ApiError {
    match protocol {
        Protocol::Ec2 => ApiError::new(
            401,
            "AuthFailure",
            "AWS was not able to validate the provided access credentials",
        ),
        Protocol::S3 | Protocol::S3Control => ApiError::new(
            403,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        ),
        Protocol::Json => ApiError::new(
            400,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
        Protocol::Sts => ApiError::new(
            403,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        ),
    }
}

fn expired_error(protocol: Protocol) -> ApiError {
    match protocol {
        // EC2 reports expired temporary credentials as an expired request.
        Protocol::Ec2 => ApiError::new(400, "RequestExpired", "Request has expired."),
        Protocol::S3 | Protocol::S3Control => {
            ApiError::new(400, "ExpiredToken", "The provided token has expired.")
        }
        Protocol::Json => ApiError::new(
            400,
            "ExpiredTokenException",
            "The security token included in the request is expired",
        ),
        Protocol::Sts => ApiError::new(
            403,
            "ExpiredToken",
            "The security token included in the request is expired",
        ),
    }
}

fn server_error(protocol: Protocol, unavailable: bool) -> ApiError {
    let (status, code, message) = match (protocol, unavailable) {
        (Protocol::Ec2, false) => (500, "InternalError", "An internal error has occurred"),
        (Protocol::Ec2, true) => (
            503,
            "Unavailable",
            "The server is overloaded and can't handle the request.",
        ),
        (Protocol::S3 | Protocol::S3Control, false) => (
            500,
            "InternalError",
            "We encountered an internal error. Please try again.",
        ),
        (Protocol::S3 | Protocol::S3Control, true) => (
            503,
            "ServiceUnavailable",
            "Please reduce your request rate.",
        ),
        (Protocol::Json, false) => (
            500,
            "ServiceException",
            "AWS Organizations can't complete your request because of an internal service error. Try again later.",
        ),
        (Protocol::Json, true) => (
            503,
            "ServiceUnavailableException",
            "The service is unavailable. Try again later.",
        ),
        (Protocol::Sts, false) => (500, "InternalFailure", "An internal error occurred."),
        (Protocol::Sts, true) => (503, "ServiceUnavailable", "Service is unavailable."),
    };
    ApiError::new(status, code, message)
}

fn throttle_error(protocol: Protocol) -> ApiError {
    match protocol {
        Protocol::Ec2 => ApiError::new(503, "RequestLimitExceeded", "Request limit exceeded."),
        Protocol::S3 | Protocol::S3Control => {
            ApiError::new(503, "SlowDown", "Please reduce your request rate.")
        }
        Protocol::Json => ApiError::new(
            400,
            "TooManyRequestsException",
            "AWS Organizations can't complete your request because it conflicts with a rate limit.",
        ),
        Protocol::Sts => ApiError::new(400, "Throttling", "Rate exceeded"),
    }
}

fn unauthorized_error(protocol: Protocol, operation: Operation, region: &str) -> ApiError {
    let action = operation.as_str();
    match protocol {
        Protocol::Ec2 => ApiError::new(
            403,
            "UnauthorizedOperation",
            format!(
                "You are not authorized to perform this operation. User is not authorized to perform: {action} in {region}"
            ),
        ),
        Protocol::S3 | Protocol::S3Control => ApiError::new(403, "AccessDenied", "Access Denied"),
        Protocol::Json => ApiError::new(
            400,
            "AccessDeniedException",
            "You don't have permissions to access this resource.",
        ),
        Protocol::Sts => ApiError::new(
            403,
            "AccessDenied",
            format!("User is not authorized to perform: {action}"),
        ),
    }
}

/// Starts an XML document with the declaration.
pub(crate) fn xml_document(capacity: usize) -> String {
    let mut body = String::with_capacity(capacity);
    body.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    body
}

/// Appends a number (helper for hand-written bodies).
pub(crate) fn push_number(out: &mut String, value: impl std::fmt::Display) {
    let _ = write!(out, "{value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_targets_path_style_and_virtual_hosted() {
        assert_eq!(s3_target("/", "127.0.0.1:9000"), (None, false));
        assert_eq!(
            s3_target("/my-bucket", "127.0.0.1:9000"),
            (Some("my-bucket"), false)
        );
        assert_eq!(
            s3_target("/my-bucket/", "127.0.0.1:9000"),
            (Some("my-bucket"), false)
        );
        assert_eq!(
            s3_target("/my-bucket/key.txt", "127.0.0.1:9000"),
            (Some("my-bucket"), true)
        );
        assert_eq!(
            s3_target("/", "my-bucket.127.0.0.1:9000"),
            (Some("my-bucket"), false)
        );
        assert_eq!(s3_target("/", "localhost:9000"), (None, false));
    }

    #[test]
    fn classifies_s3_subresources_ignoring_x_id() {
        let headers = HeaderMap::new();
        let classify_query = |query: &str| {
            classify(
                Protocol::S3,
                &Method::GET,
                "/b",
                &Params::parse(query),
                &headers,
                Some("b"),
                false,
            )
        };
        assert_eq!(
            classify_query("x-id=GetBucketEncryption&encryption"),
            Ok(Operation::GetBucketEncryption)
        );
        assert_eq!(
            classify_query("publicAccessBlock="),
            Ok(Operation::GetPublicAccessBlock)
        );
        assert_eq!(classify_query("acl"), Ok(Operation::GetBucketAcl));
        assert!(classify_query("list-type=2").is_err());
        let list = classify(
            Protocol::S3,
            &Method::GET,
            "/",
            &Params::parse(""),
            &headers,
            None,
            false,
        );
        assert_eq!(list, Ok(Operation::ListBuckets));
        let put = classify(
            Protocol::S3,
            &Method::PUT,
            "/b",
            &Params::parse("tagging"),
            &headers,
            Some("b"),
            false,
        );
        assert!(put.is_err());
    }

    #[test]
    fn classifies_query_and_json_operations() {
        let mut headers = HeaderMap::new();
        let ec2 = classify(
            Protocol::Ec2,
            &Method::POST,
            "/",
            &Params::parse("Action=DescribeVolumes&Version=2016-11-15"),
            &headers,
            None,
            false,
        );
        assert_eq!(ec2, Ok(Operation::DescribeVolumes));
        let unknown = classify(
            Protocol::Ec2,
            &Method::POST,
            "/",
            &Params::parse("Action=RunInstances"),
            &headers,
            None,
            false,
        );
        assert_eq!(unknown, Err("ec2:RunInstances".to_owned()));
        headers.insert(
            "x-amz-target",
            HeaderValue::from_static("AWSOrganizationsV20161128.ListChildren"),
        );
        let json = classify(
            Protocol::Json,
            &Method::POST,
            "/",
            &Params::parse(""),
            &headers,
            None,
            false,
        );
        assert_eq!(json, Ok(Operation::ListChildren));
    }

    #[test]
    fn request_ids_look_like_aws_ones() {
        let uuid = request_id(5, Protocol::Ec2);
        assert_eq!(uuid.len(), 36);
        assert_eq!(uuid.matches('-').count(), 4);
        assert_eq!(request_id(5, Protocol::S3).len(), 16);
    }
}
