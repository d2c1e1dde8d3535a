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
}
