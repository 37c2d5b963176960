//! Date/time pictures (`[Y0001]-[M01]-[D01]`, `[FNn] [D1o] [MNn]`, `[h]:[m01][P]`, ...): the
//! reference's `analyseDateTimePicture`, `getDateTimeFragment` and `formatDateTime`.

use super::civil::{date_utc, time_clip, Fields, DAYS, MILLIS_PER_DAY, MONTHS};
use super::integer::{self, Case, Grouping, IntegerFormat};
use super::js::{self, parse_int, text, utf16};
use crate::error::{Error, Result};

/// The picture `$fromMillis` and `$now` use when none is given.
pub(super) const ISO_PICTURE: &str = "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001][Z01:01t]";

/// One piece of an analysed picture.
#[derive(Debug, Clone)]
pub(super) enum Part {
    Literal(String),
    Marker(Marker),
}

/// A variable marker such as `[D1o]` or `[MNn,*-3]`.
#[derive(Debug, Clone)]
pub(super) struct Marker {
    /// The component specifier: the marker's first UTF-16 unit.
    pub component: u16,
    /// `(min, max)` widths when a `,` modifier is present; NaN where unparsable.
    pub width: Option<(Option<f64>, Option<f64>)>,
    pub presentation2: Option<u16>,
    pub names: Option<Case>,
    pub integer_format: Option<IntegerFormat>,
    /// Digits kept of the year (and matched when parsing `Y`, `M`, `D`); -1 for all.
    pub n: Option<f64>,
}

impl Marker {
    pub(super) fn is(&self, component: char) -> bool {
        self.component == component as u16
    }

    fn is_one_of(&self, components: &str) -> bool {
        components.encode_utf16().any(|c| c == self.component)
    }
}

fn default_presentation(component: u16) -> Option<&'static str> {
    Some(match char::from_u32(component as u32)? {
        'Y' | 'M' | 'D' | 'd' | 'W' | 'w' | 'X' | 'x' | 'H' | 'h' | 'f' => "1",
        'F' | 'P' | 'C' | 'E' => "n",
        'm' | 's' => "01",
        'Z' | 'z' => "01:01",
        _ => return None,
    })
}

/// `analyseDateTimePicture`: literals (with `[[` and `]]` escapes) and markers.
pub(super) fn analyse(picture: &str) -> Result<Vec<Part>> {
    let mut parts = Vec::new();
    let bytes = picture.as_bytes();
    let (mut start, mut pos) = (0, 0);
    let push_literal = |parts: &mut Vec<Part>, start: usize, end: usize| {
        if end > start {
            parts.push(Part::Literal(picture[start..end].replace("]]", "]")));
        }
    };
    while pos < bytes.len() {
        if bytes[pos] == b'[' {
            if bytes.get(pos + 1) == Some(&b'[') {
                push_literal(&mut parts, start, pos);
                parts.push(Part::Literal("[".into()));
                pos += 2;
                start = pos;
                continue;
            }
            push_literal(&mut parts, start, pos);
            start = pos;
            pos = picture[start..]
                .find(']')
                .map(|i| i + start)
                .ok_or_else(|| Error::new("D3135", "No matching closing bracket ']' in date/time picture string"))?;
            parts.push(Part::Marker(analyse_marker(&picture[start + 1..pos])?));
            start = pos + 1;
        }
        pos += 1;
    }
    push_literal(&mut parts, start, pos.min(bytes.len()));
    Ok(parts)
}

/// One marker's text (between the brackets).
fn analyse_marker(marker: &str) -> Result<Marker> {
    let marker: String = marker.chars().filter(|c| !js::is_js_space(*c)).collect();
    let units = utf16(&marker);
    let component = units.first().copied().unwrap_or(0);
    let comma = js::position(units.iter().rposition(|u| *u == b',' as u16));
    let mut width = None;
    let presentation = if comma != -1 {
        let modifier = text(js::substring(&units, comma + 1, units.len() as i64));
        let (min, max) = match modifier.split_once('-') {
            Some((min, max)) => (min.to_string(), Some(max.to_string())),
            None => (modifier, None),
        };
        let parse_width = |w: Option<&str>| match w {
            None | Some("*") => None,
            Some(w) => Some(parse_int(w)),
        };
        width = Some((parse_width(Some(&min)), parse_width(max.as_deref())));
        js::substring(&units, 1, comma).to_vec()
    } else {
        js::substring(&units, 1, units.len() as i64).to_vec()
    };
    let (presentation1, presentation2) = split_presentation(&presentation, component)?;
    let mut def = Marker { component, width, presentation2, names: None, integer_format: None, n: None };
    let first = presentation1.first().copied();
    if first == Some(b'n' as u16) {
        def.names = Some(Case::Lower);
    } else if first == Some(b'N' as u16) {
        def.names = Some(if presentation1.get(1) == Some(&(b'n' as u16)) { Case::Title } else { Case::Upper });
    } else if def.is_one_of("YMDdFWwXxHhmsf") {
        integer_marker(&mut def, &presentation1)?;
    }
    if def.is_one_of("Zz") {
        def.integer_format = Some(integer::analyse(&text(&presentation1))?);
    }
    Ok(def)
}

