//! The single-table design: key builders and JSON <-> DynamoDB attribute conversion, so
//! nested results are stored as native maps and lists (readable in the console).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Number, Value};

/// Partition key of an image item.
pub fn image_pk(id: &str) -> String {
    format!("IMAGE#{id}")
}

/// Sort key of an image item.
pub const IMAGE_SK: &str = "IMAGE";

/// GSI1 partition key: an owner's images, for "recent by owner".
pub fn owner_pk(owner: &str) -> String {
    format!("OWNER#{owner}")
}

/// GSI1 sort key: creation time then id, so the newest sort last.
pub fn recent_sk(created_at: &str, id: &str) -> String {
    format!("{created_at}#{id}")
}

/// Partition key of label items: one partition per owner and label (label lower-cased, so queries ignore case).
pub fn label_pk(owner: &str, label: &str) -> String {
    format!("OWNER#{owner}#LABEL#{}", label.trim().to_lowercase())
}

/// Sort key of a label item: confidence (0-100, two decimals, zero padded) then id.
pub fn label_sk(confidence: f32, id: &str) -> String {
    format!("C#{}#{id}", confidence_key(confidence))
}

/// The lower bound of label sort keys at or above `min_confidence`.
pub fn label_sk_floor(min_confidence: f32) -> String {
    format!("C#{}", confidence_key(min_confidence))
}

fn confidence_key(confidence: f32) -> String {
    let hundredths = (confidence.clamp(0.0, 100.0) * 100.0).round() as u32;
    format!("{hundredths:05}")
}

/// Converts JSON into a DynamoDB attribute (numbers as N, objects as M, arrays as L).
pub fn to_attr(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(to_attr).collect()),
        Value::Object(map) => AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect()),
    }
}

/// Converts a DynamoDB attribute back into JSON (sets become arrays, binary becomes null).
pub fn from_attr(attr: &AttributeValue) -> Value {
    match attr {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => parse_number(n),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::L(items) => Value::Array(items.iter().map(from_attr).collect()),
        AttributeValue::M(map) => Value::Object(item_to_json_map(map)),
        AttributeValue::Ss(items) => Value::Array(items.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(items) => Value::Array(items.iter().map(|n| parse_number(n)).collect()),
        _ => Value::Null,
    }
}

/// Converts a whole item into a JSON object.
pub fn item_to_json(item: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(item_to_json_map(item))
}

fn item_to_json_map(item: &HashMap<String, AttributeValue>) -> Map<String, Value> {
    item.iter().map(|(k, v)| (k.clone(), from_attr(v))).collect()
}

fn parse_number(n: &str) -> Value {
    if let Ok(i) = n.parse::<i64>() {
        return Value::Number(i.into());
    }
    n.parse::<f64>().ok().and_then(Number::from_f64).map(Value::Number).unwrap_or(Value::Null)
}

/// A string attribute of an item, if present.
pub fn get_s<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_through_attributes() {
        let v = serde_json::json!({"a": 1, "b": [1.5, "x", true, null], "c": {"d": -3}});
        assert_eq!(from_attr(&to_attr(&v)), v);
    }

    #[test]
    fn label_keys_sort_by_confidence() {
        assert!(label_sk(95.5, "a") > label_sk(90.0, "z"));
        assert!(label_sk(9.0, "a") < label_sk(10.0, "a"));
        assert!(label_sk(90.0, "a") >= label_sk_floor(90.0));
        assert!(label_sk(89.99, "a") < label_sk_floor(90.0));
        assert_eq!(label_pk("o", " Dog "), "OWNER#o#LABEL#dog");
    }
}
