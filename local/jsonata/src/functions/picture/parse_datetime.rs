//! `$toMillis(text, picture)`: the reference's `generateRegex` and `parseDateTime`. The
//! picture becomes one anchored, case-insensitive regular expression; the captured
//! components are completed from "now" (more significant ones) and zero (less significant
//! ones), as the reference does.

use super::civil::{date_utc, time_clip, Fields, DAYS, MILLIS_PER_DAY, MONTHS};
use super::datetime::{analyse, fragment, Fragment, Marker, Part};
use super::integer::{self, Case, Grouping, IntegerFormat, Primary};
use super::js::{index_of, parse_int, position, substring, text, utf16};
use super::words::word_alternatives;
use crate::error::{Error, Result};
use regex::RegexBuilder;
use std::collections::HashMap;

/// Compiled size allowed for a picture's regular expression.
const REGEX_SIZE_LIMIT: usize = 4 << 20;
/// Most literals and markers a picture for parsing may have: each is a capture group, and the
/// matcher's memory grows with groups times pattern size.
const MAX_PARTS: usize = 1000;

/// How a captured piece of text becomes a component value (`None`: undefined).
enum Reader {
    Literal,
    Timezone { gmt: bool, separator: Option<String> },
    Integer(IntegerFormat),
    Names(HashMap<String, f64>),
}

fn unsupported_name(component: u16) -> Error {
    Error::new(
        "D3133",
        format!(
            "The 'name' modifier can only be applied to months and days in the date/time picture string, not {}",
            text(&[component])
        ),
    )
}

/// `generateRegex` for one part: its pattern and how to read what it matched.
fn part_pattern(part: &Part, longest: f64) -> Result<(String, Reader)> {
    let marker = match part {
        Part::Literal(literal) => return Ok((regex::escape(literal), Reader::Literal)),
        Part::Marker(marker) => marker,
    };
    if marker.is('Z') || marker.is('z') {
        let separator = match marker.integer_format.as_ref().map(|f| &f.grouping) {
            Some(Grouping::Regular(separator)) => Some(separator.character.clone()),
            _ => None,
        };
        let gmt = marker.is('z');
        let mut pattern = String::from(if gmt { "GMT[-+][0-9]+" } else { "[-+][0-9]+" });
        if let Some(separator) = &separator {
            pattern.push_str(separator);
            pattern.push_str("[0-9]+");
        }
        return Ok((pattern, Reader::Timezone { gmt, separator }));
    }
    if let Some(format) = &marker.integer_format {
        return Ok((integer_pattern(format, marker.n, longest)?, Reader::Integer(format.clone())));
    }
    Ok(("[a-zA-Z]+".into(), Reader::Names(name_lookup(marker)?)))
}

/// A pattern that matches nothing.
const NOTHING: &str = r"\b\B";

/// The pattern of an integer component; `n` digits when the picture fixes them. Counts beyond
/// the `longest` text are cut to it (or match nothing), which matches the same texts.
fn integer_pattern(format: &IntegerFormat, n: Option<f64>, longest: f64) -> Result<String> {
    let upper = format.case == Case::Upper;
    Ok(match &format.primary {
        Primary::Letters => (if upper { "[A-Z]+" } else { "[a-z]+" }).into(),
        Primary::Roman => (if upper { "[MDCLXVI]+" } else { "[mdclxvi]+" }).into(),
        Primary::Words => format!("(?:{}|and|[\\-, ])+", word_alternatives().join("|")),
        Primary::Decimal => {
            let occurrences = match n {
                Some(n) if n > 0.0 => {
                    let least = n - format.optional_digits.unwrap_or(f64::NAN);
                    if n > longest && least > longest {
                        return Ok(NOTHING.into());
                    }
                    match format.optional_digits {
                        Some(0.0) => format!("{{{n}}}"),
                        _ => format!("{{{least},{}}}", n.min(longest)),
                    }
                }
                _ => "+".into(),
            };
            let suffix = if format.ordinal { "(?:th|st|nd|rd)" } else { "" };
            format!("[0-9]{occurrences}{suffix}")
        }
        Primary::Sequence(token) => {
            return Err(Error::new(
                "D3130",
                format!("Formatting or parsing an integer as a sequence starting with {token} is not supported by this implementation"),
            ))
        }
    })
}

