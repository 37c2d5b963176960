//! The values an evaluation works on: JSON plus functions, with the sequence flags JSONata
//! keeps on arrays (results of paths are sequences and unwrap when they hold one item).

use crate::ast::{LambdaDef, TransformDef};
use crate::functions::Builtin;
use fancy_regex::Regex;
use indexmap::IndexMap;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

/// An evaluated value; `Undefined` is JSONata's "no value" (never stored inside arrays).
#[derive(Clone, Debug)]
pub(crate) enum Val {
    Undefined,
    Null,
    Bool(bool),
    Num(f64),
    Str(Rc<str>),
    Arr(Rc<Array>),
    Obj(Rc<Object>),
    Func(Rc<Func>),
}

/// An array and the flags the reference keeps on it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Array {
    pub items: Vec<Val>,
    /// A result sequence: unwrapped when it holds a single item.
    pub sequence: bool,
    /// Marked by `[]`: a single-item sequence stays an array.
    pub keep_singleton: bool,
    /// Built by an array constructor (not flattened into path results).
    pub cons: bool,
    /// The whole input document, wrapped so that a top-level array is treated as one value.
    pub outer_wrapper: bool,
    /// Nesting depth of arrays/objects inside (1 for a flat array).
    pub depth: u32,
}

/// An object keeping insertion order, like a JavaScript object.
#[derive(Clone, Debug, Default)]
pub(crate) struct Object {
    pub map: IndexMap<String, Val>,
    pub depth: u32,
}

/// Something callable.
#[derive(Debug)]
pub(crate) enum Func {
    Lambda {
        def: Arc<LambdaDef>,
        env: Env,
        input: Val,
    },
    Builtin(&'static Builtin),
    /// A partial application: `None` marks a `?` placeholder.
    Partial {
        func: Val,
        args: Vec<Option<Val>>,
    },
    /// `$f ~> $g`: a function applying `$f` then `$g`.
    Chain(Val, Val),
    Regex(Arc<Regex>),
    Transform {
        def: Arc<TransformDef>,
        env: Env,
    },
}

/// A frame of variable bindings, chained to its enclosing scope.
#[derive(Debug, Default)]
pub(crate) struct Frame {
    pub vars: RefCell<HashMap<String, Val>>,
    pub parent: Option<Env>,
}

pub(crate) type Env = Rc<Frame>;

impl Frame {
    /// The innermost defined binding of `name`, else the built-in function of that name.
    pub fn lookup(&self, name: &str) -> Val {
        let mut frame = self;
        loop {
            if let Some(value) = frame.vars.borrow().get(name) {
                if !value.is_undefined() {
                    return value.clone();
                }
            }
            match &frame.parent {
                Some(parent) => frame = parent,
                None => return crate::functions::lookup_builtin(name),
            }
        }
    }

    pub fn bind(&self, name: &str, value: Val) {
        self.vars.borrow_mut().insert(name.to_string(), value);
    }
}

fn child_depth(value: &Val) -> u32 {
    match value {
        Val::Arr(a) => a.depth,
        Val::Obj(o) => o.depth,
        _ => 0,
    }
}

impl Val {
    pub fn str(s: &str) -> Val {
        Val::Str(Rc::from(s))
    }

    pub fn string(s: String) -> Val {
        Val::Str(Rc::from(s))
    }

    pub fn array(items: Vec<Val>) -> Val {
        Val::Arr(Rc::new(Array::new(items)))
    }

    pub fn sequence(items: Vec<Val>) -> Val {
        let mut array = Array::new(items);
        array.sequence = true;
        Val::Arr(Rc::new(array))
    }

    pub fn object(map: IndexMap<String, Val>) -> Val {
        let depth = 1 + map.values().map(child_depth).max().unwrap_or(0);
        Val::Obj(Rc::new(Object { map, depth }))
    }

    pub fn func(func: Func) -> Val {
        Val::Func(Rc::new(func))
    }

