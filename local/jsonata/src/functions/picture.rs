//! Formatting timestamps with XPath date/time picture strings (`$fromMillis(ms, '[Y0001]-[M01]')`,
//! `$now(picture, timezone)`): numeric presentations with widths, ordinals, month and weekday
//! names, 12-hour clocks and timezone offsets. Other presentations (words, roman numerals,
//! week numbers, eras) are refused with `U1000`.

use crate::error::{Error, Result};
use chrono::{DateTime, Datelike, FixedOffset, Timelike, Utc};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

fn unsupported(marker: &str) -> Error {
    Error::new("U1000", format!("The date/time picture marker [{marker}] is not supported by this implementation"))
}

/// Parses a timezone argument such as `+0530` or `-0800` into an offset.
pub(super) fn parse_timezone(text: &str) -> Result<FixedOffset> {
    let invalid = || Error::new("D3110", format!("Invalid timezone: {text}"));
    let (sign, digits) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => (1, text),
    };
    let digits: String = digits.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let hours: i32 = digits[..2].parse().map_err(|_| invalid())?;
    let minutes: i32 = digits[2..].parse().map_err(|_| invalid())?;
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)).ok_or_else(invalid)
}

/// Formats `time` (already in its display timezone) with an XPath picture string.
pub(super) fn format(time: &DateTime<FixedOffset>, picture: &str) -> Result<String> {
    let mut out = String::new();
    let mut rest = picture;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("[[") {
            out.push('[');
            rest = after;
        } else if let Some(after) = rest.strip_prefix("]]") {
            out.push(']');
            rest = after;
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after
                .find(']')
                .ok_or_else(|| Error::new("D3135", "No matching closing bracket ']' in date/time picture string"))?;
            let marker: String = after[..end].chars().filter(|c| !c.is_whitespace()).collect();
            out.push_str(&component(time, &marker)?);
            rest = &after[end + 1..];
        } else {
            let next = rest.find(['[', ']']).unwrap_or(rest.len()).max(1);
            out.push_str(&rest[..next]);
            rest = &rest[next..];
        }
    }
    Ok(out)
}

/// The `,min-max` width modifier.
fn widths(modifier: Option<&str>) -> Result<(Option<usize>, Option<usize>)> {
    let Some(modifier) = modifier else { return Ok((None, None)) };
    let parse = |t: &str| {
        if t == "*" || t.is_empty() {
            Ok(None)
        } else {
            t.parse().map(Some).map_err(|_| unsupported(modifier))
        }
    };
    match modifier.split_once('-') {
        Some((min, max)) => Ok((parse(min)?, parse(max)?)),
        None => Ok((parse(modifier)?, None)),
    }
}

fn ordinal(n: i64) -> &'static str {
    match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

fn component(time: &DateTime<FixedOffset>, marker: &str) -> Result<String> {
    let mut chars = marker.chars();
    let specifier = chars.next().ok_or_else(|| unsupported(marker))?;
    let (presentation, modifier) = match chars.as_str().split_once(',') {
        Some((p, m)) => (p, Some(m)),
        None => (chars.as_str(), None),
    };
    let (min_width, max_width) = widths(modifier)?;
    let default = match specifier {
        'F' | 'P' => "n",
        'm' | 's' => "01",
        'Z' | 'z' => "01:01",
        _ => "1",
    };
    let presentation = if presentation.is_empty() { default } else { presentation };
    let value: i64 = match specifier {
        'Y' => time.year() as i64,
        'M' => time.month() as i64,
        'D' => time.day() as i64,
        'd' => time.ordinal() as i64,
        'F' => time.weekday().number_from_monday() as i64,
        'H' => time.hour() as i64,
        'h' => (time.hour() as i64 + 11) % 12 + 1,
        'm' => time.minute() as i64,
        's' => time.second() as i64,
        'f' => return Ok(format!("{:03}", time.timestamp_subsec_millis())),
        'P' => {
            let text = if time.hour() < 12 { "am" } else { "pm" };
            return Ok(if presentation == "N" { text.to_uppercase() } else { text.to_string() });
        }
        'Z' | 'z' => return Ok(timezone(time.offset().local_minus_utc() / 60, specifier, presentation)),
        'E' | 'C' | 'W' | 'w' | 'X' | 'x' => return Err(unsupported(marker)),
        other => {
            return Err(Error::new(
                "D3132",
                format!("Unknown component specifier \"{other}\" in date/time picture string"),
            ))
        }
    };
    if matches!(presentation, "N" | "n" | "Nn") {
        let name = match specifier {
            'M' => MONTHS[(value - 1) as usize],
            'F' => DAYS[(value - 1) as usize],
            _ => return Err(unsupported(marker)),
        };
        let name: String = name.chars().take(max_width.unwrap_or(usize::MAX)).collect();
        return Ok(match presentation {
            "N" => name.to_uppercase(),
            "n" => name.to_lowercase(),
            _ => name,
        });
    }
    let (digits, ordinal_suffix) = match presentation.strip_suffix('o') {
        Some(d) => (d, true),
        None => (presentation, false),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit() || c == '#') {
        return Err(unsupported(marker));
    }
    let mandatory = digits.chars().filter(char::is_ascii_digit).count();
    let width = min_width.unwrap_or(0).max(mandatory);
    let mut text = format!("{:0width$}", value.abs());
    let max =
        if specifier == 'Y' && mandatory == 2 { Some(2) } else { max_width.or(min_width.filter(|_| specifier == 'Y')) };
    if let Some(max) = max {
        if text.len() > max {
            text = text[text.len() - max..].to_string();
        }
    }
    if value < 0 {
        text.insert(0, '-');
    }
    if ordinal_suffix {
        text.push_str(ordinal(value));
    }
    Ok(text)
}

fn timezone(offset_minutes: i32, specifier: char, presentation: &str) -> String {
    let (presentation, zulu) = match presentation.strip_suffix('t') {
        Some(p) => (p, offset_minutes == 0),
        None => (presentation, false),
    };
    if zulu {
        return "Z".into();
    }
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let (hours, minutes) = (offset_minutes.abs() / 60, offset_minutes.abs() % 60);
    let text = match presentation {
        "0000" => format!("{sign}{hours:02}{minutes:02}"),
        "1" if minutes == 0 => format!("{sign}{hours}"),
        "1" => format!("{sign}{hours}:{minutes:02}"),
        _ => format!("{sign}{hours:02}:{minutes:02}"),
    };
    if specifier == 'z' {
        format!("GMT{text}")
    } else {
        text
    }
}

/// Formats milliseconds since the epoch with a picture and an optional timezone.
pub(super) fn format_millis(millis: i64, picture: &str, timezone: Option<&str>) -> Result<String> {
    let offset = match timezone {
        Some(tz) => parse_timezone(tz)?,
        None => FixedOffset::east_opt(0).ok_or_else(|| Error::new("D3110", "Invalid timezone"))?,
    };
    let utc: DateTime<Utc> = DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| Error::new("D3110", format!("Invalid time value: {millis}")))?;
    format(&utc.with_timezone(&offset), picture)
}
