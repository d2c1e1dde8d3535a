//! The report page: the view model the template `templates/report.html`
//! renders, built from the store's report types (and the diff), and the
//! geometry of the trend charts.
//!
//! Every value from AWS reaches the page through a template expression, which
//! askama escapes for HTML text and attributes; the only unescaped inserts are
//! this crate's own stylesheet and script, whose hashes the page's Content
//! Security Policy pins, so that nothing else can run even if a value slipped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use askama::Template;
use fleetscan_store::UnitStatus;
use fleetscan_store::report::{Coverage, Findings, SnapshotHeader, TrendPoint};
use sha2::{Digest, Sha256};

/// The page's own stylesheet and script: static files of this crate, never data.
const STYLE: &str = include_str!("../../../templates/report.css");
const SCRIPT: &str = include_str!("../../../templates/report.js");

/// Rows at most per findings table and per change list: beyond that the page
/// says how many were left out and where to find all of them.
pub const ROW_LIMIT: usize = 5_000;

/// Accounts with problems above which OU groups start collapsed.
const OPEN_GROUPS_UP_TO: usize = 200;

/// Resource tables with the labels the header and the trend use.
const RESOURCE_LABELS: &[(&str, &str)] = &[
    ("ec2_instances", "EC2 instances"),
    ("ec2_security_groups", "Security groups"),
    ("ec2_security_group_rules", "Security group rules"),
    ("ec2_volumes", "EBS volumes"),
    ("s3_buckets", "S3 buckets"),
    (
        "s3_account_public_access_block",
        "Account S3 block settings",
    ),
];

/// Everything the report shows about the diff against the older snapshot.
#[derive(Debug, Clone, Default)]
pub struct ChangesInput {
    pub old_id: i64,
    pub old_started_at: String,
    /// Security-relevant changes (at most [`ROW_LIMIT`]), in diff order.
    pub security_changes: Vec<ChangeInput>,
    /// How many security-relevant changes the diff found.
    pub security_total: u64,
    /// The other changes (at most [`ROW_LIMIT`]).
    pub other_changes: Vec<ChangeInput>,
    pub other_total: u64,
    pub not_comparable: Vec<NotComparableInput>,
    /// Resources (not accounts) added, removed, modified.
    pub added: u64,
    pub removed: u64,
    pub modified: u64,
    pub accounts_entered: u64,
    pub accounts_left: u64,
}

