//! The fields of a Distributed Map state (ProcessorConfig Mode DISTRIBUTED): ItemReader,
//! ItemBatcher, ToleratedFailurePercentage/Count, Label, ResultWriter, typed and validated, in
//! their JSONPath forms (`Parameters`, `*Path`) or their JSONata forms (`Arguments`, numbers as
//! `{% … %}` expressions).

use crate::definition::Seconds;
use crate::error::StatesError;
use crate::path::Path;
use crate::query::{Expr, JTemplate, States};
use crate::template::{Scope, Template};
use serde_json::{Map, Value};

/// The S3 actions a Distributed Map calls through the [`crate::TaskInvoker`].
pub mod resources {
    /// ListObjectsV2: `{"Bucket", "Prefix", "ContinuationToken"}` -> `{"Contents": [...],
    /// "IsTruncated", "NextContinuationToken"}`, as the AWS SDK integration answers.
    pub const LIST_OBJECTS_V2: &str = "arn:aws:states:::s3:listObjectsV2";
    /// GetObject: `{"Bucket", "Key"}` -> `{"Body": "<the object as text>", ...}`.
    pub const GET_OBJECT: &str = "arn:aws:states:::s3:getObject";
    /// PutObject: `{"Bucket", "Key", "Body": "<text>"}` -> `{"ETag": ...}`.
    pub const PUT_OBJECT: &str = "arn:aws:states:::s3:putObject";
}

/// What a Distributed Map adds to a Map state.
#[derive(Debug)]
pub(crate) struct Distributed {
    pub reader: Option<ItemReader>,
    pub batcher: Option<ItemBatcher>,
    pub tolerated_percentage: Option<Percentage>,
    pub tolerated_count: Option<Seconds>,
    /// Names the Map Run and the child executions (default: the state name).
    pub label: Option<String>,
    pub writer: Option<ResultWriter>,
}

/// A percentage given literally, read from the input with a Reference Path, or (JSONata) an
/// expression.
#[derive(Debug)]
pub(crate) enum Percentage {
    Fixed(f64),
    Path(Path),
    Expr(Expr),
}

/// A payload built from the state's input: the S3 request of an ItemReader or ResultWriter
/// (JSONPath `Parameters` or JSONata `Arguments`), or an ItemBatcher's `BatchInput`.
#[derive(Debug)]
pub(crate) enum Request {
    Parameters(Template),
    Arguments(JTemplate),
}

impl Request {
    /// The field's name: `Parameters` or `Arguments`.
    pub fn field_name(&self) -> &'static str {
        match self {
            Request::Parameters(_) => "Parameters",
            Request::Arguments(_) => "Arguments",
        }
    }

    /// Builds the request from the state's effective input (JSONata: `$states.input`);
    /// `field` names it in evaluation errors, such as `ItemReader.Arguments`.
    pub fn eval(&self, effective: &Value, ctx: &Scope, field: &str) -> Result<Value, StatesError> {
        match self {
            Request::Parameters(t) => t.eval(effective, ctx),
            Request::Arguments(t) => t.eval(States::input(effective), ctx, field),
        }
    }
}

#[derive(Debug)]
pub(crate) struct ItemReader {
    pub parameters: Request,
    /// `None` for listObjectsV2 (each object is an item).
    pub input_type: Option<InputType>,
    pub max_items: Option<Seconds>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum InputType {
    Json,
    Jsonl,
    /// `None`: the header is the first row (FIRST_ROW); else the given header (GIVEN).
    Csv(Option<Vec<String>>),
}

#[derive(Debug)]
pub(crate) struct ItemBatcher {
    pub max_items: Option<Seconds>,
    pub max_bytes: Option<Seconds>,
    pub batch_input: Option<Request>,
}

#[derive(Debug)]
pub(crate) struct ResultWriter {
    pub parameters: Request,
}

/// The Map fields only a distributed Map may use.
pub(crate) const FIELDS: &[&str] = &[
    "ItemReader",
    "ItemBatcher",
    "ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCount",
    "ToleratedFailureCountPath",
    "Label",
    "ResultWriter",
];

/// Parses the distributed fields of a Map state `s` (`jsonata`: of a JSONata state, whose
/// numbers may be `{% … %}` expressions and whose S3 requests are `Arguments`). Errors name the
/// field.
pub(crate) fn parse(s: &Map<String, Value>, jsonata: bool) -> Result<Distributed, (String, String)> {
    let reader = s.get("ItemReader").map(|v| parse_reader(v, jsonata)).transpose().map_err(at("ItemReader"))?;
    let batcher = s.get("ItemBatcher").map(|v| parse_batcher(v, jsonata)).transpose().map_err(at("ItemBatcher"))?;
    let tolerated_percentage = match one_of(s, "ToleratedFailurePercentage", jsonata)? {
        None => None,
        Some((false, v)) if jsonata && v.is_string() => {
            Some(Percentage::Expr(Expr::parse_required(v).map_err(|e| field("ToleratedFailurePercentage", e))?))
        }
        Some((false, v)) => Some(Percentage::Fixed(
            v.as_f64()
                .filter(|p| (0.0..=100.0).contains(p))
                .ok_or_else(|| field("ToleratedFailurePercentage", "must be a number from 0 to 100"))?,
        )),
        Some((true, v)) => {
            Some(Percentage::Path(reference(v).map_err(|e| field("ToleratedFailurePercentagePath", e))?))
        }
    };
    let tolerated_count = count(s, "ToleratedFailureCount", false, jsonata)?;
    let label = match s.get("Label") {
        None => None,
        Some(Value::String(l)) if valid_label(l) => Some(l.clone()),
        Some(_) => {
            return Err(field(
                "Label",
                "must be a string of 1 to 40 characters without whitespace, brackets, wildcards, \
                 control characters or any of \"#%\\^|~`$&,;:/",
            ))
        }
    };
    let writer = s.get("ResultWriter").map(|v| parse_writer(v, jsonata)).transpose().map_err(at("ResultWriter"))?;
    Ok(Distributed { reader, batcher, tolerated_percentage, tolerated_count, label, writer })
}

fn field(name: &str, message: impl Into<String>) -> (String, String) {
    (name.to_string(), message.into())
}

fn at(name: &'static str) -> impl Fn(String) -> (String, String) {
    move |m| (name.to_string(), m)
}

fn valid_label(l: &str) -> bool {
    let n = l.chars().count();
    (1..=40).contains(&n)
        && !l.chars().any(|c| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c))
}

