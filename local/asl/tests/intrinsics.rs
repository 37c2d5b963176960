//! Each intrinsic function, nesting, escapes, and States.IntrinsicFailure.

mod common;
use common::*;
use serde_json::{json, Value};

/// Evaluates `expr` as a Pass Parameters `.$` value over `input`: Ok(value) or Err(error name).
async fn eval(expr: &str, input: Value) -> Result<Value, (String, String)> {
    let def = pass(json!({"Parameters": {"r.$": expr}}));
    let (d, _) = run(&def, input, Recorder::echo()).await;
    match d.output_json() {
        Some(v) => Ok(v["r"].clone()),
        None => Err((d.error.unwrap_or_default(), d.cause.unwrap_or_default())),
    }
}

async fn ok(expr: &str, input: Value) -> Value {
    eval(expr, input).await.unwrap_or_else(|e| panic!("{expr}: {e:?}"))
}

async fn fails(expr: &str, input: Value) {
    match eval(expr, input).await {
        Err((error, _)) => assert_eq!(error, "States.IntrinsicFailure", "{expr}"),
        Ok(v) => panic!("{expr} should fail, gave {v}"),
    }
}

#[tokio::test]
async fn format_with_placeholders_and_escapes() {
    assert_eq!(
        ok("States.Format('Hello, {} and {}!', $.a, $.n)", json!({"a": "Ann", "n": 3})).await,
        json!("Hello, Ann and 3!")
    );
    assert_eq!(ok(r"States.Format('it\'s \{literal\} \\ {}', true)", json!({})).await, json!(r"it's {literal} \ true"));
    assert_eq!(ok("States.Format('null: {}', $.x)", json!({"x": null})).await, json!("null: null"));
    fails("States.Format('{} {}', 'only one')", json!({})).await;
    fails("States.Format('{}', $.obj)", json!({"obj": {"a": 1}})).await;
}

#[tokio::test]
async fn json_conversions() {
    assert_eq!(ok("States.StringToJson($.s)", json!({"s": "{\"a\":[1,2]}"})).await, json!({"a": [1, 2]}));
    fails("States.StringToJson($.s)", json!({"s": "{nope"})).await;
    assert_eq!(ok("States.JsonToString($.o)", json!({"o": {"a": 1}})).await, json!("{\"a\":1}"));
}

#[tokio::test]
async fn array_functions() {
    assert_eq!(ok("States.Array('a', 1, true, null, $.x)", json!({"x": [1]})).await, json!(["a", 1, true, null, [1]]));
    assert_eq!(ok("States.Array()", json!({})).await, json!([]));
    assert_eq!(ok("States.ArrayPartition($.a, 2)", json!({"a": [1, 2, 3, 4, 5]})).await, json!([[1, 2], [3, 4], [5]]));
    fails("States.ArrayPartition($.a, 0)", json!({"a": [1]})).await;
    assert_eq!(ok("States.ArrayContains($.a, 3)", json!({"a": [1, 2, 3]})).await, json!(true));
    assert_eq!(ok("States.ArrayContains($.a, 'x')", json!({"a": [1, 2, 3]})).await, json!(false));
    assert_eq!(ok("States.ArrayRange(1, 9, 2)", json!({})).await, json!([1, 3, 5, 7, 9]));
    assert_eq!(ok("States.ArrayRange(5, 1, -2)", json!({})).await, json!([5, 3, 1]));
    fails("States.ArrayRange(1, 5, 0)", json!({})).await;
    fails("States.ArrayRange(0, 5000, 1)", json!({})).await;
    assert_eq!(ok("States.ArrayGetItem($.a, 1)", json!({"a": ["x", "y"]})).await, json!("y"));
    fails("States.ArrayGetItem($.a, 5)", json!({"a": ["x"]})).await;
    assert_eq!(ok("States.ArrayLength($.a)", json!({"a": [1, 2, 3]})).await, json!(3));
    fails("States.ArrayLength($.a)", json!({"a": "abc"})).await;
    assert_eq!(
        ok("States.ArrayUnique($.a)", json!({"a": [1, 2, 1, "a", "a", {"k": 1}, {"k": 1}]})).await,
        json!([1, 2, "a", {"k": 1}])
    );
}

