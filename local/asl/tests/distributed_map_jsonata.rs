//! Distributed Map in JSONata states, as AWS documents it (state-map-distributed,
//! input-output-itemreader, input-output-itembatcher, input-output-resultwriter, transforming-data):
//! `Items`, `ItemReader.Arguments`, `ReaderConfig.MaxItems`, the ItemBatcher sizes and
//! `BatchInput`, `ItemSelector` with `$states.context.Map.Item`, `MaxConcurrency`, the tolerated
//! failures and `ResultWriter.Arguments` as `{% %}` expressions; `Output`/`Assign` over
//! `$states.result`; the JSONPath forms refused; a failing expression in each field is
//! `States.QueryEvaluationError`; children do not see the parent's variables.

mod common;
mod s3_world;
use asl::{error_names, Definition, HistoryEvent};
use common::*;
use s3_world::{fail_when, World};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const GET_OBJECT: &str = "arn:aws:states:::s3:getObject";
const LIST_OBJECTS: &str = "arn:aws:states:::s3:listObjectsV2";
const PUT_OBJECT: &str = "arn:aws:states:::s3:putObject";

/// [`dmap`] in JSONata.
fn dmap(fields: Value) -> Value {
    let mut machine = s3_world::dmap(fields);
    machine["QueryLanguage"] = json!("JSONata");
    machine
}

fn evaluation_failures(history: &[HistoryEvent]) -> Vec<Value> {
    history.iter().filter(|e| e.event_type == "EvaluationFailed").filter_map(|e| e.detail().cloned()).collect()
}

#[tokio::test]
async fn inline_items_with_item_selector_max_concurrency_output_and_assign() {
    let world = World::echo();
    let mut def = dmap(json!({
        "Items": "{% $states.input.things %}",
        "ItemSelector": {
            "value": "{% $states.context.Map.Item.Value %}",
            "index": "{% $states.context.Map.Item.Index %}",
            "tag": "{% $states.input.tag %}"
        },
        "MaxConcurrency": "{% $states.input.conc %}",
        "Label": "Things",
        "Output": {"results": "{% $states.result %}"},
        "Assign": {"count": "{% $count($states.result) %}"},
        "Next": "After"
    }));
    def["States"]["After"] = json!({"Type": "Pass", "Output": {"n": "{% $count %}", "first": "{% $states.input.results[0] %}"}, "End": true});
    let (d, history) = run(&def, json!({"things": ["a", "b", "c"], "tag": 7, "conc": 2}), world.clone()).await;
    assert_eq!(output(&d), json!({"n": 3, "first": {"value": "a", "index": 0, "tag": 7}}));
    let mut calls = world.work_calls();
    calls.sort_by_key(|c| c["index"].as_u64());
    assert_eq!(
        calls,
        [
            json!({"value": "a", "index": 0, "tag": 7}),
            json!({"value": "b", "index": 1, "tag": 7}),
            json!({"value": "c", "index": 2, "tag": 7})
        ]
    );
    let kinds = types(&history);
    assert!(kinds.contains(&"MapRunStarted".to_string()) && kinds.contains(&"MapRunSucceeded".to_string()));
    let arn = history.iter().find(|e| e.event_type == "MapRunStarted").and_then(|e| e.detail_str("mapRunArn"));
    assert!(arn.is_some_and(|a| a.contains(":mapRun:test/Things:")), "{arn:?}");
}

#[tokio::test]
async fn without_items_the_state_input_is_the_array_of_items() {
    let (d, _) = run(&dmap(json!({})), json!([1, 2]), World::echo()).await;
    assert_eq!(output(&d), json!([1, 2]));
}

