//! The three diff formats: `text` (grouped by account, colour only when asked
//! for), `json` (streamed, for scripts) and `markdown` (for a review ticket).
//! Every string that came from AWS is printed safely: control characters and
//! bidirectional overrides are escaped, never sent to the terminal.

use std::io::{self, Write};

use serde_json::Value;

use super::{Change, ChangeKind, DiffOutcome, DiffSummary};

/// What the header says about the two snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffHeader {
    pub old_id: i64,
    pub new_id: i64,
    /// e.g. `snapshot 3 (2025-01-31T02:00:00Z)`, with the file when it is another one.
    pub old_label: String,
    pub new_label: String,
}

/// A diff output format, fed change by change.
pub trait Render {
    fn begin(&mut self, header: &DiffHeader) -> io::Result<()>;
    fn change(&mut self, change: &Change) -> io::Result<()>;
    fn finish(&mut self, outcome: &DiffOutcome) -> io::Result<()>;
}

/// Escapes what must never reach a terminal or a document raw: control
/// characters (newline, escape, bell, DEL, C1) and bidi overrides.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            c if c.is_control()
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                escaped.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => escaped.push(c),
        }
    }
    escaped
}

/// A field value as people read it: strings quoted, JSON compact, escaped.
fn show(value: &Value) -> String {
    match value {
        Value::String(text) => format!("\"{}\"", escape(text).replace('"', "\\\"")),
        other => escape(&other.to_string()),
    }
}

fn summary_line(summary: &DiffSummary) -> String {
    format!(
        "{} added, {} removed, {} modified ({} with security impact); accounts: {} entered, {} left scope, \
         {} changed; {} units not comparable",
        summary.added,
        summary.removed,
        summary.modified,
        summary.security,
        summary.accounts_entered,
        summary.accounts_left,
        summary.accounts_changed,
        summary.not_comparable
    )
}

fn scope_note(change: &Change) -> &'static str {
    match change.change {
        ChangeKind::Added => "entered the scanned scope",
        ChangeKind::Removed => "left the scanned scope",
        ChangeKind::Modified => "details changed",
    }
}

/// Streams `{"old", "new", "changes": [...], "not_comparable": [...], "summary": {...}}`.
pub struct JsonRender<W: Write> {
    out: W,
    security_only: bool,
    first: bool,
}

impl<W: Write> JsonRender<W> {
    pub fn new(out: W, security_only: bool) -> Self {
        JsonRender {
            out,
            security_only,
            first: true,
        }
    }
}

impl<W: Write> Render for JsonRender<W> {
    fn begin(&mut self, header: &DiffHeader) -> io::Result<()> {
        write!(
            self.out,
            "{{\"old\":{},\"new\":{},\"changes\":[",
            header.old_id, header.new_id
        )
    }

    fn change(&mut self, change: &Change) -> io::Result<()> {
        if self.security_only && !change.security {
            return Ok(());
        }
        self.out
            .write_all(if self.first { b"\n" } else { b",\n" })?;
        self.first = false;
        serde_json::to_writer(&mut self.out, change).map_err(io::Error::other)
    }

    fn finish(&mut self, outcome: &DiffOutcome) -> io::Result<()> {
        self.out.write_all(b"\n],\"not_comparable\":")?;
        serde_json::to_writer(&mut self.out, &outcome.not_comparable).map_err(io::Error::other)?;
        self.out.write_all(b",\"summary\":")?;
        serde_json::to_writer(&mut self.out, &outcome.summary).map_err(io::Error::other)?;
        self.out.write_all(b"}\n")?;
        self.out.flush()
    }
}

/// Text for a terminal, grouped by account.
pub struct TextRender<W: Write> {
    out: W,
    security_only: bool,
    color: bool,
    account: Option<String>,
}