/// The first and second presentation modifiers, the first defaulted by component.
fn split_presentation(presentation: &[u16], component: u16) -> Result<(Vec<u16>, Option<u16>)> {
    match presentation.len() {
        0 => match default_presentation(component) {
            Some(default) => Ok((utf16(default), None)),
            None => Err(Error::new(
                "D3132",
                format!(
                    "Unknown component specifier {} in date/time picture string",
                    text(&[component][..usize::from(component != 0)])
                ),
            )),
        },
        1 => Ok((presentation.to_vec(), None)),
        n => {
            let last = presentation[n - 1];
            if "atco".encode_utf16().any(|c| c == last) {
                Ok((presentation[..n - 1].to_vec(), Some(last)))
            } else {
                Ok((presentation.to_vec(), None))
            }
        }
    }
}

/// The integer format of a numeric component, with widths and the year's digit count.
fn integer_marker(def: &mut Marker, presentation1: &[u16]) -> Result<()> {
    let mut pattern = text(presentation1);
    if let Some(p2) = def.presentation2 {
        pattern.push(';');
        pattern.push_str(&text(&[p2]));
    }
    let mut format = integer::analyse(&pattern)?;
    if let Some((Some(min), _)) = def.width {
        if format.mandatory_digits.is_some_and(|m| m < min) {
            format.mandatory_digits = Some(min);
        }
    }
    if def.is_one_of("YMD") {
        def.n = Some(-1.0);
        if let Some((_, Some(max))) = def.width {
            def.n = Some(max);
            format.mandatory_digits = Some(max);
        } else {
            let w = format.mandatory_digits.unwrap_or(f64::NAN) + format.optional_digits.unwrap_or(f64::NAN);
            if w >= 2.0 {
                def.n = Some(w);
            }
        }
    }
    def.integer_format = Some(format);
    Ok(())
}

/// A component's raw value: a number (NaN for an invalid date), a text or undefined.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Fragment {
    Number(f64),
    Text(&'static str),
    Undefined,
}

/// `Date.UTC(year, month)`: midnight of the month's first day.
fn month_start(year: f64, month: f64) -> f64 {
    date_utc([year, month, 1.0, 0.0, 0.0, 0.0, 0.0])
}

/// ISO 8601's first week (of a year or a month): the Monday-started week holding the first Thursday.
fn start_of_first_week(year: f64, month: f64) -> f64 {
    let first = month_start(year, month);
    let mut weekday = Fields::of(first).weekday;
    if weekday == 0.0 {
        weekday = 7.0;
    }
    if weekday > 4.0 {
        first + (8.0 - weekday) * MILLIS_PER_DAY
    } else {
        first - (weekday - 1.0) * MILLIS_PER_DAY
    }
}

fn delta_weeks(start: f64, end: f64) -> f64 {
    (end - start) / (MILLIS_PER_DAY * 7.0) + 1.0
}

fn next_month(year: f64, month: f64) -> (f64, f64) {
    if month == 11.0 {
        (year + 1.0, 0.0)
    } else {
        (year, month + 1.0)
    }
}

fn previous_month(year: f64, month: f64) -> (f64, f64) {
    if month == 0.0 {
        (year - 1.0, 11.0)
    } else {
        (year, month - 1.0)
    }
}

/// `getDateTimeFragment`: the value of `component` at time value `time`.
pub(super) fn fragment(time: f64, component: u16) -> Fragment {
    let f = Fields::of(time);
    let today = date_utc([f.year, f.month, f.day, 0.0, 0.0, 0.0, 0.0]);
    let number = match char::from_u32(component as u32).unwrap_or('\0') {
        'Y' => f.year,
        'M' => f.month + 1.0,
        'D' => f.day,
        'd' => (today - month_start(f.year, 0.0)) / MILLIS_PER_DAY + 1.0,
        'F' if f.weekday == 0.0 => 7.0,
        'F' => f.weekday,
        'W' => week_of_year(&f, today).floor(),
        'w' => week_of_month(&f, today).floor(),
        'X' => iso_year(&f, time),
        'x' => iso_month(&f, time),
        'H' => f.hours,
        'h' if f.hours % 12.0 == 0.0 => 12.0,
        'h' => f.hours % 12.0,
        'P' => return Fragment::Text(if f.hours >= 12.0 { "pm" } else { "am" }),
        'm' => f.minutes,
        's' => f.seconds,
        'f' => f.millis,
        'C' | 'E' => return Fragment::Text("ISO"),
        _ => return Fragment::Undefined,
    };
    Fragment::Number(number)
}

