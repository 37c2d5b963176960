//! Behaviour the reference corpus cannot check: the Step Functions functions, the resource
//! limits against hostile expressions, and the public API's guarantees.

use super::*;
use serde_json::json;

fn eval(expression: &str) -> Result<Option<Value>> {
    Expression::parse(expression)?.evaluate(None, &Map::new())
}

fn value(expression: &str) -> Value {
    match eval(expression) {
        Ok(Some(v)) => v,
        other => panic!("{expression}: {other:?}"),
    }
}

fn code(expression: &str) -> &'static str {
    match eval(expression) {
        Err(e) => e.code,
        other => panic!("{expression}: expected an error, got {other:?}"),
    }
}

#[test]
fn expressions_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Expression>();
    check::<Error>();
}

#[test]
fn partition_chunks_an_array() {
    assert_eq!(value("$partition([1,2,3,4,5,6,7,8,9], 3)"), json!([[1, 2, 3], [4, 5, 6], [7, 8, 9]]));
    assert_eq!(value("$partition([1,2,3,4,5], 2)"), json!([[1, 2], [3, 4], [5]]));
    assert_eq!(value("$partition([], 2)"), json!([]));
    assert_eq!(code("$partition([1], 0)"), "U1005");
    assert_eq!(code("$partition([1], 1.5)"), "U1005");
    assert_eq!(code("$partition([1], 'a')"), "T0410");
}

#[test]
fn range_counts_inclusively_by_step() {
    assert_eq!(value("$range(0, 10, 2)"), json!([0, 2, 4, 6, 8, 10]));
    assert_eq!(value("$range(5, 1, -2)"), json!([5, 3, 1]));
    assert_eq!(value("$range(1, 0, 1)"), json!([]));
    assert_eq!(code("$range(0, 10, 0)"), "U1005");
    assert_eq!(code("$range(0, 1.5, 1)"), "U1005");
    assert_eq!(value("$count($range(1, 1000, 1))"), json!(1000));
    assert_eq!(code("$range(1, 1001, 1)"), "U1005");
}

