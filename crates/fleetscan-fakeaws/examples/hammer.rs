//! Throughput check: keep-alive HTTP/1.1 clients hammer an in-process fake
//! with a scan-like mix of calls and report requests per second.
//!
//! `cargo run -p fleetscan-fakeaws --example hammer -- [CONNECTIONS] [SECONDS] [light]`

use fleetscan_fakeaws::{Count, FakeAws, Faults, FleetSpec};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

async fn client(
    address: std::net::SocketAddr,
    requests: Vec<(&'static str, String, String, String)>,
    deadline: Instant,
    done: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
) -> std::io::Result<()> {
    let stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let mut stream = BufReader::new(stream);
    let mut index = 0;
    let mut line = String::new();
    let mut body = Vec::new();
    while Instant::now() < deadline {
        let (method, path, authorization, payload) = &requests[index % requests.len()];
        index += 1;
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {authorization}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{payload}",
            payload.len()
        );
        stream.get_mut().write_all(request.as_bytes()).await?;
        let mut length = 0usize;
        loop {
            line.clear();
            stream.read_line(&mut line).await?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        body.resize(length, 0);
        stream.read_exact(&mut body).await?;
        done.fetch_add(1, Ordering::Relaxed);
        bytes.fetch_add(length as u64, Ordering::Relaxed);
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut arguments = std::env::args().skip(1);
    let connections: usize = arguments.next().and_then(|a| a.parse().ok()).unwrap_or(32);
    let seconds: u64 = arguments.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    // `light`: only small answers, to see the per-request overhead.
    let light = arguments.next().as_deref() == Some("light");
    let spec = FleetSpec {
        instances_per_region: Count::Exactly(50),
        volumes_per_region: Count::Exactly(50),
        security_groups_per_region: Count::Exactly(10),
        buckets_per_account: Count::Exactly(10),
        ..FleetSpec::uniform(
            3,
            200,
            &["us-east-1", "eu-west-1", "us-west-2", "eu-central-1"],
        )
    };
    let fake = FakeAws::start_blocking(spec, Faults::none())?;
    let fleet = fake.fleet();
    let auth = |region: &str, service: &str| {
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIABASE/20240101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0"
        )
    };
    let bucket = fleet.expected_buckets(&fleet.management_account().id)[0].clone();
    let requests: Vec<(&str, String, String, String)> = vec![
        (
            "POST",
            "/".to_owned(),
            auth("us-east-1", "ec2"),
            "Action=DescribeInstances&Version=2016-11-15&MaxResults=1000".to_owned(),
        ),
        (
            "POST",
            "/".to_owned(),
            auth("us-east-1", "ec2"),
            "Action=DescribeSecurityGroups&Version=2016-11-15".to_owned(),
        ),
        (
            "POST",
            "/".to_owned(),
            auth("eu-west-1", "ec2"),
            "Action=DescribeVolumes&Version=2016-11-15".to_owned(),
        ),
        (
            "POST",
            "/".to_owned(),
            auth("us-east-1", "sts"),
            "Action=GetCallerIdentity&Version=2011-06-15".to_owned(),
        ),
        (
            "GET",
            format!("/{bucket}?encryption"),
            auth("us-east-1", "s3"),
            String::new(),
        ),
        (
            "GET",
            format!("/{bucket}?publicAccessBlock"),
            auth("us-east-1", "s3"),
            String::new(),
        ),
        (
            "GET",
            format!("/{bucket}?tagging"),
            auth("us-east-1", "s3"),
            String::new(),
        ),
        (
            "GET",
            format!("/{bucket}?versioning"),
            auth("us-east-1", "s3"),
            String::new(),
        ),
    ];
    let requests = if light {
        requests.into_iter().skip(3).collect()
    } else {
        requests
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let done = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for n in 0..connections {
            let mut rotated = requests.clone();
            rotated.rotate_left(n % requests.len());
            tasks.push(tokio::spawn(client(
                fake.address(),
                rotated,
                deadline,
                done.clone(),
                bytes.clone(),
            )));
        }
        for task in tasks {
            if let Ok(Err(error)) = task.await {
                eprintln!("client error: {error}");
            }
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let total = done.load(Ordering::Relaxed);
    println!(
        "{total} requests in {elapsed:.1}s over {connections} connections: {:.0} requests/s, {:.1} MB/s of bodies",
        total as f64 / elapsed,
        bytes.load(Ordering::Relaxed) as f64 / elapsed / 1e6
    );
    let stats = fake.stats();
    println!("served operations: {:?}", stats.by_operation);
    Ok(())
}
