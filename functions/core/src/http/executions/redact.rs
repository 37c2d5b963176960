//! Payloads (state inputs and outputs, task parameters) as clients may see them: the data the
//! pipeline passes on, without what the view rules keep to the logs and the history itself:
//! ARNs (execution ids, function and role ARNs carry the account id), account ids, the S3 event's
//! requester, source address and request id, and error causes. An error output (`{"Error",
//! "Cause"}`) becomes its code + sentence ([`ClientFailure`]).

use serde_json::{Map, Value};

use crate::http::failure::ClientFailure;

/// What a hidden value is replaced with.
pub const HIDDEN: &str = "(hidden)";

/// Longest payload shown, in bytes of JSON text (Step Functions allows 256 KiB per payload; a
/// history of such would make a page of many megabytes).
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// Keys whose values are never shown: AWS account ids and the S3 event's request facts.
const HIDDEN_KEYS: [&str; 7] =
    ["account", "requester", "source-ip-address", "request-id", "resources", "roleArn", "RoleArn"];
/// Keys of error causes, dropped wherever they appear.
const CAUSE_KEYS: [&str; 3] = ["Cause", "cause", "errorMessage"];

/// A JSON text payload as shown: parsed and redacted; a text that is not JSON is shown as a
/// (redacted) string, and one over [`MAX_PAYLOAD_BYTES`] as a note of its size.
pub fn payload(text: &str) -> Value {
    if text.len() > MAX_PAYLOAD_BYTES {
        return Value::String(format!("(not shown: {} bytes)", text.len()));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(value) => redact(value),
        Err(_) => redact(Value::String(text.to_string())),
    }
}

/// `value` without ARNs, account ids or causes (see the module doc).
pub fn redact(value: Value) -> Value {
    match value {
        Value::String(s) if names_internals(&s) => Value::String(HIDDEN.into()),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        Value::Object(map) => redact_object(map),
        other => other,
    }
}

fn redact_object(map: Map<String, Value>) -> Value {
    if let (Some(Value::String(error)), true) = (map.get("Error"), map.contains_key("Cause")) {
        let cause = map.get("Cause").and_then(Value::as_str).unwrap_or_default();
        let shown = ClientFailure::of_step(error, cause);
        return serde_json::to_value(shown).unwrap_or(Value::Null);
    }
    map.into_iter()
        .filter(|(key, _)| !CAUSE_KEYS.contains(&key.as_str()))
        .map(|(key, value)| {
            let value = if HIDDEN_KEYS.contains(&key.as_str()) { Value::String(HIDDEN.into()) } else { redact(value) };
            (key, value)
        })
        .collect::<Map<_, _>>()
        .into()
}

/// Does `text` hold an ARN (`arn:aws…`, any partition) or consist of an account id (12 digits)?
fn names_internals(text: &str) -> bool {
    let is_account = text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit());
    is_account || text.to_ascii_lowercase().contains("arn:aws")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:states:eu-west-1:123456789012:execution:Pipeline:3f0c";

    #[test]
    fn the_s3_event_keeps_its_object_and_loses_account_and_request_facts() {
        let event = json!({
            "version": "0", "id": "e1", "detail-type": "Object Created", "source": "aws.s3",
            "account": "123456789012", "region": "eu-west-1", "resources": ["arn:aws:s3:::in"],
            "detail": {
                "bucket": {"name": "in"}, "object": {"key": "uploads/x.jpg", "size": 5, "etag": "abc"},
                "request-id": "R", "requester": "123456789012", "source-ip-address": "10.1.2.3", "reason": "PutObject"
            }
        });
        let shown = payload(&event.to_string());
        assert_eq!(shown["detail"]["object"], event["detail"]["object"]);
        assert_eq!(shown["detail"]["bucket"]["name"], "in");
        assert_eq!(shown["detail"]["reason"], "PutObject");
        for hidden in [&shown["account"], &shown["resources"], &shown["detail"]["requester"]] {
            assert_eq!(hidden, HIDDEN);
        }
        let text = shown.to_string();
        assert!(!text.contains("123456789012") && !text.contains("10.1.2.3") && !text.contains("arn:"), "{text}");
    }

    #[test]
    fn arns_anywhere_and_error_causes_are_hidden() {
        let input = json!({
            "executionId": ARN,
            "nested": [{"deep": [format!("see {ARN}")]}, "ARN:AWS-CN:lambda:x", "Yarn: barn: fine"],
            "error": {"Error": "Retryable", "Cause": format!("SdkError DispatchFailure {ARN}")},
            "recordError": {"Error": "ImageRejected", "Cause": "{\"errorType\":\"ImageRejected\",\"errorMessage\":\"CORRUPT: The header is damaged.\"}"},
            "lambda": {"errorType": "X", "errorMessage": "stack trace", "cause": "c"},
        });
        let shown = redact(input);
        assert_eq!(shown["executionId"], HIDDEN);
        assert_eq!(shown["nested"][0]["deep"][0], HIDDEN);
        assert_eq!(shown["nested"][1], HIDDEN);
        assert_eq!(shown["nested"][2], "Yarn: barn: fine");
        assert_eq!(shown["error"]["code"], "STEP_FAILED");
        assert_eq!(shown["recordError"], json!({"code": "CORRUPT", "message": "The header is damaged."}));
        assert_eq!(shown["lambda"], json!({"errorType": "X"}));
        let text = shown.to_string();
        assert!(!text.contains("123456789012") && !text.contains("Dispatch") && !text.contains("stack"), "{text}");
    }

    #[test]
    fn any_text_is_shown_as_something_and_deep_input_costs_no_stack() {
        assert_eq!(payload("not json"), json!("not json"));
        assert_eq!(payload(""), json!(""));
        assert_eq!(payload(ARN), json!(HIDDEN));
        assert_eq!(payload("\"123456789012\""), json!(HIDDEN));
        assert_eq!(payload("123456789012"), json!(123456789012u64), "a number is a number, not an account id");
        assert_eq!(payload("\"1234567890123\""), json!("1234567890123"));
        // serde_json refuses nesting past 128 levels: such a text is shown as a string.
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(payload(&deep).is_string());
        let big = format!("[{}1]", "1,".repeat(MAX_PAYLOAD_BYTES));
        assert_eq!(payload(&big), json!(format!("(not shown: {} bytes)", big.len())));
    }
}
