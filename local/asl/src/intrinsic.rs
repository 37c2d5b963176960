//! Intrinsic functions (`States.Format(...)` etc.) for `.$` fields: parsing at definition load,
//! evaluation at run time. A function that fails is `States.IntrinsicFailure`; a path argument that
//! matches nothing is `States.Runtime`, as on AWS.

use crate::error::StatesError;
use crate::path::{kind, Path};
use base64::Engine as _;
use serde_json::{Map, Number, Value};

/// The intrinsic functions this engine knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Function {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

/// How many arguments a function takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Arity {
    min: usize,
    /// `None`: no upper bound.
    max: Option<usize>,
}

impl Arity {
    const fn exactly(n: usize) -> Arity {
        Arity { min: n, max: Some(n) }
    }

    fn accepts(self, n: usize) -> bool {
        n >= self.min && self.max.is_none_or(|max| n <= max)
    }
}

impl std::fmt::Display for Arity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.max {
            Some(max) if max == self.min => write!(f, "{max}"),
            Some(max) => write!(f, "{} to {max}", self.min),
            None => write!(f, "at least {}", self.min),
        }
    }
}

impl Function {
    const ALL: [Function; 18] = [
        Function::Format,
        Function::StringToJson,
        Function::JsonToString,
        Function::Array,
        Function::ArrayPartition,
        Function::ArrayContains,
        Function::ArrayRange,
        Function::ArrayGetItem,
        Function::ArrayLength,
        Function::ArrayUnique,
        Function::Base64Encode,
        Function::Base64Decode,
        Function::Hash,
        Function::JsonMerge,
        Function::MathRandom,
        Function::MathAdd,
        Function::StringSplit,
        Function::Uuid,
    ];

    /// The name as written in a definition (`States.Format`).
    fn name(self) -> &'static str {
        match self {
            Function::Format => "States.Format",
            Function::StringToJson => "States.StringToJson",
            Function::JsonToString => "States.JsonToString",
            Function::Array => "States.Array",
            Function::ArrayPartition => "States.ArrayPartition",
            Function::ArrayContains => "States.ArrayContains",
            Function::ArrayRange => "States.ArrayRange",
            Function::ArrayGetItem => "States.ArrayGetItem",
            Function::ArrayLength => "States.ArrayLength",
            Function::ArrayUnique => "States.ArrayUnique",
            Function::Base64Encode => "States.Base64Encode",
            Function::Base64Decode => "States.Base64Decode",
            Function::Hash => "States.Hash",
            Function::JsonMerge => "States.JsonMerge",
            Function::MathRandom => "States.MathRandom",
            Function::MathAdd => "States.MathAdd",
            Function::StringSplit => "States.StringSplit",
            Function::Uuid => "States.UUID",
        }
    }

    fn from_name(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.name() == name)
    }

    fn arity(self) -> Arity {
        match self {
            Function::Format => Arity { min: 1, max: None },
            Function::Array => Arity { min: 0, max: None },
            Function::MathRandom => Arity { min: 2, max: Some(3) },
            Function::Uuid => Arity::exactly(0),
            Function::StringToJson
            | Function::JsonToString
            | Function::ArrayLength
            | Function::ArrayUnique
            | Function::Base64Encode
            | Function::Base64Decode => Arity::exactly(1),
            Function::ArrayPartition
            | Function::ArrayContains
            | Function::ArrayGetItem
            | Function::Hash
            | Function::MathAdd
            | Function::StringSplit => Arity::exactly(2),
            Function::ArrayRange | Function::JsonMerge => Arity::exactly(3),
        }
    }

    /// Applies the function to evaluated arguments (their count already checked at parse time).
    /// `template` is the raw text of a literal States.Format template.
    fn apply(self, template: Option<&str>, args: Vec<Value>) -> Result<Value, String> {
        match self {
            Function::Format => format(template, &args),
            Function::StringToJson => {
                serde_json::from_str(string(&args[0], "argument")?).map_err(|e| format!("the string is not JSON: {e}"))
            }
            Function::JsonToString => Ok(Value::String(args[0].to_string())),
            Function::Array => Ok(Value::Array(args)),
            Function::ArrayPartition => array_partition(&args[0], &args[1]),
            Function::ArrayContains => {
                Ok(Value::Bool(array(&args[0], "first argument")?.iter().any(|v| json_eq(v, &args[1]))))
            }
            Function::ArrayRange => array_range(&args[0], &args[1], &args[2]),
            Function::ArrayGetItem => array_get_item(&args[0], &args[1]),
            Function::ArrayLength => Ok(Value::from(array(&args[0], "argument")?.len())),
            Function::ArrayUnique => array_unique(&args[0]),
            Function::Base64Encode => base64_encode(&args[0]),
            Function::Base64Decode => base64_decode(&args[0]),
            Function::Hash => {
                let data = match &args[0] {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                };
                hash(data.as_bytes(), string(&args[1], "algorithm")?).map(Value::String)
            }
            Function::JsonMerge => json_merge(&args[0], &args[1], &args[2]),
            Function::MathRandom => math_random(&args[0], &args[1], args.get(2)),
            Function::MathAdd => {
                let (a, b) = (integer(&args[0], "first argument")?, integer(&args[1], "second argument")?);
                a.checked_add(b).map(Value::from).ok_or_else(|| "the sum overflows".into())
            }
            Function::StringSplit => string_split(&args[0], &args[1]),
            Function::Uuid => Ok(Value::String(uuid::Uuid::new_v4().to_string())),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    /// A string literal: its value (escapes resolved) and its raw text (for Format templates).
    Str {
        value: String,
        raw: String,
    },
    Lit(Value),
    Path(Path),
    Call(Call),
}

/// A parsed intrinsic function call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    function: Function,
    args: Vec<Arg>,
}

