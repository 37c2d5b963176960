//! `$formatInteger` and `$parseInteger`: the reference's `analyseIntegerPicture`,
//! `_formatInteger` and integer parsing (decimal digit patterns in any Unicode digit family,
//! grouping separators, `w`/`W`/`Ww` words, `i`/`I` roman, `a`/`A` letters, `;o` ordinals).

use super::js::{parse_int, text, utf16};
use super::{check_size, words};
use crate::error::{Error, Result};
use std::collections::HashSet;

/// The zero of each Unicode decimal digit family the reference recognises.
const DECIMAL_GROUPS: [u32; 37] = [
    0x30, 0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66, 0x0DE6,
    0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40,
    0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
];

/// Separators inserted after this many grouping moves are refused (the reference's quadratic
/// string splicing would not finish either).
const MAX_SPLICE_WORK: f64 = 50_000_000.0;

/// How an integer is written.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Primary {
    Decimal,
    Letters,
    Roman,
    Words,
    /// A numbering sequence the reference does not implement (`D3130` when used).
    Sequence(String),
}

/// Letter case of words, roman numerals, letters and names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Case {
    Upper,
    Lower,
    Title,
}

/// A grouping separator and the number of digits to its right.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Separator {
    pub position: usize,
    pub character: String,
}

/// Grouping: one separator repeated every `position` digits, or separators at fixed places.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Grouping {
    Regular(Separator),
    Irregular(Vec<Separator>),
}

/// An analysed integer picture.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct IntegerFormat {
    pub primary: Primary,
    pub case: Case,
    pub ordinal: bool,
    pub zero_code: u32,
    /// Minimum digits (undefined, `None`, unless a digit pattern or a width sets it).
    pub mandatory_digits: Option<f64>,
    pub optional_digits: Option<f64>,
    pub grouping: Grouping,
}

/// `analyseIntegerPicture`.
pub(super) fn analyse(picture: &str) -> Result<IntegerFormat> {
    let (primary, ordinal) = match picture.rfind(';') {
        Some(i) => (&picture[..i], picture[i + 1..].starts_with('o')),
        None => (picture, false),
    };
    let mut format = IntegerFormat {
        primary: Primary::Decimal,
        case: Case::Lower,
        ordinal,
        zero_code: 0x30,
        mandatory_digits: None,
        optional_digits: None,
        grouping: Grouping::Irregular(Vec::new()),
    };
    let (kind, case) = match primary {
        "A" => (Primary::Letters, Case::Upper),
        "a" => (Primary::Letters, Case::Lower),
        "I" => (Primary::Roman, Case::Upper),
        "i" => (Primary::Roman, Case::Lower),
        "W" => (Primary::Words, Case::Upper),
        "Ww" => (Primary::Words, Case::Title),
        "w" => (Primary::Words, Case::Lower),
        _ => return analyse_digits(primary, format),
    };
    format.primary = kind;
    format.case = case;
    Ok(format)
}

