//! Numbers as English words, roman numerals and spreadsheet letters, both ways, with the
//! reference's floating-point arithmetic.

use super::check_size;
use crate::error::{Error, Result};
use regex::Regex;
use std::collections::HashMap;
use std::sync::LazyLock;

const FEW: [&str; 20] = [
    "Zero",
    "One",
    "Two",
    "Three",
    "Four",
    "Five",
    "Six",
    "Seven",
    "Eight",
    "Nine",
    "Ten",
    "Eleven",
    "Twelve",
    "Thirteen",
    "Fourteen",
    "Fifteen",
    "Sixteen",
    "Seventeen",
    "Eighteen",
    "Nineteen",
];
const ORDINALS: [&str; 20] = [
    "Zeroth",
    "First",
    "Second",
    "Third",
    "Fourth",
    "Fifth",
    "Sixth",
    "Seventh",
    "Eighth",
    "Ninth",
    "Tenth",
    "Eleventh",
    "Twelfth",
    "Thirteenth",
    "Fourteenth",
    "Fifteenth",
    "Sixteenth",
    "Seventeenth",
    "Eighteenth",
    "Nineteenth",
];
const DECADES: [&str; 9] = ["Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety", "Hundred"];
const MAGNITUDES: [&str; 4] = ["Thousand", "Million", "Billion", "Trillion"];

/// A non-negative integer in English words (`Two Hundred and One`), ordinal when asked.
pub(super) fn number_to_words(value: f64, ordinal: bool) -> Result<String> {
    if !value.is_finite() {
        return Err(Error::new("U1001", format!("{value} cannot be written in words")));
    }
    Ok(lookup(value, false, ordinal))
}

/// The reference's recursive `lookup`; depth is at most 26 for finite doubles.
fn lookup(num: f64, prev: bool, ord: bool) -> String {
    let joiner = |text: &'static str| if prev { text } else { "" };
    if num <= 19.0 {
        let index = num.max(0.0) as usize;
        let word = if ord { ORDINALS[index.min(19)] } else { FEW[index.min(19)] };
        return format!("{}{word}", joiner(" and "));
    }
    if num < 100.0 {
        let (tens, remainder) = ((num / 10.0).floor(), num % 10.0);
        let mut words = format!("{}{}", joiner(" and "), DECADES[(tens as usize).saturating_sub(2).min(8)]);
        if remainder > 0.0 {
            words.push('-');
            words.push_str(&lookup(remainder, false, ord));
        } else if ord {
            words.pop();
            words.push_str("ieth");
        }
        return words;
    }
    let (mut words, remainder) = if num < 1000.0 {
        let hundreds = (num / 100.0).floor();
        (format!("{}{} Hundred", joiner(", "), FEW[(hundreds as usize).min(19)]), num % 100.0)
    } else {
        let magnitude = ((num.log10() / 3.0).floor() as usize).min(MAGNITUDES.len());
        let factor = 10f64.powi(magnitude as i32 * 3);
        let mantissa = (num / factor).floor();
        let words = format!("{}{} {}", joiner(", "), lookup(mantissa, false, false), MAGNITUDES[magnitude - 1]);
        (words, num - mantissa * factor)
    };
    if remainder > 0.0 {
        words.push_str(&lookup(remainder, true, ord));
    } else if ord {
        words.push_str("th");
    }
    words
}

/// The lower-case words `wordsToNumber` knows, in the reference's key order.
static WORD_VALUES: LazyLock<Vec<(String, f64)>> = LazyLock::new(|| {
    let mut values: Vec<(String, f64)> = Vec::new();
    let mut set = |word: String, value: f64| match values.iter_mut().find(|(w, _)| *w == word) {
        Some(entry) => entry.1 = value,
        None => values.push((word, value)),
    };
    for (index, word) in FEW.iter().enumerate() {
        set(word.to_lowercase(), index as f64);
    }
    for (index, word) in ORDINALS.iter().enumerate() {
        set(word.to_lowercase(), index as f64);
    }
    for (index, word) in DECADES.iter().enumerate() {
        let lower = word.to_lowercase();
        let value = (index as f64 + 2.0) * 10.0;
        let ieth = format!("{}ieth", &lower[..lower.len() - 1]);
        set(lower, value);
        set(ieth, value);
    }
    set("hundredth".into(), 100.0);
    for (index, word) in MAGNITUDES.iter().enumerate() {
        let lower = word.to_lowercase();
        let value = 10f64.powi((index as i32 + 1) * 3);
        let th = format!("{lower}th");
        set(lower, value);
        set(th, value);
    }
    values
});

static WORD_LOOKUP: LazyLock<HashMap<&'static str, f64>> =
    LazyLock::new(|| WORD_VALUES.iter().map(|(w, v)| (w.as_str(), *v)).collect());

/// The alternatives of the reference's words regular expression, in its order.
pub(super) fn word_alternatives() -> Vec<&'static str> {
    WORD_VALUES.iter().map(|(w, _)| w.as_str()).collect()
}

static WORD_SPLIT: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r",\s|\sand\s|[\s\\\-]").ok());

