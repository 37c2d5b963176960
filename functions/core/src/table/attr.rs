//! JSON <-> DynamoDB attribute conversion, so nested results are stored as native maps and
//! lists (readable in the console). Used only by the typed items' (de)serialisation.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Number, Value};

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

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// A typed value as an item's attributes (it must serialise to a JSON object).
pub fn to_item<T: serde::Serialize>(value: &T) -> Result<Item, serde_json::Error> {
    match to_attr(&serde_json::to_value(value)?) {
        AttributeValue::M(map) => Ok(map),
        _ => Err(serde::ser::Error::custom("an item must serialise to an object")),
    }
}

/// An item's attributes as a typed value (attributes the type does not name are ignored).
pub fn from_item<T: serde::de::DeserializeOwned>(item: &Item) -> Result<T, serde_json::Error> {
    serde_json::from_value(item_to_json(item))
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
    fn items_must_be_objects() {
        assert!(to_item(&vec![1, 2]).is_err());
        let item = to_item(&serde_json::json!({"a": "b"})).unwrap();
        assert_eq!(get_s(&item, "a"), Some("b"));
    }
}
