//! S3 (REST/XML, path-style): ListBuckets and the per-bucket posture reads;
//! and S3 Control's account-level public access block.

use crate::fleet::{Bucket, PublicAccessBlock, Versioning};
use crate::operation::Operation;
use crate::prng::mix;
use crate::server::{ApiError, Call, HttpResponse, respond, with_header, xml_document};
use crate::wire::XmlWriter;

const NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";
const CONTROL_NAMESPACE: &str = "http://awss3control.amazonaws.com/doc/2018-08-20/";
const CONTENT_TYPE: &str = "application/xml";

pub(crate) fn handle(call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    match call.operation {
        Operation::ListBuckets => list_buckets(call),
        Operation::GetAccountPublicAccessBlock => account_public_access_block(call),
        _ => bucket_operation(call),
    }
}

fn canonical_user_id(account: usize) -> String {
    let seed = account as u64;
    format!(
        "{:016x}{:016x}{:016x}{:016x}",
        mix(seed ^ 1),
        mix(seed ^ 2),
        mix(seed ^ 3),
        mix(seed ^ 4)
    )
}

fn start(root: &str, namespace: &str, capacity: usize) -> String {
    let mut body = xml_document(capacity);
    body.push('<');
    body.push_str(root);
    body.push_str(" xmlns=\"");
    body.push_str(namespace);
    body.push_str("\">");
    body
}

fn list_buckets(call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    let resources = call.fleet.resources_at(call.caller.account);
    let prefix = call.params.get("prefix").unwrap_or("");
    let region_filter = call.params.get("bucket-region");
    let selected: Vec<&Bucket> = resources
        .buckets
        .iter()
        .filter(|bucket| bucket.name.starts_with(prefix))
        .filter(|bucket| region_filter.is_none_or(|region| bucket.region == region))
        .collect();
    let page_size = match call.params.get("max-buckets") {
        None => selected.len().max(1),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=10_000).contains(&n) => n,
            _ => {
                return Err(ApiError::new(
                    400,
                    "InvalidArgument",
                    "Argument max-buckets must be an integer between 1 and 10000.",
                ));
            }
        },
    };
    let invalid = ApiError::new(
        400,
        "InvalidArgument",
        "The continuation token provided is incorrect",
    );
    let page = call.page(
        selected.len(),
        page_size,
        call.params.get("continuation-token"),
        invalid,
    )?;
    let mut body = start(
        "ListAllMyBucketsResult",
        NAMESPACE,
        512 + 192 * (page.end - page.start),
    );
    body.open("Owner");
    body.leaf("ID", &canonical_user_id(call.caller.account));
    body.leaf("DisplayName", &format!("owner-{}", call.account_id()));
    body.close("Owner");
    body.open("Buckets");
    for bucket in &selected[page.start..page.end] {
        body.open("Bucket");
        body.leaf("Name", &bucket.name);
        body.leaf_time("CreationDate", bucket.creation_date);
        body.leaf("BucketRegion", &bucket.region);
        body.close("Bucket");
    }
    body.close("Buckets");
    body.leaf_opt("ContinuationToken", page.next_token.as_deref());
    if !prefix.is_empty() {
        body.leaf("Prefix", prefix);
    }
    body.close("ListAllMyBucketsResult");
    Ok(respond(200, CONTENT_TYPE, body))
}

fn not_found(code: &'static str, message: &'static str) -> ApiError {
    ApiError::new(404, code, message)
}

fn write_block(body: &mut String, block: &PublicAccessBlock) {
    body.leaf_bool("BlockPublicAcls", block.block_public_acls);
    body.leaf_bool("IgnorePublicAcls", block.ignore_public_acls);
    body.leaf_bool("BlockPublicPolicy", block.block_public_policy);
    body.leaf_bool("RestrictPublicBuckets", block.restrict_public_buckets);
}