impl Call {
    /// Parses `States.Name(arg, ...)`; the error explains what is wrong.
    pub fn parse(text: &str) -> Result<Call, String> {
        let chars: Vec<char> = text.trim().chars().collect();
        let mut p = Parser { chars: &chars, pos: 0, depth: 0 };
        let call = p.call().map_err(|e| format!("invalid intrinsic function '{text}': {e}"))?;
        p.skip_ws();
        if p.pos != chars.len() {
            return Err(format!("invalid intrinsic function '{text}': unexpected text after ')'"));
        }
        Ok(call)
    }

    /// Evaluates against the effective input and the context object. A path argument that
    /// matches nothing is `States.Runtime` (as on AWS); a failure of the function itself is
    /// `States.IntrinsicFailure`.
    pub fn eval(&self, input: &Value, context: &crate::template::Scope) -> Result<Value, StatesError> {
        let mut args = Vec::with_capacity(self.args.len());
        for a in &self.args {
            args.push(match a {
                Arg::Str { value, .. } => Value::String(value.clone()),
                Arg::Lit(v) => v.clone(),
                Arg::Path(p) => p.select_in(input, context).ok_or_else(|| {
                    StatesError::runtime(format!(
                        "The JsonPath argument for the field '{}' could not be found in the input '{input}'",
                        p.text()
                    ))
                })?,
                Arg::Call(c) => c.eval(input, context)?,
            });
        }
        let template = match self.args.first() {
            Some(Arg::Str { raw, .. }) => Some(raw.as_str()),
            _ => None,
        };
        let name = self.function.name();
        self.function.apply(template, args).map_err(|msg| StatesError::intrinsic(format!("{name}: {msg}")))
    }
}

fn format(literal_template: Option<&str>, args: &[Value]) -> Result<Value, String> {
    let template = match (literal_template, &args[0]) {
        (Some(raw), _) => raw,
        (None, Value::String(s)) => s.as_str(),
        (None, v) => return Err(format!("the template must be a string, not {}", kind(v))),
    };
    format_template(template, &args[1..])
}

