//! Timestamps as the States Language writes them (RFC 3339, uppercase `T`, `Z` or an offset).

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};

/// Now, formatted like Step Functions (`2024-01-02T03:04:05.678Z`).
pub(crate) fn now_string() -> String {
    format(Utc::now())
}

pub(crate) fn format(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses a timestamp the way Choice `Timestamp*` and Wait `Timestamp` accept it.
pub(crate) fn parse(s: &str) -> Option<DateTime<FixedOffset>> {
    // The spec requires an uppercase T separator and an uppercase Z (or a numeric offset).
    if s.len() < 20 || s.as_bytes().get(10) != Some(&b'T') || s.contains('z') || s.contains('t') {
        return None;
    }
    DateTime::parse_from_rfc3339(s).ok()
}
