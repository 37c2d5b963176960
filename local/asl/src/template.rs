//! Payload templates: `Parameters`, `ResultSelector`, `ItemSelector` with `.$` keys whose values
//! are Paths (`$...`), context Paths (`$$...`) or intrinsic functions.

use crate::error::StatesError;
use crate::intrinsic::Call;
use crate::path::Path;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Workflow variables by name.
pub(crate) type Vars = Map<String, Value>;

/// What a state's paths and expressions read besides their input: the context object (`$$`,
/// `$states.context`) and the workflow variables in scope.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    pub context: Value,
    pub vars: Arc<Vars>,
}

/// A dynamic value: a Path, a context Path or an intrinsic function call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Dynamic {
    Path(Path),
    Call(Call),
}

impl Dynamic {
    /// Parses the string value of a `.$` field (or of ErrorPath / CausePath).
    pub fn parse(text: &str) -> Result<Dynamic, String> {
        if text.starts_with('$') {
            Path::parse(text).map(Dynamic::Path)
        } else if text.trim_start().starts_with("States.") {
            Call::parse(text).map(Dynamic::Call)
        } else {
            Err(format!("'{text}' is neither a JSONPath nor an intrinsic function"))
        }
    }

    /// Evaluates for the field `field` (named in errors). A Path that matches nothing is
    /// `States.Runtime`, as on AWS.
    pub fn eval(&self, input: &Value, scope: &Scope, field: &str) -> Result<Value, StatesError> {
        match self {
            Dynamic::Path(p) => p.select_in(input, scope).ok_or_else(|| {
                StatesError::runtime(format!(
                    "The JSONPath '{}' specified for the field '{field}' could not be found in the input '{input}'",
                    p.text()
                ))
            }),
            Dynamic::Call(c) => c.eval(input, scope),
        }
    }
}

/// A parsed payload template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Template {
    Literal(Value),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
    Dynamic(String, Dynamic),
}

impl Template {
    /// Parses a template; `field` names the definition field for error messages.
    pub fn parse(value: &Value, field: &str) -> Result<Template, String> {
        Ok(match value {
            Value::Object(map) => {
                let mut out = Vec::with_capacity(map.len());
                for (k, v) in map {
                    if let Some(name) = k.strip_suffix(".$") {
                        let Value::String(s) = v else {
                            return Err(format!(
                                "{field}: the value of '{k}' must be a string (a JSONPath or an intrinsic function)"
                            ));
                        };
                        let d = Dynamic::parse(s).map_err(|e| format!("{field}: field '{k}': {e}"))?;
                        out.push((name.to_string(), Template::Dynamic(k.clone(), d)));
                    } else {
                        out.push((k.clone(), Template::parse(v, field)?));
                    }
                }
                Template::Object(out)
            }
            Value::Array(items) => {
                Template::Array(items.iter().map(|v| Template::parse(v, field)).collect::<Result<_, _>>()?)
            }
            other => Template::Literal(other.clone()),
        })
    }

    /// Builds the payload from `input`, the context object and the variables.
    pub fn eval(&self, input: &Value, context: &Scope) -> Result<Value, StatesError> {
        Ok(match self {
            Template::Literal(v) => v.clone(),
            Template::Array(items) => {
                Value::Array(items.iter().map(|t| t.eval(input, context)).collect::<Result<_, _>>()?)
            }
            Template::Object(fields) => {
                let mut map = Map::new();
                for (k, t) in fields {
                    map.insert(k.clone(), t.eval(input, context)?);
                }
                Value::Object(map)
            }
            Template::Dynamic(key, d) => d.eval(input, context, key)?,
        })
    }
}
