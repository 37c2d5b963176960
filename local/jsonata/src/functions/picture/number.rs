//! `$formatNumber(number, picture, options)`: the reference's port of XPath's
//! `fn:format-number` (F&O 4.7), over UTF-16 code units as the reference indexes its strings.

use super::integer::regular_factor;
use super::js::{char_at, index_of, last_index_of, position, substring, text, to_fixed_abs, utf16};
use crate::error::{Error, Result};
use crate::value::Val;
use indexmap::IndexMap;

/// `toFixed` refuses more fraction digits than this.
const MAX_FRACTION_DIGITS: usize = 100;
/// Grouping work (separators times string length) beyond this is refused.
const MAX_SPLICE_WORK: usize = 50_000_000;

type Units = Vec<u16>;

/// The decimal format: the defaults overridden by the options object.
struct Properties {
    decimal: Units,
    grouping: Units,
    exponent: Units,
    minus: Units,
    percent: Units,
    per_mille: Units,
    zero: Units,
    digit: Units,
    pattern: Units,
    /// The ten digits from the zero digit on.
    family: Units,
}

impl Properties {
    fn new(options: Option<&IndexMap<String, Val>>) -> Result<Properties> {
        let option = |name: &str, default: &str| -> Result<Units> {
            match options.and_then(|o| o.get(name)) {
                None => Ok(utf16(default)),
                Some(Val::Str(s)) => Ok(utf16(s)),
                Some(_) => Err(Error::new(
                    "U1000",
                    format!("The $formatNumber option '{name}' must be a string in this implementation"),
                )),
            }
        };
        let zero = option("zero-digit", "0")?;
        let family = match zero.first() {
            Some(z) => (0..10).map(|i| z.wrapping_add(i)).collect(),
            None => Vec::new(),
        };
        Ok(Properties {
            decimal: option("decimal-separator", ".")?,
            grouping: option("grouping-separator", ",")?,
            exponent: option("exponent-separator", "e")?,
            minus: option("minus-sign", "-")?,
            percent: option("percent", "%")?,
            per_mille: option("per-mille", "\u{2030}")?,
            zero,
            digit: option("digit", "#")?,
            pattern: option("pattern-separator", ";")?,
            family,
        })
    }

    fn in_family(&self, unit: u16) -> bool {
        self.family.contains(&unit)
    }

    /// A digit of the family or the optional-digit character.
    fn is_digit_sign(&self, unit: u16) -> bool {
        self.in_family(unit) || self.digit == [unit]
    }

    fn is_active(&self, unit: u16) -> bool {
        self.in_family(unit)
            || [&self.decimal, &self.exponent, &self.grouping, &self.digit, &self.pattern].iter().any(|p| **p == [unit])
    }

    /// Active and not the exponent separator: where prefix and suffix end.
    fn starts_active_part(&self, unit: u16) -> bool {
        self.is_active(unit) && self.exponent != [unit]
    }
}

/// A sub-picture split as the reference's `splitParts` does.
#[derive(Clone)]
struct Parts {
    prefix: Units,
    suffix: Units,
    active: Units,
    mantissa: Units,
    exponent: Option<Units>,
    integer: Units,
    fractional: Units,
    picture: Units,
}

fn split_parts(sub: &[u16], p: &Properties) -> Result<Parts> {
    let first = sub.iter().position(|u| p.starts_active_part(*u));
    let last = sub.iter().rposition(|u| p.starts_active_part(*u));
    let (Some(first), Some(last)) = (first, last) else {
        return Err(Error::new(
            "D3085",
            "The sub-picture has no digit, optional digit, separator or pattern character",
        ));
    };
    let (prefix, suffix) = (sub[..first].to_vec(), sub[last + 1..].to_vec());
    let length = sub.len() as i64;
    let active = substring(sub, prefix.len() as i64, length - suffix.len() as i64).to_vec();
    let (mantissa, exponent) = match index_of(sub, &p.exponent, prefix.len() as i64) {
        Some(at) if (at as i64) <= length - suffix.len() as i64 => (
            substring(&active, 0, at as i64).to_vec(),
            Some(substring(&active, at as i64 + 1, active.len() as i64).to_vec()),
        ),
        _ => (active.clone(), None),
    };
    let (integer, fractional) = match index_of(&mantissa, &p.decimal, 0) {
        None => (mantissa.clone(), suffix.clone()),
        Some(at) => (mantissa[..at].to_vec(), substring(&mantissa, at as i64 + 1, mantissa.len() as i64).to_vec()),
    };
    Ok(Parts { prefix, suffix, active, mantissa, exponent, integer, fractional, picture: sub.to_vec() })
}