/// Month, day or am/pm names (cut to the maximum width) and their values.
fn name_lookup(marker: &Marker) -> Result<HashMap<String, f64>> {
    let max = match marker.width {
        Some((_, Some(max))) if max != 0.0 && !max.is_nan() => Some(max),
        _ => None,
    };
    let cut = |name: &str| match max {
        Some(max) => name.chars().take(max.max(0.0) as usize).collect(),
        None => name.to_string(),
    };
    let names: Vec<(String, f64)> = if marker.is('M') || marker.is('x') {
        MONTHS.iter().enumerate().map(|(i, name)| (cut(name), i as f64 + 1.0)).collect()
    } else if marker.is('F') {
        DAYS.iter().enumerate().map(|(i, name)| (cut(name), i as f64 + 1.0)).collect()
    } else if marker.is('P') {
        vec![("am".into(), 0.0), ("AM".into(), 0.0), ("pm".into(), 1.0), ("PM".into(), 1.0)]
    } else {
        return Err(unsupported_name(marker.component));
    };
    Ok(names.into_iter().collect())
}

impl Reader {
    fn read(&self, captured: &str) -> Result<Option<f64>> {
        Ok(match self {
            Reader::Literal => None,
            Reader::Timezone { gmt, separator } => Some(read_offset(captured, *gmt, separator.as_deref())),
            Reader::Integer(format) => Some(integer::parse_value(captured, format)?),
            Reader::Names(lookup) => lookup.get(captured).copied(),
        })
    }
}

/// Minutes east of UTC (`-05:30` reads as -5 h + 30 min, as in the reference), read over
/// UTF-16 units as the reference's `substring` does.
fn read_offset(captured: &str, gmt: bool, separator: Option<&str>) -> f64 {
    let units = utf16(captured);
    let value = if gmt { substring(&units, 3, units.len() as i64) } else { &units[..] };
    let end = value.len() as i64;
    let read = |from: i64, to: i64| parse_int(&text(substring(value, from, to)));
    let (hours, minutes) = match separator {
        Some(separator) => {
            let at = position(index_of(value, &utf16(separator), 0));
            (read(0, at), read(at + 1, end))
        }
        None if value.len() <= 3 => (read(0, end), 0.0),
        None => (read(0, 3), read(3, end)),
    };
    hours * 60.0 + minutes
}

/// `$toMillis(timestamp, picture)`: milliseconds since the epoch, `None` when the text does not
/// match the picture or the picture captures nothing.
pub(in crate::functions) fn parse_date_time(timestamp: &str, picture: &str, now: f64) -> Result<Option<f64>> {
    let parts = analyse(picture)?;
    if parts.len() > MAX_PARTS {
        return Err(Error::new(
            "U1002",
            format!("A date/time picture for parsing may have at most {MAX_PARTS} literals and markers"),
        ));
    }
    let mut pattern = String::from("^");
    let mut readers = Vec::new();
    let longest = timestamp.chars().count() as f64;
    for part in &parts {
        let (part_regex, reader) = part_pattern(part, longest)?;
        pattern.push('(');
        pattern.push_str(&part_regex);
        pattern.push(')');
        let component = match part {
            Part::Marker(marker) => marker.component,
            Part::Literal(_) => 0,
        };
        readers.push((component, reader));
    }
    pattern.push('$');
    let matcher = RegexBuilder::new(&pattern)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| Error::new("D3136", format!("The date/time picture cannot be matched: {e}")))?;
    let Some(captures) = matcher.captures(timestamp) else { return Ok(None) };
    let mut components = Components::default();
    for (index, (component, reader)) in readers.iter().enumerate() {
        if matches!(reader, Reader::Literal) {
            continue;
        }
        let captured = captures.get(index + 1).map_or("", |m| m.as_str());
        components.0.insert(*component, reader.read(captured)?);
    }
    if components.0.is_empty() {
        return Ok(None);
    }
    components.into_millis(now).map(Some)
}

/// Captured components by specifier; a present `None` is a captured but unknown name.
#[derive(Default)]
struct Components(HashMap<u16, Option<f64>>);

impl Components {
    fn value(&self, component: char) -> Option<f64> {
        self.0.get(&(component as u16)).copied().flatten()
    }

    fn set(&mut self, component: char, value: f64) {
        self.0.insert(component as u16, Some(value));
    }

    /// The bit mask of components captured with a truthy value, most significant first.
    fn mask(&self, components: &str) -> u32 {
        components.chars().fold(0, |mask, c| {
            let truthy = self.value(c).is_some_and(|v| v != 0.0 && !v.is_nan());
            (mask << 1) | u32::from(truthy)
        })
    }