#[test]
fn hash_gives_the_standard_digests() {
    assert_eq!(value("$hash('abc', 'MD5')"), json!("900150983cd24fb0d6963f7d28e17f72"));
    assert_eq!(value("$hash('abc', 'SHA-1')"), json!("a9993e364706816aba3e25717850c26c9cd0d89d"));
    assert_eq!(
        value("$hash('abc', 'SHA-256')"),
        json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    assert_eq!(value("$length($hash('abc', 'SHA-384'))"), json!(96));
    assert_eq!(value("$length($hash('abc', 'SHA-512'))"), json!(128));
    assert_eq!(code("$hash('abc', 'SHA-3')"), "U1005");
}

#[test]
fn random_is_in_range_and_repeatable_with_a_seed() {
    let unseeded = value("$random()").as_f64().unwrap_or(-1.0);
    assert!((0.0..1.0).contains(&unseeded));
    assert_eq!(value("$random(42)"), value("$random(42)"));
    assert_ne!(value("$random(42)"), value("$random(43)"));
    assert_eq!(value("[$random(), $random(), $random()] ~> $distinct() ~> $count()"), json!(3));
}

#[test]
fn uuid_is_a_random_version_4_uuid() {
    let text = value("$uuid()");
    let id = uuid::Uuid::parse_str(text.as_str().unwrap_or_default()).expect("a UUID");
    assert_eq!(id.get_version_num(), 4);
    assert_ne!(value("$uuid()"), text);
}

#[test]
fn parse_reads_json_and_eval_is_absent() {
    assert_eq!(value("$parse('{\"a\": [1, true, null]}').a"), json!([1, true, null]));
    assert_eq!(code("$parse('{bad')"), "U1005");
    assert_eq!(code("$eval('1')"), "T1006");
}

#[test]
fn bindings_and_the_clock_come_from_the_caller() {
    let bindings = json!({"states": {"input": {"n": 20}}});
    let expression = Expression::parse("$states.input.n + 1").unwrap_or_else(|e| panic!("{e}"));
    let result = expression.evaluate(None, bindings.as_object().unwrap_or(&Map::new()));
    assert_eq!(result, Ok(Some(json!(21))));
    let options = Options { now_millis: Some(1_000), ..Options::default() };
    let now = Expression::parse("[$now(), $millis()]").and_then(|e| e.evaluate_with(None, &Map::new(), &options));
    assert_eq!(now, Ok(Some(json!(["1970-01-01T00:00:01.000Z", 1000]))));
}

#[test]
fn errors_carry_code_position_and_token() {
    let error = eval("1 + 'a'").expect_err("type error");
    assert_eq!((error.code, error.position, error.token.as_deref()), ("T2002", Some(3), Some("+")));
    assert!(error.to_string().contains("T2002"));
    let error = eval("$uppercase(1)").expect_err("signature error");
    assert_eq!((error.code, error.token.as_deref()), ("T0410", Some("uppercase")));
}

#[test]
fn huge_ranges_exhaust_the_step_budget_instead_of_memory() {
    assert_eq!(code("$count([1..9000000])"), "U1002");
    assert_eq!(code("[1..10000001]"), "D2014");
}

#[test]
fn runaway_recursion_is_stopped() {
    assert_eq!(code("($f := function() { $f() }; $f())"), "U1002", "infinite tail recursion");
    assert_eq!(code("($f := function($n) { 1 + $f($n) }; $f(1))"), "U1001", "infinite non-tail recursion");
    assert_eq!(value("($f := function($n) { $n = 0 ? 'done' : $f($n - 1) }; $f(100000))"), json!("done"));
}

#[test]
fn deeply_nested_expressions_are_refused_at_parse_time() {
    let parens = format!("{}1{}", "(".repeat(5_000), ")".repeat(5_000));
    assert_eq!(Expression::parse(&parens).map(|_| ()).map_err(|e| e.code), Err("U1001"));
    let sum = vec!["1"; 5_000].join(" + ");
    assert_eq!(Expression::parse(&sum).map(|_| ()).map_err(|e| e.code), Err("U1001"));
    let negations = format!("{}1", "-".repeat(5_000));
    assert_eq!(Expression::parse(&negations).map(|_| ()).map_err(|e| e.code), Err("U1001"));
    let long = "a".repeat(Limits::default().max_expression_chars + 1);
    assert_eq!(Expression::parse(&long).map(|_| ()).map_err(|e| e.code), Err("U1003"));
}

#[test]
fn strings_and_values_cannot_grow_without_bound() {
    assert_eq!(code("$pad('', 100000000)"), "U1003");
    assert_eq!(code("$reduce([1..40], function($a, $b) { $a & $a }, 'xx')"), "U1003");
    assert_eq!(code("$reduce([1..1000], function($a, $b) { [[$a]] }, 1)"), "U1004");
    assert_eq!(code("$reduce([1..1000], function($a, $b) { {'x': $a} }, 1)"), "U1004");
}

#[test]
fn the_limits_are_configurable() {
    let limits = Limits { max_steps: 100, ..Limits::default() };
    let options = Options { limits, now_millis: None };
    let expression = Expression::parse("$sum([1..50])").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(expression.evaluate(None, &Map::new()), Ok(Some(json!(1275))));
    let error = expression.evaluate_with(None, &Map::new(), &options).map_err(|e| e.code);
    assert_eq!(error, Err("U1002"));
}

/// Each backtracking search stays under its own limit, but a text of many matches makes many
/// searches (minutes of CPU for a few kilobytes); the clock limit ends it, whichever function or
/// call form runs the searches.
#[test]
fn many_backtracking_searches_end_at_the_time_limit() {
    let limits = Limits { max_duration: std::time::Duration::from_millis(300), ..Limits::default() };
    let options = Options { limits, now_millis: Some(0) };
    let text = json!("a".repeat(2000));
    let slow = "/(a)(?=(\\1|aa){0,18}c|a)/";
    for call in [
        format!("$count($match($, {slow}))"),
        format!("$replace($, {slow}, 'b')"),
        format!("$split($, {slow})"),
        format!("$map([1..2000], function($i) {{ $contains($substring($, $i), {slow}) }})"),
        format!("$map([1..2000], function($i) {{ {slow}($substring($, $i)) }})"),
    ] {
        let expression = Expression::parse(&call).unwrap_or_else(|e| panic!("{call}: {e}"));
        let started = std::time::Instant::now();
        let result = expression.evaluate_with(Some(&text), &Map::new(), &options).map_err(|e| e.code);
        assert_eq!(result.map(|_| ()), Err("U1002"), "{call}");
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "{call} took {:?}", started.elapsed());
    }
}

/// A deterministic stream of garbage expressions built from JSONata's own tokens: whatever
/// they are, parsing and evaluation end with a value or an error, never a panic or a hang.
#[test]
fn random_token_soup_never_panics() {
    const TOKENS: [&str; 40] = [
        "(", ")", "[", "]", "{", "}", ".", ",", ";", ":", "?", "$", "$$", "$x", ":=", "..", "~>", "*", "**", "%", "#",
        "@", "^", "|", "&", "+", "-", "/", "=", "!=", "<", "'s'", "1", "0", "a", "function", "and", "$map", "/a/",
        "`b`",
    ];
    let input = json!({"a": [1, {"b": 2}], "s": "x"});
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..3_000 {
        let mut expression = String::new();
        let length = 1 + (state % 12) as usize;
        for _ in 0..length {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            expression.push_str(TOKENS[(state % TOKENS.len() as u64) as usize]);
            expression.push(' ');
        }
        if let Ok(parsed) = Expression::parse(&expression) {
            let _ = parsed.evaluate(Some(&input), &Map::new());
        }
    }
}

