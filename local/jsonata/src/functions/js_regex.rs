//! Regular expression literals with JavaScript's features: look-around and back-references
//! run on `fancy-regex`'s backtracking engine, bounded by a backtrack limit so that a
//! catastrophic pattern such as `(a+)+$` ends in an error instead of running for hours;
//! patterns without such features are delegated whole to the linear `regex` engine.

use crate::error::{Error, Result};
use fancy_regex::{Regex, RegexBuilder};

/// Backtracking steps one search may take before it fails with `U1002`.
const BACKTRACK_LIMIT: usize = 1_000_000;

/// Size bound of the compiled automata (per delegated sub-expression).
const SIZE_LIMIT: usize = 1 << 20;

/// Compiles the literal `/pattern/flags`, refusing what JavaScript refuses (inline flag
/// groups such as `(?i)`) and what the engine cannot run.
pub(crate) fn compile_js_regex(pattern: &str, flags: &str, position: usize) -> Result<Regex> {
    let rust_pattern = rust_syntax(pattern).map_err(|group| {
        Error::at(
            "S0303",
            position,
            format!("Invalid regular expression /{pattern}/: JavaScript has no inline flag group {group}"),
        )
    })?;
    RegexBuilder::new(&rust_pattern)
        .case_insensitive(flags.contains('i'))
        .multi_line(flags.contains('m'))
        .backtrack_limit(BACKTRACK_LIMIT)
        .delegate_size_limit(SIZE_LIMIT)
        .delegate_dfa_size_limit(SIZE_LIMIT)
        .build()
        .map_err(|e| Error::at("U1000", position, format!("Unsupported regular expression /{pattern}/: {e}")))
}

/// The pattern in Rust's syntax, in one pass over it (escapes and character classes tracked):
/// JavaScript's `\d`, `\w` (and their negations) are ASCII-only where Rust's are Unicode, so
/// they are spelled out as ASCII classes (inside a character class, as POSIX classes). A group
/// opening `(?` followed by something other than `:`, `=`, `!` or `<` is an inline flag group,
/// which JavaScript rejects: `Err` with its first characters.
fn rust_syntax(pattern: &str) -> std::result::Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len());
    let mut in_class = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&next) = chars.get(i + 1) else {
                    out.push(c);
                    break;
                };
                i += 1;
                match (next, in_class) {
                    ('d', false) => out.push_str("[0-9]"),
                    ('D', false) => out.push_str("[^0-9]"),
                    ('w', false) => out.push_str("[0-9A-Za-z_]"),
                    ('W', false) => out.push_str("[^0-9A-Za-z_]"),
                    ('d', true) => out.push_str("0-9"),
                    ('D', true) => out.push_str("[:^digit:]"),
                    ('w', true) => out.push_str("0-9A-Za-z_"),
                    ('W', true) => out.push_str("[:^word:]"),
                    (other, _) => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            '(' if !in_class
                && chars.get(i + 1) == Some(&'?')
                && !matches!(chars.get(i + 2), Some(':' | '=' | '!' | '<')) =>
            {
                return Err(chars[i..(i + 4).min(chars.len())].iter().collect());
            }
            '[' => {
                in_class = true;
                out.push(c);
            }
            ']' => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
        i += 1;
    }
    Ok(out)
}

/// The error a search that exceeded the engine's limits reports.
pub(crate) fn search_error(pattern: &str, error: fancy_regex::Error) -> Error {
    Error::new("U1002", format!("The regular expression /{pattern}/ could not finish its search: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_flag_groups_are_refused_as_javascript_does() {
        for pattern in ["(?i)a", "x(?i:y)", "(?s)x", "(?-i)x"] {
            assert!(compile_js_regex(pattern, "", 0).is_err(), "{pattern}");
        }
        for pattern in ["(?:a)", "(?=a)", "(?!a)", "(?<=a)b", "(?<!a)b", "(?<n>a)\\k<n>", "[(?i)]", "\\(?i\\)"] {
            assert!(compile_js_regex(pattern, "", 0).is_ok(), "{pattern}");
        }
    }

    #[test]
    fn catastrophic_patterns_end_quickly() {
        let text = format!("{}b", "a".repeat(10_000));
        let started = std::time::Instant::now();
        let linear = compile_js_regex("(a+)+$", "", 0).expect("compiles");
        assert!(matches!(linear.captures(&text), Ok(None)), "no fancy features: the linear engine, no match");
        let backtracking = compile_js_regex("^((a+)+)(?!b)$", "", 0).expect("compiles");
        assert!(backtracking.captures(&text).is_err(), "look-ahead: backtracking, stopped by the limit");
        let back_reference = compile_js_regex("^(a*)*\\1c", "", 0).expect("compiles");
        assert!(back_reference.captures(&text).is_err(), "back-reference: stopped by the limit");
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
    }

    #[test]
    fn digit_and_word_classes_are_ascii_as_in_javascript() {
        let cases = [
            ("\\d", "a\u{663}7", Some("7")),
            ("\\w+", "\u{e9}ab", Some("ab")),
            ("[\\d.]+", "\u{663}1.5", Some("1.5")),
            ("[\\D]+", "12ab", Some("ab")),
            ("[x\\W]+", "ab-x c", Some("-x ")),
            ("\\W", "\u{e9}", Some("\u{e9}")),
            ("\\\\d", "\\d", Some("\\d")),
        ];
        for (pattern, text, expected) in cases {
            let re = compile_js_regex(pattern, "", 0).expect("compiles");
            let found = re.find(text).ok().flatten().map(|m| m.as_str());
            assert_eq!(found, expected, "/{pattern}/ on {text:?}");
        }
    }

    #[test]
    fn look_around_and_back_references_match() {
        let re = compile_js_regex("(\\w+)\\1(?= )(?<!x)", "", 0).expect("compiles");
        let found = re.captures("abab cdcd").ok().flatten().and_then(|c| c.get(0)).map(|m| m.as_str());
        assert_eq!(found, Some("abab"));
    }

    #[test]
    fn a_catastrophic_search_in_an_expression_is_u1002() {
        let input = serde_json::json!(format!("{}b", "a".repeat(5_000)));
        for call in [
            "$match($, /^((a+)+)(?!b)$/)",
            "$contains($, /^(a*)*\\1c/)",
            "$replace($, /(a|a)+\\1c/, 'x')",
            "/(a|a)+\\1c/($)",
        ] {
            let parsed = crate::Expression::parse(call).expect("parses");
            let outcome = parsed.evaluate(Some(&input), &serde_json::Map::new());
            assert_eq!(outcome.map_err(|e| e.code), Err("U1002"), "{call}");
        }
    }
}
