//! STS (awsQuery protocol): AssumeRole and GetCallerIdentity.

use crate::fleet::AccountState;
use crate::operation::Operation;
use crate::prng::mix;
use crate::server::{ApiError, Call, HttpResponse, IssuedCredential, respond};
use crate::stats::Injected;
use crate::time::{now_epoch, write_iso8601};
use crate::wire::XmlWriter;

const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

pub(crate) fn handle(call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    match call.operation {
        Operation::AssumeRole => assume_role(call),
        Operation::GetCallerIdentity => Ok(get_caller_identity(call)),
        _ => Err(ApiError::new(400, "InvalidAction", "not an STS operation")),
    }
}

fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new(400, "ValidationError", message.into())
}

/// `arn:PARTITION:iam::ACCOUNT:role/PATH/NAME` → (partition, account, role name).
fn parse_role_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let mut fields = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return None;
    };
    let path_and_name = resource.strip_prefix("role/")?;
    let name = path_and_name.rsplit('/').next().filter(|n| !n.is_empty())?;
    crate::spec::is_account_id(account).then_some((partition, account, name))
}

fn assume_role(call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    let params = call.params;
    // Every attempt into a fleet account counts, whatever its outcome.
    let target_position = params
        .get("RoleArn")
        .and_then(|arn| arn.split(':').nth(4))
        .and_then(|account_id| call.fleet.account_position(account_id));
    if let Some(position) = target_position {
        call.state.stats.assume_role(position as u32);
    }
    let role_arn = params
        .get("RoleArn")
        .ok_or_else(|| validation("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null"))?;
    let session_name = params
        .get("RoleSessionName")
        .ok_or_else(|| validation("1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null"))?;
    let session_ok = (2..=64).contains(&session_name.len())
        && session_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if !session_ok {
        return Err(validation(format!(
            "1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )));
    }
    let duration: i64 = match params.get("DurationSeconds") {
        None => 3600,
        Some(text) => text
            .parse()
            .map_err(|_| validation(format!("DurationSeconds {text:?} is not a number")))?,
    };
    if duration < 900 {
        return Err(validation(format!(
            "1 validation error detected: Value '{duration}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
        )));
    }
    if duration > i64::from(call.fleet.spec().max_session_duration) {
        return Err(validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    let Some((partition, target_id, role_name)) = parse_role_arn(role_arn) else {
        return Err(validation(format!("{role_arn} is invalid")));
    };

    let caller_arn = caller_arn(call);
    let denied = || {
        call.state.stats.injected(Injected::AssumeRoleDenied);
        ApiError::new(
            403,
            "AccessDenied",
            format!(
                "User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
            ),
        )
    };
    let Some(target) = call.fleet.account_position(target_id) else {
        return Err(denied());
    };
    let spec = call.fleet.spec();
    let account = call.fleet.account_at(target);
    let role_matches = spec
        .role_name
        .as_deref()
        .is_none_or(|name| name == role_name);
    let external_matches = spec
        .external_id
        .as_deref()
        .is_none_or(|expected| params.get("ExternalId") == Some(expected));
    if account.state != AccountState::Active
        || !role_matches
        || !external_matches
        || call
            .faults
            .deny_assume_role
            .iter()
            .any(|id| id == target_id)
    {
        return Err(denied());
    }

    let lifetime = call
        .faults
        .credential_lifetime_seconds
        .map_or(duration, |seconds| duration.min(seconds as i64));
    let expires_at = now_epoch() + lifetime;
    let access_key_id = call.state.issue(IssuedCredential {
        account: target as u32,
        expires_at,
        role_arn: role_arn.to_owned(),
        session_name: session_name.to_owned(),
    });
    let hash = mix(call.state.issued_count() as u64 ^ 0x5EC);
    let role_id = role_id(role_arn);

    let mut body = String::with_capacity(1024);
    body.push_str("<AssumeRoleResponse xmlns=\"");
    body.push_str(NAMESPACE);
    body.push_str("\"><AssumeRoleResult>");
    body.push_str("<AssumedRoleUser>");
    body.leaf("AssumedRoleId", &format!("{role_id}:{session_name}"));
    body.leaf(
        "Arn",
        &format!("arn:{partition}:sts::{target_id}:assumed-role/{role_name}/{session_name}"),
    );
    body.push_str("</AssumedRoleUser><Credentials>");
    body.leaf("AccessKeyId", &access_key_id);
    body.leaf("SecretAccessKey", &format!("fakeSecret{hash:030x}"));
    body.leaf(
        "SessionToken",
        &format!("FwoGZXIvYXdzEFakeSessionToken{hash:032x}{:032x}", mix(hash)),
    );
    body.open("Expiration");
    write_iso8601(&mut body, expires_at, false);
    body.close("Expiration");
    body.push_str("</Credentials><PackedPolicySize>6</PackedPolicySize></AssumeRoleResult>");
    body.push_str("<ResponseMetadata>");
    body.leaf("RequestId", &call.request_id);
    body.push_str("</ResponseMetadata></AssumeRoleResponse>");
    Ok(respond(200, "text/xml", body))
}

fn role_id(role_arn: &str) -> String {
    let hash = role_arn
        .bytes()
        .fold(0u64, |acc, byte| mix(acc ^ u64::from(byte)));
    format!("AROA{hash:016X}")
}

fn caller_arn(call: &Call<'_>) -> String {
    match &call.caller.credential {
        Some(credential) => {
            let (partition, account, role) =
                parse_role_arn(&credential.role_arn).unwrap_or(("aws", call.account_id(), "role"));
            format!(
                "arn:{partition}:sts::{account}:assumed-role/{role}/{}",
                credential.session_name
            )
        }
        None => format!("arn:aws:iam::{}:user/fleetscan-operator", call.account_id()),
    }
}

fn get_caller_identity(call: &Call<'_>) -> HttpResponse {
    let user_id = match &call.caller.credential {
        Some(credential) => format!(
            "{}:{}",
            role_id(&credential.role_arn),
            credential.session_name
        ),
        None => "AIDAFAKEOPERATOR00001".to_owned(),
    };
    let mut body = String::with_capacity(512);
    body.push_str("<GetCallerIdentityResponse xmlns=\"");
    body.push_str(NAMESPACE);
    body.push_str("\"><GetCallerIdentityResult>");
    body.leaf("Arn", &caller_arn(call));
    body.leaf("UserId", &user_id);
    body.leaf("Account", call.account_id());
    body.push_str("</GetCallerIdentityResult><ResponseMetadata>");
    body.leaf("RequestId", &call.request_id);
    body.push_str("</ResponseMetadata></GetCallerIdentityResponse>");
    respond(200, "text/xml", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_parse_with_paths_and_partitions() {
        assert_eq!(
            parse_role_arn("arn:aws:iam::222200000001:role/OrganizationAccountAccessRole"),
            Some(("aws", "222200000001", "OrganizationAccountAccessRole"))
        );
        assert_eq!(
            parse_role_arn("arn:aws-cn:iam::222200000001:role/security/Audit"),
            Some(("aws-cn", "222200000001", "Audit"))
        );
        assert_eq!(parse_role_arn("arn:aws:iam::2222:role/X"), None);
        assert_eq!(parse_role_arn("arn:aws:iam::222200000001:user/X"), None);
        assert_eq!(parse_role_arn("not an arn"), None);
    }
}
