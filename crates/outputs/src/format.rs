//! The two encodings of an alert, byte for byte as Falco writes them.
//!
//! Text: `PREFIX: Priority output`, where PREFIX is the event time as
//! `%evt.time` (`HH:MM:SS.nnnnnnnnn`, local time) or, with
//! `time_format_iso_8601`, as `%evt.time.iso8601`
//! (`YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+0000`, UTC).
//!
//! JSON: one compact object with its keys sorted (Falco builds it with
//! nlohmann::json, whose objects are sorted maps): `hostname`, `message`
//! (if `json_include_message_property`), `output` (the text line, if
//! `json_include_output_property`), `output_fields` (if
//! `json_include_output_fields_property`: the alert's fields plus the
//! prefix's time field, `evt.time` or `evt.time.iso8601`, as nanoseconds,
//! sorted by name), `priority`, `rule`, `source`, `tags` (if
//! `json_include_tags_property`: sorted, unique) and `time`
//! (`YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`, UTC).

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::alert::{Alert, FieldValue};
use crate::config::OutputsConfig;

/// Encodes alerts as text or JSON according to the `json_*` and
/// `time_format_iso_8601` keys.
#[derive(Clone, Debug)]
pub struct Encoder {
    json_output: bool,
    include_output: bool,
    include_tags: bool,
    include_message: bool,
    include_output_fields: bool,
    iso_8601: bool,
    tz: TimeZone,
}

impl Encoder {
    /// An encoder for `config`, printing text times in the system's time zone.
    pub fn new(config: &OutputsConfig) -> Self {
        Self::with_time_zone(config, TimeZone::system())
    }

    /// An encoder printing text times in `tz`.
    pub fn with_time_zone(config: &OutputsConfig, tz: TimeZone) -> Self {
        Encoder {
            json_output: config.json_output,
            include_output: config.json_include_output_property,
            include_tags: config.json_include_tags_property,
            include_message: config.json_include_message_property,
            include_output_fields: config.json_include_output_fields_property,
            iso_8601: config.time_format_iso_8601,
            tz,
        }
    }

    /// Whether [`Encoder::line`] is JSON.
    pub fn json_output(&self) -> bool {
        self.json_output
    }

    /// The line outputs write: JSON if `json_output`, else text.
    pub fn line(&self, alert: &Alert) -> String {
        if self.json_output { self.json(alert) } else { self.text(alert) }
    }

    /// `PREFIX: Priority output`.
    pub fn text(&self, alert: &Alert) -> String {
        let mut s = String::with_capacity(48 + alert.output.len());
        if self.iso_8601 {
            push_iso_8601_offset(alert.time_ns, &mut s);
        } else {
            self.push_local_time(alert.time_ns, &mut s);
        }
        s.push_str(": ");
        s.push_str(alert.priority.as_str());
        s.push(' ');
        s.push_str(&alert.output);
        s
    }