fn week_of_year(f: &Fields, today: f64) -> f64 {
    let week = delta_weeks(start_of_first_week(f.year, 0.0), today);
    if week > 52.0 {
        if today >= start_of_first_week(f.year + 1.0, 0.0) {
            return 1.0;
        }
    } else if week < 1.0 {
        return delta_weeks(start_of_first_week(f.year - 1.0, 0.0), today);
    }
    week
}

fn week_of_month(f: &Fields, today: f64) -> f64 {
    let week = delta_weeks(start_of_first_week(f.year, f.month), today);
    if week > 4.0 {
        let (year, month) = next_month(f.year, f.month);
        if today >= start_of_first_week(year, month) {
            return 1.0;
        }
    } else if week < 1.0 {
        let (year, month) = previous_month(f.year, f.month);
        return delta_weeks(start_of_first_week(year, month), today);
    }
    week
}

fn iso_year(f: &Fields, time: f64) -> f64 {
    if time < start_of_first_week(f.year, 0.0) {
        f.year - 1.0
    } else if time >= start_of_first_week(f.year + 1.0, 0.0) {
        f.year + 1.0
    } else {
        f.year
    }
}

fn iso_month(f: &Fields, time: f64) -> f64 {
    let (next_year, next) = next_month(f.year, f.month);
    if time < start_of_first_week(f.year, f.month) {
        previous_month(f.year, f.month).1 + 1.0
    } else if time >= start_of_first_week(next_year, next) {
        next + 1.0
    } else {
        f.month + 1.0
    }
}

/// `formatDateTime(millis, picture, timezone)`: `$fromMillis` and `$now`.
pub(in crate::functions) fn format_date_time(
    millis: f64,
    picture: Option<&str>,
    timezone: Option<&str>,
    max_bytes: usize,
) -> Result<String> {
    let (offset_hours, offset_minutes) = match timezone {
        Some(tz) => {
            let offset = parse_int(tz);
            ((offset / 100.0).floor(), offset % 100.0)
        }
        None => (0.0, 0.0),
    };
    let parts = analyse(picture.unwrap_or(ISO_PICTURE))?;
    let time = time_clip(millis + (60.0 * offset_hours + offset_minutes) * 60_000.0);
    let zone = Zone { hours: offset_hours, minutes: offset_minutes };
    let mut result = String::new();
    for part in &parts {
        match part {
            Part::Literal(literal) => result.push_str(literal),
            Part::Marker(marker) => result.push_str(&format_component(time, marker, zone, max_bytes)?),
        }
        super::check_size(result.len() as f64, max_bytes)?;
    }
    Ok(result)
}

/// The display timezone's offset as the reference splits it (`-0530` is -6 h and -30 min).
#[derive(Debug, Clone, Copy)]
struct Zone {
    hours: f64,
    minutes: f64,
}

/// `formatComponent`.
fn format_component(time: f64, marker: &Marker, zone: Zone, max_bytes: usize) -> Result<String> {
    let value = fragment(time, marker.component);
    if marker.is_one_of("YMDdFWwXxHhms") {
        let mut number = match value {
            Fragment::Number(n) => n,
            _ => f64::NAN,
        };
        if marker.is('Y') {
            let n = marker.n.unwrap_or(f64::NAN);
            if n != -1.0 {
                number %= 10f64.powf(n);
            }
        }
        return match marker.names {
            Some(case) => name(number, marker, case),
            None => integer_of(number, marker, max_bytes),
        };
    }
    match value {
        _ if marker.is('f') => integer_of(
            match value {
                Fragment::Number(n) => n,
                _ => f64::NAN,
            },
            marker,
            max_bytes,
        ),
        _ if marker.is_one_of("Zz") => timezone(marker, zone, max_bytes),
        Fragment::Text(text) if marker.is('P') && marker.names == Some(Case::Upper) => Ok(text.to_uppercase()),
        Fragment::Text(text) => Ok(text.to_string()),
        Fragment::Number(n) => Ok(crate::value::js_number(n)),
        Fragment::Undefined => Ok("undefined".into()),
    }
}