#[derive(Debug, Clone)]
pub struct ChangeInput {
    pub resource_type: String,
    pub change: String,
    pub account_id: String,
    pub region: Option<String>,
    pub resource_id: String,
    /// `field: old → new`, one per changed field.
    pub fields: Vec<String>,
    pub security: bool,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct NotComparableInput {
    pub account_id: String,
    pub region: String,
    pub collector: String,
    pub old_status: Option<String>,
    pub new_status: Option<String>,
}

/// Why there is no changes section.
#[derive(Debug, Clone)]
pub enum Changes {
    Compared(ChangesInput),
    /// No older usable snapshot exists.
    NothingToCompare,
}

/// The data of one report, as read from the store.
#[derive(Debug, Clone)]
pub struct ReportInput {
    pub header: SnapshotHeader,
    pub coverage: Coverage,
    pub findings: Findings,
    pub changes: Changes,
    pub trend: Vec<TrendPoint>,
    /// The fleetscan that wrote the page.
    pub generator: String,
}

#[derive(Template)]
#[template(path = "report.html")]
pub struct ReportPage {
    style: &'static str,
    script: &'static str,
    csp: String,
    generator: String,
    header: HeaderView,
    coverage: CoverageView,
    findings: Vec<TableView>,
    changes: ChangesView,
    trend: TrendView,
}

struct HeaderView {
    snapshot_id: i64,
    started_at: String,
    finished_at: String,
    duration: String,
    status: String,
    tool_version: String,
    caller_arn: String,
    accounts_total: u64,
    accounts_ok: u64,
    accounts_failed: u64,
    regions: Vec<String>,
    resources: Vec<(String, u64)>,
    findings: Vec<(String, String, u64)>,
}

struct CoverageView {
    regions: Vec<String>,
    groups: Vec<OuGroup>,
    accounts_total: usize,
    accounts_with_problems: usize,
    /// (css class, label, count of cells) for the legend.
    legend: Vec<(&'static str, &'static str, usize)>,
}

struct OuGroup {
    ou_path: String,
    accounts_total: usize,
    open: bool,
    rows: Vec<CoverageRow>,
    clean: Vec<String>,
}

struct CoverageRow {
    account_id: String,
    name: String,
    status: String,
    error: String,
    cells: Vec<CellView>,
}

struct CellView {
    class: &'static str,
    /// One or two letters, so the map reads without colour too.
    mark: &'static str,
    title: String,
}

/// A sortable, filterable table.
pub struct TableView {
    id: String,
    title: String,
    explanation: String,
    columns: Vec<ColumnView>,
    rows: Vec<Vec<CellText>>,
    total: u64,
}

struct ColumnView {
    label: String,
    numeric: bool,
}

struct CellText {
    text: String,
    /// Extra class (e.g. `bad` for a still exposed bucket).
    class: &'static str,
}

struct ChangesView {
    compared: bool,
    old_id: i64,
    old_started_at: String,
    summary: Vec<(String, u64)>,
    tables: Vec<TableView>,
}

struct TrendView {
    points: usize,
    resources: Vec<ChartView>,
    findings: Vec<ChartView>,
}

/// A small line chart: a polyline and one dot per snapshot.
struct ChartView {
    title: String,
    latest: u64,
    min: u64,
    max: u64,
    polyline: String,
    dots: Vec<DotView>,
}

struct DotView {
    cx: String,
    cy: String,
    title: String,
}

impl ReportPage {
    pub fn new(input: &ReportInput) -> ReportPage {
        ReportPage {
            style: STYLE,
            script: SCRIPT,
            csp: content_security_policy(),
            generator: input.generator.clone(),
            header: header_view(&input.header, &input.findings),
            coverage: coverage_view(&input.coverage),
            findings: findings_tables(&input.findings),
            changes: changes_view(&input.changes),
            trend: trend_view(&input.trend, input.header.summary.id),
        }
    }
}

/// Nothing may be fetched, and only this page's own stylesheet and script
/// (pinned by hash) may apply: an injected tag or handler would be refused
/// by the browser even if escaping had missed it.
fn content_security_policy() -> String {
    format!(
        "default-src 'none'; style-src '{}'; script-src '{}'; img-src data:; base-uri 'none'; form-action 'none'",
        sha256_source(STYLE),
        sha256_source(SCRIPT)
    )
}

fn sha256_source(text: &str) -> String {
    format!("sha256-{}", base64(&Sha256::digest(text.as_bytes())))
}

/// Standard base64 with padding (what CSP hash sources use).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (index, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if index <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn dash(value: Option<&str>) -> String {
    value.map_or_else(|| "—".to_owned(), str::to_owned)
}

fn flag(value: Option<bool>) -> String {
    match value {
        Some(true) => "yes".to_owned(),
        Some(false) => "no".to_owned(),
        None => "unknown".to_owned(),
    }
}

/// `45s`, `12m03s`, `2h05m00s`.
fn format_duration(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let (hours, minutes, seconds) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    if hours > 0 {
        format!("{hours}h{minutes:02}m{seconds:02}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds:02}s")
    } else {
        format!("{seconds}s")
    }
}

fn header_view(header: &SnapshotHeader, findings: &Findings) -> HeaderView {
    let summary = &header.summary;
    let mut resources: Vec<(String, u64)> = RESOURCE_LABELS
        .iter()
        .map(|(table, label)| {
            (
                (*label).to_owned(),
                summary.resources.get(*table).copied().unwrap_or(0),
            )
        })
        .collect();
    // Tables a newer store knows and this list does not: shown under their own name.
    resources.extend(
        summary
            .resources
            .iter()
            .filter(|(table, _)| !RESOURCE_LABELS.iter().any(|(name, _)| name == table))
            .map(|(table, count)| (table.clone(), *count)),
    );
    let counts = findings.counts;
    HeaderView {
        snapshot_id: summary.id,
        started_at: summary.started_at.clone(),
        finished_at: dash(summary.finished_at.as_deref()),
        duration: summary
            .duration_seconds()
            .map_or_else(|| "—".to_owned(), format_duration),
        status: summary.status.as_str().to_owned(),
        tool_version: header.tool_version.clone(),
        caller_arn: dash(header.caller_arn.as_deref()),
        accounts_total: summary.accounts_total,
        accounts_ok: summary.accounts_ok,
        accounts_failed: summary.accounts_failed,
        regions: header.regions.clone(),
        resources,
        findings: vec![
            (
                "Public buckets".to_owned(),
                "findings-public-buckets".to_owned(),
                counts.public_buckets,
            ),
            (
                "World-open ingress rules".to_owned(),
                "findings-open-ingress".to_owned(),
                counts.open_ingress_rules,
            ),
            (
                "IMDSv1 instances".to_owned(),
                "findings-imdsv1".to_owned(),
                counts.imdsv1_instances,
            ),
            (
                "Unencrypted volumes".to_owned(),
                "findings-unencrypted-volumes".to_owned(),
                counts.unencrypted_volumes,
            ),
        ],
    }
}