    pub fn is_undefined(&self) -> bool {
        matches!(self, Val::Undefined)
    }

    pub fn is_function(&self) -> bool {
        matches!(self, Val::Func(_))
    }

    pub fn is_array(&self) -> bool {
        matches!(self, Val::Arr(_))
    }

    pub fn is_sequence(&self) -> bool {
        matches!(self, Val::Arr(a) if a.sequence)
    }

    /// Nesting depth of arrays and objects (0 for scalars).
    pub fn depth(&self) -> u32 {
        child_depth(self)
    }

    pub fn as_num(&self) -> Option<f64> {
        match self {
            Val::Num(n) => Some(*n),
            _ => None,
        }
    }

    /// The items when an array, else the value itself as the only item (nothing when undefined).
    pub fn items(&self) -> Vec<Val> {
        match self {
            Val::Arr(a) => a.items.clone(),
            Val::Undefined => Vec::new(),
            other => vec![other.clone()],
        }
    }

    /// JSONata's type name (`$type`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Undefined => "undefined",
            Val::Null => "null",
            Val::Bool(_) => "boolean",
            Val::Num(_) => "number",
            Val::Str(_) => "string",
            Val::Arr(_) => "array",
            Val::Obj(_) => "object",
            Val::Func(_) => "function",
        }
    }

    /// A copy of this array with flags changed (copying only when shared).
    pub fn with_array_flags(self, change: impl FnOnce(&mut Array)) -> Val {
        match self {
            Val::Arr(mut a) => {
                change(Rc::make_mut(&mut a));
                Val::Arr(a)
            }
            other => other,
        }
    }

    pub fn from_json(value: &Value) -> Val {
        match value {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => Val::Num(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => Val::str(s),
            Value::Array(items) => Val::array(items.iter().map(Val::from_json).collect()),
            Value::Object(map) => Val::object(map.iter().map(|(k, v)| (k.clone(), Val::from_json(v))).collect()),
        }
    }

    /// The JSON form, as `JSON.stringify` writes it: non-finite numbers become null, functions
    /// are left out of objects and become null in arrays; `None` for undefined and functions.
    pub fn to_json(&self) -> Option<Value> {
        match self {
            Val::Undefined | Val::Func(_) => None,
            Val::Null => Some(Value::Null),
            Val::Bool(b) => Some(Value::Bool(*b)),
            Val::Num(n) => Some(number_to_json(*n)),
            Val::Str(s) => Some(Value::String(s.to_string())),
            Val::Arr(a) => Some(Value::Array(a.items.iter().map(|v| v.to_json().unwrap_or(Value::Null)).collect())),
            Val::Obj(o) => {
                Some(Value::Object(o.map.iter().filter_map(|(k, v)| v.to_json().map(|j| (k.clone(), j))).collect()))
            }
        }
    }
}

impl Array {
    pub fn new(items: Vec<Val>) -> Self {
        let depth = 1 + items.iter().map(child_depth).max().unwrap_or(0);
        Array { items, depth, ..Default::default() }
    }
}

/// A JSON number: integral values within 2^53 as integers (as JavaScript prints them).
pub(crate) fn number_to_json(n: f64) -> Value {
    if !n.is_finite() {
        return Value::Null;
    }
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        return Value::from(n as i64);
    }
    serde_json::Number::from_f64(n).map(Value::Number).unwrap_or(Value::Null)
}

/// JSONata's effective boolean value (`$boolean`); `None` for undefined.
pub(crate) fn boolean(value: &Val) -> Option<bool> {
    Some(match value {
        Val::Undefined => return None,
        Val::Null => false,
        Val::Bool(b) => *b,
        Val::Num(n) => *n != 0.0 && !n.is_nan(),
        Val::Str(s) => !s.is_empty(),
        Val::Arr(a) => match a.items.len() {
            0 => false,
            1 => boolean(&a.items[0]).unwrap_or(false),
            _ => a.items.iter().any(|v| boolean(v).unwrap_or(false)),
        },
        Val::Obj(o) => !o.map.is_empty(),
        Val::Func(_) => false,
    })
}

