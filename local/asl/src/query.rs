//! JSONata in JSONata states: `{% … %}` expressions, templates made of them and `$states`.

use crate::error::StatesError;
use crate::template::Scope;
use serde_json::{Map, Value};
use std::sync::Arc;

/// A parsed `{% … %}` expression.
#[derive(Debug, Clone)]
pub(crate) struct Expr {
    text: String,
    parsed: Arc<jsonata::Expression>,
}

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

/// What `$states` holds for one evaluation besides the context object.
#[derive(Debug, Clone, Copy)]
pub(crate) struct States<'a> {
    pub input: &'a Value,
    pub result: Option<&'a Value>,
    pub error_output: Option<&'a Value>,
}

impl<'a> States<'a> {
    /// `$states` with the state input only.
    pub fn input(input: &'a Value) -> States<'a> {
        States { input, result: None, error_output: None }
    }
}

impl Expr {
    /// The expression as AWS quotes it in causes: without `{%`/`%}` and the spaces inside them.
    fn quoted(&self) -> &str {
        let inner = self.text.strip_prefix("{%").and_then(|t| t.strip_suffix("%}")).unwrap_or(&self.text);
        inner.trim()
    }

    /// `Some` when `text` is a whole `{% … %}` expression (parsed, or the parse error).
    pub fn parse_enclosed(text: &str) -> Option<Result<Expr, String>> {
        let inner = text.strip_prefix("{%")?.strip_suffix("%}")?;
        Some(
            jsonata::Expression::parse(inner)
                .map(|parsed| Expr { text: text.to_string(), parsed: Arc::new(parsed) })
                .map_err(|e| format!("invalid JSONata expression '{text}': {e}")),
        )
    }

    /// Parses a field that must be a `{% … %}` string.
    pub fn parse_required(v: &Value) -> Result<Expr, String> {
        match v.as_str().and_then(Expr::parse_enclosed) {
            Some(parsed) => parsed,
            None => Err("must be a JSONata expression string \"{% … %}\"".into()),
        }
    }

    /// Evaluates; an error or an undefined result is `States.QueryEvaluationError`.
    pub fn eval(&self, states: States<'_>, scope: &Scope, field: &str) -> Result<Value, StatesError> {
        self.eval_optional(states, scope, field)?.ok_or_else(|| undefined(self, field))
    }

    /// Evaluates; `None` for an undefined result.
    pub fn eval_optional(&self, states: States<'_>, scope: &Scope, field: &str) -> Result<Option<Value>, StatesError> {
        self.eval_bound(&Bindings::new(states, scope), field)
    }

    fn eval_bound(&self, bindings: &Bindings, field: &str) -> Result<Option<Value>, StatesError> {
        self.parsed.evaluate(Some(&bindings.input), &bindings.map).map_err(|e| {
            StatesError::evaluation(
                field,
                format!(
                    "The JSONata expression '{}' specified for the field '{field}' threw an error: {e}",
                    self.quoted()
                ),
            )
        })
    }

    /// Evaluates to a whole number of at least `min`.
    pub fn eval_count(&self, states: States<'_>, scope: &Scope, field: &str, min: u64) -> Result<u64, StatesError> {
        let v = self.eval(states, scope, field)?;
        let n =
            v.as_u64().or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= 9e15).map(|f| f as u64));
        n.filter(|n| *n >= min).ok_or_else(|| {
            StatesError::evaluation(
                field,
                format!("The JSONata expression '{}' specified for the field '{field}' returned {v}, not an integer of at least {min}.", self.quoted()),
            )
        })
    }
}

/// What an expression sees: the variables in scope and `$states` (built once for all the
/// expressions of a template, or all the items of a Map).
pub(crate) struct Bindings {
    input: Value,
    map: Map<String, Value>,
}

impl Bindings {
    pub fn new(states: States<'_>, scope: &Scope) -> Bindings {
        let mut map = (*scope.vars).clone();
        let mut s = Map::new();
        s.insert("input".into(), states.input.clone());
        s.insert("context".into(), scope.context.clone());
        if let Some(r) = states.result {
            s.insert("result".into(), r.clone());
        }
        if let Some(e) = states.error_output {
            s.insert("errorOutput".into(), e.clone());
        }
        map.insert("states".into(), Value::Object(s));
        Bindings { input: states.input.clone(), map }
    }

    /// Sets `$states.context.Map.Item` for one Map item.
    pub fn set_map_item(&mut self, index: usize, value: Value) {
        self.map["states"]["context"]["Map"] = serde_json::json!({"Item": {"Index": index, "Value": value}});
    }
}

/// A JSON value whose strings may be `{% … %}` expressions, at any depth (Arguments, Output,
/// ItemSelector, Items, Assign values).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum JTemplate {
    Literal(Value),
    Object(Vec<(String, JTemplate)>),
    Array(Vec<JTemplate>),
    Expr(Expr),
}

impl JTemplate {
    /// Parses every expression inside `value` (a syntax error is a load error).
    pub fn parse(value: &Value) -> Result<JTemplate, String> {
        Ok(match value {
            Value::String(s) => match Expr::parse_enclosed(s) {
                Some(e) => JTemplate::Expr(e?),
                None => JTemplate::Literal(value.clone()),
            },
            Value::Object(map) => JTemplate::Object(
                map.iter().map(|(k, v)| Ok((k.clone(), JTemplate::parse(v)?))).collect::<Result<_, String>>()?,
            ),
            Value::Array(items) => JTemplate::Array(items.iter().map(JTemplate::parse).collect::<Result<_, _>>()?),
            other => JTemplate::Literal(other.clone()),
        })
    }

    /// Builds the value; an expression that fails or returns nothing is
    /// `States.QueryEvaluationError`.
    pub fn eval(&self, states: States<'_>, scope: &Scope, field: &str) -> Result<Value, StatesError> {
        match self {
            JTemplate::Literal(v) => Ok(v.clone()),
            _ => self.eval_bound(&Bindings::new(states, scope), field),
        }
    }

    /// [`JTemplate::eval`] with bindings already built.
    pub fn eval_bound(&self, bindings: &Bindings, field: &str) -> Result<Value, StatesError> {
        Ok(match self {
            JTemplate::Literal(v) => v.clone(),
            JTemplate::Expr(e) => e.eval_bound(bindings, field)?.ok_or_else(|| undefined(e, field))?,
            JTemplate::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, t)| t.eval_bound(bindings, &format!("{field}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            JTemplate::Object(fields) => {
                let mut map = Map::new();
                for (k, t) in fields {
                    map.insert(k.clone(), t.eval_bound(bindings, &format!("{field}/{k}"))?);
                }
                Value::Object(map)
            }
        })
    }
}

fn undefined(e: &Expr, field: &str) -> StatesError {
    StatesError::evaluation(
        field,
        format!(
            "The JSONata expression '{}' specified for the field '{field}' returned nothing (undefined).",
            e.quoted()
        ),
    )
}