impl<W: Write> TextRender<W> {
    pub fn new(out: W, security_only: bool, color: bool) -> Self {
        TextRender {
            out,
            security_only,
            color,
            account: None,
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

impl<W: Write> Render for TextRender<W> {
    fn begin(&mut self, header: &DiffHeader) -> io::Result<()> {
        let title = format!(
            "diff {} -> {}",
            escape(&header.old_label),
            escape(&header.new_label)
        );
        writeln!(self.out, "{}", self.paint("1", &title))
    }

    fn change(&mut self, change: &Change) -> io::Result<()> {
        if self.security_only && !change.security {
            return Ok(());
        }
        if self.account.as_deref() != Some(change.account_id.as_str()) {
            self.account = Some(change.account_id.clone());
            let heading = format!("account {}", escape(&change.account_id));
            writeln!(self.out, "\n{}", self.paint("1", &heading))?;
        }
        let (sign, code) = match change.change {
            ChangeKind::Added => ("+", "32"),
            ChangeKind::Removed => ("-", "31"),
            ChangeKind::Modified => ("~", "33"),
        };
        let line = if change.resource_type == "account" {
            format!("{sign} account {}", scope_note(change))
        } else {
            let region = change
                .region
                .as_deref()
                .map(|region| format!(" {}", escape(region)))
                .unwrap_or_default();
            format!(
                "{sign} {}{region} {}",
                change.resource_type,
                escape(&change.resource_id)
            )
        };
        writeln!(self.out, "  {}", self.paint(code, &line))?;
        if change.change == ChangeKind::Modified {
            for field in &change.fields {
                writeln!(
                    self.out,
                    "      {}: {} -> {}",
                    escape(&field.field),
                    show(&field.old),
                    show(&field.new)
                )?;
            }
        }
        for reason in &change.reasons {
            let flagged = format!("! security: {}", escape(reason));
            writeln!(self.out, "      {}", self.paint("1;31", &flagged))?;
        }
        Ok(())
    }

    fn finish(&mut self, outcome: &DiffOutcome) -> io::Result<()> {
        if !outcome.not_comparable.is_empty() {
            writeln!(
                self.out,
                "\nnot comparable (not ok in both snapshots; none of their resources is compared):"
            )?;
            for unit in &outcome.not_comparable {
                writeln!(
                    self.out,
                    "  {} {} {}: old {}, new {}",
                    escape(&unit.account_id),
                    escape(&unit.region),
                    escape(&unit.collector),
                    escape(unit.old_status.as_deref().unwrap_or("not scanned")),
                    escape(unit.new_status.as_deref().unwrap_or("not scanned")),
                )?;
            }
        }
        if self.account.is_none() {
            writeln!(
                self.out,
                "\nno {}differences",
                if self.security_only { "security " } else { "" }
            )?;
        }
        writeln!(self.out, "\nsummary: {}", summary_line(&outcome.summary))?;
        self.out.flush()
    }
}

/// Markdown for a review ticket.
pub struct MarkdownRender<W: Write> {
    out: W,
    security_only: bool,
    account: Option<String>,
}

impl<W: Write> MarkdownRender<W> {
    pub fn new(out: W, security_only: bool) -> Self {
        MarkdownRender {
            out,
            security_only,
            account: None,
        }
    }
}

/// An inline code span that survives any content: control characters
/// escaped, and a fence longer than any run of backticks inside.
pub fn code_span(text: &str) -> String {
    let text = escape(text);
    let longest_run = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest_run + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') || text.is_empty() {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

impl<W: Write> Render for MarkdownRender<W> {
    fn begin(&mut self, header: &DiffHeader) -> io::Result<()> {
        writeln!(
            self.out,
            "## fleetscan diff: {} → {}",
            code_span(&header.old_label),
            code_span(&header.new_label)
        )
    }

    fn change(&mut self, change: &Change) -> io::Result<()> {
        if self.security_only && !change.security {
            return Ok(());
        }
        if self.account.as_deref() != Some(change.account_id.as_str()) {
            self.account = Some(change.account_id.clone());
            writeln!(
                self.out,
                "\n### Account {}\n",
                code_span(&change.account_id)
            )?;
        }
        let what = if change.resource_type == "account" {
            format!("account {}", scope_note(change))
        } else {
            let region = change
                .region
                .as_deref()
                .map(|region| format!(" in {}", code_span(region)))
                .unwrap_or_default();
            format!(
                "{} {}{region}",
                code_span(change.resource_type),
                code_span(&change.resource_id)
            )
        };
        let security = if change.reasons.is_empty() {
            String::new()
        } else {
            format!(
                " — **security:** {}",
                change
                    .reasons
                    .iter()
                    .map(|reason| escape(reason))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        };
        writeln!(
            self.out,
            "- **{}** {what}{security}",
            change.change.as_str()
        )?;
        if change.change == ChangeKind::Modified {
            for field in &change.fields {
                writeln!(
                    self.out,
                    "  - {}: {} → {}",
                    code_span(&field.field),
                    code_span(&show(&field.old)),
                    code_span(&show(&field.new))
                )?;
            }
        }
        Ok(())
    }

    fn finish(&mut self, outcome: &DiffOutcome) -> io::Result<()> {
        if self.account.is_none() {
            writeln!(
                self.out,
                "\nNo {}differences.",
                if self.security_only { "security " } else { "" }
            )?;
        }
        if !outcome.not_comparable.is_empty() {
            writeln!(self.out, "\n### Not comparable\n")?;
            writeln!(
                self.out,
                "Not `ok` in both snapshots: none of their resources is compared.\n"
            )?;
            for unit in &outcome.not_comparable {
                writeln!(
                    self.out,
                    "- {} {} {}: old {}, new {}",
                    code_span(&unit.account_id),
                    code_span(&unit.region),
                    code_span(&unit.collector),
                    code_span(unit.old_status.as_deref().unwrap_or("not scanned")),
                    code_span(unit.new_status.as_deref().unwrap_or("not scanned")),
                )?;
            }
        }
        writeln!(
            self.out,
            "\n**Summary:** {}",
            summary_line(&outcome.summary)
        )?;
        self.out.flush()
    }
}
