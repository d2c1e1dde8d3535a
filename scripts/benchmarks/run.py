"""fleetscan benchmarks: runs every scenario against the fake endpoint and writes
bench/results.json and bench/results.md (quoted in the README).

This file owns the scenarios, the theoretical floors they are compared with, and
how time, CPU and memory are measured (os.wait4 on each child: wall clock, user +
system CPU seconds, peak RSS). Timings are medians of several runs; comparisons
are ratios measured side by side in the same run.

    python scripts/benchmarks/run.py [--quick] [--runs N] [--only NAME,...]

Needs release builds of `fleetscan` and `fleetscan-fakeaws` (scripts/bench builds
them) and, for the baseline, boto3 from the test virtualenv.
"""

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RELEASE = ROOT / "target" / "release"
FLEETSCAN = RELEASE / "fleetscan"
FAKE = RELEASE / "fleetscan-fakeaws"
STORE_BENCH = RELEASE / "examples" / "store_bench"
VENV_PYTHON = Path(os.environ.get("FLEETSCAN_VENV", ROOT / ".venv")) / "bin" / "python"
OUT = ROOT / "bench"

# Posture calls per bucket: GetPublicAccessBlock, GetBucketPolicyStatus,
# GetBucketEncryption, GetBucketVersioning, GetBucketOwnershipControls,
# GetBucketLogging, GetBucketTagging, GetBucketAcl (+ GetBucketLocation only
# when ListBuckets gives no BucketRegion; the fake gives it, as AWS does).
POSTURE_CALLS_PER_BUCKET = 8
ORG_PAGE = 20


def env():
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    clean.update(
        AWS_ACCESS_KEY_ID="AKIABENCHMARK",
        AWS_SECRET_ACCESS_KEY="bench-secret",
        AWS_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return clean


def measured(argv, **kwargs):
    """Runs argv to completion; returns (exit code, wall s, cpu s, peak RSS MB, stdout)."""
    started = time.monotonic()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), **kwargs)
    # Drain stdout and stderr together: reading one to its end first let the
    # other's pipe fill, and the child then blocked writing its log lines
    # (a 2,000-account scan stalled that way). Then reap with wait4 for this
    # child's own resource usage.
    drained = {}

    def drain(name, pipe):
        drained[name] = pipe.read()

    readers = [threading.Thread(target=drain, args=(name, pipe)) for name, pipe in (("out", child.stdout), ("err", child.stderr))]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    stdout, stderr = drained["out"], drained["err"]
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    cpu = usage.ru_utime + usage.ru_stime
    rss_mb = usage.ru_maxrss / 1024.0  # kilobytes on Linux
    if child.returncode not in (0, 3):
        sys.stderr.write(stderr.decode(errors="replace")[-4000:])
    return child.returncode, wall, cpu, rss_mb, stdout.decode(errors="replace")


