//! Custom matcher functions in place of a regular expression (`$match`, `$contains`, `$split`,
//! `$replace`), as the reference's `evaluateMatcher`: the function is called with the string
//! and returns `{match, start, end, groups, next}`, where `next()` gives the following match
//! and undefined after the last. Every call is charged a step, so a matcher that never ends
//! stops at the step limit (`U1002`).

use crate::error::{Error, Result};
use crate::eval::Ctx;
use crate::value::{Env, Val};

/// Calls `matcher` with `argument` and checks the structure of what it returns (`T1010`).
/// `Ok(None)` means no (more) matches.
pub(crate) fn evaluate_matcher(ctx: &Ctx, matcher: &Val, argument: Val, name: &str, env: &Env) -> Result<Option<Val>> {
    ctx.charge(1)?;
    if !matcher.is_function() {
        return Err(Error::new(
            "T1010",
            format!("The matcher passed to function \"{name}\" returned a next that is not a function"),
        ));
    }
    let result = ctx.call_hof(matcher, vec![argument], env)?;
    if !js_falsy(&result) && !has_match_structure(&result) {
        return Err(Error::new(
            "T1010",
            format!("The matcher function argument passed to function \"{name}\" does not return the correct object structure"),
        ));
    }
    Ok(if result.is_undefined() { None } else { Some(result) })
}

/// The next match after `current`, from its `next` function.
pub(crate) fn next_match(ctx: &Ctx, current: &Val, name: &str, env: &Env) -> Result<Option<Val>> {
    evaluate_matcher(ctx, &field(current, name, "next")?, Val::Undefined, name, env)
}

/// JavaScript's falsy values (the reference tests the matcher's result with `if (result && ...)`).
fn js_falsy(value: &Val) -> bool {
    match value {
        Val::Undefined | Val::Null | Val::Bool(false) => true,
        Val::Num(n) => *n == 0.0 || n.is_nan(),
        Val::Str(s) => s.is_empty(),
        _ => false,
    }
}

/// The reference's check: a numeric `start`, an array `groups` or a function `next`.
fn has_match_structure(value: &Val) -> bool {
    let Val::Obj(object) = value else { return false };
    matches!(object.map.get("start"), Some(Val::Num(_)))
        || matches!(object.map.get("groups"), Some(Val::Arr(_)))
        || matches!(object.map.get("next"), Some(Val::Func(_)))
}

/// A field of a match; a match that is not an object (`null`, `false`...) is an error where
/// the reference reads a property of it.
pub(crate) fn field(current: &Val, name: &str, key: &str) -> Result<Val> {
    match current {
        Val::Obj(object) => Ok(object.map.get(key).cloned().unwrap_or(Val::Undefined)),
        _ => Err(Error::new(
            "T1010",
            format!(
                "The matcher function argument passed to function \"{name}\" returned a match that is not an object"
            ),
        )),
    }
}

/// JavaScript's `ToNumber` for an index, with undefined as `when_undefined`.
fn index_number(value: &Val, when_undefined: f64) -> f64 {
    match value {
        Val::Undefined => when_undefined,
        Val::Null | Val::Bool(false) => 0.0,
        Val::Bool(true) => 1.0,
        Val::Num(n) => *n,
        Val::Str(s) if s.trim().is_empty() => 0.0,
        Val::Str(s) => s.trim().parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

/// `String.prototype.substring(from, to)` over code points: NaN is 0, both ends are clamped
/// to the string and swapped when out of order.
pub(crate) fn js_substring(chars: &[char], from: &Val, to: &Val) -> String {
    let length = chars.len() as f64;
    let clamp = |n: f64| if n.is_nan() { 0 } else { n.trunc().clamp(0.0, length) as usize };
    let (a, b) = (clamp(index_number(from, f64::NAN)), clamp(index_number(to, length)));
    chars[a.min(b)..a.max(b)].iter().collect()
}

/// The position after a match: `start + match.length`, as the reference computes it for
/// `$replace` (a match that is not a string has no length, which makes the position NaN).
pub(crate) fn end_of_match(current: &Val, name: &str) -> Result<Val> {
    let start = index_number(&field(current, name, "start")?, f64::NAN);
    Ok(match field(current, name, "match")? {
        Val::Str(s) => Val::Num(start + s.chars().count() as f64),
        Val::Undefined | Val::Null => {
            return Err(Error::new("T1010", format!("A match given to function \"{name}\" has no match string")))
        }
        _ => Val::Num(f64::NAN),
    })
}

#[cfg(test)]
mod tests {
    use crate::{Expression, Limits, Options};
    use serde_json::{json, Map};

    /// A matcher whose `next()` always gives another (empty) match.
    const ENDLESS: &str =
        r#"function($s){ ($m := function(){ {"match":"","start":0,"end":0,"groups":[],"next":$m} }; $m()) }"#;

    fn error_code(expression: &str) -> &'static str {
        let options = Options { limits: Limits { max_steps: 50_000, ..Limits::default() }, now_millis: Some(0) };
        let parsed = Expression::parse(expression).expect("the expression parses");
        match parsed.evaluate_with(Some(&json!("abc")), &Map::new(), &options) {
            Err(error) => error.code,
            other => panic!("{expression}: expected an error, got {other:?}"),
        }
    }

    #[test]
    fn a_matcher_that_never_ends_stops_at_the_step_limit() {
        for call in
            [format!("$match($, {ENDLESS})"), format!("$split($, {ENDLESS})"), format!("$replace($, {ENDLESS}, 'x')")]
        {
            assert_eq!(error_code(&call), "U1002", "{call}");
        }
    }

    #[test]
    fn a_limit_stops_an_endless_matcher() {
        let parsed = Expression::parse(&format!("$count($match($, {ENDLESS}, 3))")).expect("parses");
        assert_eq!(parsed.evaluate(Some(&json!("abc")), &Map::new()).expect("evaluates"), Some(json!(3)));
    }

    #[test]
    fn a_matcher_returning_the_wrong_structure_is_t1010() {
        assert_eq!(error_code("$contains($, function($s){ 'x' })"), "T1010");
        assert_eq!(error_code(r#"$match($, function($s){ {"start":0,"match":"a","next":5} })"#), "T1010");
        assert_eq!(
            error_code(r#"$match($, function($s){ {"start":0,"match":"a","next":function(){ null }} })"#),
            "T1010"
        );
    }
}