/// Deep equality as the reference's `isDeepEqual` (`=` and `!=`).
pub(crate) fn deep_equal(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::Undefined, Val::Undefined) | (Val::Null, Val::Null) => true,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Num(x), Val::Num(y)) => x == y,
        (Val::Str(x), Val::Str(y)) => x == y,
        (Val::Arr(x), Val::Arr(y)) => {
            x.items.len() == y.items.len() && x.items.iter().zip(&y.items).all(|(p, q)| deep_equal(p, q))
        }
        (Val::Obj(x), Val::Obj(y)) => {
            x.map.len() == y.map.len() && x.map.iter().all(|(k, v)| y.map.get(k).is_some_and(|w| deep_equal(v, w)))
        }
        (Val::Func(x), Val::Func(y)) => Rc::ptr_eq(x, y),
        _ => false,
    }
}

/// JavaScript's `Number.prototype.toString()` for a number.
pub(crate) fn js_number(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    if n == 0.0 {
        return "0".into();
    }
    let sign = if n < 0.0 { "-" } else { "" };
    let formatted = format!("{:e}", n.abs());
    let (mantissa, exponent) = formatted.split_once('e').unwrap_or((&formatted, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let k = digits.len() as i64;
    let point = exponent + 1;
    let body = if k <= point && point <= 21 {
        format!("{digits}{}", "0".repeat((point - k) as usize))
    } else if 0 < point && point <= 21 {
        format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
    } else if -6 < point && point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else {
        let exp = point - 1;
        let exp_sign = if exp >= 0 { "+" } else { "-" };
        let mantissa = if k == 1 { digits.clone() } else { format!("{}.{}", &digits[..1], &digits[1..]) };
        format!("{mantissa}e{exp_sign}{}", exp.abs())
    };
    format!("{sign}{body}")
}

/// `Number(n.toPrecision(15))`: how `$string` and `&` round numbers.
pub(crate) fn to_precision_15(n: f64) -> f64 {
    format!("{n:.14e}").parse().unwrap_or(n)
}

/// JSON text of a value as `$string` writes it (`JSON.stringify` with numbers at 15 significant
/// digits and functions as empty strings); `indent` pretty-prints with two spaces.
pub(crate) fn stringify(value: &Val, indent: bool) -> String {
    let mut out = String::new();
    write_json(value, indent, 0, &mut out);
    out
}

fn write_json(value: &Val, indent: bool, level: usize, out: &mut String) {
    match value {
        Val::Undefined | Val::Null => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Num(n) if n.is_finite() => out.push_str(&js_number(to_precision_15(*n))),
        Val::Num(_) => out.push_str("null"),
        Val::Str(s) => write_json_string(s, out),
        Val::Func(_) => out.push_str("\"\""),
        Val::Arr(a) => {
            if a.items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in a.items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(indent, level + 1, out);
                write_json(item, indent, level + 1, out);
            }
            newline(indent, level, out);
            out.push(']');
        }
        Val::Obj(o) => {
            let entries: Vec<_> = o.map.iter().filter(|(_, v)| !v.is_undefined()).collect();
            if entries.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(indent, level + 1, out);
                write_json_string(key, out);
                out.push(':');
                if indent {
                    out.push(' ');
                }
                write_json(item, indent, level + 1, out);
            }
            newline(indent, level, out);
            out.push('}');
        }
    }
}

fn newline(indent: bool, level: usize, out: &mut String) {
    if indent {
        out.push('\n');
        out.push_str(&"  ".repeat(level));
    }
}

fn write_json_string(s: &str, out: &mut String) {
    out.push_str(&Value::String(s.to_string()).to_string());
}