fn reference(v: &Value) -> Result<Path, String> {
    let text = v.as_str().ok_or("must be a string")?;
    let p = Path::parse(text)?;
    if !p.is_reference() || p.context || p.variable.is_some() {
        return Err(format!("'{text}' must be a Reference Path (only fields and indexes)"));
    }
    Ok(p)
}

/// `name` or `namePath`, not both: `(is_path, value)`. A JSONata state has no `namePath`.
fn one_of<'a>(
    s: &'a Map<String, Value>,
    name: &str,
    jsonata: bool,
) -> Result<Option<(bool, &'a Value)>, (String, String)> {
    let path = format!("{name}Path");
    if jsonata && s.contains_key(&path) {
        return Err(field(&path, format!("is a JSONPath field, not valid in a JSONata state (use {name})")));
    }
    match (s.get(name), s.get(&path)) {
        (Some(_), Some(_)) => Err(field(name, format!("use only one of {name} and {path}"))),
        (Some(v), None) => Ok(Some((false, v))),
        (None, Some(v)) => Ok(Some((true, v))),
        (None, None) => Ok(None),
    }
}

/// A whole-number field or its `...Path` (JSONata: the number or a `{% … %}` expression);
/// `positive` rejects 0.
fn count(
    s: &Map<String, Value>,
    name: &str,
    positive: bool,
    jsonata: bool,
) -> Result<Option<Seconds>, (String, String)> {
    Ok(match one_of(s, name, jsonata)? {
        None => None,
        Some((false, v)) if jsonata && v.is_string() => {
            Some(Seconds::Expr(Expr::parse_required(v).map_err(|e| field(name, e))?))
        }
        Some((false, v)) => {
            let n = v.as_u64().filter(|n| !positive || *n > 0).ok_or_else(|| {
                field(name, if positive { "must be a positive integer" } else { "must be a non-negative integer" })
            })?;
            Some(Seconds::Fixed(n))
        }
        Some((true, v)) => Some(Seconds::Path(reference(v).map_err(|e| field(&format!("{name}Path"), e))?)),
    })
}

fn check_keys(obj: &Map<String, Value>, allowed: &[&str]) -> Result<(), String> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!("unknown field '{k}'")),
        None => Ok(()),
    }
}

/// The S3 request: `Parameters` (JSONPath) or `Arguments` (JSONata, an object or a
/// `{% … %}` expression), the other refused.
fn request(obj: &Map<String, Value>, jsonata: bool) -> Result<Request, String> {
    let (own, other) = if jsonata { ("Arguments", "Parameters") } else { ("Parameters", "Arguments") };
    if obj.contains_key(other) {
        let ql = if jsonata { "JSONata" } else { "JSONPath" };
        return Err(format!("'{other}' is not valid in a {ql} state (use {own})"));
    }
    let v = obj.get(own).ok_or_else(|| format!("'{own}' is required"))?;
    if jsonata {
        if !v.is_object() && !v.as_str().is_some_and(|t| t.starts_with("{%")) {
            return Err("'Arguments' must be an object or a JSONata expression".into());
        }
        return JTemplate::parse(v).map(Request::Arguments).map_err(|e| format!("Arguments: {e}"));
    }
    if !v.is_object() {
        return Err("'Parameters' must be an object".into());
    }
    Template::parse(v, "Parameters").map(Request::Parameters)
}