fn contains(haystack: &[u16], needle: &[u16]) -> bool {
    index_of(haystack, needle, 0).is_some()
}

fn occurs_more_than_once(haystack: &[u16], needle: &[u16]) -> bool {
    index_of(haystack, needle, 0) != last_index_of(haystack, needle)
}

/// F&O 4.7.3: the last rule a sub-picture breaks, as the reference reports it.
fn validate(parts: &Parts, p: &Properties) -> Result<()> {
    let sub = &parts.picture;
    let mut error = None;
    let decimal_at = position(index_of(sub, &p.decimal, 0));
    let checks: [(&str, bool); 4] = [
        ("D3081", occurs_more_than_once(sub, &p.decimal)),
        ("D3082", occurs_more_than_once(sub, &p.percent)),
        ("D3083", occurs_more_than_once(sub, &p.per_mille)),
        ("D3084", contains(sub, &p.percent) && contains(sub, &p.per_mille)),
    ];
    for (code, broken) in checks {
        if broken {
            error = Some(code);
        }
    }
    if !parts.mantissa.iter().any(|u| p.is_digit_sign(*u)) {
        error = Some("D3085");
    }
    if parts.active.iter().any(|u| !p.is_active(*u)) {
        error = Some("D3086");
    }
    if decimal_at != -1 {
        if char_at(sub, decimal_at - 1) == p.grouping || char_at(sub, decimal_at + 1) == p.grouping {
            error = Some("D3087");
        }
    } else if char_at(&parts.integer, parts.integer.len() as i64 - 1) == p.grouping {
        error = Some("D3088");
    }
    if contains(sub, &[p.grouping.clone(), p.grouping.clone()].concat()) {
        error = Some("D3089");
    }
    if let Some(at) = index_of(&parts.integer, &p.digit, 0) {
        if parts.integer[..at].iter().any(|u| p.in_family(*u)) {
            error = Some("D3090");
        }
    }
    if let Some(at) = last_index_of(&parts.fractional, &p.digit) {
        if parts.fractional[at.min(parts.fractional.len())..].iter().any(|u| p.in_family(*u)) {
            error = Some("D3091");
        }
    }
    if let Some(exponent) = &parts.exponent {
        if !exponent.is_empty() && (contains(sub, &p.percent) || contains(sub, &p.per_mille)) {
            error = Some("D3092");
        }
        if exponent.is_empty() || exponent.iter().any(|u| !p.in_family(*u)) {
            error = Some("D3093");
        }
    }
    match error {
        Some(code) => Err(Error::new(code, picture_error_message(code))),
        None => Ok(()),
    }
}

fn picture_error_message(code: &str) -> &'static str {
    match code {
        "D3081" => "The sub-picture must not contain more than one instance of the 'decimal-separator' character",
        "D3082" => "The sub-picture must not contain more than one instance of the 'percent' character",
        "D3083" => "The sub-picture must not contain more than one instance of the 'per-mille' character",
        "D3084" => "The sub-picture must not contain both a 'percent' and a 'per-mille' character",
        "D3085" => "The mantissa part of a sub-picture must contain at least one character that is either an 'optional digit character' or a member of the 'decimal digit family'",
        "D3086" => "The sub-picture must not contain a passive character that is preceded by an active character and that is followed by another active character",
        "D3087" => "The sub-picture must not contain a 'grouping-separator' character that appears adjacent to a 'decimal-separator' character",
        "D3088" => "The sub-picture must not contain a 'grouping-separator' at the end of the integer part",
        "D3089" => "The sub-picture must not contain two adjacent instances of the 'grouping-separator' character",
        "D3090" => "The integer part of the sub-picture must not contain a member of the 'decimal digit family' that is followed by an instance of the 'optional digit character'",
        "D3091" => "The fractional part of the sub-picture must not contain an instance of the 'optional digit character' that is followed by a member of the 'decimal digit family'",
        "D3092" => "A sub-picture that contains a 'percent' or 'per-mille' character must not contain a character treated as an 'exponent-separator'",
        _ => "The exponent part of the sub-picture must comprise only of one or more characters that are members of the 'decimal digit family'",
    }
}