#[tokio::test]
async fn item_reader_arguments_and_max_items_as_expressions() {
    let world = World::echo();
    world.put("a.json", r#"[{"n": 1}, {"n": 2}, {"n": 3}]"#);
    let def = dmap(json!({
        "ItemReader": {
            "Resource": GET_OBJECT,
            "ReaderConfig": {"InputType": "JSON", "MaxItems": "{% $states.input.max %}"},
            "Arguments": {"Bucket": "data", "Key": "{% $states.input.key %}"}
        }
    }));
    let (d, _) = run(&def, json!({"key": "a.json", "max": 2}), world.clone()).await;
    assert_eq!(output(&d), json!([{"n": 1}, {"n": 2}]));

    // Arguments may be one expression building the whole request.
    for k in ["in/a", "in/b", "in/c", "out/x"] {
        world.put(k, "12345");
    }
    let def = dmap(json!({
        "ItemReader": {"Resource": LIST_OBJECTS, "Arguments": "{% {'Bucket': 'data', 'Prefix': $states.input.prefix} %}"},
        "ItemSelector": {"key": "{% $states.context.Map.Item.Value.Key %}"}
    }));
    let (d, _) = run(&def, json!({"prefix": "in/"}), world.clone()).await;
    assert_eq!(output(&d), json!([{"key": "in/a"}, {"key": "in/b"}, {"key": "in/c"}]));
}

#[tokio::test]
async fn item_batcher_sizes_and_batch_input_as_expressions() {
    let world = World::echo();
    let def = dmap(json!({
        "Items": "{% $states.input.items %}",
        "ItemBatcher": {"MaxItemsPerBatch": "{% $states.input.per %}", "BatchInput": {"run": "{% $states.input.run %}"}}
    }));
    let (d, _) = run(&def, json!({"items": [1, 2, 3, 4, 5], "per": 2, "run": "r1"}), world.clone()).await;
    assert_eq!(
        output(&d),
        json!([
            {"BatchInput": {"run": "r1"}, "Items": [1, 2]},
            {"BatchInput": {"run": "r1"}, "Items": [3, 4]},
            {"BatchInput": {"run": "r1"}, "Items": [5]}
        ])
    );
    // {"Items":[]} is 12 bytes; each "xxxxxxxx" item is 10 bytes, plus a comma after the first.
    let def = dmap(json!({"ItemBatcher": {"MaxInputBytesPerBatch": "{% 30 + 3 %}"}}));
    let (d, _) = run(&def, json!(["xxxxxxxx", "xxxxxxxx", "xxxxxxxx", "xxxxxxxx", "xxxxxxxx"]), world).await;
    let sizes: Vec<usize> =
        output(&d).as_array().unwrap().iter().map(|b| b["Items"].as_array().unwrap().len()).collect();
    assert_eq!(sizes, [2, 2, 1]);
}

#[tokio::test]
async fn tolerated_failure_count_and_percentage_as_expressions() {
    let items: Vec<Value> =
        (0..10).map(|n| if n < 3 { json!({"n": n, "bad": true}) } else { json!({"n": n}) }).collect();
    let cases = [
        (json!({"ToleratedFailureCount": "{% $states.input.allowed %}"}), json!({"allowed": 3}), true),
        (json!({"ToleratedFailureCount": "{% $states.input.allowed %}"}), json!({"allowed": 2}), false),
        (json!({"ToleratedFailurePercentage": "{% $states.input.pct %}"}), json!({"pct": 30}), true),
        (json!({"ToleratedFailurePercentage": "{% $states.input.pct %}"}), json!({"pct": 29.9}), false),
    ];
    for (fields, extra, passes) in cases {
        let mut fields = fields;
        fields["Items"] = json!("{% $states.input.items %}");
        let mut input = extra;
        input["items"] = json!(items);
        let (d, _) = run(&dmap(fields.clone()), input, World::new(fail_when("bad"))).await;
        if passes {
            let out = output(&d);
            assert_eq!(out.as_array().map(Vec::len), Some(10), "{fields}");
            assert_eq!(out[0]["Error"], json!("Boom"));
            assert_eq!(out[5], json!({"ok": 5}));
        } else {
            assert_eq!(d.error.as_deref(), Some(error_names::EXCEED_TOLERATED_FAILURE_THRESHOLD), "{fields}");
        }
    }
}

#[tokio::test]
async fn result_writer_arguments_as_expressions() {
    let world = World::new(fail_when("bad"));
    let def = dmap(json!({
        "Items": "{% $states.input.items %}",
        "ResultWriter": {"Resource": PUT_OBJECT, "Arguments": {"Bucket": "data", "Prefix": "{% $states.input.out %}"}},
        "Output": "{% $states.result.ResultWriterDetails %}"
    }));
    let (d, _) = run(&def, json!({"items": [{"n": 1}, {"n": 2}], "out": "results"}), world.clone()).await;
    let details = output(&d);
    assert_eq!(details["Bucket"], json!("data"));
    let key = details["Key"].as_str().expect("the manifest key");
    assert!(key.starts_with("results/") && key.ends_with("/manifest.json"), "{key}");
    let manifest: Value = serde_json::from_str(&world.get("data", key).expect("the manifest")).unwrap();
    assert_eq!(manifest["DestinationBucket"], json!("data"));
    let succeeded = manifest["ResultFiles"]["SUCCEEDED"][0]["Key"].as_str().unwrap().to_string();
    let entries: Vec<Value> = serde_json::from_str(&world.get("data", &succeeded).unwrap()).unwrap();
    assert_eq!(entries.len(), 2);
}

#[tokio::test]
async fn jsonpath_forms_are_refused_in_a_jsonata_distributed_map() {
    let reader = |config: Value| json!({"Resource": GET_OBJECT, "Arguments": {"Bucket": "b", "Key": "k"}, "ReaderConfig": config});
    let cases = [
        (json!({"ItemsPath": "$.items"}), "ItemsPath"),
        (json!({"MaxConcurrencyPath": "$.n"}), "MaxConcurrencyPath"),
        (json!({"ToleratedFailureCountPath": "$.n"}), "ToleratedFailureCountPath"),
        (json!({"ToleratedFailurePercentagePath": "$.n"}), "ToleratedFailurePercentagePath"),
        (json!({"Parameters": {"a": 1}}), "Parameters"),
        (json!({"ResultSelector": {"a": 1}}), "ResultSelector"),
        (
            json!({"ItemReader": {"Resource": GET_OBJECT, "Parameters": {"Bucket": "b"}, "ReaderConfig": {"InputType": "JSON"}}}),
            "Parameters",
        ),
        (json!({"ItemReader": reader(json!({"InputType": "JSON", "MaxItemsPath": "$.n"}))}), "MaxItemsPath"),
        (json!({"ItemBatcher": {"MaxItemsPerBatchPath": "$.n"}}), "MaxItemsPerBatchPath"),
        (json!({"ItemBatcher": {"MaxInputBytesPerBatchPath": "$.n"}}), "MaxInputBytesPerBatchPath"),
        (json!({"ResultWriter": {"Resource": PUT_OBJECT, "Parameters": {"Bucket": "b"}}}), "Parameters"),
        (json!({"ItemReader": reader(json!({"InputType": "JSON"})), "Items": [1]}), "only one of ItemReader and Items"),
        (json!({"ItemReader": reader(json!({"InputType": "JSON", "MaxItems": "{% [1, %}"}))}), "MaxItems"),
        (json!({"ItemReader": reader(json!({"InputType": "JSON", "MaxItems": 0}))}), "positive"),
        (json!({"ToleratedFailureCount": "not an expression"}), "ToleratedFailureCount"),
        (json!({"ResultWriter": {"Resource": PUT_OBJECT, "Arguments": {"Bucket": "{% ( %}"}}}), "invalid JSONata"),
    ];
    for (fields, message) in cases {
        let err = Definition::parse(&dmap(fields.clone()).to_string()).expect_err(message).to_string();
        assert!(err.contains("'M'") && err.contains(message), "{fields}: {err} should name M and {message}");
    }
    // And the JSONata form in a JSONPath Distributed Map.
    let mut def = dmap(json!({"ItemReader": reader(json!({"InputType": "JSON"}))}));
    def.as_object_mut().unwrap().remove("QueryLanguage");
    let err = Definition::parse(&def.to_string()).expect_err("Arguments in JSONPath").to_string();
    assert!(err.contains("Arguments"), "{err}");
}

#[tokio::test]
async fn a_failing_expression_in_each_field_is_a_query_evaluation_error() {
    let world = World::echo();
    world.put("a.json", "[1, 2]");
    let reader = |arguments: Value, config: Value| {
        let mut config = config;
        config["InputType"] = json!("JSON");
        json!({"Resource": GET_OBJECT, "Arguments": arguments, "ReaderConfig": config})
    };
    let good_args = json!({"Bucket": "data", "Key": "a.json"});
    let missing = "{% $states.input.missing %}";
    let cases = [
        (json!({"Items": missing}), "Items"),
        (json!({"Items": "{% 'not an array' %}"}), "Items"),
        (json!({"ItemSelector": {"v": "{% $states.context.Map.Item.Value.nothing %}"}}), "ItemSelector/v"),
        (json!({"MaxConcurrency": "{% 'many' %}"}), "MaxConcurrency"),
        (json!({"ToleratedFailureCount": missing}), "ToleratedFailureCount"),
        (json!({"ToleratedFailurePercentage": "{% 101 %}"}), "ToleratedFailurePercentage"),
        (
            json!({"Items": null, "ItemReader": reader(json!({"Bucket": "data", "Key": missing}), json!({}))}),
            "ItemReader.Arguments/Key",
        ),
        (
            json!({"Items": null, "ItemReader": reader(good_args.clone(), json!({"MaxItems": "{% -1 %}"}))}),
            "ItemReader.ReaderConfig.MaxItems",
        ),
        (json!({"ItemBatcher": {"MaxItemsPerBatch": missing}}), "ItemBatcher.MaxItemsPerBatch"),
        (json!({"ItemBatcher": {"MaxInputBytesPerBatch": "{% 1.5 %}"}}), "ItemBatcher.MaxInputBytesPerBatch"),
        (json!({"ItemBatcher": {"MaxItemsPerBatch": 1, "BatchInput": {"b": missing}}}), "ItemBatcher.BatchInput/b"),
        (json!({"Output": "{% $states.result.missing %}"}), "Output"),
        (json!({"Assign": {"x": "{% $states.result.missing %}"}}), "Assign/x"),
    ];
    for (fields, location) in cases {
        let mut fields = fields;
        if fields.get("Items") == Some(&Value::Null) {
            fields.as_object_mut().unwrap().remove("Items");
        } else if fields.get("Items").is_none() {
            fields["Items"] = json!([1, 2]);
        }
        let (d, history) = run(&dmap(fields.clone()), json!({}), world.clone()).await;
        assert_eq!(d.error.as_deref(), Some(error_names::QUERY_EVALUATION_ERROR), "{fields}: {:?}", d.cause);
        let failures = evaluation_failures(&history);
        assert_eq!(failures.len(), 1, "{fields}: {failures:?}");
        assert_eq!(failures[0]["location"], json!(location), "{fields}");
        assert_eq!(failures[0]["state"], json!("M"), "{fields}");
        let cause = d.cause.unwrap_or_default();
        assert!(cause.starts_with("An error occurred while executing the state 'M'"), "{fields}: {cause}");
    }
    let world = World::echo();
    let writer = json!({"Items": [1], "ResultWriter": {"Resource": PUT_OBJECT, "Arguments": {"Bucket": missing}}});
    let (d, history) = run(&dmap(writer), json!({}), world.clone()).await;
    assert_eq!(d.error.as_deref(), Some(error_names::QUERY_EVALUATION_ERROR), "{:?}", d.cause);
    assert_eq!(evaluation_failures(&history)[0]["location"], json!("ResultWriter.Arguments/Bucket"));
    assert!(world.keys("data").is_empty(), "nothing was written");
}

#[tokio::test]
async fn a_query_evaluation_error_can_be_caught_by_states_all() {
    let mut def = dmap(json!({
        "Items": "{% $states.input.missing %}",
        "Catch": [{"ErrorEquals": ["States.ALL"], "Output": "{% $states.errorOutput.Error %}", "Next": "Handled"}],
        "Next": "Handled"
    }));
    def["States"]["Handled"] = json!({"Type": "Succeed"});
    let (d, _) = run(&def, json!({}), World::echo()).await;
    assert_eq!(output(&d), json!(error_names::QUERY_EVALUATION_ERROR));
}

// AWS's workflow-variables page, "Variable scope": Distributed Map states cannot reference
// variables in outer scopes. A child is an execution of its own: an outer variable is unknown
// there, and a child may assign a name the parent also assigns.
#[tokio::test]
async fn distributed_map_children_do_not_see_the_parent_variables() {
    let processor = |state: Value| json!({"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "C", "States": {"C": state}});
    let machine = |state: Value| {
        json!({"QueryLanguage": "JSONata", "StartAt": "Set", "States": {
            "Set": {"Type": "Pass", "Assign": {"secret": 42}, "Next": "M"},
            "M": {"Type": "Map", "Items": [1], "ItemProcessor": processor(state), "End": true}
        }})
    };
    let reads = machine(json!({"Type": "Pass", "Output": "{% $secret %}", "End": true}));
    let (d, _) = run(&reads, json!({}), World::echo()).await;
    assert_eq!(d.error.as_deref(), Some(error_names::EXCEED_TOLERATED_FAILURE_THRESHOLD));
    let (d, _) = run(&reads_tolerated(reads), json!({}), World::echo()).await;
    let out = output(&d);
    assert_eq!(out[0]["Error"], json!(error_names::QUERY_EVALUATION_ERROR), "{out}");
    assert!(out[0]["Cause"].as_str().is_some_and(|c| c.contains("$secret")), "{out}");

    let assigns =
        machine(json!({"Type": "Pass", "Assign": {"secret": 1}, "Output": "{% $states.input %}", "End": true}));
    let (d, _) = run(&assigns, json!({}), World::echo()).await;
    assert_eq!(output(&d), json!([1]), "the child's own 'secret' is not the parent's");
}

#[tokio::test]
async fn a_writer_request_without_a_bucket_names_arguments() {
    let world = World::echo();
    let def = dmap(json!({"Items": [1], "ResultWriter": {"Resource": PUT_OBJECT, "Arguments": {"Bucket": "{% 5 %}"}}}));
    let (d, _) = run(&def, json!({}), world).await;
    assert_eq!(d.error.as_deref(), Some(error_names::RESULT_WRITER_FAILED));
    assert!(d.cause.is_some_and(|c| c.contains("Arguments.Bucket must be a string")));
}

// The scopes inside a Distributed Map's children are checked like any machine's: a Parallel
// branch there cannot assign a variable its child execution assigns.
#[test]
fn the_variable_scopes_inside_a_distributed_child_are_checked_at_load() {
    let branch = json!({"StartAt": "B", "States": {"B": {"Type": "Pass", "Assign": {"seen": 2}, "End": true}}});
    let processor = json!({
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "Set",
        "States": {
            "Set": {"Type": "Pass", "Assign": {"seen": 1}, "Next": "P"},
            "P": {"Type": "Parallel", "Branches": [branch], "End": true}
        }
    });
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "M",
        "States": {"M": {"Type": "Map", "ItemProcessor": processor, "End": true}}});
    let err = Definition::parse(&def.to_string()).expect_err("an outer name assigned in a branch").to_string();
    assert!(err.contains("'seen'") && err.contains("outer scope"), "{err}");
}

fn reads_tolerated(mut def: Value) -> Value {
    def["States"]["M"]["ToleratedFailureCount"] = json!(1);
    def
}

#[tokio::test]
async fn many_inline_items_and_a_huge_items_expression_stay_bounded() {
    let started = Instant::now();
    let def = dmap(json!({
        "Items": "{% [1..$states.input.n] %}",
        "ItemBatcher": {"MaxItemsPerBatch": "{% $states.input.per %}"},
        "Output": "{% $sum($states.result.Items) %}"
    }));
    let world = World::echo();
    let (d, _) = run(&def, json!({"n": 100_000, "per": 10_000}), world.clone()).await;
    assert_eq!(output(&d), json!(5_000_050_000u64));
    assert_eq!(world.work_calls().len(), 10);
    // An expression asking for more than the JSONata range limit fails instead of allocating.
    let (d, _) = run(&def, json!({"n": 1e12, "per": 1}), World::echo()).await;
    assert_eq!(d.error.as_deref(), Some(error_names::QUERY_EVALUATION_ERROR), "{:?}", d.cause);
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_deeply_nested_item_selector_is_a_clear_error_or_a_value_never_a_crash() {
    let mut selector = json!("{% $states.context.Map.Item.Value %}");
    for _ in 0..200 {
        selector = json!({"x": selector});
    }
    let def = dmap(json!({"Items": [1], "ItemSelector": selector}));
    match Definition::parse(&def.to_string()) {
        Err(e) => assert!(!e.to_string().is_empty()),
        Ok(_) => {
            let (d, _) = run(&def, json!({}), World::echo()).await;
            let mut v = &output(&d)[0];
            let mut depth = 0;
            while let Some(inner) = v.get("x") {
                v = inner;
                depth += 1;
            }
            assert_eq!((depth, v), (200, &json!(1)));
        }
    }
}