fn parse_reader(v: &Value, jsonata: bool) -> Result<ItemReader, String> {
    let obj = v.as_object().ok_or("must be an object")?;
    check_keys(obj, &["Resource", "Parameters", "Arguments", "ReaderConfig"])?;
    let resource = obj.get("Resource").and_then(Value::as_str).ok_or("'Resource' must be a string")?;
    let parameters = request(obj, jsonata)?;
    let empty = Map::new();
    let config = match obj.get("ReaderConfig") {
        None => &empty,
        Some(Value::Object(c)) => c,
        Some(_) => return Err("'ReaderConfig' must be an object".into()),
    };
    check_keys(config, &["InputType", "CSVHeaderLocation", "CSVHeaders", "MaxItems", "MaxItemsPath"])
        .map_err(|e| format!("ReaderConfig: {e}"))?;
    let max_items = count(config, "MaxItems", true, jsonata).map_err(|(f, m)| format!("ReaderConfig.{f}: {m}"))?;
    let input_type = match resource {
        resources::LIST_OBJECTS_V2 => {
            if config.contains_key("InputType") {
                return Err("ReaderConfig.InputType is not used with s3:listObjectsV2".into());
            }
            None
        }
        resources::GET_OBJECT => Some(parse_input_type(config)?),
        other => {
            return Err(format!(
                "Resource '{other}' is not supported (use {} or {})",
                resources::LIST_OBJECTS_V2,
                resources::GET_OBJECT
            ))
        }
    };
    if !matches!(input_type, Some(InputType::Csv(_)))
        && (config.contains_key("CSVHeaderLocation") || config.contains_key("CSVHeaders"))
    {
        return Err("CSVHeaderLocation and CSVHeaders are for InputType CSV only".into());
    }
    Ok(ItemReader { parameters, input_type, max_items })
}

fn parse_input_type(config: &Map<String, Value>) -> Result<InputType, String> {
    match config.get("InputType").and_then(Value::as_str) {
        Some("JSON") => Ok(InputType::Json),
        Some("JSONL") => Ok(InputType::Jsonl),
        Some("CSV") => {
            let headers = match config.get("CSVHeaderLocation").and_then(Value::as_str) {
                Some("FIRST_ROW") if !config.contains_key("CSVHeaders") => None,
                Some("FIRST_ROW") => return Err("CSVHeaders is only for CSVHeaderLocation GIVEN".into()),
                Some("GIVEN") => Some(given_headers(config.get("CSVHeaders"))?),
                _ => return Err("ReaderConfig.CSVHeaderLocation must be \"FIRST_ROW\" or \"GIVEN\"".into()),
            };
            Ok(InputType::Csv(headers))
        }
        _ => Err("ReaderConfig.InputType must be \"JSON\", \"JSONL\" or \"CSV\" for s3:getObject".into()),
    }
}

fn given_headers(v: Option<&Value>) -> Result<Vec<String>, String> {
    let list = v.and_then(Value::as_array).filter(|a| !a.is_empty()).ok_or("CSVHeaders must be a non-empty array")?;
    let headers: Vec<String> = list
        .iter()
        .map(|h| h.as_str().map(str::to_string).ok_or("CSVHeaders must hold strings"))
        .collect::<Result<_, _>>()?;
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = headers.iter().find(|h| !seen.insert(h.as_str())) {
        return Err(format!("CSVHeaders names '{dup}' twice"));
    }
    Ok(headers)
}

fn parse_batcher(v: &Value, jsonata: bool) -> Result<ItemBatcher, String> {
    let obj = v.as_object().ok_or("must be an object")?;
    check_keys(
        obj,
        &[
            "MaxItemsPerBatch",
            "MaxItemsPerBatchPath",
            "MaxInputBytesPerBatch",
            "MaxInputBytesPerBatchPath",
            "BatchInput",
        ],
    )?;
    let max_items = count(obj, "MaxItemsPerBatch", true, jsonata).map_err(|(f, m)| format!("{f}: {m}"))?;
    let max_bytes = count(obj, "MaxInputBytesPerBatch", true, jsonata).map_err(|(f, m)| format!("{f}: {m}"))?;
    if max_items.is_none() && max_bytes.is_none() {
        return Err("needs MaxItemsPerBatch(Path) or MaxInputBytesPerBatch(Path)".into());
    }
    let batch_input = match obj.get("BatchInput") {
        None => None,
        Some(v) if jsonata => Some(Request::Arguments(JTemplate::parse(v).map_err(|e| format!("BatchInput: {e}"))?)),
        Some(v @ Value::Object(_)) => Some(Request::Parameters(Template::parse(v, "BatchInput")?)),
        Some(_) => return Err("BatchInput must be an object".into()),
    };
    Ok(ItemBatcher { max_items, max_bytes, batch_input })
}

fn parse_writer(v: &Value, jsonata: bool) -> Result<ResultWriter, String> {
    let obj = v.as_object().ok_or("must be an object")?;
    check_keys(obj, &["Resource", "Parameters", "Arguments"])?;
    match obj.get("Resource").and_then(Value::as_str) {
        Some(resources::PUT_OBJECT) => {}
        _ => return Err(format!("'Resource' must be \"{}\"", resources::PUT_OBJECT)),
    }
    Ok(ResultWriter { parameters: request(obj, jsonata)? })
}
