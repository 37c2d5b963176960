//! Turning what the S3 actions return into a Distributed Map's items: objects of a listing,
//! and the rows of a JSON, JSON Lines or CSV file. Every parser hands items to a callback one
//! at a time, which may stop the reading (MaxItems, limits).

use crate::distributed::InputType;
use serde_json::{json, Map, Value};
use std::ops::ControlFlow;

/// AWS reads CSV headers of up to 10 KB.
pub(crate) const CSV_HEADER_LIMIT_BYTES: usize = 10 * 1024;

/// An item for a Distributed Map, or the reason to stop reading.
pub(crate) type Sink<'a> = dyn FnMut(Value) -> Result<ControlFlow<()>, String> + Send + 'a;

/// Parses an object's text as `input_type` and passes each item to `sink`.
pub(crate) fn parse_object(text: &str, input_type: &InputType, sink: &mut Sink<'_>) -> Result<(), String> {
    match input_type {
        InputType::Json => parse_json(text, sink),
        InputType::Jsonl => parse_jsonl(text, sink),
        InputType::Csv(headers) => parse_csv(text, headers.as_deref(), sink),
    }
}

fn parse_json(text: &str, sink: &mut Sink<'_>) -> Result<(), String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("the object is not valid JSON: {e}"))?;
    let Value::Array(items) = value else {
        return Err("the JSON object must be an array of items".into());
    };
    for item in items {
        if sink(item)?.is_break() {
            break;
        }
    }
    Ok(())
}

fn parse_jsonl(text: &str, sink: &mut Sink<'_>) -> Result<(), String> {
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let item = serde_json::from_str(line).map_err(|e| format!("line {} is not valid JSON: {e}", n + 1))?;
        if sink(item)?.is_break() {
            break;
        }
    }
    Ok(())
}

/// CSV (RFC 4180: `"` quotes fields, `""` is a quote inside one, LF or CRLF ends a row); each
/// row becomes an object of strings keyed by the header. Blank rows are skipped.
fn parse_csv(text: &str, given: Option<&[String]>, sink: &mut Sink<'_>) -> Result<(), String> {
    let mut rows = CsvRows { rest: text, row: 0 };
    let headers: Vec<String> = match given {
        Some(h) => h.to_vec(),
        None => {
            let before = rows.rest.len();
            let header = rows.next().ok_or("the CSV object is empty: it has no header row")??;
            if before - rows.rest.len() > CSV_HEADER_LIMIT_BYTES {
                return Err(format!("the CSV header row is over {CSV_HEADER_LIMIT_BYTES} bytes"));
            }
            let mut seen = std::collections::HashSet::new();
            if let Some(dup) = header.iter().find(|h| !seen.insert(h.as_str())) {
                return Err(format!("the CSV header names '{dup}' twice"));
            }
            header
        }
    };
    for row in rows.by_ref() {
        let fields = row?;
        if fields.len() != headers.len() {
            return Err(format!(
                "CSV row {} has {} fields but the header has {}",
                rows.row,
                fields.len(),
                headers.len()
            ));
        }
        let item: Map<String, Value> = headers.iter().cloned().zip(fields.into_iter().map(Value::String)).collect();
        if sink(Value::Object(item))?.is_break() {
            break;
        }
    }
    Ok(())
}

/// The rows of CSV text (1-based `row` counts the physical rows read so far).
struct CsvRows<'a> {
    rest: &'a str,
    row: usize,
}

impl Iterator for CsvRows<'_> {
    type Item = Result<Vec<String>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            self.row += 1;
            match self.read_row() {
                Ok(fields) if fields.len() == 1 && fields[0].is_empty() => continue,
                other => return Some(other),
            }
        }
    }
}

impl CsvRows<'_> {
    fn read_row(&mut self) -> Result<Vec<String>, String> {
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut chars = self.rest.char_indices().peekable();
        let mut quoted = false;
        let mut at_field_start = true;
        let row = self.row;
        while let Some((i, c)) = chars.next() {
            if quoted {
                if c != '"' {
                    field.push(c);
                    continue;
                }
                if chars.peek().map(|(_, n)| *n) == Some('"') {
                    chars.next();
                    field.push('"');
                    continue;
                }
                quoted = false;
                match chars.peek().map(|(_, n)| *n) {
                    None | Some(',') | Some('\n') | Some('\r') => continue,
                    Some(other) => return Err(format!("CSV row {row}: {other:?} after a closing quote")),
                }
            }
            match c {
                '"' if at_field_start => {
                    quoted = true;
                    at_field_start = false;
                }
                '"' => return Err(format!("CSV row {row}: a quote inside an unquoted field")),
                ',' => {
                    fields.push(std::mem::take(&mut field));
                    at_field_start = true;
                }
                '\n' => {
                    fields.push(field);
                    self.rest = &self.rest[i + 1..];
                    return Ok(fields);
                }
                '\r' if chars.peek().map(|(_, n)| *n) == Some('\n') => {}
                _ => {
                    field.push(c);
                    at_field_start = false;
                }
            }
        }
        if quoted {
            return Err(format!("CSV row {row}: a quoted field is not closed"));
        }
        fields.push(field);
        self.rest = "";
        Ok(fields)
    }
}

