//! What the rules engine hands over: one [`Alert`] per matched rule.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

/// A rule's priority: Falco's eight levels, most severe first. The numbers
/// are syslog's severities (`LOG_EMERG` = 0 ... `LOG_DEBUG` = 7), as in Falco.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Priority {
    /// 0, `LOG_EMERG`.
    Emergency = 0,
    /// 1, `LOG_ALERT`.
    Alert = 1,
    /// 2, `LOG_CRIT`.
    Critical = 2,
    /// 3, `LOG_ERR`.
    Error = 3,
    /// 4, `LOG_WARNING`.
    Warning = 4,
    /// 5, `LOG_NOTICE`.
    Notice = 5,
    /// 6, `LOG_INFO`.
    Informational = 6,
    /// 7, `LOG_DEBUG`.
    Debug = 7,
}

impl Priority {
    /// Every level, most severe first.
    pub const ALL: [Priority; 8] = [
        Priority::Emergency,
        Priority::Alert,
        Priority::Critical,
        Priority::Error,
        Priority::Warning,
        Priority::Notice,
        Priority::Informational,
        Priority::Debug,
    ];

    /// The name as Falco prints it in alerts (`Critical`, `Informational`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Emergency => "Emergency",
            Priority::Alert => "Alert",
            Priority::Critical => "Critical",
            Priority::Error => "Error",
            Priority::Warning => "Warning",
            Priority::Notice => "Notice",
            Priority::Informational => "Informational",
            Priority::Debug => "Debug",
        }
    }

    /// The syslog severity (0..=7).
    pub fn severity(self) -> u8 {
        self as u8
    }

    /// Whether an alert of this priority passes a minimum of `min` (Falco's
    /// `priority` key: "this level or more severe").
    pub fn at_least(self, min: Priority) -> bool {
        self <= min
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A priority name that is none of Falco's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownPriority(pub String);

impl fmt::Display for UnknownPriority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown priority \"{}\": must be one of emergency, alert, critical, error, warning, notice, informational, debug",
            self.0
        )
    }
}

impl std::error::Error for UnknownPriority {}

impl FromStr for Priority {
    type Err = UnknownPriority;

    /// Falco's spellings, in any case: the eight names, plus `info` for
    /// `informational`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let p = match s.to_ascii_lowercase().as_str() {
            "emergency" => Priority::Emergency,
            "alert" => Priority::Alert,
            "critical" => Priority::Critical,
            "error" => Priority::Error,
            "warning" => Priority::Warning,
            "notice" => Priority::Notice,
            "informational" | "info" => Priority::Informational,
            "debug" => Priority::Debug,
            _ => return Err(UnknownPriority(s.to_string())),
        };
        Ok(p)
    }
}

impl<'de> Deserialize<'de> for Priority {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One value of `output_fields`, typed as Falco's JSON types it.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    /// The field had no value (Falco prints `<NA>` in text, `null` in JSON).
    Null,
    /// A boolean field.
    Bool(bool),
    /// An unsigned number (counts, ids, timestamps).
    U64(u64),
    /// A signed number (return values, fds).
    I64(i64),
    /// A floating-point number.
    F64(f64),
    /// Anything rendered as text.
    Str(String),
}

impl From<&str> for FieldValue {
    fn from(s: &str) -> Self {
        FieldValue::Str(s.to_string())
    }
}

impl From<String> for FieldValue {
    fn from(s: String) -> Self {
        FieldValue::Str(s)
    }
}

impl From<u64> for FieldValue {
    fn from(v: u64) -> Self {
        FieldValue::U64(v)
    }
}

impl From<i64> for FieldValue {
    fn from(v: i64) -> Self {
        FieldValue::I64(v)
    }
}

impl From<f64> for FieldValue {
    fn from(v: f64) -> Self {
        FieldValue::F64(v)
    }
}

impl From<bool> for FieldValue {
    fn from(v: bool) -> Self {
        FieldValue::Bool(v)
    }
}

impl<T: Into<FieldValue>> From<Option<T>> for FieldValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(FieldValue::Null, Into::into)
    }
}

/// A rule matched: everything an output needs, already rendered by the rules
/// engine. The outputs add the time and priority prefix and pick the
/// encoding (text or JSON).
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// The event's time, nanoseconds since the epoch.
    pub time_ns: u64,
    /// The rule's name.
    pub rule: String,
    /// The rule's priority.
    pub priority: Priority,
    /// The event source (`syscall`, or a plugin's source).
    pub source: String,
    /// The rule's tags (printed sorted and without duplicates, as Falco does).
    pub tags: Vec<String>,
    /// The host name (Falco: `FALCO_HOSTNAME` or the machine's name).
    pub hostname: String,
    /// The rule's output with its fields filled in, without the time and
    /// priority prefix (Falco's "message").
    pub output: String,
    /// The values of the fields the output names, in the order they appear
    /// (JSON prints them sorted by name, as Falco does).
    pub output_fields: Vec<(String, FieldValue)>,
}