/// F&O 4.7.4: what a sub-picture asks for.
#[derive(Clone)]
struct Variables {
    integer_grouping: Vec<usize>,
    regular_grouping: Option<usize>,
    minimum_integer: usize,
    scaling_factor: usize,
    prefix: Units,
    fractional_grouping: Vec<usize>,
    minimum_fraction: usize,
    maximum_fraction: usize,
    minimum_exponent: usize,
    suffix: Units,
    picture: Units,
}

/// `getGroupingPositions`: digit signs beside each grouping separator (later separators are
/// looked up in the integer part, as the reference does for both parts).
fn grouping_positions(part: &[u16], integer: &[u16], to_left: bool, p: &Properties) -> Vec<usize> {
    let mut counts = vec![0usize; part.len() + 1];
    for (i, unit) in part.iter().enumerate() {
        counts[i + 1] = counts[i] + usize::from(p.is_digit_sign(*unit));
    }
    let mut positions = Vec::new();
    let mut found = index_of(part, &p.grouping, 0);
    while let Some(at) = found {
        if p.grouping.is_empty() {
            break;
        }
        let left = counts[at.min(part.len())];
        positions.push(if to_left { left } else { counts[part.len()] - left });
        found = index_of(integer, &p.grouping, at as i64 + 1);
    }
    positions
}

fn analyse(parts: &Parts, p: &Properties) -> Variables {
    let family_count = |units: &[u16]| units.iter().filter(|u| p.in_family(**u)).count();
    let integer_grouping = grouping_positions(&parts.integer, &parts.integer, false, p);
    let mut minimum_integer = family_count(&parts.integer);
    let scaling_factor = minimum_integer;
    let mut minimum_fraction = family_count(&parts.fractional);
    let mut maximum_fraction = parts.fractional.iter().filter(|u| p.is_digit_sign(**u)).count();
    let exponent_present = parts.exponent.is_some();
    if minimum_integer == 0 && maximum_fraction == 0 {
        if exponent_present {
            minimum_fraction = 1;
            maximum_fraction = 1;
        } else {
            minimum_integer = 1;
        }
    }
    if exponent_present && minimum_integer == 0 && contains(&parts.integer, &p.digit) {
        minimum_integer = 1;
    }
    if minimum_integer == 0 && minimum_fraction == 0 {
        minimum_fraction = 1;
    }
    Variables {
        regular_grouping: regular_factor(&integer_grouping),
        integer_grouping,
        minimum_integer,
        scaling_factor,
        prefix: parts.prefix.clone(),
        fractional_grouping: grouping_positions(&parts.fractional, &parts.integer, true, p),
        minimum_fraction,
        maximum_fraction,
        minimum_exponent: parts.exponent.as_deref().map_or(0, family_count),
        suffix: parts.suffix.clone(),
        picture: parts.picture.clone(),
    }
}

/// `picture.split(separator)` as JavaScript splits on a string.
fn split(picture: &[u16], separator: &[u16]) -> Vec<Units> {
    if separator.is_empty() {
        return picture.iter().map(|u| vec![*u]).collect();
    }
    let mut pieces = Vec::new();
    let mut start = 0;
    while let Some(at) = index_of(picture, separator, start as i64) {
        pieces.push(picture[start..at].to_vec());
        start = at + separator.len();
    }
    pieces.push(picture[start..].to_vec());
    pieces
}

/// `$formatNumber(value, picture, options)`.
pub(in crate::functions) fn format_number(
    value: f64,
    picture: &str,
    options: Option<&IndexMap<String, Val>>,
    max_bytes: usize,
) -> Result<String> {
    let p = Properties::new(options)?;
    let sub_pictures = split(&utf16(picture), &p.pattern);
    if sub_pictures.len() > 2 {
        return Err(Error::new("D3080", "The picture string must only contain a maximum of two sub-pictures"));
    }
    let parts = sub_pictures.iter().map(|sub| split_parts(sub, &p)).collect::<Result<Vec<_>>>()?;
    for part in &parts {
        validate(part, &p)?;
    }
    let mut variables: Vec<Variables> = parts.iter().map(|part| analyse(part, &p)).collect();
    if variables.len() == 1 {
        let mut negative = variables[0].clone();
        negative.prefix = [p.minus.clone(), negative.prefix].concat();
        variables.push(negative);
    }
    let pic = variables.get(usize::from(value < 0.0)).ok_or_else(|| Error::new("D3085", "The picture is empty"))?;
    let formatted = text(&format_with(value, pic, &p)?);
    super::check_size(formatted.len() as f64, max_bytes)?;
    Ok(formatted)
}