/// The decimal-digit-pattern branch of `analyseIntegerPicture`.
fn analyse_digits(primary: &str, mut format: IntegerFormat) -> Result<IntegerFormat> {
    let (mut zero_code, mut mandatory, mut optional, mut position) = (None, 0usize, 0usize, 0usize);
    let mut separators = Vec::new();
    for c in primary.chars().rev() {
        let code = c as u32;
        if let Some(group) = DECIMAL_GROUPS.iter().find(|g| (**g..=**g + 9).contains(&code)) {
            mandatory += 1;
            position += 1;
            match zero_code {
                None => zero_code = Some(*group),
                Some(zero) if zero != *group => {
                    return Err(Error::new(
                        "D3131",
                        "In a decimal digit pattern, all digits must be from the same decimal group",
                    ))
                }
                _ => {}
            }
        } else if c == '#' {
            position += 1;
            optional += 1;
        } else {
            separators.push(Separator { position, character: c.to_string() });
        }
    }
    if mandatory == 0 {
        format.primary = Primary::Sequence(primary.to_string());
        return Ok(format);
    }
    format.zero_code = zero_code.unwrap_or(0x30);
    format.mandatory_digits = Some(mandatory as f64);
    format.optional_digits = Some(optional as f64);
    format.grouping = match regular_interval(&separators) {
        Some(interval) => {
            Grouping::Regular(Separator { position: interval, character: separators[0].character.clone() })
        }
        None => Grouping::Irregular(separators),
    };
    Ok(format)
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The common interval when one separator character repeats at every multiple of it.
fn regular_interval(separators: &[Separator]) -> Option<usize> {
    let first = separators.first()?;
    if separators.iter().any(|s| s.character != first.character) {
        return None;
    }
    let positions: Vec<usize> = separators.iter().map(|s| s.position).collect();
    regular_factor(&positions)
}

/// The factor of evenly spaced positions (`[3, 6, 9]` gives 3), `None` when irregular or 0.
pub(super) fn regular_factor(positions: &[usize]) -> Option<usize> {
    let factor = positions.iter().copied().reduce(gcd)?;
    let present: HashSet<usize> = positions.iter().copied().collect();
    let regular = (1..=positions.len()).all(|i| present.contains(&(i * factor)));
    (regular && factor > 0).then_some(factor)
}

/// `$formatInteger(value, picture)`.
pub(in crate::functions) fn format_integer(value: f64, picture: &str, max_bytes: usize) -> Result<String> {
    let format = analyse(picture)?;
    format_value(value.floor(), &format, max_bytes)
}

/// `_formatInteger`: writes `value` (an integer, or NaN) as `format` says.
pub(super) fn format_value(value: f64, format: &IntegerFormat, max_bytes: usize) -> Result<String> {
    let negative = value < 0.0;
    let value = value.abs();
    let mut formatted = match &format.primary {
        Primary::Letters => words::decimal_to_letters(value, if format.case == Case::Upper { 'A' } else { 'a' }),
        Primary::Roman => {
            let roman = words::decimal_to_roman(value, max_bytes)?;
            if format.case == Case::Upper {
                roman.to_uppercase()
            } else {
                roman
            }
        }
        Primary::Words => {
            let words = words::number_to_words(value, format.ordinal)?;
            match format.case {
                Case::Upper => words.to_uppercase(),
                Case::Lower => words.to_lowercase(),
                Case::Title => words,
            }
        }
        Primary::Decimal => decimal(value, format, max_bytes)?,
        Primary::Sequence(token) => {
            return Err(Error::new(
                "D3130",
                format!("Formatting or parsing an integer as a sequence starting with {token} is not supported by this implementation"),
            ))
        }
    };
    if negative {
        formatted.insert(0, '-');
    }
    check_size(formatted.len() as f64, max_bytes)?;
    Ok(formatted)
}

/// The decimal branch of `_formatInteger`: padding, digit family, grouping, ordinal suffix.
fn decimal(value: f64, format: &IntegerFormat, max_bytes: usize) -> Result<String> {
    let mut digits = crate::value::js_number(value);
    let pad = format.mandatory_digits.unwrap_or(f64::NAN) - digits.len() as f64;
    if pad > 0.0 {
        check_size(pad, max_bytes)?;
        digits = "0".repeat(pad as usize) + &digits;
    }
    if format.zero_code != 0x30 {
        let offset = format.zero_code - 0x30;
        digits = digits.chars().map(|c| char::from_u32(c as u32 + offset).unwrap_or(c)).collect();
    }
    let mut units = utf16(&digits);
    match &format.grouping {
        Grouping::Regular(separator) => units = group_regularly(&units, separator),
        Grouping::Irregular(separators) => {
            for separator in separators.iter().rev() {
                units = splice_from_end(&units, separator, separators.len())?;
            }
        }
    }
    if format.ordinal {
        let mut suffix = match units.last() {
            Some(0x31) => "st",
            Some(0x32) => "nd",
            Some(0x33) => "rd",
            _ => "th",
        };
        if units.len() > 1 && units[units.len() - 2] == 0x31 {
            suffix = "th";
        }
        units.extend(suffix.encode_utf16());
    }
    Ok(text(&units))
}

/// A separator every `position` units from the right, never in front.
fn group_regularly(units: &[u16], separator: &Separator) -> Vec<u16> {
    let (length, every) = (units.len(), separator.position);
    let mark = utf16(&separator.character);
    let mut grouped = Vec::with_capacity(length + length / every.max(1) * mark.len());
    for (index, unit) in units.iter().enumerate() {
        if index > 0 && (length - index) % every == 0 {
            grouped.extend_from_slice(&mark);
        }
        grouped.push(*unit);
    }
    grouped
}

/// `s.substr(0, pos) + separator + s.substr(pos)` with `pos = s.length - position`, as
/// JavaScript's `substr` reads negative positions.
fn splice_from_end(units: &[u16], separator: &Separator, count: usize) -> Result<Vec<u16>> {
    if count as f64 * units.len() as f64 > MAX_SPLICE_WORK {
        return Err(Error::new("U1002", "The picture has too many irregular grouping separators to apply"));
    }
    let length = units.len() as i64;
    let pos = length - separator.position as i64;
    let head = if pos > 0 { &units[..pos as usize] } else { &[][..] };
    let tail_start = if pos < 0 { (length + pos).max(0) } else { pos };
    let mut spliced = head.to_vec();
    spliced.extend(separator.character.encode_utf16());
    spliced.extend_from_slice(&units[tail_start as usize..]);
    Ok(spliced)
}

/// `$parseInteger(text, picture)`: the parse half of the reference's `generateRegex` (the text
/// is not validated against the picture, as in the reference).
pub(in crate::functions) fn parse_integer(value: &str, picture: &str) -> Result<f64> {
    parse_value(value, &analyse(picture)?)
}

/// Parses `value` as written in `format`; NaN when it cannot be read.
pub(super) fn parse_value(value: &str, format: &IntegerFormat) -> Result<f64> {
    let upper = format.case == Case::Upper;
    Ok(match &format.primary {
        Primary::Letters => words::letters_to_decimal(value, if upper { 'A' } else { 'a' }),
        Primary::Roman => words::roman_to_decimal(&if upper { value.to_string() } else { value.to_uppercase() }),
        Primary::Words => words::words_to_number(&value.to_lowercase()),
        Primary::Decimal => parse_int(&decimal_digits(value, format)?),
        Primary::Sequence(token) => {
            return Err(Error::new(
                "D3130",
                format!("Formatting or parsing an integer as a sequence starting with {token} is not supported by this implementation"),
            ))
        }
    })
}

/// The ASCII digits of a decimal: suffix and separators removed, digit family mapped to 0-9.
fn decimal_digits(value: &str, format: &IntegerFormat) -> Result<String> {
    let mut units = utf16(value);
    if format.ordinal {
        units.truncate(units.len().saturating_sub(2));
    }
    let mut digits = text(&units);
    match &format.grouping {
        Grouping::Regular(_) => digits = digits.replace(',', ""),
        Grouping::Irregular(separators) => {
            for separator in separators {
                digits = digits.replace(&separator.character, "");
            }
        }
    }
    if format.zero_code == 0x30 {
        return Ok(digits);
    }
    digits
        .encode_utf16()
        .map(|unit| {
            let code = unit as i64 - format.zero_code as i64 + 0x30;
            u32::try_from(code)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| Error::new("D3131", format!("Invalid code point {code} after mapping the digit family")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(value: f64, picture: &str) -> String {
        format_integer(value, picture, 1 << 20).unwrap_or_else(|e| e.code.to_string())
    }

    #[test]
    fn decimal_patterns_group_pad_and_order() {
        assert_eq!(fmt(1234567.0, "#,##0"), "1,234,567");
        assert_eq!(fmt(7.0, "000"), "007");
        assert_eq!(fmt(12.0, "0;o"), "12th");
        assert_eq!(fmt(22.0, "0;o"), "22nd");
        assert_eq!(fmt(-5.0, "00"), "-05");
        assert_eq!(fmt(123.0, "\u{0660}"), "\u{0661}\u{0662}\u{0663}");
        assert_eq!(fmt(1.0, "#"), "D3130");
        assert_eq!(fmt(1.0, "0\u{0661}"), "D3131");
    }

    #[test]
    fn enormous_padding_is_refused() {
        assert_eq!(format_integer(1.0, &"0".repeat(2000), 1000).map_err(|e| e.code), Err("U1003"));
    }

    #[test]
    fn parsing_inverts_formatting() {
        for picture in ["#,##0", "w", "W", "Ww", "i", "I", "a", "A", "0;o", "w;o"] {
            let formatted = fmt(1234.0, picture);
            assert_eq!(parse_integer(&formatted, picture).ok(), Some(1234.0), "{picture}: {formatted}");
        }
    }
}