fn integer_of(number: f64, marker: &Marker, max_bytes: usize) -> Result<String> {
    let format = marker.integer_format.as_ref().ok_or_else(|| {
        Error::new(
            "D3133",
            "The 'name' modifier can only be applied to months and days in the date/time picture string",
        )
    })?;
    integer::format_value(number, format, max_bytes)
}

/// A month or day name in the marker's case, cut to its maximum width.
fn name(number: f64, marker: &Marker, case: Case) -> Result<String> {
    let index = |n: f64| (n >= 0.0 && n.fract() == 0.0).then_some(n as usize);
    let name = if marker.is_one_of("Mx") {
        index(number - 1.0).and_then(|i| MONTHS.get(i))
    } else if marker.is('F') {
        index(number - 1.0).and_then(|i| DAYS.get(i))
    } else {
        return Err(Error::new(
            "D3133",
            format!(
                "The 'name' modifier can only be applied to months and days in the date/time picture string, not {}",
                text(&[marker.component])
            ),
        ));
    };
    let Some(name) = name else {
        if case == Case::Title && marker.width.is_none() {
            return Ok("undefined".into());
        }
        return Err(Error::new("D3133", "There is no name for an invalid date"));
    };
    let mut name = match case {
        Case::Upper => name.to_uppercase(),
        Case::Lower => name.to_lowercase(),
        Case::Title => name.to_string(),
    };
    if let Some((_, Some(max))) = marker.width {
        if (name.len() as f64) > max {
            name.truncate(max as usize);
        }
    }
    Ok(name)
}

/// §9.8.4.6: the offset as `+05:30`, `+0530`, `+5`, `GMT+05:30` or `Z`.
fn timezone(marker: &Marker, zone: Zone, max_bytes: usize) -> Result<String> {
    let offset = zone.hours * 100.0 + zone.minutes;
    let format = marker.integer_format.as_ref().ok_or_else(|| Error::new("D3134", "Invalid timezone picture"))?;
    let mut text = if matches!(format.grouping, Grouping::Regular(_)) {
        integer::format_value(offset, format, max_bytes)?
    } else {
        match format.mandatory_digits {
            Some(d) if d == 1.0 || d == 2.0 => {
                let mut text = integer::format_value(zone.hours, format, max_bytes)?;
                if zone.minutes != 0.0 {
                    text.push(':');
                    text.push_str(&integer::format_integer(zone.minutes, "00", max_bytes)?);
                }
                text
            }
            Some(d) if d == 3.0 || d == 4.0 => integer::format_value(offset, format, max_bytes)?,
            _ => {
                return Err(Error::new(
                    "D3134",
                    "The timezone integer format specifier cannot have more than four digits",
                ))
            }
        }
    };
    if offset >= 0.0 {
        text.insert(0, '+');
    }
    if marker.is('z') {
        text.insert_str(0, "GMT");
    }
    if offset == 0.0 && marker.presentation2 == Some(b't' as u16) {
        text = "Z".into();
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(millis: f64, picture: &str, tz: Option<&str>) -> String {
        format_date_time(millis, Some(picture), tz, 1 << 20).unwrap_or_else(|e| e.code.to_string())
    }

    #[test]
    fn formats_components_as_the_reference() {
        let t = 1_700_000_000_123.0;
        assert_eq!(fmt(t, ISO_PICTURE, None), "2023-11-14T22:13:20.123Z");
        assert_eq!(fmt(t, "[Dwo] [MNn] [YI]", None), "fourteenth November MMXXIII");
        assert_eq!(fmt(t, "[W] [w] [X] [x] [E] [C]", None), "46 3 2023 11 ISO ISO");
        assert_eq!(fmt(0.0, "[Z1]", Some("-0530")), "-6:-30");
        assert_eq!(fmt(0.0, "[Q1]", None), "undefined");
        assert_eq!(fmt(0.0, "[Q]", None), "D3132");
        assert_eq!(fmt(0.0, "[Y", None), "D3135");
        assert_eq!(fmt(0.0, "[DN]", None), "D3133");
        assert_eq!(fmt(0.0, "[Z00000]", None), "D3134");
        assert_eq!(format_date_time(1e16, None, None, 1000).unwrap_or_default(), "0NaN-NaN-NaNTNaN:NaN:NaN.NaNZ");
    }

    #[test]
    fn enormous_widths_are_bounded() {
        assert_eq!(format_date_time(0.0, Some("[Y,1000000]"), None, 1000).map_err(|e| e.code), Err("U1003"));
        assert_eq!(fmt(0.0, "[Y,1000000]", None).len(), 1_000_000);
    }
}