/// Bullets 3-14 of F&O 4.7.5: scaling, exponent, rounding, padding, grouping, affixes.
fn format_with(value: f64, pic: &Variables, p: &Properties) -> Result<Units> {
    let adjusted = if contains(&pic.picture, &p.percent) {
        value * 100.0
    } else if contains(&pic.picture, &p.per_mille) {
        value * 1000.0
    } else {
        value
    };
    let (mantissa, exponent) = scale(adjusted, pic)?;
    if pic.maximum_fraction > MAX_FRACTION_DIGITS {
        return Err(Error::new(
            "D3085",
            format!("At most {MAX_FRACTION_DIGITS} fraction digits can be formatted (toFixed's limit)"),
        ));
    }
    let rounded = if mantissa.is_finite() || pic.maximum_fraction == 0 {
        super::super::numeric::round_half_even(mantissa, pic.maximum_fraction as f64)
    } else {
        f64::NAN
    };
    let mut digits = decimal_digits(rounded, pic, p);
    digits = group_integer_part(digits, pic, p)?;
    digits = group_fraction_part(digits, pic, p)?;
    let decimal_at = position(index_of(&digits, &p.decimal, 0));
    if !contains(&pic.picture, &p.decimal) || decimal_at == digits.len() as i64 - 1 {
        digits.truncate(digits.len().saturating_sub(1));
    }
    if let Some(exponent) = exponent {
        let mut exponent_digits = make_string(exponent, 0, p);
        let pad = pic.minimum_exponent.saturating_sub(exponent_digits.len());
        exponent_digits = [p.zero.repeat(pad), exponent_digits].concat();
        digits.extend_from_slice(&p.exponent);
        if exponent < 0.0 {
            digits.extend_from_slice(&p.minus);
        }
        digits.extend(exponent_digits);
    }
    Ok([pic.prefix.clone(), digits, pic.suffix.clone()].concat())
}

/// Bullet 5: mantissa and exponent for an exponent picture.
fn scale(adjusted: f64, pic: &Variables) -> Result<(f64, Option<f64>)> {
    if pic.minimum_exponent == 0 {
        return Ok((adjusted, None));
    }
    if adjusted.is_nan() || adjusted <= 0.0 {
        return Err(Error::new(
            "U1002",
            "An exponent picture cannot format zero or a negative number (the reference never finishes)",
        ));
    }
    let max = 10f64.powf(pic.scaling_factor as f64);
    let min = 10f64.powf(pic.scaling_factor as f64 - 1.0);
    let (mut mantissa, mut exponent) = (adjusted, 0.0);
    while mantissa < min {
        mantissa *= 10.0;
        exponent -= 1.0;
    }
    while mantissa > max {
        mantissa /= 10.0;
        exponent += 1.0;
    }
    Ok((mantissa, Some(exponent)))
}

/// `makeString`: `Math.abs(value).toFixed(places)` in the digit family.
fn make_string(value: f64, places: usize, p: &Properties) -> Units {
    let fixed = to_fixed_abs(value, places);
    if p.zero == [b'0' as u16] {
        return utf16(&fixed);
    }
    let mut units = Vec::new();
    for unit in fixed.encode_utf16() {
        match unit {
            0x30..=0x39 => units.extend(p.family.get(usize::from(unit - 0x30))),
            other => units.push(other),
        }
    }
    units
}

/// Bullets 7-9: the digits with the decimal separator, trimmed then padded to the minimums.
fn decimal_digits(rounded: f64, pic: &Variables, p: &Properties) -> Units {
    let mut digits = make_string(rounded, pic.maximum_fraction, p);
    match digits.iter().position(|u| *u == b'.' as u16) {
        None => digits.extend_from_slice(&p.decimal),
        Some(at) => {
            let replacement = substitution(&p.decimal, &digits[..at], &digits[at + 1..]);
            digits.splice(at..at + 1, replacement);
        }
    }
    if p.zero.len() == 1 {
        let leading = digits.iter().take_while(|u| **u == p.zero[0]).count();
        digits.drain(..leading);
        let trailing = digits.iter().rev().take_while(|u| **u == p.zero[0]).count();
        digits.truncate(digits.len() - trailing);
    }
    let decimal_at = position(index_of(&digits, &p.decimal, 0));
    let pad_left = pic.minimum_integer as i64 - decimal_at;
    let pad_right = pic.minimum_fraction as i64 - (digits.len() as i64 - decimal_at - 1);
    let mut padded = p.zero.repeat(pad_left.max(0) as usize);
    padded.extend(digits);
    padded.extend(p.zero.repeat(pad_right.max(0) as usize));
    padded
}