fn array_partition(items: &Value, size: &Value) -> Result<Value, String> {
    let items = array(items, "first argument")?;
    let size = integer(size, "chunk size")?;
    if size <= 0 {
        return Err(format!("the chunk size must be a positive integer, not {size}"));
    }
    Ok(Value::Array(items.chunks(size as usize).map(|c| Value::Array(c.to_vec())).collect()))
}

/// Most items `States.ArrayRange` may produce (the AWS limit).
const MAX_RANGE_ITEMS: usize = 1000;

fn array_range(start: &Value, end: &Value, step: &Value) -> Result<Value, String> {
    let (start, end, step) = (integer(start, "start")?, integer(end, "end")?, integer(step, "step")?);
    if step == 0 {
        return Err("the step cannot be 0".into());
    }
    let mut out = Vec::new();
    let mut i = start;
    while (step > 0 && i <= end) || (step < 0 && i >= end) {
        if out.len() >= MAX_RANGE_ITEMS {
            return Err(format!("the range has more than {MAX_RANGE_ITEMS} items"));
        }
        out.push(Value::from(i));
        i = match i.checked_add(step) {
            Some(n) => n,
            None => break,
        };
    }
    Ok(Value::Array(out))
}

fn array_get_item(items: &Value, index: &Value) -> Result<Value, String> {
    let items = array(items, "first argument")?;
    let idx = integer(index, "index")?;
    usize::try_from(idx)
        .ok()
        .and_then(|i| items.get(i))
        .cloned()
        .ok_or_else(|| format!("index {idx} is out of bounds for an array of {}", items.len()))
}

fn array_unique(items: &Value) -> Result<Value, String> {
    let mut out: Vec<Value> = Vec::new();
    for v in array(items, "argument")? {
        if !out.iter().any(|o| json_eq(o, v)) {
            out.push(v.clone());
        }
    }
    Ok(Value::Array(out))
}

/// Longest input of the Base64 functions (the AWS limit).
const MAX_BASE64_INPUT: usize = 10_000;

fn base64_encode(v: &Value) -> Result<Value, String> {
    let s = string(v, "argument")?;
    if s.len() > MAX_BASE64_INPUT {
        return Err(format!("the input is longer than {MAX_BASE64_INPUT} characters"));
    }
    Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(s)))
}

fn base64_decode(v: &Value) -> Result<Value, String> {
    let s = string(v, "argument")?;
    if s.len() > MAX_BASE64_INPUT {
        return Err(format!("the input is longer than {MAX_BASE64_INPUT} characters"));
    }
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| format!("the input is not base64: {e}"))?;
    String::from_utf8(bytes).map(Value::String).map_err(|_| "the decoded data is not UTF-8 text".into())
}

fn json_merge(a: &Value, b: &Value, deep: &Value) -> Result<Value, String> {
    let a = object(a, "first argument")?;
    let b = object(b, "second argument")?;
    match deep {
        Value::Bool(false) => {}
        Value::Bool(true) => return Err("deep merge (true) is not supported; pass false".into()),
        v => return Err(format!("the third argument must be false, not {}", kind(v))),
    }
    let mut out = a.clone();
    for (k, v) in b {
        out.insert(k.clone(), v.clone());
    }
    Ok(Value::Object(out))
}

fn math_random(start: &Value, end: &Value, seed: Option<&Value>) -> Result<Value, String> {
    use rand::{Rng, SeedableRng};
    let start = integer(start, "start")?;
    let end = integer(end, "end")?;
    if start >= end {
        return Err(format!("start ({start}) must be less than end ({end})"));
    }
    let n = match seed {
        Some(seed) => rand::rngs::StdRng::seed_from_u64(integer(seed, "seed")? as u64).gen_range(start..end),
        None => rand::thread_rng().gen_range(start..end),
    };
    Ok(Value::from(n))
}

