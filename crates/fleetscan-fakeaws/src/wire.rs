//! Wire-level helpers: SigV4 scope parsing, form/query decoding, and XML/JSON
//! writers that append straight into one response buffer.

use std::borrow::Cow;
use std::fmt::Write as _;

/// What the SigV4 credential scope says about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scope<'a> {
    pub(crate) access_key_id: &'a str,
    pub(crate) region: &'a str,
    pub(crate) service: &'a str,
}

/// Parses `AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...`.
/// The signature itself is never checked.
pub(crate) fn parse_authorization(header: &str) -> Option<Scope<'_>> {
    let start = header.find("Credential=")? + "Credential=".len();
    let rest = &header[start..];
    let credential = rest.split([',', ' ']).next()?;
    parse_credential(credential)
}

/// Parses the `AKID/DATE/REGION/SERVICE/aws4_request` credential string (also
/// used by presigned URLs through `X-Amz-Credential`).
pub(crate) fn parse_credential(credential: &str) -> Option<Scope<'_>> {
    let mut parts = credential.split('/');
    let access_key_id = parts.next().filter(|s| !s.is_empty())?;
    let _date = parts.next()?;
    let region = parts.next().filter(|s| !s.is_empty())?;
    let service = parts.next().filter(|s| !s.is_empty())?;
    Some(Scope {
        access_key_id,
        region,
        service,
    })
}

/// Decoded `key=value` pairs of a form body or query string, in order.
#[derive(Debug, Default)]
pub(crate) struct Params<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Params<'a> {
    /// Parses `application/x-www-form-urlencoded` text (a query string uses the
    /// same syntax; `+` is a space in both as the SDKs encode spaces as `%20`).
    /// Keys without `=` get an empty value (`?location`).
    pub(crate) fn parse(text: &'a str) -> Self {
        let pairs = text
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((key, value)) => (percent_decode(key), percent_decode(value)),
                None => (percent_decode(pair), Cow::Borrowed("")),
            })
            .collect();
        Params { pairs }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, value)| value.as_ref())
    }

    #[cfg(test)]
    pub(crate) fn has(&self, key: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == key)
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(k, _)| k.as_ref())
    }

    /// Values of an EC2 query list such as `RegionName.1`, `RegionName.2`, in
    /// index order.
    pub(crate) fn list(&self, prefix: &str) -> Vec<&str> {
        let mut items: Vec<(u32, &str)> = self
            .pairs
            .iter()
            .filter_map(|(key, value)| {
                let index = key.strip_prefix(prefix)?.strip_prefix('.')?;
                Some((index.parse().ok()?, value.as_ref()))
            })
            .collect();
        items.sort_by_key(|(index, _)| *index);
        items.into_iter().map(|(_, value)| value).collect()
    }

    /// EC2 filters: `Filter.N.Name` with `Filter.N.Value.M`.
    pub(crate) fn filters(&self) -> Vec<(&str, Vec<&str>)> {
        let mut indexes: Vec<u32> = self
            .pairs
            .iter()
            .filter_map(|(key, _)| {
                let rest = key.strip_prefix("Filter.")?;
                let (index, field) = rest.split_once('.')?;
                (field == "Name").then(|| index.parse().ok())?
            })
            .collect();
        indexes.sort_unstable();
        indexes
            .into_iter()
            .filter_map(|index| {
                let name = self.get(&format!("Filter.{index}.Name"))?;
                Some((name, self.list(&format!("Filter.{index}.Value"))))
            })
            .collect()
    }
}