class Fake:
    """A fleetscan-fakeaws process with a spec and faults."""

    def __init__(self, spec, latency_ms):
        self.dir = tempfile.TemporaryDirectory(prefix="fleetscan-bench-")
        spec_path = Path(self.dir.name) / "spec.json"
        spec_path.write_text(json.dumps(spec))
        faults_path = Path(self.dir.name) / "faults.json"
        faults = {"latency": {"fixed_ms": latency_ms}} if latency_ms else {}
        faults_path.write_text(json.dumps(faults))
        self.process = subprocess.Popen(
            [str(FAKE), "--spec", str(spec_path), "--faults", str(faults_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()
        if "listening on" not in line:
            raise SystemExit(f"the fake did not start: {line}{self.process.stderr.read()}")
        self.url = line.strip().split()[-1]

    def get(self, path):
        with urllib.request.urlopen(self.url + path) as answer:
            return json.loads(answer.read())

    def cpu_seconds(self):
        """User + system CPU the fake has used so far (it shares the machine's cores with the scan)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def reset(self):
        request = urllib.request.Request(self.url + "/_fake/stats/reset", method="POST")
        urllib.request.urlopen(request).read()

    def close(self):
        self.process.terminate()
        self.process.wait()
        self.dir.cleanup()


def fleetscan_scan(fake, workdir, concurrency):
    db = Path(workdir) / "bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    config = Path(workdir) / "bench.yaml"
    config.write_text(
        f"endpoint_url: {fake.url}\n"
        f"database: {db}\n"
        "concurrency:\n"
        f"  accounts: {concurrency['accounts']}\n"
        f"  per_account: {concurrency['per_account']}\n"
        f"  per_bucket: {concurrency['per_bucket']}\n"
    )
    fake_cpu_before = fake.cpu_seconds()
    code, wall, cpu, rss, stdout = measured([str(FLEETSCAN), "scan", "--config", str(config), "--format", "json", "--no-progress"])
    fake_cpu = fake.cpu_seconds() - fake_cpu_before
    if code != 0:
        raise SystemExit(f"fleetscan scan exited {code}:\n{stdout}")
    summary = json.loads(stdout)
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "rss_mb": rss,
        "fake_cpu_s": fake_cpu,
        "rows": sum(summary["resources"].values()),
        "status": summary["status"],
    }


def baseline_scan(fake, workdir, threads):
    db = Path(workdir) / "baseline.db"
    db.unlink(missing_ok=True)
    code, wall, cpu, rss, stdout = measured(
        [str(VENV_PYTHON), str(ROOT / "scripts" / "benchmarks" / "boto3_scanner.py"), "--endpoint", fake.url, "--db", str(db), "--threads", str(threads)]
    )
    result = json.loads(stdout.strip().splitlines()[-1])
    if code != 0 or result["errors"]:
        raise SystemExit(f"baseline failed ({code}): {result}")
    return {"wall_s": wall, "cpu_s": cpu, "rss_mb": rss, "rows": result["rows"]}


def median_of(runs, key):
    return statistics.median(run[key] for run in runs)


def minimum_calls(summary, spec):
    """The fewest calls a complete scan of this fleet can make."""
    members = summary["active_members"]
    regions = summary["active_member_enabled_regions"]
    buckets = summary["active_member_buckets"]
    return {
        "sts:AssumeRole": members,
        "ec2:DescribeRegions": members,
        "ec2:DescribeInstances": regions,  # one page per region
        "ec2:DescribeSecurityGroups": regions,
        "ec2:DescribeVolumes": regions,
        "s3:ListBuckets": members,
        "s3control:GetPublicAccessBlock": members,
        **{
            f"s3:{call}": buckets
            for call in (
                "GetPublicAccessBlock",
                "GetBucketPolicyStatus",
                "GetBucketEncryption",
                "GetBucketVersioning",
                "GetBucketOwnershipControls",
                "GetBucketLogging",
                "GetBucketTagging",
                "GetBucketAcl",
            )
        },
    }


def floor_seconds(summary, latency_s, concurrency, per_account_calls_in_flight):
    """The theoretical floor of a scan's wall time at this concurrency.

    Critical path: what must be sequential. The account list is paged
    (ceil(accounts / 20) ListAccounts pages, one after the other); inside an
    account, AssumeRole precedes everything, and ListBuckets precedes the
    bucket posture calls (DescribeRegions precedes the EC2 describes): three
    round trips. With `accounts` concurrency, accounts flow through the pool,
    so the account phase takes at least accounts × 3 × latency / concurrency.
    Throughput bound: total calls × latency / requests that may be in flight.
    """
    members = summary["active_members"]
    list_pages = math.ceil(summary["accounts"] / ORG_PAGE)
    critical = list_pages * latency_s + max(3 * latency_s, members * 3 * latency_s / concurrency["accounts"])
    total_calls = sum(minimum_calls(summary, None).values())
    in_flight = concurrency["accounts"] * per_account_calls_in_flight
    throughput = list_pages * latency_s + total_calls * latency_s / in_flight
    return max(critical, throughput), critical, throughput, total_calls


# The floor scenario's fleet and concurrency (scenario 1, and 1b at a long latency).
FLOOR_SPEC = {
    "seed": 11,
    "accounts": 200,
    "regions": ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"],
    "opt_in_regions": [],
    "suspended_accounts": 0,
    "instances_per_region": 50,
    "buckets_per_account": 10,
    "management_account_resources": False,
}
FLOOR_CONCURRENCY = {"accounts": 32, "per_account": 16, "per_bucket": 10}


def floor_for(summary, latency_ms, concurrency):
    """floor_seconds for the floor fleet: in flight per account are its units,
    and inside the S3 unit per_bucket buckets × 8 calls."""
    per_account = min(concurrency["per_account"], 4 * 3 + 2) - 1 + concurrency["per_bucket"] * POSTURE_CALLS_PER_BUCKET
    return floor_seconds(summary, latency_ms / 1000, concurrency, per_account)


def scenario_floor(args, results):
    spec = FLOOR_SPEC
    latency_ms = 50
    concurrency = FLOOR_CONCURRENCY
    fake = Fake(spec, latency_ms)
    try:
        summary = fake.get("/_fake/fleet")
        runs = []
        baseline_runs = []
        with tempfile.TemporaryDirectory() as workdir:
            for index in range(args.runs):
                fake.reset()
                runs.append(fleetscan_scan(fake, workdir, concurrency))
                if index == 0:
                    stats = fake.get("/_fake/stats")
                if not args.quick or index == 0:
                    fake.reset()
                    baseline_runs.append(baseline_scan(fake, workdir, concurrency["accounts"]))
        floor, critical, throughput, total_calls = floor_for(summary, latency_ms, concurrency)
        wall = median_of(runs, "wall_s")
        # On a machine with few cores the scan and the fake compete for CPU:
        # no schedule can finish before all the CPU both spend is spent.
        cores = os.cpu_count() or 1
        cpu_bound = median_of(runs, "cpu_s") / cores + median_of(runs, "fake_cpu_s") / cores
        minimum = minimum_calls(summary, spec)
        made = stats["by_operation"]
        calls = {op: {"made": made.get(op, 0), "minimum": minimum.get(op)} for op in sorted(set(made) | set(minimum))}
        extra = {op: c for op, c in calls.items() if c["minimum"] is not None and c["made"] != c["minimum"]}
        results["floor"] = {
            "spec": spec,
            "latency_ms": latency_ms,
            "concurrency": concurrency,
            "fleet": summary,
            "runs": runs,
            "wall_s_median": wall,
            "floor_s": floor,
            "critical_path_s": critical,
            "throughput_bound_s": throughput,
            "ratio_to_floor": wall / floor,
            "cpu_bound_s": cpu_bound,
            "cpu_s_median": median_of(runs, "cpu_s"),
            "fake_cpu_s_median": median_of(runs, "fake_cpu_s"),
            "ratio_to_cpu_bound": wall / cpu_bound,
            "target": "measured <= 1.25 x floor",
            "met": wall <= 1.25 * floor,
        }
        results["calls"] = {
            "calls": calls,
            "scan_calls_total": sum(c["made"] for op, c in calls.items() if c["minimum"] is not None),
            "minimum_total": total_calls,
            "not_minimal": extra,
            "met": not extra,
        }
        baseline_wall = median_of(baseline_runs, "wall_s")
        baseline_cpu = median_of(baseline_runs, "cpu_s")
        cpu = median_of(runs, "cpu_s")
        results["baseline"] = {
            "fleetscan": {"wall_s": wall, "cpu_s": cpu, "rss_mb": median_of(runs, "rss_mb"), "rows": runs[0]["rows"]},
            "boto3": {"wall_s": baseline_wall, "cpu_s": baseline_cpu, "rss_mb": median_of(baseline_runs, "rss_mb"), "rows": baseline_runs[0]["rows"], "runs": len(baseline_runs)},
            "wall_ratio": baseline_wall / wall,
            "cpu_ratio": baseline_cpu / cpu,
            "rss_ratio": median_of(baseline_runs, "rss_mb") / median_of(runs, "rss_mb"),
            "target": "fleetscan >= 3x faster wall, >= 10x less CPU",
            "met": baseline_wall / wall >= 3 and baseline_cpu / cpu >= 10,
        }
    finally:
        fake.close()


def scenario_floor_slow(args, results):
    """Scenario 1 at 800 ms per call. At 50 ms the scan needs more CPU per
    second than two cores shared with the fake endpoint have, so scenario 1
    measures this machine as much as the schedule. At 800 ms the same work is
    spread over 16 times as long: the CPU is mostly idle, and what remains
    between the measured wall and the floor is the schedule's own."""
    latency_ms = 800
    fake = Fake(FLOOR_SPEC, latency_ms)
    try:
        summary = fake.get("/_fake/fleet")
        runs = []
        with tempfile.TemporaryDirectory() as workdir:
            for _ in range(1 if args.quick else args.runs):
                fake.reset()
                runs.append(fleetscan_scan(fake, workdir, FLOOR_CONCURRENCY))
        floor, critical, throughput, _ = floor_for(summary, latency_ms, FLOOR_CONCURRENCY)
        wall = median_of(runs, "wall_s")
        results["floor_slow"] = {
            "latency_ms": latency_ms,
            "runs": runs,
            "wall_s_median": wall,
            "cpu_s_median": median_of(runs, "cpu_s"),
            "floor_s": floor,
            "critical_path_s": critical,
            "throughput_bound_s": throughput,
            "ratio_to_floor": wall / floor,
            "target": "measured <= 1.25 x floor (the schedule alone; scenario 1 is the target)",
            "met": wall <= 1.25 * floor,
        }
    finally:
        fake.close()


def scan_once(spec, latency_ms, concurrency):
    fake = Fake(spec, latency_ms)
    try:
        summary = fake.get("/_fake/fleet")
        with tempfile.TemporaryDirectory() as workdir:
            run = fleetscan_scan(fake, workdir, concurrency)
        run["fleet"] = summary
        return run
    finally:
        fake.close()


def scenario_memory(args, results):
    concurrency = {"accounts": 32, "per_account": 16, "per_bucket": 10}

    def spec(accounts):
        return {
            "seed": 5,
            "accounts": accounts,
            "regions": ["us-east-1", "eu-west-1"],
            "opt_in_regions": [],
            "suspended_accounts": 0,
            "instances_per_region": 10,
            "buckets_per_account": 3,
        }

    small = [scan_once(spec(200), 0, concurrency) for _ in range(args.runs)]
    large = [scan_once(spec(2000), 0, concurrency) for _ in range(args.runs)]
    small_rss = median_of(small, "rss_mb")
    large_rss = median_of(large, "rss_mb")
    results["memory"] = {
        "rss_mb_200_accounts": small_rss,
        "rss_mb_2000_accounts": large_rss,
        "ratio": large_rss / small_rss,
        "rows_2000_accounts": large[0]["rows"],
        "runs": len(large),
        "target": "RSS(2000) <= 1.3 x RSS(200) and <= 200 MB",
        "met": large_rss <= 1.3 * small_rss and large_rss <= 200,
    }


def scenario_largest(args, results):
    spec = {
        "seed": 9,
        "accounts": 10000,
        "regions": ["us-east-1", "eu-west-1"],
        "opt_in_regions": [],
        "suspended_accounts": 0,
        "instances_per_region": 2,
        "security_groups_per_region": 2,
        "volumes_per_region": 2,
        "buckets_per_account": 1,
        "top_level_ous": 10,
        "child_ous_per_ou": 4,
    }
    concurrency = {"accounts": 64, "per_account": 16, "per_bucket": 10}
    run = scan_once(spec, 20, concurrency)
    results["largest"] = {
        "spec": spec,
        "latency_ms": 20,
        "concurrency": concurrency,
        "wall_s": run["wall_s"],
        "cpu_s": run["cpu_s"],
        "rss_mb": run["rss_mb"],
        "rows": run["rows"],
        "status": run["status"],
        "met": run["status"] == "complete",
    }


def scenario_store(args, results):
    if not STORE_BENCH.exists():
        results["store"] = {"skipped": f"{STORE_BENCH} not built"}
        return
    rows = "200000" if args.quick else "1000000"
    code, wall, cpu, rss, stdout = measured([str(STORE_BENCH), "--instances", rows])
    if code != 0:
        raise SystemExit(f"store_bench exited {code}: {stdout}")
    measured_store = json.loads(stdout.strip().splitlines()[-1])
    measured_store["process_peak_rss_mb"] = rss
    results["store"] = measured_store


SCENARIOS = {"floor": scenario_floor, "floor_slow": scenario_floor_slow, "memory": scenario_memory, "largest": scenario_largest, "store": scenario_store}


def machine():
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": memory, "os": platform.platform(), "python": platform.python_version()}


def write_markdown(results, path):
    lines = ["# fleetscan benchmark results", "", f"Run {results['date']} on {results['machine']['cores']} cores ({results['machine']['cpu']}), {results['machine']['memory']}.", ""]
    lines.append("Release builds; timings are medians of the runs given per scenario; ratios come from the same run.")
    lines.append("")
    if "floor" in results:
        f = results["floor"]
        lines += [
            "## 1. Floor",
            "",
            f"{f['fleet']['active_members']} accounts × {len(f['spec']['regions'])} regions × {f['spec']['instances_per_region']} instances, {f['spec']['buckets_per_account']} buckets per account, {f['latency_ms']} ms per call, concurrency {f['concurrency']}; median of {len(f['runs'])} run(s).",
            "",
            "| measured wall | floor | critical path | throughput bound | ratio | target | met |",
            "|---|---|---|---|---|---|---|",
            f"| {f['wall_s_median']:.2f} s | {f['floor_s']:.2f} s | {f['critical_path_s']:.2f} s | {f['throughput_bound_s']:.2f} s | {f['ratio_to_floor']:.2f} | ≤ 1.25 | {'yes' if f['met'] else 'no'} |",
            "",
        ]
        if "cpu_bound_s" in f:
            lines += [
                f"CPU on this machine: fleetscan {f['cpu_s_median']:.2f} s, the fake endpoint {f['fake_cpu_s_median']:.2f} s, on {results['machine']['cores']} cores: "
                f"no run can end before {f['cpu_bound_s']:.2f} s (the CPU bound), {f['cpu_bound_s'] / f['floor_s']:.2f}× the latency floor. "
                f"Measured wall is {f['ratio_to_cpu_bound']:.2f}× that bound.",
                "",
            ]
    if "floor_slow" in results:
        f = results["floor_slow"]
        lines += [
            "### 1b. The same fleet at 800 ms per call: the schedule alone",
            "",
            f"At 50 ms the scan needs more CPU per second than this machine has (above); at {f['latency_ms']} ms the same work is spread over 16 times as long and the CPU is mostly idle, so the gap to the floor is the schedule's own. Median of {len(f['runs'])} run(s).",
            "",
            "| measured wall | CPU | floor | critical path | throughput bound | ratio | within 1.25 × floor |",
            "|---|---|---|---|---|---|---|",
            f"| {f['wall_s_median']:.2f} s | {f['cpu_s_median']:.2f} s | {f['floor_s']:.2f} s | {f['critical_path_s']:.2f} s | {f['throughput_bound_s']:.2f} s | {f['ratio_to_floor']:.2f} | {'yes' if f['met'] else 'no'} |",
            "",
        ]
    if "calls" in results:
        c = results["calls"]
        lines += ["## 2. Calls", "", "| operation | made | minimum |", "|---|---|---|"]
        for op, counts in c["calls"].items():
            lines.append(f"| {op} | {counts['made']} | {counts['minimum'] if counts['minimum'] is not None else '(planning)'} |")
        lines += ["", f"Minimal: {'yes' if c['met'] else 'no — ' + json.dumps(c['not_minimal'])}.", ""]
    if "memory" in results:
        m = results["memory"]
        lines += [
            "## 3. Memory",
            "",
            "| peak RSS, 200 accounts | peak RSS, 2,000 accounts | ratio | target | met |",
            "|---|---|---|---|---|",
            f"| {m['rss_mb_200_accounts']:.1f} MB | {m['rss_mb_2000_accounts']:.1f} MB | {m['ratio']:.2f} | ≤ 1.3 and ≤ 200 MB | {'yes' if m['met'] else 'no'} |",
            "",
            f"Median of {m.get('runs', 1)} run(s) per size.",
            "",
        ]
    if "largest" in results:
        g = results["largest"]
        lines += [
            "## 4. Largest organization",
            "",
            f"10,000 accounts × 2 regions, {g['latency_ms']} ms per call, concurrency {g['concurrency']}.",
            "",
            "| wall | CPU | peak RSS | rows | status |",
            "|---|---|---|---|---|",
            f"| {g['wall_s']:.1f} s | {g['cpu_s']:.1f} s | {g['rss_mb']:.1f} MB | {g['rows']} | {g['status']} |",
            "",
        ]
    if "store" in results:
        s = results["store"]
        lines += ["## 5. Store", ""]
        if "skipped" in s:
            lines += [f"Skipped: {s['skipped']}", ""]
        else:
            lines += ["| measure | value | target |", "|---|---|---|"]
            for key, value in s.items():
                lines.append(f"| {key} | {value} | |")
            lines.append("")
    if "baseline" in results:
        b = results["baseline"]
        lines += [
            "## 6. Side by side with the seed's approach (Python/boto3, same fleet, same run)",
            "",
            "| | wall | CPU | peak RSS | rows |",
            "|---|---|---|---|---|",
            f"| fleetscan | {b['fleetscan']['wall_s']:.2f} s | {b['fleetscan']['cpu_s']:.2f} s | {b['fleetscan']['rss_mb']:.1f} MB | {b['fleetscan']['rows']} |",
            f"| boto3 baseline | {b['boto3']['wall_s']:.2f} s | {b['boto3']['cpu_s']:.2f} s | {b['boto3']['rss_mb']:.1f} MB | {b['boto3']['rows']} |",
            "",
            f"fleetscan is {b['wall_ratio']:.1f}× faster (wall), uses {b['cpu_ratio']:.1f}× less CPU and {b['rss_ratio']:.1f}× less memory. Target ≥ 3× wall, ≥ 10× CPU: {'met' if b['met'] else 'not met'}.",
            "",
            "(The baseline stores one JSON row per resource and flattens nothing, so it does less work per resource than fleetscan.)",
            "",
        ]
    if results.get("notes"):
        lines += ["## Notes", ""] + [f"- {note}" for note in results["notes"]] + [""]
    path.write_text("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description="fleetscan benchmarks")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one baseline run, smaller store bench")
    parser.add_argument("--only", default=",".join(SCENARIOS))
    args = parser.parse_args()
    for binary in (FLEETSCAN, FAKE):
        if not binary.exists():
            raise SystemExit(f"{binary} is missing: run scripts/bench (it builds the release binaries)")
    OUT.mkdir(exist_ok=True)
    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(), "runs": args.runs}
    previous = OUT / "results.json"
    if previous.exists():
        # Scenarios not re-run keep their last results.
        old = json.loads(previous.read_text())
        results = {**old, **results}
    for name in args.only.split(","):
        print(f"== {name}", file=sys.stderr, flush=True)
        SCENARIOS[name](args, results)
        (OUT / "results.json").write_text(json.dumps(results, indent=2))
        write_markdown(results, OUT / "results.md")
    print((OUT / "results.md").read_text())


if __name__ == "__main__":
    main()
