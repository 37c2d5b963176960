//! JavaScript string and number primitives the reference's picture code relies on, over
//! UTF-16 code units where indexing matters.

/// `String.prototype.substring(start, end)`: clamped to the string, swapped when reversed.
pub(super) fn substring(s: &[u16], start: i64, end: i64) -> &[u16] {
    let clamp = |i: i64| i.clamp(0, s.len() as i64) as usize;
    let (a, b) = (clamp(start), clamp(end));
    &s[a.min(b)..a.max(b)]
}

/// `String.prototype.charAt(i)`: one code unit, empty outside the string.
pub(super) fn char_at(s: &[u16], i: i64) -> &[u16] {
    if i < 0 || i >= s.len() as i64 {
        return &[];
    }
    &s[i as usize..i as usize + 1]
}

/// `String.prototype.indexOf(needle, from)`.
pub(super) fn index_of(s: &[u16], needle: &[u16], from: i64) -> Option<usize> {
    let from = from.clamp(0, s.len() as i64) as usize;
    if needle.is_empty() {
        return Some(from);
    }
    s.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

/// `String.prototype.lastIndexOf(needle)`.
pub(super) fn last_index_of(s: &[u16], needle: &[u16]) -> Option<usize> {
    if needle.is_empty() {
        return Some(s.len());
    }
    s.windows(needle.len()).rposition(|w| w == needle)
}

/// `indexOf` as JavaScript reports it (-1 when absent).
pub(super) fn position(found: Option<usize>) -> i64 {
    found.map_or(-1, |p| p as i64)
}

pub(super) fn utf16(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

pub(super) fn text(units: &[u16]) -> String {
    String::from_utf16_lossy(units)
}

/// JavaScript's white space for `parseInt` and `\s`.
pub(super) fn is_js_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}'
}

/// `parseInt(text)` (radix 10, or 16 after `0x`); NaN when no digit leads.
pub(super) fn parse_int(text: &str) -> f64 {
    let trimmed = text.trim_start_matches(is_js_space);
    let (sign, rest) = match trimmed.as_bytes().first() {
        Some(b'-') => (-1.0, &trimmed[1..]),
        Some(b'+') => (1.0, &trimmed[1..]),
        _ => (1.0, trimmed),
    };
    let (radix, rest) = match rest.get(..2) {
        Some("0x" | "0X") => (16, &rest[2..]),
        _ => (10, rest),
    };
    let digits: &str = &rest[..rest.find(|c: char| !c.is_digit(radix)).unwrap_or(rest.len())];
    if digits.is_empty() {
        return f64::NAN;
    }
    let magnitude = if radix == 10 {
        digits.parse::<f64>().unwrap_or(f64::NAN)
    } else {
        digits.chars().filter_map(|c| c.to_digit(16)).fold(0.0, |acc, d| acc * 16.0 + d as f64)
    };
    sign * magnitude
}

/// `Math.abs(value).toFixed(digits)` for `digits` in 0..=100: the exact value rounded half
/// up on exact ties; 1e21 and more in exponent form.
pub(super) fn to_fixed_abs(value: f64, digits: usize) -> String {
    let value = value.abs();
    if !value.is_finite() || value >= 1e21 {
        return crate::value::js_number(value);
    }
    let exact = format!("{value:.1100}");
    let rounded = format!("{value:.digits$}");
    let point = exact.find('.').unwrap_or(exact.len());
    let truncated = exact[..point + 1 + digits].trim_end_matches('.');
    let rest = &exact[point + 1 + digits..];
    let tie = rest.starts_with('5') && rest[1..].bytes().all(|b| b == b'0');
    if tie && rounded == truncated {
        round_up(truncated)
    } else {
        rounded
    }
}

/// Adds one unit in the last place of a decimal string.
fn round_up(decimal: &str) -> String {
    let mut bytes: Vec<u8> = decimal.bytes().collect();
    for i in (0..bytes.len()).rev() {
        match bytes[i] {
            b'.' => continue,
            b'9' => bytes[i] = b'0',
            b => {
                bytes[i] = b + 1;
                return String::from_utf8_lossy(&bytes).into_owned();
            }
        }
    }
    format!("1{}", String::from_utf8_lossy(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_fixed_rounds_exact_ties_up() {
        assert_eq!(to_fixed_abs(0.5, 0), "1");
        assert_eq!(to_fixed_abs(2.5, 0), "3");
        assert_eq!(to_fixed_abs(1.005, 2), "1.00");
        assert_eq!(to_fixed_abs(1.25, 1), "1.3");
        assert_eq!(to_fixed_abs(-1.5, 0), "2");
        assert_eq!(to_fixed_abs(9.5, 0), "10");
        assert_eq!(to_fixed_abs(1e21, 2), "1e+21");
        assert_eq!(to_fixed_abs(123.456, 5), "123.45600");
    }

    #[test]
    fn parse_int_reads_a_leading_integer() {
        assert_eq!(parse_int(" 42abc"), 42.0);
        assert_eq!(parse_int("-0x1A"), -26.0);
        assert!(parse_int("").is_nan());
        assert!(parse_int("*").is_nan());
    }

    #[test]
    fn substring_and_index_of_follow_javascript() {
        let s = utf16("abcabc");
        assert_eq!(substring(&s, 4, 1), &utf16("bca")[..]);
        assert_eq!(index_of(&s, &utf16("c"), 3), Some(5));
        assert_eq!(last_index_of(&s, &utf16("a")), Some(3));
        assert_eq!(index_of(&s, &[], 99), Some(6));
        assert_eq!(char_at(&s, -1), &[] as &[u16]);
    }
}