    fn into_millis(mut self, now: f64) -> Result<f64> {
        let is_type = |mask: u32, kind: u32| (!kind & mask) == 0 && (kind & mask) != 0;
        let date_mask = self.mask("YXMxWwdD");
        let date_a = is_type(date_mask, 161);
        let date_b = !date_a && is_type(date_mask, 130);
        let date_c = is_type(date_mask, 84);
        let date_d = !date_c && is_type(date_mask, 72);
        let time_mask = self.mask("PHhmsf");
        let time_a = is_type(time_mask, 23);
        let time_b = !time_a && is_type(time_mask, 47);
        let date_components = if date_b {
            "YD"
        } else if date_c {
            "XxwF"
        } else if date_d {
            "XWF"
        } else {
            "YMD"
        };
        let time_components = if time_b { "Phmsf" } else { "Hmsf" };
        self.complete(&format!("{date_components}{time_components}"), now)?;
        let month = self.value('M').unwrap_or(f64::NAN);
        self.set('M', if month > 0.0 { month - 1.0 } else { 0.0 });
        if date_b {
            let first_january = date_utc([self.value('Y').unwrap_or(f64::NAN), 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
            let day_of_year = self.value('d').unwrap_or(f64::NAN);
            let derived = Fields::of(time_clip(first_january + (day_of_year - 1.0) * MILLIS_PER_DAY));
            self.set('M', derived.month);
            self.set('D', derived.day);
        }
        if date_c || date_d {
            return Err(missing_specifiers());
        }
        if time_b {
            let hour = self.value('h').unwrap_or(f64::NAN);
            let mut hours = if hour == 12.0 { 0.0 } else { hour };
            if self.value('P') == Some(1.0) {
                hours += 12.0;
            }
            self.set('H', hours);
        }
        let field = |c| self.value(c).unwrap_or(f64::NAN);
        let mut millis = date_utc([field('Y'), field('M'), field('D'), field('H'), field('m'), field('s'), field('f')]);
        let truthy = |v: Option<f64>| v.filter(|v| *v != 0.0 && !v.is_nan());
        if let Some(offset) = truthy(self.value('Z')).or_else(|| truthy(self.value('z'))) {
            millis -= offset * 60_000.0;
        }
        Ok(millis)
    }

    /// Defaults the components before the captured ones to now, those after to their minimum,
    /// and refuses a gap between captured ones (`D3136`).
    fn complete(&mut self, components: &str, now: f64) -> Result<()> {
        let (mut start_specified, mut end_specified) = (false, false);
        for c in components.chars() {
            if self.value(c).is_none() {
                if start_specified {
                    self.set(c, if "MDd".contains(c) { 1.0 } else { 0.0 });
                    end_specified = true;
                } else {
                    let value = match fragment(now, c as u16) {
                        Fragment::Number(n) => n,
                        Fragment::Text(_) | Fragment::Undefined => f64::NAN,
                    };
                    self.set(c, value);
                }
            } else {
                start_specified = true;
                if end_specified {
                    return Err(missing_specifiers());
                }
            }
        }
        Ok(())
    }
}

fn missing_specifiers() -> Error {
    Error::new("D3136", "The date/time picture string is missing specifiers required to parse the timestamp")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1_700_000_000_123.0;

    fn parse(text: &str, picture: &str) -> std::result::Result<Option<f64>, &'static str> {
        parse_date_time(text, picture, NOW).map_err(|e| e.code)
    }

    #[test]
    fn parses_as_the_reference() {
        assert_eq!(parse("2024-02-29", "[Y0001]-[M01]-[D01]"), Ok(Some(1_709_164_800_000.0)));
        assert_eq!(parse("Twelfth of March, 2021", "[Dwo] of [MNn], [Y]"), Ok(Some(1_615_507_200_000.0)));
        assert_eq!(parse("xx", "[Y]"), Ok(None));
        assert_eq!(parse("2024 10", "[Y] [m]"), Err("D3136"));
        assert_eq!(parse("2024", "[Y#]"), Err("D3130"));
        assert_eq!(parse("2024 +1\u{e9}2", "[Y] [Z01.01]"), Ok(Some(1_704_067_200_000.0)));
        assert_eq!(parse("2024 +0130", "[Y] [Z]"), Ok(None));
        assert_eq!(parse("2024 +01:30", "[Y] [Z]"), Ok(Some(1_704_061_800_000.0)));
    }

    #[test]
    fn huge_inputs_are_linear() {
        let long = "1".repeat(1 << 20);
        assert_eq!(parse(&long, "[Y]").map(|m| m.is_some()), Ok(true));
        assert_eq!(parse("1", &format!("[Y,{}]", 1 << 24)), Ok(None));
    }
}