#[tokio::test]
async fn base64_and_hash() {
    assert_eq!(ok("States.Base64Encode('Hello')", json!({})).await, json!("SGVsbG8="));
    assert_eq!(ok("States.Base64Decode('SGVsbG8=')", json!({})).await, json!("Hello"));
    fails("States.Base64Decode('%%%')", json!({})).await;
    let hashes = [
        ("MD5", "8b1a9953c4611296a827abf8c47804d7"),
        ("SHA-1", "f7ff9e8b7bb2e09b70935a5d785e0cc5d9d0abf0"),
        ("SHA-256", "185f8db32271fe25f561a6fc938b2e264306ec304eda518007d1764826381969"),
        ("SHA-384", "3519fe5ad2c596efe3e276a6f351b8fc0b03db861782490d45f7598ebd0ab5fd5520ed102f38c4a5ec834e98668035fc"),
        ("SHA-512", "3615f80c9d293ed7402687f94b22d58e529b8cc7916f8fac7fddf7fbd5af4cf777d3d795a7a00a16bf7e7f3fb9561ee9baae480da9fe7a18769e71886b03f315"),
    ];
    for (alg, want) in hashes {
        assert_eq!(ok(&format!("States.Hash('Hello', '{alg}')"), json!({})).await, json!(want), "{alg}");
    }
    fails("States.Hash('Hello', 'CRC32')", json!({})).await;
}

#[tokio::test]
async fn json_merge_is_shallow() {
    let input = json!({"a": {"x": 1, "inner": {"p": 1}}, "b": {"y": 2, "inner": {"q": 2}}});
    assert_eq!(
        ok("States.JsonMerge($.a, $.b, false)", input.clone()).await,
        json!({"x": 1, "y": 2, "inner": {"q": 2}})
    );
    fails("States.JsonMerge($.a, $.b, true)", input).await;
}

#[tokio::test]
async fn math_functions() {
    assert_eq!(ok("States.MathAdd($.n, -3)", json!({"n": 10})).await, json!(7));
    fails("States.MathAdd($.n, 1)", json!({"n": 1.5})).await;
    for _ in 0..5 {
        let r = ok("States.MathRandom(5, 8)", json!({})).await.as_i64().unwrap();
        assert!((5..8).contains(&r), "{r}");
    }
    let a = ok("States.MathRandom(0, 1000000, 42)", json!({})).await;
    let b = ok("States.MathRandom(0, 1000000, 42)", json!({})).await;
    assert_eq!(a, b, "a seed makes it deterministic");
    fails("States.MathRandom(5, 5)", json!({})).await;
}

#[tokio::test]
async fn string_split_and_uuid() {
    assert_eq!(ok("States.StringSplit($.s, ',')", json!({"s": "a,b,,c"})).await, json!(["a", "b", "c"]));
    assert_eq!(ok("States.StringSplit('1 2;3', ' ;')", json!({})).await, json!(["1", "2", "3"]));
    let u = ok("States.UUID()", json!({})).await;
    let u = u.as_str().unwrap();
    assert_eq!(u.len(), 36);
    assert_eq!(u.as_bytes()[14], b'4', "a version 4 UUID: {u}");
    assert_ne!(ok("States.UUID()", json!({})).await, json!(u));
}

#[tokio::test]
async fn nested_calls_and_context_arguments() {
    assert_eq!(
        ok(
            "States.ArrayLength(States.StringSplit(States.Format('{}-{}', $.a, $$.State.Name), '-'))",
            json!({"a": "x"})
        )
        .await,
        json!(2)
    );
    assert_eq!(
        ok("States.Format('{}', States.MathAdd(1, States.ArrayLength(States.Array(1, 2))))", json!({})).await,
        json!("3")
    );
}

#[tokio::test]
async fn intrinsic_failures_can_be_caught() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "r", "Parameters": {"x.$": "States.ArrayGetItem($.a, 9)"}, "End": true,
              "Catch": [{"ErrorEquals": ["States.IntrinsicFailure"], "Next": "C"}]},
        "C": {"Type": "Pass", "End": true}
    }});
    let inv = Recorder::echo();
    let (d, _) = run(&def, json!({"a": [1]}), inv.clone()).await;
    assert_eq!(output(&d)["Error"], json!("States.IntrinsicFailure"));
    assert!(inv.calls().is_empty());
    // A path argument that matches nothing is States.Runtime, as on AWS (tests/runtime_errors.rs).
    assert_eq!(eval("States.ArrayLength($.nope)", json!({})).await.unwrap_err().0, "States.Runtime");
}

#[tokio::test]
async fn bad_intrinsics_are_definition_errors() {
    for bad in [
        "States.Nope(1)",
        "States.Format(1)",
        "States.ArrayLength()",
        "States.UUID(1)",
        "States.Format('x', ",
        "States.Array(bareword)",
        "States.Format('unterminated)",
    ] {
        let def = pass(json!({"Parameters": {"r.$": bad}}));
        let err = asl::Definition::parse(&def.to_string()).expect_err(bad);
        assert!(err.to_string().contains("state 'P'"), "{bad}: {err}");
    }
}

#[test]
fn deeply_nested_calls_are_rejected_not_a_stack_overflow() {
    let expr = format!("{}1{}", "States.Array(".repeat(5000), ")".repeat(5000));
    let def = pass(json!({"Parameters": {"r.$": expr}}));
    let err = asl::Definition::parse(&def.to_string()).unwrap_err().to_string();
    assert!(err.contains("nest deeper"), "{err}");
}
