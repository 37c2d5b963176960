//! AWS Step Functions Local mock config files driving Task results.

mod common;
use asl::MockInvoker;
use common::*;
use serde_json::json;
use std::sync::Arc;

const CONFIG: &str = r#"{
  "StateMachines": {
    "pipeline": {
      "TestCases": {
        "FlakyThenOk": {"Validate": "ValidateFlaky", "Label": "LabelOk"},
        "Rejected": {"Validate": "ValidateRejects"},
        "Short": {"Validate": "OnlyOnce"}
      }
    }
  },
  "MockedResponses": {
    "ValidateFlaky": {
      "0": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "first call fails"}},
      "1-2": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "still failing"}},
      "3": {"Return": {"valid": true, "format": "jpeg"}}
    },
    "LabelOk": {"0": {"Return": {"labels": ["Cat"]}}},
    "ValidateRejects": {"0": {"Throw": {"Error": "ImageRejected", "Cause": "TOO_SMALL"}}},
    "OnlyOnce": {"0": {"Return": {"valid": true}}}
  }
}"#;

fn definition() -> serde_json::Value {
    json!({"StartAt": "Validate", "States": {
        "Validate": {"Type": "Task", "Resource": "arn:aws:lambda:local:0:function:validate", "ResultPath": "$.validation", "Next": "Label",
                     "Retry": [{"ErrorEquals": ["Lambda.ServiceException"], "MaxAttempts": 3}],
                     "Catch": [{"ErrorEquals": ["ImageRejected"], "Next": "Rejected", "ResultPath": "$.error"}]},
        "Label": {"Type": "Task", "Resource": "arn:aws:lambda:local:0:function:label", "ResultPath": "$.labels", "Next": "Persist"},
        "Persist": {"Type": "Task", "Resource": "arn:aws:lambda:local:0:function:persist", "ResultPath": "$.saved", "End": true},
        "Rejected": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}
    }})
}

#[tokio::test]
async fn keys_0_and_1_2_drive_a_retry_path_to_success() {
    let fallback = Recorder::new(|resource, _, _| Ok(json!({"from": resource})));
    let mock = MockInvoker::from_json(CONFIG, "pipeline", "FlakyThenOk").unwrap().with_fallback(fallback.clone());
    let (d, h) = run(&definition(), json!({"key": "uploads/a.jpg"}), Arc::new(mock)).await;
    assert_eq!(
        output(&d),
        json!({"key": "uploads/a.jpg", "validation": {"valid": true, "format": "jpeg"}, "labels": {"labels": ["Cat"]},
               "saved": {"from": "arn:aws:lambda:local:0:function:persist"}})
    );
    let failures: Vec<&str> =
        h.iter().filter(|e| e.event_type == "TaskFailed").map(|e| e.detail_str("cause").unwrap()).collect();
    assert_eq!(failures, ["first call fails", "still failing", "still failing"]);
    let calls = fallback.calls();
    assert_eq!(calls.len(), 1, "only the unmocked state reaches the fallback");
    assert_eq!(calls[0].ctx.state_name, "Persist");
}

#[tokio::test]
async fn a_thrown_error_is_caught_like_a_real_one() {
    let mock = MockInvoker::from_json(CONFIG, "pipeline", "Rejected").unwrap();
    let (d, _) = run(&definition(), json!({}), Arc::new(mock)).await;
    assert_eq!((d.error.as_deref(), d.cause.as_deref()), (Some("ImageRejected"), Some("TOO_SMALL")));
}

#[tokio::test]
async fn running_out_of_mocked_responses_is_a_clear_error() {
    let looped = json!({"StartAt": "Validate", "States": {
        "Validate": {"Type": "Task", "Resource": "r", "Next": "Again"},
        "Again": {"Type": "Choice", "Choices": [{"Variable": "$.valid", "BooleanEquals": true, "Next": "Validate"}], "Default": "Done"},
        "Done": {"Type": "Succeed"}
    }});
    let mock = MockInvoker::from_json(CONFIG, "pipeline", "Short").unwrap();
    let (d, _) = run(&looped, json!({}), Arc::new(mock)).await;
    assert_eq!(d.status, asl::ExecutionStatus::Failed);
    let cause = d.cause.unwrap();
    assert!(cause.contains("OnlyOnce") && cause.contains("invocation 1") && cause.contains("Validate"), "{cause}");
}

#[tokio::test]
async fn an_unmocked_state_without_fallback_is_a_clear_error() {
    let mock = MockInvoker::from_json(CONFIG, "pipeline", "Short").unwrap();
    let (d, _) = run(&definition(), json!({}), Arc::new(mock)).await;
    let cause = d.cause.unwrap();
    assert!(cause.contains("'Label'") && cause.contains("not mocked"), "{cause}");
}

#[test]
fn config_problems_are_named() {
    let e = MockInvoker::from_json(CONFIG, "other", "FlakyThenOk").err().unwrap().to_string();
    assert!(e.contains("unknown state machine 'other'") && e.contains("pipeline"), "{e}");
    let e = MockInvoker::from_json(CONFIG, "pipeline", "Nope").err().unwrap().to_string();
    assert!(e.contains("unknown test case 'Nope'") && e.contains("FlakyThenOk"), "{e}");
    let bad_key = r#"{"StateMachines": {"m": {"TestCases": {"c": {"S": "R"}}}}, "MockedResponses": {"R": {"first": {"Return": 1}}}}"#;
    let e = MockInvoker::from_json(bad_key, "m", "c").err().unwrap().to_string();
    assert!(e.contains("invalid key 'first'"), "{e}");
    let missing = r#"{"StateMachines": {"m": {"TestCases": {"c": {"S": "Gone"}}}}, "MockedResponses": {}}"#;
    let e = MockInvoker::from_json(missing, "m", "c").err().unwrap().to_string();
    assert!(e.contains("unknown mocked response 'Gone'"), "{e}");
    let e = MockInvoker::from_json("{", "m", "c").err().unwrap().to_string();
    assert!(e.contains("not valid JSON"), "{e}");
    let e = MockInvoker::from_file(std::path::Path::new("/nonexistent/mock.json"), "m", "c").err().unwrap().to_string();
    assert!(e.contains("cannot read"), "{e}");
}

#[test]
fn from_file_reads_the_same_format() {
    let path = std::env::temp_dir().join(format!("asl-mock-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&path, CONFIG).unwrap();
    let result = MockInvoker::from_file(&path, "pipeline", "Rejected");
    std::fs::remove_file(&path).unwrap();
    assert!(result.is_ok());
}
