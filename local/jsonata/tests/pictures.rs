//! XPath pictures on adversarial input through the public API: megabyte pictures and texts,
//! enormous widths and padding, huge numbers in words. Each must end quickly, as a result or
//! as a clear error, without panicking. (Results are compared with the reference in
//! `reference.rs`; these cases are the ones the reference cannot run or runs for too long.)

use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};

/// Evaluates `expression` with `$picture` and `$text` bound, within `budget`.
fn run(expression: &str, picture: &str, text: &str) -> Result<Option<Value>, &'static str> {
    let bindings: Map<String, Value> =
        [("picture".to_string(), json!(picture)), ("text".to_string(), json!(text))].into_iter().collect();
    let started = Instant::now();
    let parsed = jsonata::Expression::parse(expression).map_err(|e| e.code)?;
    let result = parsed.evaluate(None, &bindings).map_err(|e| e.code);
    assert!(started.elapsed() < Duration::from_secs(20), "{expression} took {:?}", started.elapsed());
    result
}

const MEGABYTE: usize = 1 << 20;

#[test]
fn megabyte_number_pictures_are_linear() {
    let regular = format!("#{},##0.00", ",###".repeat(MEGABYTE / 4));
    assert_eq!(run("$formatNumber(1234567.891, $picture)", &regular, ""), Ok(Some(json!("1,234,567.89"))));
    let irregular = format!("#{}0", ",#,##".repeat(MEGABYTE / 5));
    assert_eq!(run("$formatNumber(1, $picture)", &irregular, ""), Err("U1002"));
    let zeros = "0".repeat(MEGABYTE);
    assert_eq!(run("$length($formatNumber(1, $picture))", &zeros, ""), Ok(Some(json!(MEGABYTE))));
    let passive = "x".repeat(MEGABYTE);
    assert_eq!(run("$formatNumber(1, $picture)", &passive, ""), Err("D3085"));
    assert_eq!(run("$formatNumber(0, '0e0')", "", ""), Err("U1002"));
    assert_eq!(run("$formatNumber(-1, '0.0e0')", "", ""), Err("U1002"));
}

#[test]
fn megabyte_integer_pictures_and_padding_are_bounded() {
    let zeros = "0".repeat(MEGABYTE);
    assert_eq!(run("$length($formatInteger(7, $picture))", &zeros, ""), Ok(Some(json!(MEGABYTE))));
    let too_wide = "0".repeat(5 * MEGABYTE);
    assert_eq!(run("$formatInteger(7, $picture)", &too_wide, ""), Err("U1003"));
    let words = run("$formatInteger(1e300, 'w')", "", "");
    assert!(matches!(&words, Ok(Some(Value::String(s))) if s.starts_with("one trillion trillion")), "{words:?}");
    assert_eq!(run("$formatInteger(1e300, 'I')", "", ""), Err("U1001"));
    assert_eq!(run("$formatInteger(1e300, 'A') ~> $length()", "", ""), Ok(Some(json!(213))));
    assert_eq!(run("$parseInteger($text, '#,##0')", "", &"9,999".repeat(MEGABYTE / 5)), Ok(Some(Value::Null)));
}

#[test]
fn date_time_widths_and_pictures_are_bounded() {
    assert_eq!(run("$length($fromMillis(0, '[Y,1000000]'))", "", ""), Ok(Some(json!(1_000_000))));
    assert_eq!(run("$fromMillis(0, '[Y,1000000000]')", "", ""), Err("U1003"));
    assert_eq!(run("$fromMillis(0, '[D,*-1000000000]')", "", ""), Err("U1003"));
    let markers = "[Y]".repeat(MEGABYTE / 3);
    assert_eq!(run("$length($fromMillis(0, $picture))", &markers, ""), Ok(Some(json!(4 * (MEGABYTE / 3)))));
    let unclosed = format!("{}[", "[[".repeat(MEGABYTE / 2));
    assert_eq!(run("$fromMillis(0, $picture)", &unclosed, ""), Err("D3135"));
    assert_eq!(run("$fromMillis(0, $picture)", &"[Y".repeat(MEGABYTE / 2), ""), Err("D3135"));
}

#[test]
fn parsing_a_megabyte_of_digits_is_linear() {
    let digits = "1".repeat(MEGABYTE);
    assert_eq!(run("$toMillis($text, '[Y]')", "", &digits), Ok(Some(Value::Null)));
    assert_eq!(run("$toMillis('2024', '[Y,1000000000]')", "", ""), Ok(None));
}

#[test]
fn parsing_a_megabyte_of_words_is_linear() {
    let words = "one ".repeat(MEGABYTE / 4);
    assert!(run("$toMillis($text, '[Yw]')", "", &words).is_ok());
}

#[test]
fn parsing_with_many_markers_is_bounded() {
    let picture = "[Y]-".repeat(500);
    assert_eq!(
        run("$toMillis($text, $picture)", &picture, &"2024-".repeat(500)),
        Ok(Some(json!(1_704_067_200_000i64)))
    );
    let huge = "[Y]-".repeat(MEGABYTE / 4);
    assert_eq!(run("$toMillis($text, $picture)", &huge, &"2024-".repeat(MEGABYTE / 4)), Err("U1002"));
    let wordy = "[Yw]".repeat(1000);
    assert!(run("$toMillis($text, $picture)", &wordy, "one").is_err());
}

#[test]
fn parsing_a_megabyte_against_many_markers_is_bounded() {
    let picture = "[Y]-".repeat(500);
    let text = format!("{}-", "1".repeat(2000)).repeat(500);
    assert_eq!(run("$toMillis($text, $picture)", &picture, &text), Ok(Some(Value::Null)));
}