/// `String.prototype.replace`'s `$` patterns in a replacement for the matched `.`.
fn substitution(replacement: &[u16], before: &[u16], after: &[u16]) -> Units {
    let mut out = Vec::new();
    let mut i = 0;
    while i < replacement.len() {
        let next = replacement.get(i + 1).copied();
        match (replacement[i], next) {
            (0x24, Some(0x24)) => out.push(0x24),
            (0x24, Some(0x26)) => out.push(b'.' as u16),
            (0x24, Some(0x60)) => out.extend_from_slice(before),
            (0x24, Some(0x27)) => out.extend_from_slice(after),
            (unit, _) => {
                out.push(unit);
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    out
}

/// `String.prototype.slice` bounds: negative counts from the end.
fn slice_bound(index: i64, length: usize) -> usize {
    let length = length as i64;
    (if index < 0 { length + index } else { index }).clamp(0, length) as usize
}

/// `s.slice(0, at) + separator + s.slice(at)`.
fn insert_at(units: &[u16], at: i64, separator: &[u16]) -> Units {
    let cut = slice_bound(at, units.len());
    [&units[..cut], separator, &units[cut..]].concat()
}

fn check_splice_work(count: usize, length: usize) -> Result<()> {
    if count.saturating_mul(length) > MAX_SPLICE_WORK {
        return Err(Error::new("U1002", "The picture has too many grouping separators to apply"));
    }
    Ok(())
}

/// Bullet 10: grouping separators in the integer part.
fn group_integer_part(digits: Units, pic: &Variables, p: &Properties) -> Result<Units> {
    let decimal_at = position(index_of(&digits, &p.decimal, 0));
    if let Some(every) = pic.regular_grouping {
        let groups = (decimal_at - 1).div_euclid(every as i64);
        let mut grouped = Vec::with_capacity(digits.len());
        for (index, unit) in digits.iter().enumerate() {
            let distance = decimal_at - index as i64;
            if index > 0 && distance > 0 && distance % every as i64 == 0 && distance / every as i64 <= groups {
                grouped.extend_from_slice(&p.grouping);
            }
            grouped.push(*unit);
        }
        return Ok(grouped);
    }
    check_splice_work(pic.integer_grouping.len(), digits.len() + pic.integer_grouping.len())?;
    let (mut digits, mut decimal_at) = (digits, decimal_at);
    for at in &pic.integer_grouping {
        digits = insert_at(&digits, decimal_at - *at as i64, &p.grouping);
        decimal_at += 1;
    }
    Ok(digits)
}

/// Bullet 11: grouping separators in the fractional part.
fn group_fraction_part(mut digits: Units, pic: &Variables, p: &Properties) -> Result<Units> {
    check_splice_work(pic.fractional_grouping.len(), digits.len() + pic.fractional_grouping.len())?;
    let decimal_at = position(index_of(&digits, &p.decimal, 0));
    for at in &pic.fractional_grouping {
        digits = insert_at(&digits, *at as i64 + decimal_at + 1, &p.grouping);
    }
    Ok(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(value: f64, picture: &str) -> String {
        format_number(value, picture, None, 1 << 20).unwrap_or_else(|e| e.code.to_string())
    }

    #[test]
    fn formats_as_the_reference() {
        assert_eq!(fmt(1234.5, "#,##0.00"), "1,234.50");
        assert_eq!(fmt(-1234.5, "#,##0.00;(#,##0.00)"), "(1,234.50)");
        assert_eq!(fmt(0.25, "#%"), "25%");
        assert_eq!(fmt(1234.5678, "0.0e0"), "1.2e3");
        assert_eq!(fmt(5.0, "#,##,##0"), ",5,");
        assert_eq!(fmt(1.0, "#.#.#"), "D3081");
        assert_eq!(fmt(1.0, "#;#;#"), "D3080");
        assert_eq!(fmt(0.0, "0e0"), "U1002");
    }

    #[test]
    fn huge_pictures_stay_bounded() {
        let picture = format!("#{},##0", ",###".repeat(250_000));
        assert_eq!(fmt(1.0, &picture), "1");
        assert_eq!(fmt(1.0, &format!("0.{}", "#".repeat(101))), "D3085");
    }
}