/// The CSS class and mark of a cell.
fn cell_style(status: Option<UnitStatus>) -> (&'static str, &'static str) {
    match status {
        None => ("c-none", ""),
        Some(UnitStatus::Ok) => ("c-ok", ""),
        Some(UnitStatus::RegionDisabled) => ("c-disabled", "–"),
        Some(UnitStatus::Throttled) => ("c-throttled", "T"),
        Some(UnitStatus::Denied) => ("c-denied", "D"),
        Some(UnitStatus::Error) => ("c-error", "E"),
    }
}

fn coverage_view(coverage: &Coverage) -> CoverageView {
    let mut groups: BTreeMap<String, OuGroup> = BTreeMap::new();
    let mut legend_counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut with_problems = 0;
    for account in &coverage.accounts {
        let ou_path = account
            .ou_path
            .clone()
            .unwrap_or_else(|| "(no OU: listed statically)".to_owned());
        let group = groups.entry(ou_path.clone()).or_insert_with(|| OuGroup {
            ou_path,
            accounts_total: 0,
            open: false,
            rows: Vec::new(),
            clean: Vec::new(),
        });
        group.accounts_total += 1;
        for cell in &account.cells {
            *legend_counts.entry(cell_style(cell.status).0).or_default() += 1;
        }
        let name = account.name.as_deref().unwrap_or("");
        if account.is_clean() {
            group.clean.push(if name.is_empty() {
                account.account_id.clone()
            } else {
                format!("{} ({name})", account.account_id)
            });
            continue;
        }
        with_problems += 1;
        let cells = account
            .cells
            .iter()
            .zip(&coverage.regions)
            .map(|(cell, region)| {
                let (class, mark) = cell_style(cell.status);
                let mut title = format!(
                    "{} · {region}: {}",
                    account.account_id,
                    cell.status.map_or("not scanned", UnitStatus::as_str)
                );
                for problem in &cell.problems {
                    let _ = write!(
                        title,
                        "\n{} {}: {} {}",
                        problem.collector,
                        problem.status.as_str(),
                        problem.error_code.as_deref().unwrap_or(""),
                        problem.error_message.as_deref().unwrap_or("")
                    );
                }
                CellView {
                    class,
                    mark,
                    title: title.trim_end().to_owned(),
                }
            })
            .collect();
        group.rows.push(CoverageRow {
            account_id: account.account_id.clone(),
            name: name.to_owned(),
            status: account.status.clone(),
            error: account.error.clone().unwrap_or_default(),
            cells,
        });
    }
    let open = with_problems <= OPEN_GROUPS_UP_TO;
    let mut groups: Vec<OuGroup> = groups.into_values().collect();
    for group in &mut groups {
        group.open = open && !group.rows.is_empty();
    }
    // OUs with problems first, then by path.
    groups.sort_by_key(|group| group.rows.is_empty());
    let legend = [
        ("c-ok", "ok"),
        ("c-disabled", "region disabled"),
        ("c-throttled", "throttled"),
        ("c-denied", "denied"),
        ("c-error", "error"),
        ("c-none", "not scanned"),
    ]
    .into_iter()
    .map(|(class, label)| (class, label, legend_counts.get(class).copied().unwrap_or(0)))
    .collect();
    CoverageView {
        regions: coverage.regions.clone(),
        groups,
        accounts_total: coverage.accounts.len(),
        accounts_with_problems: with_problems,
        legend,
    }
}

