//! The product's own statemachine/pipeline.asl.json runs in the engine as written.

mod common;
use asl::{DelayRecord, EngineOptions, TaskFailure};
use common::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

fn pipeline() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../statemachine/pipeline.asl.json");
    let text = std::fs::read_to_string(path).expect("statemachine/pipeline.asl.json");
    let mut values = HashMap::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("${") {
        let end = rest[i..].find('}').unwrap();
        let name = &rest[i + 2..i + end];
        values.insert(name.to_string(), format!("arn:aws:lambda:local:000000000000:function:{name}"));
        rest = &rest[i + end..];
    }
    let filled = asl::Definition::substitute(&text, &values).unwrap();
    asl::Definition::parse(&filled).expect("the pipeline definition is valid");
    serde_json::from_str(&filled).unwrap()
}

fn event() -> Value {
    json!({"detail-type": "Object Created", "source": "aws.s3",
           "detail": {"bucket": {"name": "in"}, "object": {"key": "uploads/1.jpg", "size": 10}, "reason": "PutObject"}})
}

fn function(resource: &str) -> &str {
    resource.rsplit(':').next().unwrap()
}

#[tokio::test]
async fn happy_path_persists_done() {
    let inv = Recorder::new(|resource, input, _| match function(resource) {
        "ValidateFunctionArn" => Ok(json!({"format": "jpeg", "width": 10, "key": input["detail"]["object"]["key"]})),
        "DetectLabelsFunctionArn" => Ok(json!([{"Name": "Cat", "Confidence": 90.0}])),
        "ThumbnailFunctionArn" => Ok(json!([{"size": 256}])),
        "PersistFunctionArn" => Ok(json!({"status": input["status"]})),
        other => Err(TaskFailure::new("Unknown", other)),
    });
    let (d, _) = run(&pipeline(), event(), inv.clone()).await;
    let out = output(&d);
    assert_eq!(out["record"], json!({"status": "DONE"}));
    assert_eq!(out["labels"][0]["Name"], json!("Cat"));
    let persist = inv.calls().into_iter().find(|c| c.ctx.state_name == "Persist").unwrap();
    assert_eq!(persist.input["executionId"], json!(d.execution_arn));
    assert_eq!(persist.input["startedAt"], json!(d.start_date));
    assert_eq!(persist.input["image"]["key"], json!("uploads/1.jpg"));
    assert_eq!(persist.input["thumbnails"], json!([{"size": 256}]));
}

#[tokio::test]
async fn rejected_images_are_recorded_then_fail_with_the_reason() {
    let inv = Recorder::new(|resource, input, _| match function(resource) {
        "ValidateFunctionArn" => Err(TaskFailure::new("ImageRejected", "TOO_SMALL: the image is 8x8")),
        "PersistFunctionArn" => Ok(json!({"status": input["status"]})),
        other => Err(TaskFailure::new("Unexpected", other)),
    });
    let (d, _) = run(&pipeline(), event(), inv.clone()).await;
    assert_eq!((d.error.as_deref(), d.cause.as_deref()), (Some("ImageRejected"), Some("TOO_SMALL: the image is 8x8")));
    let states: Vec<String> = inv.calls().iter().map(|c| c.ctx.state_name.clone()).collect();
    assert_eq!(states, ["Validate", "RecordRejected"], "ImageRejected is never retried");
    let record = &inv.calls()[1].input;
    assert_eq!(record["status"], json!("REJECTED"));
    assert_eq!(record["error"], json!({"Error": "ImageRejected", "Cause": "TOO_SMALL: the image is 8x8"}));
}

#[tokio::test]
async fn retryable_errors_back_off_then_record_failed() {
    let seen = Arc::new(Mutex::new(Vec::<DelayRecord>::new()));
    let sink = seen.clone();
    let options = EngineOptions {
        time_scale: 0.0,
        on_delay: Some(Arc::new(move |d: &DelayRecord| sink.lock().unwrap().push(d.clone()))),
        ..Default::default()
    };
    let inv = Recorder::new(|resource, input, _| match function(resource) {
        "ValidateFunctionArn" => Ok(json!({"format": "png"})),
        "DetectLabelsFunctionArn" => Err(TaskFailure::new("Retryable", "model busy")),
        "PersistFunctionArn" => Ok(json!({"status": input["status"]})),
        other => Err(TaskFailure::new("Unexpected", other)),
    });
    let (d, _) = run_with(&pipeline(), event(), inv.clone(), options).await;
    assert_eq!((d.error.as_deref(), d.cause.as_deref()), (Some("Retryable"), Some("model busy")));
    let detect_calls = inv.calls().iter().filter(|c| c.ctx.state_name == "DetectLabels").count();
    assert_eq!(detect_calls, 5, "MaxAttempts 4 means four retries");
    let delays: Vec<f64> = seen.lock().unwrap().iter().map(|d| d.seconds).collect();
    assert_eq!(delays.len(), 4);
    for (i, s) in delays.iter().enumerate() {
        let cap = (2.0 * 2f64.powi(i as i32)).min(30.0);
        assert!((0.0..=cap).contains(s), "delay {i} = {s} outside [0, {cap}]");
    }
    let record = inv.calls().into_iter().find(|c| c.ctx.state_name == "RecordFailed").unwrap();
    assert_eq!(record.input["status"], json!("FAILED"));
    assert_eq!(record.input["error"]["Error"], json!("Retryable"));
}