fn string_split(s: &Value, delimiters: &Value) -> Result<Value, String> {
    let s = string(s, "first argument")?;
    let delims = string(delimiters, "delimiter")?;
    if delims.is_empty() {
        return Err("the delimiter cannot be empty".into());
    }
    Ok(Value::Array(
        s.split(|c| delims.contains(c)).filter(|p| !p.is_empty()).map(|p| Value::String(p.to_string())).collect(),
    ))
}

/// JSON equality where numbers compare by value (1 == 1.0).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn string<'a>(v: &'a Value, what: &str) -> Result<&'a str, String> {
    v.as_str().ok_or_else(|| format!("the {what} must be a string, not {}", kind(v)))
}

fn array<'a>(v: &'a Value, what: &str) -> Result<&'a Vec<Value>, String> {
    v.as_array().ok_or_else(|| format!("the {what} must be an array, not {}", kind(v)))
}

fn object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object().ok_or_else(|| format!("the {what} must be an object, not {}", kind(v)))
}

fn integer(v: &Value, what: &str) -> Result<i64, String> {
    if let Some(i) = v.as_i64() {
        return Ok(i);
    }
    if let Some(f) = v.as_f64() {
        if f.fract() == 0.0 && f.abs() < 9.0e15 {
            return Ok(f as i64);
        }
    }
    Err(format!("the {what} must be an integer, not {}", describe(v)))
}

fn describe(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        other => kind(other).to_string(),
    }
}

fn hash(data: &[u8], alg: &str) -> Result<String, String> {
    use sha2::Digest as _;
    Ok(match alg {
        "MD5" => {
            use md5::Digest as _;
            hex::encode(md5::Md5::digest(data))
        }
        "SHA-1" => {
            use sha1::Digest as _;
            hex::encode(sha1::Sha1::digest(data))
        }
        "SHA-256" => hex::encode(sha2::Sha256::digest(data)),
        "SHA-384" => hex::encode(sha2::Sha384::digest(data)),
        "SHA-512" => hex::encode(sha2::Sha512::digest(data)),
        other => return Err(format!("unknown algorithm '{other}' (use MD5, SHA-1, SHA-256, SHA-384 or SHA-512)")),
    })
}

/// Fills `{}` placeholders; `\{`, `\}`, `\'` and `\\` stand for the character itself.
fn format_template(template: &str, args: &[Value]) -> Result<Value, String> {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) => out.push(e),
                None => return Err("the template ends with a lone '\\'".into()),
            },
            '{' => {
                if chars.next() != Some('}') {
                    return Err("'{' must be followed by '}' (escape a literal brace as \\{)".into());
                }
                let Some(arg) = args.get(next) else {
                    return Err(format!("the template has more placeholders than the {} arguments", args.len()));
                };
                next += 1;
                match arg {
                    Value::String(s) => out.push_str(s),
                    Value::Object(_) | Value::Array(_) => {
                        return Err(format!(
                            "argument {next} must be a string, number, boolean or null, not {}",
                            kind(arg)
                        ))
                    }
                    other => out.push_str(&other.to_string()),
                }
            }
            '}' => return Err("unmatched '}' (escape a literal brace as \\})".into()),
            c => out.push(c),
        }
    }
    if next != args.len() {
        return Err(format!("the template has {next} placeholders but {} arguments were given", args.len()));
    }
    Ok(Value::String(out))
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
    depth: usize,
}