/// Decodes `%XX` escapes and `+`; malformed escapes are kept literally and
/// invalid UTF-8 is replaced, never a panic.
pub(crate) fn percent_decode(text: &str) -> Cow<'_, str> {
    if !text.contains(['%', '+']) {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => {
                out.push(b' ');
                index += 1;
            }
            b'%' if index + 2 < bytes.len() => {
                match (hex_value(bytes[index + 1]), hex_value(bytes[index + 2])) {
                    (Some(high), Some(low)) => {
                        out.push(high << 4 | low);
                        index += 3;
                    }
                    _ => {
                        out.push(b'%');
                        index += 1;
                    }
                }
            }
            byte => {
                out.push(byte);
                index += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Appends `text` escaped for XML element content. Carriage returns are
/// written as character references so parsers keep them; other C0 controls
/// cannot appear in XML 1.0 at all and are replaced by U+FFFD.
pub(crate) fn push_xml_escaped(out: &mut String, text: &str) {
    // Most values need no escaping: copy them whole.
    if !text
        .bytes()
        .any(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'') || b < 0x20)
    {
        out.push_str(text);
        return;
    }
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            '\t' | '\n' => out.push(ch),
            c if (c as u32) < 0x20 => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// Appends `text` as a JSON string literal, quotes included.
pub(crate) fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Element writers for the XML protocols; every value is escaped.
pub(crate) trait XmlWriter {
    fn open(&mut self, name: &str);
    fn close(&mut self, name: &str);
    fn leaf(&mut self, name: &str, value: &str);
    fn leaf_opt(&mut self, name: &str, value: Option<&str>);
    fn leaf_num(&mut self, name: &str, value: i64);
    fn leaf_bool(&mut self, name: &str, value: bool);
    fn leaf_time(&mut self, name: &str, epoch_seconds: i64);
}

impl XmlWriter for String {
    fn open(&mut self, name: &str) {
        self.push('<');
        self.push_str(name);
        self.push('>');
    }

    fn close(&mut self, name: &str) {
        self.push_str("</");
        self.push_str(name);
        self.push('>');
    }

    fn leaf(&mut self, name: &str, value: &str) {
        self.open(name);
        push_xml_escaped(self, value);
        self.close(name);
    }

    fn leaf_opt(&mut self, name: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.leaf(name, value);
        }
    }

    fn leaf_num(&mut self, name: &str, value: i64) {
        self.open(name);
        let _ = write!(self, "{value}");
        self.close(name);
    }

    fn leaf_bool(&mut self, name: &str, value: bool) {
        self.open(name);
        self.push_str(if value { "true" } else { "false" });
        self.close(name);
    }

    fn leaf_time(&mut self, name: &str, epoch_seconds: i64) {
        self.open(name);
        crate::time::write_iso8601(self, epoch_seconds, true);
        self.close(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_credential_scope_of_a_sigv4_header() {
        let header = "AWS4-HMAC-SHA256 Credential=ASIAFAKE000000000001/20240101/eu-west-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        let scope = parse_authorization(header);
        assert_eq!(
            scope,
            Some(Scope {
                access_key_id: "ASIAFAKE000000000001",
                region: "eu-west-1",
                service: "ec2"
            })
        );
        assert_eq!(parse_authorization("Bearer xyz"), None);
        assert_eq!(
            parse_authorization("AWS4-HMAC-SHA256 Credential=AKID/2024"),
            None
        );
    }

    #[test]
    fn decodes_forms_lists_and_filters() {
        let params = Params::parse(
            "Action=DescribeRegions&RegionName.2=b&RegionName.1=a%2Db&Filter.1.Name=opt-in-status&Filter.1.Value.1=opted-in&Filter.1.Value.2=not+opted&location",
        );
        assert_eq!(params.get("Action"), Some("DescribeRegions"));
        assert_eq!(params.list("RegionName"), vec!["a-b", "b"]);
        assert_eq!(
            params.filters(),
            vec![("opt-in-status", vec!["opted-in", "not opted"])]
        );
        assert!(params.has("location"));
        assert_eq!(params.get("location"), Some(""));
        assert_eq!(params.get("missing"), None);
    }

    #[test]
    fn percent_decoding_never_panics_on_malformed_input() {
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%E2%9C%93"), "✓");
        assert_eq!(percent_decode("%FF"), "\u{FFFD}");
    }

    #[test]
    fn escapes_xml_and_json() {
        let mut xml = String::new();
        push_xml_escaped(&mut xml, "<script>\"a\" & 'b'\r\u{7}</script>");
        assert_eq!(
            xml,
            "&lt;script&gt;&quot;a&quot; &amp; &apos;b&apos;&#xD;\u{FFFD}&lt;/script&gt;"
        );
        let mut json = String::new();
        push_json_string(&mut json, "a\"b\\c\n\u{7}é");
        assert_eq!(json, "\"a\\\"b\\\\c\\n\\u0007é\"");
    }
}