fn bucket_operation(call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    let name = call.bucket.unwrap_or("");
    let Some((owner, resources, position)) = call.fleet.find_bucket(name) else {
        return Err(not_found(
            "NoSuchBucket",
            "The specified bucket does not exist",
        ));
    };
    if owner != call.caller.account {
        return Err(ApiError::new(403, "AccessDenied", "Access Denied"));
    }
    let bucket = &resources.buckets[position];
    let mut body: String;
    match call.operation {
        Operation::GetBucketLocation => {
            body = xml_document(160);
            if bucket.region == "us-east-1" {
                body.push_str("<LocationConstraint xmlns=\"");
                body.push_str(NAMESPACE);
                body.push_str("\"/>");
            } else {
                body.push_str("<LocationConstraint xmlns=\"");
                body.push_str(NAMESPACE);
                body.push_str("\">");
                crate::wire::push_xml_escaped(&mut body, &bucket.region);
                body.push_str("</LocationConstraint>");
            }
        }
        Operation::GetPublicAccessBlock => {
            let block = bucket.public_access_block.as_ref().ok_or_else(|| {
                not_found(
                    "NoSuchPublicAccessBlockConfiguration",
                    "The public access block configuration was not found",
                )
            })?;
            body = start("PublicAccessBlockConfiguration", NAMESPACE, 320);
            write_block(&mut body, block);
            body.close("PublicAccessBlockConfiguration");
        }
        Operation::GetBucketPolicyStatus => {
            let is_public = bucket.policy_is_public.ok_or_else(|| {
                not_found("NoSuchBucketPolicy", "The bucket policy does not exist")
            })?;
            body = start("PolicyStatus", NAMESPACE, 160);
            body.leaf_bool("IsPublic", is_public);
            body.close("PolicyStatus");
        }
        Operation::GetBucketEncryption => {
            let encryption = bucket.encryption.as_ref().ok_or_else(|| {
                not_found(
                    "ServerSideEncryptionConfigurationNotFoundError",
                    "The server side encryption configuration was not found",
                )
            })?;
            body = start("ServerSideEncryptionConfiguration", NAMESPACE, 400);
            body.open("Rule");
            body.open("ApplyServerSideEncryptionByDefault");
            body.leaf("SSEAlgorithm", encryption.algorithm);
            body.leaf_opt("KMSMasterKeyID", encryption.kms_key_id.as_deref());
            body.close("ApplyServerSideEncryptionByDefault");
            body.leaf_bool("BucketKeyEnabled", encryption.bucket_key_enabled);
            body.close("Rule");
            body.close("ServerSideEncryptionConfiguration");
        }
        Operation::GetBucketVersioning => {
            body = xml_document(200);
            body.push_str("<VersioningConfiguration xmlns=\"");
            body.push_str(NAMESPACE);
            match bucket.versioning {
                Versioning::Never => body.push_str("\"/>"),
                status => {
                    body.push_str("\">");
                    body.leaf(
                        "Status",
                        if status == Versioning::Enabled {
                            "Enabled"
                        } else {
                            "Suspended"
                        },
                    );
                    body.leaf(
                        "MfaDelete",
                        if bucket.mfa_delete {
                            "Enabled"
                        } else {
                            "Disabled"
                        },
                    );
                    body.close("VersioningConfiguration");
                }
            }
        }
        Operation::GetBucketOwnershipControls => {
            let ownership = bucket.object_ownership.ok_or_else(|| {
                not_found(
                    "OwnershipControlsNotFoundError",
                    "The bucket ownership controls were not found",
                )
            })?;
            body = start("OwnershipControls", NAMESPACE, 200);
            body.open("Rule");
            body.leaf("ObjectOwnership", ownership);
            body.close("Rule");
            body.close("OwnershipControls");
        }
        Operation::GetBucketLogging => {
            body = xml_document(300);
            body.push_str("<BucketLoggingStatus xmlns=\"");
            body.push_str(NAMESPACE);
            match &bucket.logging {
                None => body.push_str("\"/>"),
                Some(logging) => {
                    body.push_str("\">");
                    body.open("LoggingEnabled");
                    body.leaf("TargetBucket", &logging.target_bucket);
                    body.leaf("TargetPrefix", &logging.target_prefix);
                    body.close("LoggingEnabled");
                    body.close("BucketLoggingStatus");
                }
            }
        }
        Operation::GetBucketTagging => {
            let tags = bucket
                .tags
                .as_ref()
                .ok_or_else(|| not_found("NoSuchTagSet", "The TagSet does not exist"))?;
            body = start("Tagging", NAMESPACE, 300);
            body.open("TagSet");
            for tag in tags {
                body.open("Tag");
                body.leaf("Key", &tag.key);
                body.leaf("Value", &tag.value);
                body.close("Tag");
            }
            body.close("TagSet");
            body.close("Tagging");
        }
        Operation::GetBucketAcl => {
            let owner_id = canonical_user_id(owner);
            let display_name = format!("owner-{}", call.account_id());
            body = start("AccessControlPolicy", NAMESPACE, 800);
            body.open("Owner");
            body.leaf("ID", &owner_id);
            body.leaf("DisplayName", &display_name);
            body.close("Owner");
            body.open("AccessControlList");
            body.push_str("<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\">");
            body.leaf("ID", &owner_id);
            body.leaf("DisplayName", &display_name);
            body.push_str("</Grantee><Permission>FULL_CONTROL</Permission></Grant>");
            if bucket.public_acl {
                body.push_str("<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"Group\"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant>");
            }
            body.close("AccessControlList");
            body.close("AccessControlPolicy");
        }
        _ => {
            return Err(ApiError::new(
                501,
                "NotImplemented",
                "not an S3 bucket operation",
            ));
        }
    }
    let response = respond(200, CONTENT_TYPE, body);
    Ok(with_header(response, "x-amz-bucket-region", &bucket.region))
}

fn account_public_access_block(call: &Call<'_>) -> Result<HttpResponse, ApiError> {
    let requested = call
        .headers
        .get("x-amz-account-id")
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                400,
                "InvalidRequest",
                "Missing required header x-amz-account-id",
            )
        })?;
    if requested != call.account_id() {
        return Err(ApiError::new(403, "AccessDenied", "Access Denied"));
    }
    let resources = call.fleet.resources_at(call.caller.account);
    let block = resources.public_access_block.as_ref().ok_or_else(|| {
        not_found(
            "NoSuchPublicAccessBlockConfiguration",
            "The public access block configuration was not found",
        )
    })?;
    let mut body = start("PublicAccessBlockConfiguration", CONTROL_NAMESPACE, 320);
    write_block(&mut body, block);
    body.close("PublicAccessBlockConfiguration");
    Ok(respond(200, CONTENT_TYPE, body))
}