/// `wordsToNumber`: lower-case English words to a number; NaN when a word is unknown.
pub(super) fn words_to_number(text: &str) -> f64 {
    let Some(split) = WORD_SPLIT.as_ref() else { return f64::NAN };
    let mut segments = vec![0.0f64];
    for part in split.split(text) {
        let value = WORD_LOOKUP.get(part).copied();
        let top = segments.pop().unwrap_or(f64::NAN);
        match value {
            Some(value) if value < 100.0 => {
                if top >= 1000.0 {
                    segments.push(top);
                    segments.push(value);
                } else {
                    segments.push(top + value);
                }
            }
            _ => segments.push(top * value.unwrap_or(f64::NAN)),
        }
    }
    segments.iter().sum()
}

const ROMAN_NUMERALS: [(f64, &str); 13] = [
    (1000.0, "m"),
    (900.0, "cm"),
    (500.0, "d"),
    (400.0, "cd"),
    (100.0, "c"),
    (90.0, "xc"),
    (50.0, "l"),
    (40.0, "xl"),
    (10.0, "x"),
    (9.0, "ix"),
    (5.0, "v"),
    (4.0, "iv"),
    (1.0, "i"),
];

/// The most thousands (`m`) the reference writes: it recurses once per numeral and runs out of
/// stack between 8,000 and 9,000 of them.
const MAX_ROMAN_THOUSANDS: f64 = 8000.0;

/// Lower-case roman numerals (`mmxxiv`); empty for zero and NaN.
pub(super) fn decimal_to_roman(value: f64, max_bytes: usize) -> Result<String> {
    let thousands = (value / 1000.0).floor();
    if thousands > MAX_ROMAN_THOUSANDS {
        return Err(Error::new(
            "U1001",
            format!(
                "Roman numerals of more than {MAX_ROMAN_THOUSANDS} thousands exceed the reference's recursion depth"
            ),
        ));
    }
    check_size(thousands, max_bytes)?;
    let mut value = value;
    let mut roman = String::new();
    while let Some((amount, numeral)) = ROMAN_NUMERALS.iter().find(|(amount, _)| value >= *amount) {
        roman.push_str(numeral);
        value -= amount;
    }
    Ok(roman)
}

/// Upper-case roman numerals to a number (NaN for any other character).
pub(super) fn roman_to_decimal(roman: &str) -> f64 {
    let mut decimal = 0.0;
    let mut max = 1.0;
    let units: Vec<u16> = roman.encode_utf16().collect();
    for unit in units.into_iter().rev() {
        let value = match unit {
            0x4D => 1000.0,
            0x44 => 500.0,
            0x43 => 100.0,
            0x4C => 50.0,
            0x58 => 10.0,
            0x56 => 5.0,
            0x49 => 1.0,
            _ => f64::NAN,
        };
        if value < max {
            decimal -= value;
        } else {
            max = value;
            decimal += value;
        }
    }
    decimal
}

/// Spreadsheet column letters (`a`, `z`, `aa`) starting at `first`.
pub(super) fn decimal_to_letters(value: f64, first: char) -> String {
    let mut letters = Vec::new();
    let mut value = value;
    while value > 0.0 {
        let code = (value - 1.0) % 26.0 + first as u32 as f64;
        letters.push(char::from_u32(code as u32).unwrap_or(first));
        value = ((value - 1.0) / 26.0).floor();
    }
    letters.iter().rev().collect()
}

/// Spreadsheet letters to a number, over UTF-16 code units as the reference reads them.
pub(super) fn letters_to_decimal(letters: &str, first: char) -> f64 {
    let units: Vec<u16> = letters.encode_utf16().collect();
    let a = first as u32 as f64;
    units.iter().rev().enumerate().map(|(i, unit)| (*unit as f64 - a + 1.0) * 26f64.powf(i as f64)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_both_ways() {
        let words = number_to_words(1_234_567.0, false).unwrap_or_default();
        assert_eq!(words, "One Million, Two Hundred and Thirty-Four Thousand, Five Hundred and Sixty-Seven");
        assert_eq!(words_to_number(&words.to_lowercase()), 1_234_567.0);
        assert_eq!(number_to_words(20.0, true).unwrap_or_default(), "Twentieth");
        assert_eq!(number_to_words(1e15, true).unwrap_or_default(), "One Thousand Trillionth");
        assert!(words_to_number("eleventy").is_nan());
        assert!(number_to_words(f64::NAN, false).is_err());
    }

    #[test]
    fn roman_numerals_both_ways_and_bounded() {
        assert_eq!(decimal_to_roman(1999.0, 100).unwrap_or_default(), "mcmxcix");
        assert_eq!(roman_to_decimal("MCMXCIX"), 1999.0);
        assert!(roman_to_decimal("MQ").is_nan());
        assert_eq!(decimal_to_roman(1e300, 1 << 20).map_err(|e| e.code), Err("U1001"));
        assert_eq!(decimal_to_roman(8e6, 1 << 20).map(|r| r.len()), Ok(8000));
        assert_eq!(decimal_to_roman(8e6, 100).map_err(|e| e.code), Err("U1003"));
    }

    #[test]
    fn letters_both_ways() {
        assert_eq!(decimal_to_letters(28.0, 'a'), "ab");
        assert_eq!(letters_to_decimal("AB", 'A'), 28.0);
        assert_eq!(decimal_to_letters(0.0, 'a'), "");
    }
}