/// A ListObjectsV2 `Contents` entry as a Distributed Map item, shaped as AWS documents it:
/// `{"Etag", "Key", "LastModified": <epoch seconds>, "Size", "StorageClass"}`.
pub(crate) fn object_item(entry: &Value) -> Result<Value, String> {
    let key = entry.get("Key").and_then(Value::as_str).ok_or("a listed object has no Key")?;
    let last_modified = match entry.get("LastModified") {
        Some(Value::String(t)) => {
            crate::time::parse(t).map(|t| json!(t.timestamp())).ok_or(format!("LastModified '{t}' is not a date"))?
        }
        Some(n @ Value::Number(_)) => n.clone(),
        _ => Value::Null,
    };
    Ok(json!({
        "Etag": entry.get("ETag").cloned().unwrap_or(Value::Null),
        "Key": key,
        "LastModified": last_modified,
        "Size": entry.get("Size").cloned().unwrap_or(json!(0)),
        "StorageClass": entry.get("StorageClass").cloned().unwrap_or(json!("STANDARD")),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(text: &str, t: &InputType) -> Result<Vec<Value>, String> {
        let mut out = Vec::new();
        parse_object(text, t, &mut |v| {
            out.push(v);
            Ok(ControlFlow::Continue(()))
        })?;
        Ok(out)
    }

    #[test]
    fn csv_quotes_commas_newlines_and_crlf() {
        let text = "a,b\r\n\"x,1\",\"say \"\"hi\"\"\"\r\n\n\"multi\nline\",\r\n";
        let items = collect(text, &InputType::Csv(None)).unwrap();
        assert_eq!(items, vec![json!({"a": "x,1", "b": "say \"hi\""}), json!({"a": "multi\nline", "b": ""})]);
    }

    #[test]
    fn csv_given_headers_read_the_first_row_as_data() {
        let items = collect("1,2\n3,4", &InputType::Csv(Some(vec!["x".into(), "y".into()]))).unwrap();
        assert_eq!(items, vec![json!({"x": "1", "y": "2"}), json!({"x": "3", "y": "4"})]);
    }

    #[test]
    fn bad_csv_is_an_error_naming_the_row() {
        let t = InputType::Csv(None);
        assert!(collect("a,b\n1,2,3\n", &t).unwrap_err().contains("row 2 has 3 fields"));
        assert!(collect("a,b\n\"1,2\n", &t).unwrap_err().contains("not closed"));
        assert!(collect("a,b\n1\"x,2\n", &t).unwrap_err().contains("quote inside"));
        assert!(collect("a,b\n\"1\"x,2\n", &t).unwrap_err().contains("after a closing quote"));
        assert!(collect("a,a\n1,2\n", &t).unwrap_err().contains("twice"));
        assert!(collect("", &t).unwrap_err().contains("empty"));
        let wide = format!(
            "{}\n",
            vec!["h"; 6000].iter().enumerate().map(|(i, h)| format!("{h}{i}")).collect::<Vec<_>>().join(",")
        );
        assert!(collect(&wide, &t).unwrap_err().contains("header row is over"));
    }

    #[test]
    fn json_must_be_an_array_and_jsonl_names_the_bad_line() {
        assert_eq!(collect("[1, {\"a\": 2}]", &InputType::Json).unwrap(), vec![json!(1), json!({"a": 2})]);
        assert!(collect("{\"a\": 1}", &InputType::Json).unwrap_err().contains("must be an array"));
        assert!(collect("[1,", &InputType::Json).unwrap_err().contains("not valid JSON"));
        assert_eq!(collect("1\n\n{\"a\":2}\n", &InputType::Jsonl).unwrap(), vec![json!(1), json!({"a": 2})]);
        assert!(collect("1\n{oops\n", &InputType::Jsonl).unwrap_err().contains("line 2"));
    }

    #[test]
    fn the_sink_stops_reading() {
        let mut seen = 0;
        parse_object("1\n2\n3\n", &InputType::Jsonl, &mut |_| {
            seen += 1;
            Ok(if seen == 2 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) })
        })
        .unwrap();
        assert_eq!(seen, 2);
    }

    #[test]
    fn listed_objects_become_items_as_aws_shapes_them() {
        let entry = json!({"Key": "a.jpg", "Size": 3, "ETag": "\"abc\"", "LastModified": "2024-01-02T03:04:05Z", "StorageClass": "STANDARD"});
        assert_eq!(
            object_item(&entry).unwrap(),
            json!({"Etag": "\"abc\"", "Key": "a.jpg", "LastModified": 1704164645, "Size": 3, "StorageClass": "STANDARD"})
        );
        assert!(object_item(&json!({"Size": 1})).is_err());
    }
}