    /// The JSON object (see the module's documentation).
    pub fn json(&self, alert: &Alert) -> String {
        let mut out: Vec<u8> = Vec::with_capacity(256 + 2 * alert.output.len());
        out.extend_from_slice(b"{\"hostname\":");
        push_json_str(&alert.hostname, &mut out);
        if self.include_message {
            out.extend_from_slice(b",\"message\":");
            push_json_str(&alert.output, &mut out);
        }
        if self.include_output {
            out.extend_from_slice(b",\"output\":");
            push_json_str(&self.text(alert), &mut out);
        }
        if self.include_output_fields {
            out.extend_from_slice(b",\"output_fields\":{");
            let time_key = if self.iso_8601 { "evt.time.iso8601" } else { "evt.time" };
            let time_value = FieldValue::U64(alert.time_ns);
            let mut fields: Vec<(&str, &FieldValue)> =
                alert.output_fields.iter().map(|(k, v)| (k.as_str(), v)).collect();
            fields.push((time_key, &time_value));
            // A stable sort keeps equal names in order; the last one wins, as
            // when Falco assigns the prefix's fields over the message's.
            fields.sort_by(|a, b| a.0.cmp(b.0));
            let mut first = true;
            for (i, (name, value)) in fields.iter().enumerate() {
                if fields.get(i + 1).is_some_and(|next| next.0 == *name) {
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                push_json_str(name, &mut out);
                out.push(b':');
                push_json_value(value, &mut out);
            }
            out.push(b'}');
        }
        out.extend_from_slice(b",\"priority\":");
        push_json_str(alert.priority.as_str(), &mut out);
        out.extend_from_slice(b",\"rule\":");
        push_json_str(&alert.rule, &mut out);
        out.extend_from_slice(b",\"source\":");
        push_json_str(&alert.source, &mut out);
        if self.include_tags {
            out.extend_from_slice(b",\"tags\":[");
            let mut tags: Vec<&str> = alert.tags.iter().map(String::as_str).collect();
            tags.sort_unstable();
            tags.dedup();
            for (i, t) in tags.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_json_str(t, &mut out);
            }
            out.push(b']');
        }
        out.extend_from_slice(b",\"time\":\"");
        let mut t = String::with_capacity(30);
        push_utc_seconds(alert.time_ns, &mut t);
        push_nanos(alert.time_ns, &mut t);
        t.push('Z');
        out.extend_from_slice(t.as_bytes());
        out.extend_from_slice(b"\"}");
        // Only valid UTF-8 went in: `str`s and serde_json's output.
        String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    fn push_local_time(&self, ns: u64, s: &mut String) {
        match Timestamp::from_second((ns / 1_000_000_000) as i64) {
            Ok(ts) => {
                let dt = self.tz.to_datetime(ts);
                s.push_str(&format!("{:02}:{:02}:{:02}", dt.hour(), dt.minute(), dt.second()));
            }
            Err(_) => s.push_str("00:00:00"),
        }
        push_nanos(ns, s);
    }
}

/// `YYYY-MM-DDTHH:MM:SS` in UTC.
fn push_utc_seconds(ns: u64, s: &mut String) {
    match Timestamp::from_second((ns / 1_000_000_000) as i64) {
        Ok(ts) => {
            let dt = TimeZone::UTC.to_datetime(ts);
            s.push_str(&format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                dt.year(),
                dt.month(),
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second()
            ));
        }
        Err(_) => s.push_str("1970-01-01T00:00:00"),
    }
}

/// libs' `ts_to_iso_8601`: UTC with a `+0000` offset.
fn push_iso_8601_offset(ns: u64, s: &mut String) {
    push_utc_seconds(ns, s);
    push_nanos(ns, s);
    s.push_str("+0000");
}

/// `.nnnnnnnnn`.
fn push_nanos(ns: u64, s: &mut String) {
    s.push_str(&format!(".{:09}", ns % 1_000_000_000));
}

