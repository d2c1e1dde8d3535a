//! The one place where AWS errors are classified by their code: denied, region
//! not enabled, throttled, not configured, or a plain error. Collectors call
//! [`classify`]; none of them re-invents the mapping.

use std::error::Error as StdError;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use fleetscan_store::rows::UnitStatus;

/// What kind of failure an AWS call ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The role lacks the permission (or an SCP denies it).
    Denied,
    /// The region is not enabled for the account.
    RegionDisabled,
    /// Rate limited even after the SDK's retries.
    Throttled,
    /// The resource has no such configuration (an answer, not a failure).
    NotConfigured,
    /// Anything else: 5xx after retries, timeouts, network, malformed answers.
    Error,
}

impl ErrorClass {
    /// The `scan_units.status` a unit that failed this way gets.
    pub fn unit_status(self) -> UnitStatus {
        match self {
            ErrorClass::Denied => UnitStatus::Denied,
            ErrorClass::RegionDisabled => UnitStatus::RegionDisabled,
            ErrorClass::Throttled => UnitStatus::Throttled,
            ErrorClass::NotConfigured | ErrorClass::Error => UnitStatus::Error,
        }
    }

    /// Orders failures so a unit reports its worst one.
    pub fn severity(self) -> u8 {
        match self {
            ErrorClass::NotConfigured => 0,
            ErrorClass::RegionDisabled => 1,
            ErrorClass::Throttled => 2,
            ErrorClass::Denied => 3,
            ErrorClass::Error => 4,
        }
    }
}

/// A classified failure of one AWS call: safe to store and print (it never
/// holds credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsFailure {
    pub class: ErrorClass,
    /// The AWS error code, or a short name of our own (`Timeout`,
    /// `DispatchFailure`, `ResponseError`, `PaginationLoop`).
    pub code: String,
    pub message: String,
}

impl AwsFailure {
    pub fn new(class: ErrorClass, code: impl Into<String>, message: impl Into<String>) -> Self {
        AwsFailure {
            class,
            code: code.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for AwsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

const DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    "AuthorizationError",
    "AllAccessDisabled",
    "AWSOrganizationsNotInUseException",
];

const REGION_DISABLED: &[&str] = &[
    "OptInRequired",
    "AuthFailure",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
];

const THROTTLED: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
    "BandwidthLimitExceeded",
    "EC2ThrottledException",
    "ProvisionedThroughputExceededException",
];

/// Codes with which S3 and S3 Control say "this setting was never configured".
const NOT_CONFIGURED: &[&str] = &[
    "NoSuchPublicAccessBlockConfiguration",
    "NoSuchBucketPolicy",
    "ServerSideEncryptionConfigurationNotFoundError",
    "OwnershipControlsNotFoundError",
    "NoSuchTagSet",
    "NoSuchTagSetError",
];

/// Classifies an error code alone.
pub fn class_of_code(code: &str) -> ErrorClass {
    if DENIED.contains(&code) {
        ErrorClass::Denied
    } else if REGION_DISABLED.contains(&code) {
        ErrorClass::RegionDisabled
    } else if THROTTLED.contains(&code) {
        ErrorClass::Throttled
    } else if NOT_CONFIGURED.contains(&code) {
        ErrorClass::NotConfigured
    } else {
        ErrorClass::Error
    }
}

/// Classifies any SDK error.
pub fn classify<E, R>(err: &SdkError<E, R>) -> AwsFailure
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let code = inner.code().unwrap_or("Unknown").to_string();
            let message = inner
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| DisplayErrorContext(inner).to_string());
            AwsFailure::new(class_of_code(&code), code, message)
        }
        SdkError::TimeoutError(_) => AwsFailure::new(
            ErrorClass::Error,
            "Timeout",
            DisplayErrorContext(err).to_string(),
        ),
        // The HTTP client's own read and connect timeouts arrive as dispatch
        // failures: they are timeouts all the same.
        SdkError::DispatchFailure(failure) if failure.is_timeout() => AwsFailure::new(
            ErrorClass::Error,
            "Timeout",
            DisplayErrorContext(err).to_string(),
        ),
        SdkError::DispatchFailure(_) => AwsFailure::new(
            ErrorClass::Error,
            "DispatchFailure",
            DisplayErrorContext(err).to_string(),
        ),
        SdkError::ResponseError(_) => AwsFailure::new(
            ErrorClass::Error,
            "ResponseError",
            DisplayErrorContext(err).to_string(),
        ),
        _ => {
            // Construction failures include identity resolution; an error code
            // may still be found in the chain (e.g. from a refresh of assumed credentials).
            let code = err.code().unwrap_or("ConstructionFailure").to_string();
            AwsFailure::new(
                class_of_code(&code),
                code,
                DisplayErrorContext(err).to_string(),
            )
        }
    }
}

/// Longest STS message kept for a failed AssumeRole.
const ASSUME_MESSAGE_CHARS: usize = 500;

type AssumeRoleSdkError = SdkError<
    aws_sdk_sts::operation::assume_role::AssumeRoleError,
    aws_smithy_runtime_api::client::orchestrator::HttpResponse,
>;