fn columns(labels: &[(&str, bool)]) -> Vec<ColumnView> {
    labels
        .iter()
        .map(|(label, numeric)| ColumnView {
            label: (*label).to_owned(),
            numeric: *numeric,
        })
        .collect()
}

fn text(value: impl Into<String>) -> CellText {
    CellText {
        text: value.into(),
        class: "",
    }
}

fn account_text(account_id: &str, name: Option<&str>) -> CellText {
    text(match name {
        Some(name) if !name.is_empty() => format!("{account_id} ({name})"),
        _ => account_id.to_owned(),
    })
}

fn tags_text(tags: &BTreeMap<String, String>) -> String {
    tags.iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ports(protocol: &str, from: Option<i64>, to: Option<i64>) -> String {
    if protocol == "-1" {
        return "all traffic".to_owned();
    }
    match (from, to) {
        (Some(from), Some(to)) if from == to => format!("{protocol} {from}"),
        (Some(from), Some(to)) => format!("{protocol} {from}–{to}"),
        _ => protocol.to_owned(),
    }
}

fn findings_tables(findings: &Findings) -> Vec<TableView> {
    let counts = findings.counts;
    let buckets = TableView {
        id: "findings-public-buckets".to_owned(),
        title: "Public buckets".to_owned(),
        explanation: "Buckets whose policy is public or whose ACL grants to everyone, with the effective \
            Block Public Access (bucket or account) beside them. \u{201c}Still exposed\u{201d} says whether \
            those settings fail to neutralise the exposure."
            .to_owned(),
        columns: columns(&[
            ("Account", false),
            ("Region", false),
            ("Bucket", false),
            ("Policy public", false),
            ("Public ACL grants", false),
            ("Ignore public ACLs", false),
            ("Restrict public buckets", false),
            ("Still exposed", false),
            ("Could not read", false),
        ]),
        rows: findings
            .public_buckets
            .iter()
            .map(|row| {
                vec![
                    account_text(&row.account_id, row.account_name.as_deref()),
                    text(dash(row.region.as_deref())),
                    text(&row.bucket_name),
                    text(flag(row.policy_is_public)),
                    text(row.public_acl_grants.as_ref().map_or_else(
                        || "unknown (ACL not read)".to_owned(),
                        |grants| grants.join(", "),
                    )),
                    text(flag(row.effective_ignore_public_acls)),
                    text(flag(row.effective_restrict_public_buckets)),
                    CellText {
                        text: flag(row.still_exposed),
                        class: match row.still_exposed {
                            Some(true) => "bad",
                            Some(false) => "good",
                            None => "unknown",
                        },
                    },
                    text(
                        row.fetch_errors
                            .iter()
                            .map(|(call, code)| format!("{call}: {code}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                ]
            })
            .collect(),
        total: counts.public_buckets,
    };
    let rules = TableView {
        id: "findings-open-ingress".to_owned(),
        title: "World-open ingress rules".to_owned(),
        explanation:
            "Ingress rules from 0.0.0.0/0 or ::/0, with how many instances of the snapshot carry \
            the group. Prefix lists and group references are not counted as open."
                .to_owned(),
        columns: columns(&[
            ("Account", false),
            ("Region", false),
            ("Group", false),
            ("Group name", false),
            ("VPC", false),
            ("Ports", false),
            ("Source", false),
            ("Description", false),
            ("Instances", true),
        ]),
        rows: findings
            .open_ingress_rules
            .iter()
            .map(|row| {
                vec![
                    account_text(&row.account_id, row.account_name.as_deref()),
                    text(&row.region),
                    text(&row.group_id),
                    text(dash(row.group_name.as_deref())),
                    text(dash(row.vpc_id.as_deref())),
                    text(ports(&row.protocol, row.from_port, row.to_port)),
                    text(&row.cidr),
                    text(row.description.clone().unwrap_or_default()),
                    text(row.instance_count.to_string()),
                ]
            })
            .collect(),
        total: counts.open_ingress_rules,
    };
    let instances = TableView {
        id: "findings-imdsv1".to_owned(),
        title: "IMDSv1 instances".to_owned(),
        explanation: "Running instances whose metadata service accepts tokenless (v1) requests."
            .to_owned(),
        columns: columns(&[
            ("Account", false),
            ("Region", false),
            ("Instance", false),
            ("Name", false),
            ("Type", false),
            ("Public IP", false),
            ("Tags", false),
        ]),
        rows: findings
            .imdsv1_instances
            .iter()
            .map(|row| {
                vec![
                    account_text(&row.account_id, row.account_name.as_deref()),
                    text(&row.region),
                    text(&row.instance_id),
                    text(dash(row.name.as_deref())),
                    text(dash(row.instance_type.as_deref())),
                    text(dash(row.public_ip.as_deref())),
                    text(tags_text(&row.tags)),
                ]
            })
            .collect(),
        total: counts.imdsv1_instances,
    };
    let volumes = TableView {
        id: "findings-unencrypted-volumes".to_owned(),
        title: "Unencrypted volumes".to_owned(),
        explanation:
            "EBS volumes known to be unencrypted (a volume whose encryption was not reported is \
            not listed)."
                .to_owned(),
        columns: columns(&[
            ("Account", false),
            ("Region", false),
            ("Volume", false),
            ("Size (GiB)", true),
            ("Type", false),
            ("State", false),
            ("Attached to", false),
            ("Tags", false),
        ]),
        rows: findings
            .unencrypted_volumes
            .iter()
            .map(|row| {
                vec![
                    account_text(&row.account_id, row.account_name.as_deref()),
                    text(&row.region),
                    text(&row.volume_id),
                    text(
                        row.size_gib
                            .map_or_else(String::new, |size| size.to_string()),
                    ),
                    text(dash(row.volume_type.as_deref())),
                    text(dash(row.state.as_deref())),
                    text(row.attached_instance_ids.join(", ")),
                    text(tags_text(&row.tags)),
                ]
            })
            .collect(),
        total: counts.unencrypted_volumes,
    };
    vec![buckets, rules, instances, volumes]
}

fn changes_view(changes: &Changes) -> ChangesView {
    let Changes::Compared(input) = changes else {
        return ChangesView {
            compared: false,
            old_id: 0,
            old_started_at: String::new(),
            summary: Vec::new(),
            tables: Vec::new(),
        };
    };
    let change_columns = || {
        columns(&[
            ("Type", false),
            ("Change", false),
            ("Account", false),
            ("Region", false),
            ("Resource", false),
            ("Fields", false),
            ("Reasons", false),
        ])
    };
    let change_row = |change: &ChangeInput| {
        vec![
            text(&change.resource_type),
            CellText {
                text: change.change.clone(),
                class: match change.change.as_str() {
                    "added" => "added",
                    "removed" => "removed",
                    _ => "modified",
                },
            },
            text(&change.account_id),
            text(dash(change.region.as_deref())),
            text(&change.resource_id),
            text(change.fields.join("\n")),
            CellText {
                text: change.reasons.join("; "),
                class: if change.security { "bad" } else { "" },
            },
        ]
    };
    let tables = vec![
        TableView {
            id: "changes-security".to_owned(),
            title: "Security-relevant changes".to_owned(),
            explanation: "Changes the diff classifies as mattering for a security review, with its reasons."
                .to_owned(),
            columns: change_columns(),
            rows: input.security_changes.iter().map(change_row).collect(),
            total: input.security_total,
        },
        TableView {
            id: "changes-other".to_owned(),
            title: "Other changes".to_owned(),
            explanation: "Everything else that was added, removed or modified.".to_owned(),
            columns: change_columns(),
            rows: input.other_changes.iter().map(change_row).collect(),
            total: input.other_total,
        },
        TableView {
            id: "changes-not-comparable".to_owned(),
            title: "Not comparable".to_owned(),
            explanation: "Units (account, region, collector) that were not read completely in both snapshots: \
                none of their resources is reported as added or removed."
                .to_owned(),
            columns: columns(&[
                ("Account", false),
                ("Region", false),
                ("Collector", false),
                ("Old status", false),
                ("New status", false),
            ]),
            rows: input
                .not_comparable
                .iter()
                .map(|unit| {
                    vec![
                        text(&unit.account_id),
                        text(&unit.region),
                        text(&unit.collector),
                        text(unit.old_status.as_deref().unwrap_or("not recorded")),
                        text(unit.new_status.as_deref().unwrap_or("not recorded")),
                    ]
                })
                .collect(),
            total: input.not_comparable.len() as u64,
        },
    ];
    ChangesView {
        compared: true,
        old_id: input.old_id,
        old_started_at: input.old_started_at.clone(),
        summary: vec![
            ("security-relevant".to_owned(), input.security_total),
            ("added".to_owned(), input.added),
            ("removed".to_owned(), input.removed),
            ("modified".to_owned(), input.modified),
            ("accounts entered scope".to_owned(), input.accounts_entered),
            ("accounts left scope".to_owned(), input.accounts_left),
            (
                "units not comparable".to_owned(),
                input.not_comparable.len() as u64,
            ),
        ],
        tables,
    }
}

/// Chart area in SVG user units (the viewBox; CSS scales it).
const CHART_WIDTH: f64 = 200.0;
const CHART_HEIGHT: f64 = 48.0;
const CHART_PAD: f64 = 4.0;

fn chart(
    title: &str,
    points: &[TrendPoint],
    current: i64,
    value: impl Fn(&TrendPoint) -> u64,
) -> ChartView {
    let values: Vec<u64> = points.iter().map(&value).collect();
    let min = values.iter().copied().min().unwrap_or(0);
    let max = values.iter().copied().max().unwrap_or(0);
    let span = (max - min).max(1) as f64;
    let step = if values.len() > 1 {
        (CHART_WIDTH - 2.0 * CHART_PAD) / (values.len() - 1) as f64
    } else {
        0.0
    };
    let mut polyline = String::new();
    let mut dots = Vec::new();
    for (index, (point, value)) in points.iter().zip(&values).enumerate() {
        let x = if values.len() > 1 {
            CHART_PAD + step * index as f64
        } else {
            CHART_WIDTH / 2.0
        };
        let y = CHART_HEIGHT
            - CHART_PAD
            - ((*value - min) as f64 / span) * (CHART_HEIGHT - 2.0 * CHART_PAD);
        if !polyline.is_empty() {
            polyline.push(' ');
        }
        let _ = write!(polyline, "{x:.1},{y:.1}");
        dots.push(DotView {
            cx: format!("{x:.1}"),
            cy: format!("{y:.1}"),
            title: format!(
                "snapshot {}{} · {} · {value}",
                point.snapshot_id,
                if point.snapshot_id == current {
                    " (this report)"
                } else {
                    ""
                },
                point.started_at
            ),
        });
    }
    ChartView {
        title: title.to_owned(),
        latest: values.last().copied().unwrap_or(0),
        min,
        max,
        polyline,
        dots,
    }
}

fn trend_view(points: &[TrendPoint], current: i64) -> TrendView {
    let resources = RESOURCE_LABELS
        .iter()
        .map(|(table, label)| {
            chart(label, points, current, |point| {
                point.resources.get(*table).copied().unwrap_or(0)
            })
        })
        .collect();
    let findings = vec![
        chart("Public buckets", points, current, |point| {
            point.findings.public_buckets
        }),
        chart("World-open ingress rules", points, current, |point| {
            point.findings.open_ingress_rules
        }),
        chart("IMDSv1 instances", points, current, |point| {
            point.findings.imdsv1_instances
        }),
        chart("Unencrypted volumes", points, current, |point| {
            point.findings.unencrypted_volumes
        }),
    ];
    TrendView {
        points: points.len(),
        resources,
        findings,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use fleetscan_store::report::*;
    use fleetscan_store::{ScanUnitRow, SnapshotStatus, SnapshotSummary, UnitStatus};

    use super::*;

    const PAYLOAD: &str = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";

    fn summary(id: i64) -> SnapshotSummary {
        SnapshotSummary {
            id,
            status: SnapshotStatus::Partial,
            started_at: "2025-03-01T02:00:00Z".to_owned(),
            finished_at: Some("2025-03-01T02:12:03Z".to_owned()),
            accounts_total: 2,
            accounts_ok: 1,
            accounts_failed: 1,
            resources: [
                ("ec2_instances".to_owned(), 1),
                ("s3_buckets".to_owned(), 1),
            ]
            .into(),
            failed_units: vec![ScanUnitRow {
                account_id: "222222222222".to_owned(),
                region: "eu-west-1".to_owned(),
                collector: "ec2_instances".to_owned(),
                status: UnitStatus::Denied,
                error_code: Some("UnauthorizedOperation".to_owned()),
                error_message: Some(PAYLOAD.to_owned()),
                resources: 0,
                api_calls: 1,
                duration_ms: 5,
            }],
        }
    }

    fn cell(status: Option<UnitStatus>, problem: bool) -> CoverageCell {
        CoverageCell {
            status,
            problems: if problem {
                vec![UnitProblem {
                    collector: "ec2_instances".to_owned(),
                    status: UnitStatus::Denied,
                    error_code: Some("UnauthorizedOperation".to_owned()),
                    error_message: Some(PAYLOAD.to_owned()),
                }]
            } else {
                Vec::new()
            },
        }
    }

    /// A small report with one of everything, values fixed so the output is stable.
    fn input() -> ReportInput {
        let point = |id: i64, instances: u64, open: u64| TrendPoint {
            snapshot_id: id,
            started_at: format!("2025-03-0{id}T02:00:00Z"),
            status: SnapshotStatus::Complete,
            resources: [("ec2_instances".to_owned(), instances)].into(),
            findings: FindingCounts {
                open_ingress_rules: open,
                ..FindingCounts::default()
            },
        };
        ReportInput {
            header: SnapshotHeader {
                summary: summary(2),
                tool_version: "0.1.0".to_owned(),
                caller_arn: Some("arn:aws:sts::111111111111:assumed-role/audit/cron".to_owned()),
                regions: vec!["eu-west-1".to_owned()],
            },
            coverage: Coverage {
                regions: vec!["global".to_owned(), "eu-west-1".to_owned()],
                accounts: vec![
                    CoverageAccount {
                        account_id: "111111111111".to_owned(),
                        name: Some("prod".to_owned()),
                        ou_path: Some("/Root/Prod".to_owned()),
                        status: "ok".to_owned(),
                        error: None,
                        cells: vec![
                            cell(Some(UnitStatus::Ok), false),
                            cell(Some(UnitStatus::Ok), false),
                        ],
                    },
                    CoverageAccount {
                        account_id: "222222222222".to_owned(),
                        name: Some(PAYLOAD.to_owned()),
                        ou_path: Some("/Root/Dev".to_owned()),
                        status: "partial".to_owned(),
                        error: Some(PAYLOAD.to_owned()),
                        cells: vec![cell(None, false), cell(Some(UnitStatus::Denied), true)],
                    },
                ],
            },
            findings: Findings {
                counts: FindingCounts {
                    public_buckets: 1,
                    open_ingress_rules: 2,
                    imdsv1_instances: 0,
                    unencrypted_volumes: 1,
                },
                public_buckets: vec![PublicBucket {
                    account_id: "111111111111".to_owned(),
                    account_name: Some("prod".to_owned()),
                    bucket_name: "assets".to_owned(),
                    region: Some("eu-west-1".to_owned()),
                    policy_is_public: Some(true),
                    public_acl_grants: Some(Vec::new()),
                    effective_block_public_acls: Some(false),
                    effective_ignore_public_acls: Some(false),
                    effective_block_public_policy: Some(false),
                    effective_restrict_public_buckets: None,
                    still_exposed: None,
                    fetch_errors: [("GetPublicAccessBlock".to_owned(), "AccessDenied".to_owned())]
                        .into(),
                }],
                // One of two: the page says the list was cut.
                open_ingress_rules: vec![OpenIngressRule {
                    account_id: "111111111111".to_owned(),
                    account_name: Some("prod".to_owned()),
                    region: "eu-west-1".to_owned(),
                    group_id: "sg-1".to_owned(),
                    group_name: Some("web".to_owned()),
                    vpc_id: Some("vpc-1".to_owned()),
                    protocol: "tcp".to_owned(),
                    from_port: Some(22),
                    to_port: Some(22),
                    cidr: "0.0.0.0/0".to_owned(),
                    description: Some(PAYLOAD.to_owned()),
                    instance_count: 3,
                }],
                imdsv1_instances: Vec::new(),
                unencrypted_volumes: vec![UnencryptedVolume {
                    account_id: "111111111111".to_owned(),
                    account_name: None,
                    region: "eu-west-1".to_owned(),
                    volume_id: "vol-1".to_owned(),
                    size_gib: Some(100),
                    volume_type: Some("gp3".to_owned()),
                    state: Some("available".to_owned()),
                    attached_instance_ids: Vec::new(),
                    tags: BTreeMap::from([("owner".to_owned(), PAYLOAD.to_owned())]),
                }],
            },
            changes: Changes::Compared(ChangesInput {
                old_id: 1,
                old_started_at: "2025-03-01T02:00:00Z".to_owned(),
                security_changes: vec![ChangeInput {
                    resource_type: "ec2_security_group_rule".to_owned(),
                    change: "added".to_owned(),
                    account_id: "111111111111".to_owned(),
                    region: Some("eu-west-1".to_owned()),
                    resource_id: "sg-1 ingress tcp 22 from 0.0.0.0/0".to_owned(),
                    fields: vec![format!("description: {PAYLOAD}")],
                    security: true,
                    reasons: vec!["ingress rule from 0.0.0.0/0 or ::/0 added".to_owned()],
                }],
                security_total: 1,
                other_changes: Vec::new(),
                other_total: 0,
                not_comparable: vec![NotComparableInput {
                    account_id: "222222222222".to_owned(),
                    region: "eu-west-1".to_owned(),
                    collector: "ec2_instances".to_owned(),
                    old_status: Some("ok".to_owned()),
                    new_status: Some("denied".to_owned()),
                }],
                added: 1,
                removed: 0,
                modified: 0,
                accounts_entered: 0,
                accounts_left: 0,
            }),
            trend: vec![point(1, 3, 1), point(2, 1, 2)],
            generator: "fleetscan 0.0.0-test".to_owned(),
        }
    }

    /// The page without what is styling rather than structure: the stylesheet,
    /// the script and the policy pinning their hashes.
    fn structure(html: &str) -> String {
        let mut out = html.to_owned();
        for (open, close) in [("<style>", "</style>"), ("<script>", "</script>")] {
            let start = out.find(open).unwrap() + open.len();
            let end = start + out[start..].find(close).unwrap();
            out.replace_range(start..end, "…");
        }
        let start = out.find("content=\"default-src").unwrap() + "content=\"".len();
        let end = start + out[start..].find('"').unwrap();
        out.replace_range(start..end, "…");
        out.lines()
            .map(str::trim_end)
            .filter(|line| !line.trim().is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn page_structure() {
        let html = ReportPage::new(&input()).render().unwrap();
        insta::assert_snapshot!(structure(&html));
    }

    #[test]
    fn values_from_aws_are_escaped_in_text_and_attributes() {
        let html = ReportPage::new(&input()).render().unwrap();
        assert!(!html.contains("<script>alert"), "a script tag from data");
        assert!(!html.contains("<img"), "an img tag from data");
        assert!(!html.contains("\"><img"), "an attribute broken out of");
        assert!(
            html.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
                || html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "the payload is kept, as text"
        );
        // The page's own script is the only one.
        assert_eq!(html.matches("<script").count(), 1);
    }

    #[test]
    fn the_policy_pins_the_page_s_own_style_and_script_and_fetches_nothing() {
        let csp = content_security_policy();
        assert!(csp.starts_with("default-src 'none';"), "{csp}");
        assert!(csp.contains(&format!("script-src '{}'", sha256_source(SCRIPT))));
        assert!(csp.contains(&format!("style-src '{}'", sha256_source(STYLE))));
        assert!(!csp.contains("unsafe"), "{csp}");
    }

    #[test]
    fn base64_matches_the_standard_alphabet_and_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(&[0xfb, 0xff, 0xbf]), "+/+/");
    }

    #[test]
    fn charts_scale_between_min_and_max() {
        let view = trend_view(&input().trend, 2);
        let instances = &view.resources[0];
        assert_eq!((instances.min, instances.max, instances.latest), (1, 3, 1));
        assert_eq!(instances.polyline, "4.0,4.0 196.0,44.0");
        assert!(instances.dots[1].title.contains("(this report)"));
        let single = trend_view(&input().trend[..1], 1);
        assert_eq!(single.resources[0].polyline, "100.0,44.0");
    }

    #[test]
    fn ports_read_naturally() {
        assert_eq!(ports("-1", None, None), "all traffic");
        assert_eq!(ports("tcp", Some(22), Some(22)), "tcp 22");
        assert_eq!(ports("udp", Some(1000), Some(2000)), "udp 1000–2000");
        assert_eq!(ports("icmp", None, None), "icmp");
    }
}