#[test]
fn top_level_arrays_are_one_input_value() {
    let input = json!([1, 2, 3]);
    let expression = Expression::parse("$count($)").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(expression.evaluate(Some(&input), &Map::new()), Ok(Some(json!(3))));
    let sum = Expression::parse("$sum($)").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sum.evaluate(Some(&input), &Map::new()), Ok(Some(json!(6))));
}

#[test]
fn ordinary_work_on_a_large_payload_fits_the_budget() {
    let text = "ab".repeat(50_000);
    let input = json!({"text": text, "ids": (0..20_000).map(|i| i % 5_000).collect::<Vec<_>>()});
    let run = |expression: &str| Expression::parse(expression).and_then(|e| e.evaluate(Some(&input), &Map::new()));
    assert_eq!(run("$length($replace(text, 'a', 'xy'))"), Ok(Some(json!(150_000))));
    assert_eq!(run("$length($replace(text, /b/, 'c'))"), Ok(Some(json!(100_000))));
    assert_eq!(run("$count($distinct(ids))"), Ok(Some(json!(5_000))));
}

#[test]
fn a_long_chain_of_focus_joins_ends_in_the_step_limit() {
    let started = std::time::Instant::now();
    let chain = "$a@$p.$a@$q.$a@$r.$a@$s.$a@$t.$a@$u.($p + $q + $r + $s + $t + $u)";
    assert_eq!(code(&format!("($a := [1..1000]; {chain})")), "U1002");
    let deep: Vec<String> = (0..200).map(|i| format!("$a@$v{i}")).collect();
    let deep_code = code(&format!("($a := [1..100]; {})", deep.join(".")));
    assert!(deep_code == "U1001" || deep_code == "U1002", "{deep_code}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "took {:?}", started.elapsed());
}

#[test]
fn index_and_focus_bindings_number_and_join() {
    assert_eq!(value("($a := [5,6,7]; $a#$i.{'v': $, 'i': $i})"), json!([{"v":5,"i":0},{"v":6,"i":1},{"v":7,"i":2}]));
    assert_eq!(value("($a := [1,2]; $b := [10,20]; $a@$x.$b@$y.($x * $y))"), json!([10, 20, 20, 40]));
    assert_eq!(code("[1,2]@3"), "S0214");
    assert_eq!(code("[1,2][0]@$x"), "S0215");
}

#[test]
fn parent_operators_resolve_within_bounds() {
    let input = json!({"a": [{"id": 1, "b": [{"c": 10}, {"c": 20}]}, {"id": 2, "b": [{"c": 30}]}]});
    let parent = |expression: &str| {
        Expression::parse(expression).and_then(|e| e.evaluate(Some(&input), &Map::new())).map_err(|e| e.code)
    };
    assert_eq!(
        parent("a.b.{'c': c, 'id': %.id}"),
        Ok(Some(json!([{"c": 10, "id": 1}, {"c": 20, "id": 1}, {"c": 30, "id": 2}])))
    );
    assert_eq!(parent("a.b[%.id = 2].c"), Ok(Some(json!(30))));
    assert_eq!(parent("%.%"), Err("S0217"));
    assert_eq!(parent("a.b.$x.%"), Err("S0217"));
    assert_eq!(parent("a.(b).{'id': %.id}"), Ok(Some(json!([{"id": 1}, {"id": 1}, {"id": 2}]))));
    // `%` reaching through deeply parenthesised paths: bounded by the nesting limit.
    let nested = format!("a.{}b{}.%.id", "(".repeat(150), ")".repeat(150));
    assert_eq!(parent(&nested), Ok(Some(json!([1, 1, 2]))));
    let too_deep = format!("a.{}b{}.%.id", "(".repeat(5_000), ")".repeat(5_000));
    assert_eq!(parent(&too_deep), Err("U1001"));
    // Many `%` over a long path: each walks back to the start, within the parse bound.
    let long_path = vec!["a"; 90].join(".");
    let parents = vec!["%"; 90].join(".");
    assert_eq!(parent(&format!("{long_path}.{parents}")), Ok(None));
    let pairs: Vec<String> = (0..5_000).map(|i| format!("'k{i}': {parents}")).collect();
    let wide = format!("{long_path}.{{{}}}", pairs.join(", "));
    assert!(wide.len() < Limits::default().max_expression_chars * 10);
    let limits = Limits { max_expression_chars: wide.len(), ..Limits::default() };
    let started = std::time::Instant::now();
    let wide_result = Expression::parse_with_limits(&wide, &limits).map(|_| ()).map_err(|e| e.code);
    assert_eq!(wide_result, Err("U1003"));
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}
