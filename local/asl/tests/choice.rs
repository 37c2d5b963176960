//! Every Choice operator with cases that match and cases that do not; And/Or/Not; Default;
//! States.NoChoiceMatched.

mod common;
use common::*;
use serde_json::{json, Value};

/// Runs a Choice with one rule against `input`; returns whether the rule matched.
async fn matched(rule: Value, input: Value) -> Result<bool, String> {
    let mut rule = rule;
    rule["Next"] = json!("Yes");
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [rule], "Default": "No"},
        "Yes": {"Type": "Pass", "Result": "yes", "End": true},
        "No": {"Type": "Pass", "Result": "no", "End": true}
    }});
    let (d, _) = run(&def, input, Recorder::echo()).await;
    match d.output_json() {
        Some(v) => Ok(v == json!("yes")),
        None => Err(d.error.unwrap_or_default()),
    }
}

#[tokio::test]
async fn comparison_operators() {
    let ts = "2024-05-01T12:00:00Z";
    let input = json!({
        "s": "banana", "n": 5, "f": 2.5, "b": true, "t": ts, "nul": null,
        "other_s": "banana", "other_n": 5, "big_n": 7, "other_b": true, "later_t": "2024-05-01T12:00:01Z",
        "file": "photo.jpg", "star": "a*b"
    });
    // (rule, expected)
    let cases: Vec<(Value, bool)> = vec![
        (json!({"Variable": "$.s", "StringEquals": "banana"}), true),
        (json!({"Variable": "$.s", "StringEquals": "apple"}), false),
        (json!({"Variable": "$.n", "StringEquals": "5"}), false), // wrong type never matches
        (json!({"Variable": "$.s", "StringLessThan": "cherry"}), true),
        (json!({"Variable": "$.s", "StringLessThan": "apple"}), false),
        (json!({"Variable": "$.s", "StringGreaterThan": "apple"}), true),
        (json!({"Variable": "$.s", "StringGreaterThan": "cherry"}), false),
        (json!({"Variable": "$.s", "StringLessThanEquals": "banana"}), true),
        (json!({"Variable": "$.s", "StringLessThanEquals": "apple"}), false),
        (json!({"Variable": "$.s", "StringGreaterThanEquals": "banana"}), true),
        (json!({"Variable": "$.s", "StringGreaterThanEquals": "cherry"}), false),
        (json!({"Variable": "$.s", "StringEqualsPath": "$.other_s"}), true),
        (json!({"Variable": "$.s", "StringEqualsPath": "$.file"}), false),
        (json!({"Variable": "$.s", "StringLessThanPath": "$.file"}), true),
        (json!({"Variable": "$.file", "StringLessThanPath": "$.s"}), false),
        (json!({"Variable": "$.file", "StringGreaterThanPath": "$.s"}), true),
        (json!({"Variable": "$.s", "StringGreaterThanPath": "$.file"}), false),
        (json!({"Variable": "$.s", "StringLessThanEqualsPath": "$.other_s"}), true),
        (json!({"Variable": "$.file", "StringLessThanEqualsPath": "$.s"}), false),
        (json!({"Variable": "$.s", "StringGreaterThanEqualsPath": "$.other_s"}), true),
        (json!({"Variable": "$.s", "StringGreaterThanEqualsPath": "$.file"}), false),
        (json!({"Variable": "$.file", "StringMatches": "*.jpg"}), true),
        (json!({"Variable": "$.file", "StringMatches": "*.png"}), false),
        (json!({"Variable": "$.star", "StringMatches": "a\\*b"}), true),
        (json!({"Variable": "$.file", "StringMatches": "photo\\*"}), false),
        (json!({"Variable": "$.n", "NumericEquals": 5}), true),
        (json!({"Variable": "$.n", "NumericEquals": 5.0}), true),
        (json!({"Variable": "$.n", "NumericEquals": 6}), false),
        (json!({"Variable": "$.s", "NumericEquals": 5}), false),
        (json!({"Variable": "$.f", "NumericLessThan": 3}), true),
        (json!({"Variable": "$.f", "NumericLessThan": 2.5}), false),
        (json!({"Variable": "$.f", "NumericGreaterThan": 2}), true),
        (json!({"Variable": "$.f", "NumericGreaterThan": 2.5}), false),
        (json!({"Variable": "$.n", "NumericLessThanEquals": 5}), true),
        (json!({"Variable": "$.n", "NumericLessThanEquals": 4}), false),
        (json!({"Variable": "$.n", "NumericGreaterThanEquals": 5}), true),
        (json!({"Variable": "$.n", "NumericGreaterThanEquals": 6}), false),
        (json!({"Variable": "$.n", "NumericEqualsPath": "$.other_n"}), true),
        (json!({"Variable": "$.n", "NumericEqualsPath": "$.big_n"}), false),
        (json!({"Variable": "$.n", "NumericLessThanPath": "$.big_n"}), true),
        (json!({"Variable": "$.big_n", "NumericLessThanPath": "$.n"}), false),
        (json!({"Variable": "$.big_n", "NumericGreaterThanPath": "$.n"}), true),
        (json!({"Variable": "$.n", "NumericGreaterThanPath": "$.big_n"}), false),
        (json!({"Variable": "$.n", "NumericLessThanEqualsPath": "$.other_n"}), true),
        (json!({"Variable": "$.big_n", "NumericLessThanEqualsPath": "$.n"}), false),
        (json!({"Variable": "$.n", "NumericGreaterThanEqualsPath": "$.other_n"}), true),
        (json!({"Variable": "$.n", "NumericGreaterThanEqualsPath": "$.big_n"}), false),
        (json!({"Variable": "$.b", "BooleanEquals": true}), true),
        (json!({"Variable": "$.b", "BooleanEquals": false}), false),
        (json!({"Variable": "$.b", "BooleanEqualsPath": "$.other_b"}), true),
        (json!({"Variable": "$.s", "BooleanEqualsPath": "$.other_b"}), false),
        (json!({"Variable": "$.t", "TimestampEquals": "2024-05-01T14:00:00+02:00"}), true),
        (json!({"Variable": "$.t", "TimestampEquals": "2024-05-01T12:00:01Z"}), false),
        (json!({"Variable": "$.s", "TimestampEquals": "2024-05-01T12:00:00Z"}), false),
        (json!({"Variable": "$.t", "TimestampLessThan": "2024-05-01T12:00:01Z"}), true),
        (json!({"Variable": "$.t", "TimestampLessThan": "2024-05-01T12:00:00Z"}), false),
        (json!({"Variable": "$.t", "TimestampGreaterThan": "2024-05-01T11:59:59Z"}), true),
        (json!({"Variable": "$.t", "TimestampGreaterThan": "2024-05-01T12:00:00Z"}), false),
        (json!({"Variable": "$.t", "TimestampLessThanEquals": "2024-05-01T12:00:00Z"}), true),
        (json!({"Variable": "$.t", "TimestampLessThanEquals": "2024-05-01T11:00:00Z"}), false),
        (json!({"Variable": "$.t", "TimestampGreaterThanEquals": "2024-05-01T12:00:00Z"}), true),
        (json!({"Variable": "$.t", "TimestampGreaterThanEquals": "2024-05-01T13:00:00Z"}), false),
        (json!({"Variable": "$.t", "TimestampEqualsPath": "$.t"}), true),
        (json!({"Variable": "$.t", "TimestampEqualsPath": "$.later_t"}), false),
        (json!({"Variable": "$.t", "TimestampLessThanPath": "$.later_t"}), true),
        (json!({"Variable": "$.later_t", "TimestampLessThanPath": "$.t"}), false),
        (json!({"Variable": "$.later_t", "TimestampGreaterThanPath": "$.t"}), true),
        (json!({"Variable": "$.t", "TimestampGreaterThanPath": "$.later_t"}), false),
        (json!({"Variable": "$.t", "TimestampLessThanEqualsPath": "$.t"}), true),
        (json!({"Variable": "$.later_t", "TimestampLessThanEqualsPath": "$.t"}), false),
        (json!({"Variable": "$.t", "TimestampGreaterThanEqualsPath": "$.t"}), true),
        (json!({"Variable": "$.t", "TimestampGreaterThanEqualsPath": "$.later_t"}), false),
        (json!({"Variable": "$.nul", "IsNull": true}), true),
        (json!({"Variable": "$.s", "IsNull": true}), false),
        (json!({"Variable": "$.s", "IsNull": false}), true),
        (json!({"Variable": "$.s", "IsPresent": true}), true),
        (json!({"Variable": "$.missing", "IsPresent": true}), false),
        (json!({"Variable": "$.missing", "IsPresent": false}), true),
        (json!({"Variable": "$.nul", "IsPresent": true}), true),
        (json!({"Variable": "$.f", "IsNumeric": true}), true),
        (json!({"Variable": "$.s", "IsNumeric": true}), false),
        (json!({"Variable": "$.s", "IsString": true}), true),
        (json!({"Variable": "$.n", "IsString": true}), false),
        (json!({"Variable": "$.b", "IsBoolean": true}), true),
        (json!({"Variable": "$.s", "IsBoolean": true}), false),
        (json!({"Variable": "$.t", "IsTimestamp": true}), true),
        (json!({"Variable": "$.s", "IsTimestamp": true}), false),
        (json!({"Variable": "$.s", "IsTimestamp": false}), true),
    ];
    let mut failures = Vec::new();
    for (rule, expected) in cases {
        match matched(rule.clone(), input.clone()).await {
            Ok(got) if got == expected => {}
            other => failures.push(format!("{rule} -> {other:?}, expected {expected}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn and_or_not() {
    let input = json!({"n": 5, "s": "x"});
    let and_yes =
        json!({"And": [{"Variable": "$.n", "NumericGreaterThan": 1}, {"Variable": "$.s", "StringEquals": "x"}]});
    let and_no =
        json!({"And": [{"Variable": "$.n", "NumericGreaterThan": 1}, {"Variable": "$.s", "StringEquals": "y"}]});
    let or_yes = json!({"Or": [{"Variable": "$.n", "NumericLessThan": 1}, {"Variable": "$.s", "StringEquals": "x"}]});
    let or_no = json!({"Or": [{"Variable": "$.n", "NumericLessThan": 1}, {"Variable": "$.s", "StringEquals": "y"}]});
    let not_yes = json!({"Not": {"Variable": "$.s", "StringEquals": "y"}});
    let not_no = json!({"Not": {"Variable": "$.s", "StringEquals": "x"}});
    let nested = json!({"Not": {"Or": [and_no.clone(), {"Variable": "$.missing", "IsPresent": true}]}});
    for (rule, want) in [
        (and_yes, true),
        (and_no, false),
        (or_yes, true),
        (or_no, false),
        (not_yes, true),
        (not_no, false),
        (nested, true),
    ] {
        assert_eq!(matched(rule.clone(), input.clone()).await, Ok(want), "{rule}");
    }
}

#[tokio::test]
async fn first_matching_rule_wins_and_output_path_applies() {
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "InputPath": "$.in", "OutputPath": "$.v", "Choices": [
            {"Variable": "$.v", "NumericGreaterThan": 10, "Next": "Big"},
            {"Variable": "$.v", "NumericGreaterThan": 1, "Next": "Medium"}
        ], "Default": "Small"},
        "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$", "End": true},
        "Medium": {"Type": "Pass", "Parameters": {"size": "medium", "v.$": "$"}, "End": true},
        "Small": {"Type": "Pass", "Result": "small", "End": true}
    }});
    let (d, h) = run(&def, json!({"in": {"v": 5}}), Recorder::echo()).await;
    assert_eq!(output(&d), json!({"size": "medium", "v": 5}));
    assert!(types(&h).contains(&"ChoiceStateExited".to_string()));
    let (d, _) = run(&def, json!({"in": {"v": 50}}), Recorder::echo()).await;
    assert_eq!(output(&d), json!("big"));
    let (d, _) = run(&def, json!({"in": {"v": 0}}), Recorder::echo()).await;
    assert_eq!(output(&d), json!("small"));
}

#[tokio::test]
async fn no_match_without_default_fails_with_no_choice_matched() {
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.v", "NumericEquals": 1, "Next": "A"}]},
        "A": {"Type": "Succeed"}
    }});
    let (d, _) = run(&def, json!({"v": 2}), Recorder::echo()).await;
    assert_eq!(d.error.as_deref(), Some("States.NoChoiceMatched"));
    let (d, _) = run(&def, json!({"v": 1}), Recorder::echo()).await;
    assert_eq!(output(&d), json!({"v": 1}));
}

#[tokio::test]
async fn a_missing_variable_is_states_runtime() {
    assert_eq!(
        matched(json!({"Variable": "$.nope", "StringEquals": "x"}), json!({})).await,
        Err("States.Runtime".into())
    );
    assert_eq!(
        matched(json!({"Variable": "$.a", "StringEqualsPath": "$.nope"}), json!({"a": "x"})).await,
        Err("States.Runtime".into())
    );
}