/// Escapes as nlohmann::json does by default: `"`, `\\`, the short escapes
/// \b \f \n \r \t, other control characters as \u00xx, everything else
/// (non-ASCII included) as it is.
fn push_json_str(v: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = v.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0c => b'f',
            0..=0x1f => 0,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        if short != 0 {
            out.extend_from_slice(&[b'\\', short]);
        } else {
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 0xf) as usize]]);
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn push_json_value(v: &FieldValue, out: &mut Vec<u8>) {
    match v {
        FieldValue::Null => out.extend_from_slice(b"null"),
        FieldValue::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        FieldValue::U64(n) => out.extend_from_slice(n.to_string().as_bytes()),
        FieldValue::I64(n) => out.extend_from_slice(n.to_string().as_bytes()),
        FieldValue::F64(f) => {
            let _ = serde_json::to_writer(&mut *out, f);
        }
        FieldValue::Str(s) => push_json_str(s, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Priority;

    fn alert() -> Alert {
        Alert {
            time_ns: 1_700_000_000_123_456_789,
            rule: "Read sensitive file untrusted".into(),
            priority: Priority::Warning,
            source: "syscall".into(),
            tags: vec!["filesystem".into(), "T1555".into(), "filesystem".into()],
            hostname: "node-1".into(),
            output: "Sensitive file opened (file=/etc/shadow proc=cat \"q\")".into(),
            output_fields: vec![
                ("proc.name".into(), "cat".into()),
                ("fd.name".into(), "/etc/shadow".into()),
                ("fd.num".into(), FieldValue::I64(3)),
                ("container.id".into(), FieldValue::Null),
            ],
        }
    }

    fn utc(cfg: &OutputsConfig) -> Encoder {
        Encoder::with_time_zone(cfg, TimeZone::UTC)
    }

    #[test]
    fn text_default_and_iso() {
        let mut cfg = OutputsConfig::default();
        assert_eq!(
            utc(&cfg).text(&alert()),
            "22:13:20.123456789: Warning Sensitive file opened (file=/etc/shadow proc=cat \"q\")"
        );
        cfg.time_format_iso_8601 = true;
        assert_eq!(
            utc(&cfg).text(&alert()),
            "2023-11-14T22:13:20.123456789+0000: Warning Sensitive file opened (file=/etc/shadow proc=cat \"q\")"
        );
    }

    #[test]
    fn local_time_follows_the_zone() {
        let cfg = OutputsConfig::default();
        let e = Encoder::with_time_zone(&cfg, TimeZone::fixed(jiff::tz::offset(2)));
        assert!(e.text(&alert()).starts_with("00:13:20.123456789: Warning "));
    }

    #[test]
    fn json_is_falcos_sorted_compact_object() {
        let cfg = OutputsConfig { json_output: true, ..OutputsConfig::default() };
        let e = utc(&cfg);
        assert_eq!(
            e.line(&alert()),
            concat!(
                r#"{"hostname":"node-1","output":"22:13:20.123456789: Warning Sensitive file opened (file=/etc/shadow proc=cat \"q\")","#,
                r#""output_fields":{"container.id":null,"evt.time":1700000000123456789,"fd.name":"/etc/shadow","fd.num":3,"proc.name":"cat"},"#,
                r#""priority":"Warning","rule":"Read sensitive file untrusted","source":"syscall","tags":["T1555","filesystem"],"#,
                r#""time":"2023-11-14T22:13:20.123456789Z"}"#
            )
        );
    }

    #[test]
    fn json_properties_follow_the_switches() {
        let cfg = OutputsConfig {
            json_output: true,
            json_include_output_property: false,
            json_include_tags_property: false,
            json_include_message_property: true,
            json_include_output_fields_property: false,
            time_format_iso_8601: true,
            ..OutputsConfig::default()
        };
        assert_eq!(
            utc(&cfg).json(&alert()),
            concat!(
                r#"{"hostname":"node-1","message":"Sensitive file opened (file=/etc/shadow proc=cat \"q\")","#,
                r#""priority":"Warning","rule":"Read sensitive file untrusted","source":"syscall","#,
                r#""time":"2023-11-14T22:13:20.123456789Z"}"#
            )
        );
        let cfg = OutputsConfig { json_output: true, time_format_iso_8601: true, ..OutputsConfig::default() };
        let j: serde_json::Value = serde_json::from_str(&utc(&cfg).json(&alert())).unwrap();
        assert_eq!(j["output_fields"]["evt.time.iso8601"], 1_700_000_000_123_456_789u64);
        assert!(j["output"].as_str().unwrap().starts_with("2023-11-14T22:13:20.123456789+0000: Warning "));
    }

    #[test]
    fn json_escapes_and_values() {
        let mut a = alert();
        a.output = "tab\there \u{1}ctl é/ok".into();
        a.output_fields = vec![
            ("b".into(), true.into()),
            ("f".into(), 1.5f64.into()),
            ("u".into(), u64::MAX.into()),
            ("i".into(), (-1i64).into()),
            ("dup".into(), "first".into()),
            ("dup".into(), "second".into()),
        ];
        let cfg = OutputsConfig {
            json_output: true,
            json_include_output_property: false,
            json_include_message_property: true,
            ..OutputsConfig::default()
        };
        let j = utc(&cfg).json(&a);
        assert!(j.contains(r#""message":"tab\there \u0001ctl é/ok""#), "{j}");
        assert!(
            j.contains(r#""output_fields":{"b":true,"dup":"second","evt.time":1700000000123456789,"f":1.5,"i":-1,"u":18446744073709551615}"#),
            "{j}"
        );
        let _: serde_json::Value = serde_json::from_str(&j).unwrap();
    }
}