/// How deeply intrinsic calls may nest.
const MAX_DEPTH: usize = 32;

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn call(&mut self) -> Result<Call, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("calls nest deeper than {MAX_DEPTH} levels"));
        }
        let call = self.call_inner();
        self.depth -= 1;
        call
    }

    fn call_inner(&mut self) -> Result<Call, String> {
        self.skip_ws();
        let start = self.pos;
        while self.chars.get(self.pos).is_some_and(|c| c.is_alphanumeric() || *c == '.') {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        let Some(function) = Function::from_name(&name) else {
            return Err(format!("unknown function '{name}'"));
        };
        self.skip_ws();
        if self.chars.get(self.pos) != Some(&'(') {
            return Err(format!("expected '(' after {name}"));
        }
        self.pos += 1;
        let args = self.args(&name)?;
        let arity = function.arity();
        if !arity.accepts(args.len()) {
            return Err(format!("{name} takes {arity} arguments, got {}", args.len()));
        }
        if function == Function::Format && matches!(args[0], Arg::Lit(_)) {
            return Err("the States.Format template must be a string".into());
        }
        Ok(Call { function, args })
    }

    /// The comma-separated arguments after `(`, through the closing `)`.
    fn args(&mut self, name: &str) -> Result<Vec<Arg>, String> {
        let mut args = Vec::new();
        self.skip_ws();
        if self.chars.get(self.pos) == Some(&')') {
            self.pos += 1;
            return Ok(args);
        }
        loop {
            args.push(self.arg()?);
            self.skip_ws();
            match self.chars.get(self.pos) {
                Some(',') => self.pos += 1,
                Some(')') => {
                    self.pos += 1;
                    return Ok(args);
                }
                _ => return Err(format!("expected ',' or ')' in the arguments of {name}")),
            }
        }
    }

    fn arg(&mut self) -> Result<Arg, String> {
        self.skip_ws();
        let rest: String = self.chars[self.pos..].iter().take(7).collect();
        match self.chars.get(self.pos) {
            None => Err("missing argument".into()),
            Some('\'') => self.string_literal(),
            Some('$') => self.path_arg(),
            Some(_) if rest.starts_with("States.") => Ok(Arg::Call(self.call()?)),
            Some(_) => self.json_literal(),
        }
    }

    /// `'text'` with `\'`, `\{`, `\}` and `\\` escapes (other escapes are kept as written).
    fn string_literal(&mut self) -> Result<Arg, String> {
        self.pos += 1;
        let (mut value, mut raw) = (String::new(), String::new());
        loop {
            match self.chars.get(self.pos) {
                None => return Err("unclosed string literal".into()),
                Some('\\') => {
                    let Some(&e) = self.chars.get(self.pos + 1) else {
                        return Err("unclosed string literal".into());
                    };
                    raw.push('\\');
                    raw.push(e);
                    if !matches!(e, '\'' | '{' | '}' | '\\') {
                        value.push('\\');
                    }
                    value.push(e);
                    self.pos += 2;
                }
                Some('\'') => {
                    self.pos += 1;
                    return Ok(Arg::Str { value, raw });
                }
                Some(&c) => {
                    value.push(c);
                    raw.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// A JSONPath up to the next top-level `,`, `)` or space (brackets and quotes may hold them).
    fn path_arg(&mut self) -> Result<Arg, String> {
        let start = self.pos;
        let (mut depth, mut quote) = (0i32, None::<char>);
        while let Some(&c) = self.chars.get(self.pos) {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') if depth > 0 => quote = Some(c),
                (None, '[') => depth += 1,
                (None, ']') => depth -= 1,
                (None, ',' | ')') if depth == 0 => break,
                (None, c) if c.is_whitespace() && depth == 0 => break,
                _ => {}
            }
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        Ok(Arg::Path(Path::parse(&text)?))
    }

    /// `true`, `false`, `null` or a number.
    fn json_literal(&mut self) -> Result<Arg, String> {
        let start = self.pos;
        while self.chars.get(self.pos).is_some_and(|c| !matches!(c, ',' | ')') && !c.is_whitespace()) {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        match text.as_str() {
            "true" => Ok(Arg::Lit(Value::Bool(true))),
            "false" => Ok(Arg::Lit(Value::Bool(false))),
            "null" => Ok(Arg::Lit(Value::Null)),
            t => match serde_json::from_str::<Number>(t) {
                Ok(n) => Ok(Arg::Lit(Value::Number(n))),
                Err(_) => Err(format!("invalid argument '{t}' (strings are written in single quotes)")),
            },
        }
    }
}
