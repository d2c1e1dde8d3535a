//! Every fault through raw HTTP (no SDK retries in the way), using the
//! blocking handle from plain `#[test]` functions, plus the control API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fleetscan_fakeaws::{
    AccountState, CallFilter, DisabledRegionError, FakeAws, Faults, FleetSpec, Injected, Operation,
};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const BASE_KEY: &str = "AKIAOPERATOR00000001";

struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    /// The value of the first `<name>` element (or JSON `"name":"value"`).
    fn field(&self, name: &str) -> Option<String> {
        if let Some(start) = self.body.find(&format!("<{name}>")) {
            let rest = &self.body[start + name.len() + 2..];
            return rest.find("</").map(|end| rest[..end].to_owned());
        }
        let needle = format!("\"{name}\":\"");
        let start = self.body.find(&needle)? + needle.len();
        let rest = &self.body[start..];
        rest.find('"').map(|end| rest[..end].to_owned())
    }
}

fn send(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> Option<Answer> {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Length: {}\r\n",
        address.port(),
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = String::new();
    if stream.read_to_string(&mut raw).is_err() {
        return None; // timed out: the call hangs
    }
    let status = raw.split(' ').nth(1)?.parse().ok()?;
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some(Answer { status, body })
}

fn authorization(key: &str, region: &str, service: &str) -> (&'static str, String) {
    (
        "Authorization",
        format!(
            "AWS4-HMAC-SHA256 Credential={key}/20240101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0"
        ),
    )
}

fn sts(fake: &FakeAws, body: &str) -> Answer {
    send(
        fake.address(),
        "POST",
        "/",
        &[authorization(BASE_KEY, "us-east-1", "sts")],
        body,
    )
    .unwrap()
}

fn assume(fake: &FakeAws, account: &str) -> Answer {
    sts(
        fake,
        &format!(
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A{account}%3Arole%2FOrganizationAccountAccessRole&RoleSessionName=test"
        ),
    )
}

fn key_for(fake: &FakeAws, account: &str) -> String {
    let answer = assume(fake, account);
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.field("AccessKeyId").unwrap()
}

fn ec2(fake: &FakeAws, key: &str, region: &str, body: &str) -> Option<Answer> {
    send(
        fake.address(),
        "POST",
        "/",
        &[authorization(key, region, "ec2")],
        body,
    )
}

fn s3(fake: &FakeAws, key: &str, path: &str) -> Option<Answer> {
    send(
        fake.address(),
        "GET",
        path,
        &[authorization(key, "us-east-1", "s3")],
        "",
    )
}

fn organizations(fake: &FakeAws, key: &str, operation: &str, body: &str) -> Answer {
    let headers = [
        authorization(key, "us-east-1", "organizations"),
        (
            "X-Amz-Target",
            format!("AWSOrganizationsV20161128.{operation}"),
        ),
        ("Content-Type", "application/x-amz-json-1.1".to_owned()),
    ];
    send(fake.address(), "POST", "/", &headers, body).unwrap()
}

fn active_member(fake: &FakeAws, nth: usize) -> String {
    fake.fleet()
        .members()
        .iter()
        .filter(|a| a.state == AccountState::Active)
        .nth(nth)
        .unwrap()
        .id
        .clone()
}

fn spec() -> FleetSpec {
    FleetSpec {
        accounts: 6,
        ..FleetSpec::default()
    }
}

#[test]
fn throttling_buckets_are_per_account_region_and_operation() {
    let fake = FakeAws::start_blocking(spec(), Faults::none().with_throttle(3.0, 0.0)).unwrap();
    let member = active_member(&fake, 0);
    let other = active_member(&fake, 1);
    let key = key_for(&fake, &member);
    let other_key = key_for(&fake, &other);
    let describe = "Action=DescribeVolumes&Version=2016-11-15";
    for _ in 0..3 {
        assert_eq!(ec2(&fake, &key, "us-east-1", describe).unwrap().status, 200);
    }
    let throttled = ec2(&fake, &key, "us-east-1", describe).unwrap();
    assert_eq!(throttled.status, 503);
    assert_eq!(
        throttled.field("Code").as_deref(),
        Some("RequestLimitExceeded")
    );
    // Other region, other operation, other account: their own buckets.
    assert_eq!(ec2(&fake, &key, "eu-west-1", describe).unwrap().status, 200);
    assert_eq!(
        ec2(
            &fake,
            &key,
            "us-east-1",
            "Action=DescribeInstances&Version=2016-11-15"
        )
        .unwrap()
        .status,
        200
    );
    assert_eq!(
        ec2(&fake, &other_key, "us-east-1", describe)
            .unwrap()
            .status,
        200
    );
    // S3 says SlowDown.
    for _ in 0..3 {
        s3(&fake, &key, "/");
    }
    let slow = s3(&fake, &key, "/").unwrap();
    assert_eq!(
        (slow.status, slow.field("Code").as_deref()),
        (503, Some("SlowDown"))
    );
    // Organizations says TooManyRequestsException.
    for _ in 0..3 {
        organizations(&fake, BASE_KEY, "ListRoots", "{}");
    }
    let org = organizations(&fake, BASE_KEY, "ListRoots", "{}");
    assert_eq!(org.status, 400);
    assert!(
        org.body.contains("TooManyRequestsException"),
        "{}",
        org.body
    );
    assert_eq!(fake.stats().injected(Injected::Throttled), 3);
    // Lifting the fault lets calls through again.
    fake.set_faults(Faults::none());
    assert_eq!(ec2(&fake, &key, "us-east-1", describe).unwrap().status, 200);
}

#[test]
fn server_errors_hit_the_configured_fraction() {
    let fake = FakeAws::start_blocking(spec(), Faults::none().with_server_errors(1.0)).unwrap();
    let answer = sts(&fake, "Action=GetCallerIdentity&Version=2011-06-15");
    assert!(
        answer.status == 500 || answer.status == 503,
        "{}",
        answer.status
    );
    fake.set_faults(Faults::none().with_server_errors(0.3));
    let failures = (0..200)
        .filter(|_| sts(&fake, "Action=GetCallerIdentity&Version=2011-06-15").status >= 500)
        .count();
    assert!((30..=90).contains(&failures), "{failures} of 200");
    // Restricted to one operation, others never fail.
    fake.set_faults(Faults {
        server_errors: Some(fleetscan_fakeaws::ServerErrors {
            fraction: 1.0,
            only: CallFilter::operation(Operation::DescribeRegions),
        }),
        ..Faults::none()
    });
    assert_eq!(
        sts(&fake, "Action=GetCallerIdentity&Version=2011-06-15").status,
        200
    );
}

#[test]
fn hung_calls_never_answer_but_others_do() {
    let fake = FakeAws::start_blocking(spec(), Faults::none()).unwrap();
    let member = active_member(&fake, 0);
    let other = active_member(&fake, 1);
    fake.set_faults(
        Faults::none().hang(CallFilter::operation(Operation::DescribeInstances).account(&member)),
    );
    let key = key_for(&fake, &member);
    let other_key = key_for(&fake, &other);
    let describe = "Action=DescribeInstances&Version=2016-11-15";
    assert!(ec2(&fake, &key, "us-east-1", describe).is_none());
    assert_eq!(
        ec2(&fake, &other_key, "us-east-1", describe)
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        ec2(
            &fake,
            &key,
            "us-east-1",
            "Action=DescribeVolumes&Version=2016-11-15"
        )
        .unwrap()
        .status,
        200
    );
    assert_eq!(fake.stats().injected(Injected::Hung), 1);
}

#[test]
fn assume_role_denials_and_role_constraints() {
    let spec = FleetSpec {
        external_id: Some("s3cret".to_owned()),
        ..spec()
    };
    let fake = FakeAws::start_blocking(spec, Faults::none()).unwrap();
    let member = active_member(&fake, 0);
    // Missing external id.
    let answer = assume(&fake, &member);
    assert_eq!(
        (answer.status, answer.field("Code").as_deref()),
        (403, Some("AccessDenied"))
    );
    let with_external_id = |account: &str| {
        sts(
            &fake,
            &format!(
                "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A{account}%3Arole%2FX&RoleSessionName=test&ExternalId=s3cret"
            ),
        )
    };
    assert_eq!(with_external_id(&member).status, 200);
    fake.set_faults(Faults::none().deny_assume_role(&member));
    let denied = with_external_id(&member);
    assert_eq!(
        (denied.status, denied.field("Code").as_deref()),
        (403, Some("AccessDenied"))
    );
    assert!(denied.body.contains("<Type>Sender</Type>"));
    // A suspended account cannot be entered either.
    let suspended = fake
        .fleet()
        .members()
        .iter()
        .find(|a| a.state == AccountState::Suspended)
        .unwrap()
        .id
        .clone();
    assert_eq!(with_external_id(&suspended).status, 403);
    // Validation errors.
    let bad = sts(
        &fake,
        "Action=AssumeRole&Version=2011-06-15&RoleArn=nope&RoleSessionName=test",
    );
    assert_eq!(
        (bad.status, bad.field("Code").as_deref()),
        (400, Some("ValidationError"))
    );
    let long = sts(
        &fake,
        &format!(
            "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A{member}%3Arole%2FX&RoleSessionName=t&DurationSeconds=7200&ExternalId=s3cret"
        ),
    );
    assert_eq!(long.status, 400);
    let stats = fake.stats();
    assert_eq!(stats.assume_role_count(&member), 4);
    assert_eq!(stats.assume_role_count(&suspended), 1);
    assert_eq!(stats.injected(Injected::AssumeRoleDenied), 3);
}

#[test]
fn unauthorized_applies_to_one_account_region_and_operation() {
    let fake = FakeAws::start_blocking(spec(), Faults::none()).unwrap();
    let member = active_member(&fake, 0);
    fake.set_faults(
        Faults::none().unauthorized(
            CallFilter::operation(Operation::DescribeSecurityGroups)
                .account(&member)
                .region("eu-west-1"),
        ),
    );
    let key = key_for(&fake, &member);
    let groups = "Action=DescribeSecurityGroups&Version=2016-11-15";
    let denied = ec2(&fake, &key, "eu-west-1", groups).unwrap();
    assert_eq!(
        (denied.status, denied.field("Code").as_deref()),
        (403, Some("UnauthorizedOperation"))
    );
    assert!(denied.body.starts_with("<?xml") && denied.body.contains("<Response><Errors><Error>"));
    assert_eq!(ec2(&fake, &key, "us-east-1", groups).unwrap().status, 200);
    assert_eq!(
        ec2(&fake, &key, "eu-west-1", "Action=DescribeVolumes")
            .unwrap()
            .status,
        200
    );
}

#[test]
fn disabled_regions_answer_opt_in_required_or_auth_failure() {
    let fake = FakeAws::start_blocking(spec(), Faults::none()).unwrap();
    let fleet = fake.fleet();
    let (member, region) = fleet
        .members()
        .iter()
        .filter(|a| a.state == AccountState::Active)
        .find_map(|a| {
            fleet
                .regions()
                .iter()
                .find(|r| !fleet.region_enabled(&a.id, &r.name))
                .map(|r| (a.id.clone(), r.name.clone()))
        })
        .expect("the default spec leaves an opt-in region disabled somewhere");
    let key = key_for(&fake, &member);
    let answer = ec2(&fake, &key, &region, "Action=DescribeInstances").unwrap();
    assert_eq!(
        (answer.status, answer.field("Code").as_deref()),
        (403, Some("OptInRequired"))
    );
    let unknown = ec2(&fake, &key, "mars-north-1", "Action=DescribeInstances").unwrap();
    assert_eq!(unknown.field("Code").as_deref(), Some("OptInRequired"));
    fake.update_faults(|faults| faults.disabled_region_error = DisabledRegionError::AuthFailure);
    let answer = ec2(&fake, &key, &region, "Action=DescribeInstances").unwrap();
    assert_eq!(
        (answer.status, answer.field("Code").as_deref()),
        (401, Some("AuthFailure"))
    );
    // DescribeRegions tells the truth about it.
    let regions = ec2(
        &fake,
        &key,
        "us-east-1",
        "Action=DescribeRegions&AllRegions=true",
    )
    .unwrap();
    assert!(regions.body.contains(&format!("<regionName>{region}</regionName><regionEndpoint>ec2.{region}.amazonaws.com</regionEndpoint><optInStatus>not-opted-in</optInStatus>")));
    let enabled = ec2(&fake, &key, "us-east-1", "Action=DescribeRegions").unwrap();
    assert!(!enabled.body.contains(&format!("<regionName>{region}<")));
}

#[test]
fn expired_credentials_answer_expired_token_in_each_protocol() {
    let fake = FakeAws::start_blocking(spec(), Faults::none().with_credential_lifetime(1)).unwrap();
    let member = active_member(&fake, 0);
    let answer = assume(&fake, &member);
    let key = answer.field("AccessKeyId").unwrap();
    let expiration = answer.field("Expiration").unwrap();
    assert!(
        expiration.ends_with('Z') && expiration.len() == 20,
        "{expiration}"
    );
    std::thread::sleep(Duration::from_millis(1100));
    let ec2_answer = ec2(&fake, &key, "us-east-1", "Action=DescribeVolumes").unwrap();
    assert_eq!(
        (ec2_answer.status, ec2_answer.field("Code").as_deref()),
        (400, Some("RequestExpired"))
    );
    let s3_answer = s3(&fake, &key, "/").unwrap();
    assert_eq!(
        (s3_answer.status, s3_answer.field("Code").as_deref()),
        (400, Some("ExpiredToken"))
    );
    let sts_answer = send(
        fake.address(),
        "POST",
        "/",
        &[authorization(&key, "us-east-1", "sts")],
        "Action=GetCallerIdentity",
    )
    .unwrap();
    assert_eq!(
        (sts_answer.status, sts_answer.field("Code").as_deref()),
        (403, Some("ExpiredToken"))
    );
    // Fresh credentials work again.
    let fresh = key_for(&fake, &member);
    assert_eq!(
        ec2(&fake, &fresh, "us-east-1", "Action=DescribeVolumes")
            .unwrap()
            .status,
        200
    );
    assert_eq!(fake.stats().injected(Injected::ExpiredToken), 3);
    // A key that looks issued but never was.
    let forged = ec2(
        &fake,
        "ASIAFAKE0000FFFFFFFF",
        "us-east-1",
        "Action=DescribeVolumes",
    )
    .unwrap();
    assert_eq!(forged.field("Code").as_deref(), Some("AuthFailure"));
}

fn list_all_accounts(fake: &FakeAws, max_pages: usize) -> (Vec<String>, usize, bool) {
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    for page in 1..=max_pages {
        let body = match &token {
            Some(token) => format!("{{\"MaxResults\":3,\"NextToken\":\"{token}\"}}"),
            None => "{\"MaxResults\":3}".to_owned(),
        };
        let answer = organizations(fake, BASE_KEY, "ListAccounts", &body);
        assert_eq!(answer.status, 200, "{}", answer.body);
        let json: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        for account in json["Accounts"].as_array().unwrap() {
            ids.push(account["Id"].as_str().unwrap().to_owned());
        }
        match json["NextToken"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => return (ids, page, true),
        }
    }
    (ids, max_pages, false)
}

#[test]
fn organizations_pages_empty_pages_and_endless_tokens() {
    let fake = FakeAws::start_blocking(spec(), Faults::none()).unwrap();
    let total = fake.fleet().accounts().len();
    let (ids, pages, finished) = list_all_accounts(&fake, 100);
    assert!(finished);
    assert_eq!(ids.len(), total);
    assert_eq!(pages, total.div_ceil(3));

    fake.set_faults(
        Faults::none().with_empty_pages(2, CallFilter::operation(Operation::ListAccounts)),
    );
    let (ids, pages, finished) = list_all_accounts(&fake, 100);
    assert!(finished);
    assert_eq!(ids.len(), total);
    assert_eq!(pages, total.div_ceil(3) * 3);
    assert_eq!(
        fake.stats().injected(Injected::EmptyPage),
        (total.div_ceil(3) * 2) as u64
    );

    fake.set_faults(
        Faults::none().with_endless_next_token(CallFilter::operation(Operation::ListAccounts)),
    );
    let (_, pages, finished) = list_all_accounts(&fake, 50);
    assert!(!finished);
    assert_eq!(pages, 50);

    // Member accounts cannot list the organization.
    let member = active_member(&fake, 0);
    let key = key_for(&fake, &member);
    let denied = organizations(&fake, &key, "ListAccounts", "{}");
    assert!(denied.body.contains("AccessDeniedException"));
    let bad = organizations(&fake, BASE_KEY, "ListAccounts", "{\"MaxResults\":21}");
    assert!(bad.body.contains("InvalidInputException"));
    let garbage = organizations(&fake, BASE_KEY, "ListAccounts", "{not json");
    assert!(garbage.body.contains("SerializationException"));
}

#[test]
fn ec2_endless_token_and_bad_page_sizes() {
    let spec = FleetSpec {
        instances_per_region: fleetscan_fakeaws::Count::Exactly(7),
        ..spec()
    };
    let fake = FakeAws::start_blocking(spec, Faults::none()).unwrap();
    let member = active_member(&fake, 0);
    let key = key_for(&fake, &member);
    fake.set_faults(
        Faults::none().with_endless_next_token(
            CallFilter::operation(Operation::DescribeInstances)
                .account(&member)
                .region("us-east-1"),
        ),
    );
    let first = ec2(
        &fake,
        &key,
        "us-east-1",
        "Action=DescribeInstances&MaxResults=5",
    )
    .unwrap();
    let token = first.field("nextToken").unwrap();
    let again = ec2(
        &fake,
        &key,
        "us-east-1",
        &format!("Action=DescribeInstances&MaxResults=5&NextToken={token}"),
    )
    .unwrap();
    assert_eq!(again.field("nextToken"), Some(token));
    // Another region pages normally.
    let other = ec2(
        &fake,
        &key,
        "eu-west-1",
        "Action=DescribeInstances&MaxResults=5",
    )
    .unwrap();
    let next = other.field("nextToken").unwrap();
    let last = ec2(
        &fake,
        &key,
        "eu-west-1",
        &format!("Action=DescribeInstances&MaxResults=5&NextToken={next}"),
    )
    .unwrap();
    assert_eq!(last.field("nextToken"), None);
    let too_small = ec2(
        &fake,
        &key,
        "eu-west-1",
        "Action=DescribeInstances&MaxResults=2",
    )
    .unwrap();
    assert_eq!(
        too_small.field("Code").as_deref(),
        Some("InvalidParameterValue")
    );
    let filtered = ec2(
        &fake,
        &key,
        "eu-west-1",
        "Action=DescribeInstances&Filter.1.Name=vpc-id&Filter.1.Value.1=x",
    )
    .unwrap();
    assert_eq!(
        filtered.field("Code").as_deref(),
        Some("UnsupportedOperation")
    );
    let unknown = ec2(&fake, &key, "eu-west-1", "Action=RunInstances").unwrap();
    assert_eq!(unknown.field("Code").as_deref(), Some("InvalidAction"));
    assert_eq!(fake.stats().unsupported.get("ec2:RunInstances"), Some(&1));
}

#[test]
fn s3_control_and_not_configured_answers() {
    let fake = FakeAws::start_blocking(spec(), Faults::none()).unwrap();
    let fleet = fake.fleet();
    for account in fleet
        .members()
        .iter()
        .filter(|a| a.state == AccountState::Active)
    {
        let key = key_for(&fake, &account.id);
        let headers = [
            authorization(&key, "us-east-1", "s3"),
            ("x-amz-account-id", account.id.clone()),
        ];
        let answer = send(
            fake.address(),
            "GET",
            "/v20180820/configuration/publicAccessBlock",
            &headers,
            "",
        )
        .unwrap();
        let truth = fleet.resources(&account.id).unwrap().public_access_block;
        match truth {
            Some(block) => {
                assert_eq!(answer.status, 200);
                assert!(
                    answer
                        .body
                        .contains("xmlns=\"http://awss3control.amazonaws.com/doc/2018-08-20/\"")
                );
                assert_eq!(
                    answer.field("BlockPublicAcls"),
                    Some(block.block_public_acls.to_string())
                );
            }
            None => {
                assert_eq!(answer.status, 404);
                assert!(answer.body.contains(
                    "<ErrorResponse><Error><Code>NoSuchPublicAccessBlockConfiguration</Code>"
                ));
            }
        }
        let bucket = fleet.expected_buckets(&account.id)[0].clone();
        let versioning = s3(
            &fake,
            &key,
            &format!("/{bucket}?versioning&x-id=GetBucketVersioning"),
        )
        .unwrap();
        assert_eq!(versioning.status, 200);
        assert!(versioning.body.contains("VersioningConfiguration"));
        let missing = s3(&fake, &key, "/no-such-bucket-000000000000-000?tagging").unwrap();
        assert_eq!(
            (missing.status, missing.field("Code").as_deref()),
            (404, Some("NoSuchBucket"))
        );
    }
}

#[test]
fn control_api_serves_stats_faults_and_fleet() {
    let fake = FakeAws::start_blocking(spec(), Faults::none()).unwrap();
    let member = active_member(&fake, 0);
    let key = key_for(&fake, &member);
    ec2(&fake, &key, "eu-west-1", "Action=DescribeVolumes").unwrap();
    ec2(&fake, &key, "eu-west-1", "Action=DescribeVolumes").unwrap();

    let stats = send(fake.address(), "GET", "/_fake/stats", &[], "").unwrap();
    let json: serde_json::Value = serde_json::from_str(&stats.body).unwrap();
    assert_eq!(json["by_operation"]["ec2:DescribeVolumes"], 2);
    assert_eq!(json["by_operation"]["sts:AssumeRole"], 1);
    assert_eq!(json["assume_role"][&member], 1);
    let rows = json["calls"].as_array().unwrap();
    assert!(
        rows.iter()
            .any(|row| row["operation"] == "ec2:DescribeVolumes"
                && row["account"] == member.as_str()
                && row["region"] == "eu-west-1"
                && row["count"] == 2)
    );
    assert_eq!(
        fake.stats()
            .count_in(Operation::DescribeVolumes, &member, "eu-west-1"),
        2
    );

    let put = send(
        fake.address(),
        "PUT",
        "/_fake/faults",
        &[],
        r#"{"deny_assume_role": ["222200000000"]}"#,
    )
    .unwrap();
    assert_eq!(put.status, 200);
    assert_eq!(
        fake.faults().deny_assume_role,
        vec!["222200000000".to_owned()]
    );
    let bad = send(
        fake.address(),
        "PUT",
        "/_fake/faults",
        &[],
        r#"{"deny": 1}"#,
    )
    .unwrap();
    assert_eq!(bad.status, 400);

    let fleet = send(fake.address(), "GET", "/_fake/fleet", &[], "").unwrap();
    let summary: serde_json::Value = serde_json::from_str(&fleet.body).unwrap();
    assert_eq!(summary["accounts"], fake.fleet().accounts().len());

    assert_eq!(
        send(fake.address(), "POST", "/_fake/stats/reset", &[], "")
            .unwrap()
            .status,
        200
    );
    assert_eq!(fake.stats().total_calls, 0);
    assert_eq!(
        send(fake.address(), "GET", "/_fake/health", &[], "")
            .unwrap()
            .body,
        "ok\n"
    );
}

#[test]
fn latency_delays_every_answer() {
    let fake = FakeAws::start_blocking(spec(), Faults::none().with_latency_ms(120)).unwrap();
    let started = std::time::Instant::now();
    assert_eq!(sts(&fake, "Action=GetCallerIdentity").status, 200);
    assert!(started.elapsed() >= Duration::from_millis(120));
}

#[test]
fn malformed_requests_get_error_answers() {
    let fake = FakeAws::start_blocking(spec(), Faults::none()).unwrap();
    let unsigned = send(fake.address(), "GET", "/", &[], "").unwrap();
    assert_eq!(unsigned.status, 403);
    let garbage_auth = send(
        fake.address(),
        "GET",
        "/",
        &[(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=///".to_owned(),
        )],
        "",
    )
    .unwrap();
    assert_eq!(garbage_auth.status, 403);
    let binary = send(
        fake.address(),
        "POST",
        "/",
        &[authorization(BASE_KEY, "us-east-1", "ec2")],
        "Action=%FF%FE",
    )
    .unwrap();
    assert_eq!(binary.field("Code").as_deref(), Some("InvalidAction"));
    let object = s3(&fake, BASE_KEY, "/bucket/key.txt").unwrap();
    assert_eq!(object.status, 501);
    let other_service = send(
        fake.address(),
        "POST",
        "/",
        &[authorization(BASE_KEY, "us-east-1", "lambda")],
        "",
    )
    .unwrap();
    assert_eq!(other_service.status, 400);
}