/// Classifies a failed AssumeRole (as the credentials provider reports it):
/// the STS error code (AccessDenied, RegionDisabledException, …) and STS's
/// own message, short enough for `accounts.error` and one log line. Never
/// the SDK's debug form of the error, which holds the raw HTTP response.
pub fn assume_role_failure(
    role_arn: &str,
    err: &aws_credential_types::provider::error::CredentialsError,
) -> AwsFailure {
    let sdk_error = causes(err)
        .into_iter()
        .find_map(|cause| cause.downcast_ref::<AssumeRoleSdkError>());
    let (code, message) = match sdk_error {
        Some(sdk_error @ SdkError::ServiceError(_)) => {
            let failure = classify(sdk_error);
            (failure.code, failure.message)
        }
        // No STS answer (a timeout, a connection failure): the code
        // classify gives it, and each cause's own words.
        Some(sdk_error) => (classify(sdk_error).code, causes_text(sdk_error)),
        None => ("AssumeRoleFailed".to_string(), causes_text(err)),
    };
    // InvalidClientTokenId means "region not enabled" to a resource call, but
    // to AssumeRole it is the caller's own credentials: an error.
    let class = match class_of_code(&code) {
        ErrorClass::Denied => ErrorClass::Denied,
        _ => ErrorClass::Error,
    };
    let message = if message.chars().count() > ASSUME_MESSAGE_CHARS {
        let mut short: String = message.chars().take(ASSUME_MESSAGE_CHARS).collect();
        short.push('…');
        short
    } else {
        message
    };
    AwsFailure::new(
        class,
        code,
        format!("could not assume {role_arn}: {message}"),
    )
}

/// An error and its sources, outermost first.
fn causes<'a>(err: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut causes = Vec::new();
    let mut next = Some(err);
    while let Some(cause) = next {
        causes.push(cause);
        next = cause.source();
    }
    causes
}

/// Each cause's Display, joined: unlike `DisplayErrorContext`, without the
/// debug form at the end (which may hold a raw HTTP response).
fn causes_text(err: &(dyn StdError + 'static)) -> String {
    causes(err)
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_classes() {
        assert_eq!(class_of_code("UnauthorizedOperation"), ErrorClass::Denied);
        assert_eq!(class_of_code("AccessDenied"), ErrorClass::Denied);
        assert_eq!(class_of_code("OptInRequired"), ErrorClass::RegionDisabled);
        assert_eq!(class_of_code("RequestLimitExceeded"), ErrorClass::Throttled);
        assert_eq!(class_of_code("SlowDown"), ErrorClass::Throttled);
        assert_eq!(
            class_of_code("TooManyRequestsException"),
            ErrorClass::Throttled
        );
        assert_eq!(
            class_of_code("NoSuchPublicAccessBlockConfiguration"),
            ErrorClass::NotConfigured
        );
        assert_eq!(class_of_code("InternalError"), ErrorClass::Error);
        assert_eq!(class_of_code("ExpiredToken"), ErrorClass::Error);
    }

    #[test]
    fn a_read_timeout_of_the_http_client_is_a_timeout_not_a_dispatch_failure() {
        use aws_smithy_runtime_api::client::result::ConnectorError;
        let err: SdkError<aws_sdk_ec2::operation::describe_volumes::DescribeVolumesError, ()> =
            SdkError::dispatch_failure(ConnectorError::timeout("read timed out".into()));
        assert_eq!(classify(&err).code, "Timeout");
        let err: SdkError<aws_sdk_ec2::operation::describe_volumes::DescribeVolumesError, ()> =
            SdkError::dispatch_failure(ConnectorError::io("connection reset".into()));
        assert_eq!(classify(&err).code, "DispatchFailure");
    }

    #[test]
    fn classes_map_to_unit_statuses() {
        assert_eq!(ErrorClass::Denied.unit_status(), UnitStatus::Denied);
        assert_eq!(
            ErrorClass::RegionDisabled.unit_status(),
            UnitStatus::RegionDisabled
        );
        assert_eq!(ErrorClass::Throttled.unit_status(), UnitStatus::Throttled);
        assert_eq!(ErrorClass::Error.unit_status(), UnitStatus::Error);
        assert!(ErrorClass::Error.severity() > ErrorClass::Denied.severity());
    }

    /// A regression test: a denied AssumeRole was stored as ~2 KB of the
    /// SDK's debug dump, raw HTTP response included, in `accounts.error`
    /// and every log line about it.
    #[test]
    fn a_denied_assume_role_is_its_code_and_sts_message_only() {
        use aws_credential_types::provider::error::CredentialsError;
        use aws_sdk_sts::operation::assume_role::AssumeRoleError;
        use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
        use aws_smithy_types::body::SdkBody;
        use aws_smithy_types::error::ErrorMetadata;

        let role = "arn:aws:iam::222200000001:role/ScanRole";
        let sts_message = format!(
            "User: arn:aws:iam::111111111111:user/op is not authorized to perform: sts:AssumeRole on resource: {role}"
        );
        let body = format!(
            "<ErrorResponse><Error><Code>AccessDenied</Code><Message>{sts_message}</Message></Error><RequestId>req-1</RequestId></ErrorResponse>"
        );
        let raw = HttpResponse::new(403.try_into().expect("a status code"), SdkBody::from(body));
        let service = AssumeRoleError::generic(
            ErrorMetadata::builder()
                .code("AccessDenied")
                .message(sts_message.clone())
                .build(),
        );
        let err = CredentialsError::provider_error(SdkError::service_error(service, raw));
        let failure = assume_role_failure(role, &err);
        assert_eq!(failure.class, ErrorClass::Denied);
        assert_eq!(failure.code, "AccessDenied");
        assert_eq!(
            failure.message,
            format!("could not assume {role}: {sts_message}")
        );

        // No answer at all: the causes' own words, no debug form.
        let err = CredentialsError::provider_error(
            SdkError::<AssumeRoleError, HttpResponse>::timeout_error("operation timed out"),
        );
        let failure = assume_role_failure(role, &err);
        assert_eq!(failure.code, "Timeout");
        assert!(!failure.message.contains('{'), "{}", failure.message);
        assert!(
            failure.message.contains("operation timed out"),
            "{}",
            failure.message
        );
    }
}
