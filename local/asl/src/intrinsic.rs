//! Intrinsic functions (`States.Format(...)` etc.) for `.$` fields: parsing at definition load,
//! evaluation at run time. Failures at run time are `States.IntrinsicFailure`.

use crate::error::StatesError;
use crate::path::{kind, Path};
use base64::Engine as _;
use serde_json::{Map, Number, Value};

/// Every supported function with its (min, max) argument count.
const FUNCTIONS: &[(&str, usize, usize)] = &[
    ("States.Format", 1, usize::MAX),
    ("States.StringToJson", 1, 1),
    ("States.JsonToString", 1, 1),
    ("States.Array", 0, usize::MAX),
    ("States.ArrayPartition", 2, 2),
    ("States.ArrayContains", 2, 2),
    ("States.ArrayRange", 3, 3),
    ("States.ArrayGetItem", 2, 2),
    ("States.ArrayLength", 1, 1),
    ("States.ArrayUnique", 1, 1),
    ("States.Base64Encode", 1, 1),
    ("States.Base64Decode", 1, 1),
    ("States.Hash", 2, 2),
    ("States.JsonMerge", 3, 3),
    ("States.MathRandom", 2, 3),
    ("States.MathAdd", 2, 2),
    ("States.StringSplit", 2, 2),
    ("States.UUID", 0, 0),
];

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
    name: String,
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

    /// Evaluates against the effective input and the context object.
    pub fn eval(&self, input: &Value, context: &Value) -> Result<Value, StatesError> {
        let mut args = Vec::with_capacity(self.args.len());
        for a in &self.args {
            args.push(match a {
                Arg::Str { value, .. } => Value::String(value.clone()),
                Arg::Lit(v) => v.clone(),
                Arg::Path(p) => {
                    let root = if p.context { context } else { input };
                    p.select(root).ok_or_else(|| {
                        StatesError::intrinsic(format!(
                            "{}: the JSONPath '{}' could not be found in the input",
                            self.name,
                            p.text()
                        ))
                    })?
                }
                Arg::Call(c) => c.eval(input, context)?,
            });
        }
        let fail = |msg: String| StatesError::intrinsic(format!("{}: {msg}", self.name));
        self.apply(args).map_err(fail)
    }

    fn apply(&self, args: Vec<Value>) -> Result<Value, String> {
        match self.name.as_str() {
            "States.Format" => {
                let template = match (&self.args[0], &args[0]) {
                    (Arg::Str { raw, .. }, _) => raw.clone(),
                    (_, Value::String(s)) => s.clone(),
                    (_, v) => return Err(format!("the template must be a string, not {}", kind(v))),
                };
                format_template(&template, &args[1..])
            }
            "States.StringToJson" => {
                let s = string(&args[0], "argument")?;
                serde_json::from_str(s).map_err(|e| format!("the string is not JSON: {e}"))
            }
            "States.JsonToString" => Ok(Value::String(args[0].to_string())),
            "States.Array" => Ok(Value::Array(args)),
            "States.ArrayPartition" => {
                let items = array(&args[0], "first argument")?;
                let size = integer(&args[1], "chunk size")?;
                if size <= 0 {
                    return Err(format!("the chunk size must be a positive integer, not {size}"));
                }
                Ok(Value::Array(items.chunks(size as usize).map(|c| Value::Array(c.to_vec())).collect()))
            }
            "States.ArrayContains" => {
                let items = array(&args[0], "first argument")?;
                Ok(Value::Bool(items.iter().any(|v| json_eq(v, &args[1]))))
            }
            "States.ArrayRange" => {
                let (start, end, step) =
                    (integer(&args[0], "start")?, integer(&args[1], "end")?, integer(&args[2], "step")?);
                if step == 0 {
                    return Err("the step cannot be 0".into());
                }
                let mut out = Vec::new();
                let mut i = start;
                while (step > 0 && i <= end) || (step < 0 && i >= end) {
                    if out.len() >= 1000 {
                        return Err("the range has more than 1000 items".into());
                    }
                    out.push(Value::from(i));
                    i = match i.checked_add(step) {
                        Some(n) => n,
                        None => break,
                    };
                }
                Ok(Value::Array(out))
            }
            "States.ArrayGetItem" => {
                let items = array(&args[0], "first argument")?;
                let idx = integer(&args[1], "index")?;
                usize::try_from(idx)
                    .ok()
                    .and_then(|i| items.get(i))
                    .cloned()
                    .ok_or_else(|| format!("index {idx} is out of bounds for an array of {}", items.len()))
            }
            "States.ArrayLength" => Ok(Value::from(array(&args[0], "argument")?.len())),
            "States.ArrayUnique" => {
                let mut out: Vec<Value> = Vec::new();
                for v in array(&args[0], "argument")? {
                    if !out.iter().any(|o| json_eq(o, v)) {
                        out.push(v.clone());
                    }
                }
                Ok(Value::Array(out))
            }
            "States.Base64Encode" => {
                let s = string(&args[0], "argument")?;
                if s.len() > 10_000 {
                    return Err("the input is longer than 10000 characters".into());
                }
                Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(s)))
            }
            "States.Base64Decode" => {
                let s = string(&args[0], "argument")?;
                if s.len() > 10_000 {
                    return Err("the input is longer than 10000 characters".into());
                }
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map_err(|e| format!("the input is not base64: {e}"))?;
                String::from_utf8(bytes).map(Value::String).map_err(|_| "the decoded data is not UTF-8 text".into())
            }
            "States.Hash" => {
                let data = match &args[0] {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                };
                let alg = string(&args[1], "algorithm")?;
                hash(data.as_bytes(), alg).map(Value::String)
            }
            "States.JsonMerge" => {
                let a = object(&args[0], "first argument")?;
                let b = object(&args[1], "second argument")?;
                match &args[2] {
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
            "States.MathRandom" => {
                use rand::{Rng, SeedableRng};
                let start = integer(&args[0], "start")?;
                let end = integer(&args[1], "end")?;
                if start >= end {
                    return Err(format!("start ({start}) must be less than end ({end})"));
                }
                let n = match args.get(2) {
                    Some(seed) => {
                        let seed = integer(seed, "seed")?;
                        rand::rngs::StdRng::seed_from_u64(seed as u64).gen_range(start..end)
                    }
                    None => rand::thread_rng().gen_range(start..end),
                };
                Ok(Value::from(n))
            }
            "States.MathAdd" => {
                let a = integer(&args[0], "first argument")?;
                let b = integer(&args[1], "second argument")?;
                a.checked_add(b).map(Value::from).ok_or_else(|| "the sum overflows".into())
            }
            "States.StringSplit" => {
                let s = string(&args[0], "first argument")?;
                let delims = string(&args[1], "delimiter")?;
                if delims.is_empty() {
                    return Err("the delimiter cannot be empty".into());
                }
                Ok(Value::Array(
                    s.split(|c| delims.contains(c))
                        .filter(|p| !p.is_empty())
                        .map(|p| Value::String(p.to_string()))
                        .collect(),
                ))
            }
            "States.UUID" => Ok(Value::String(uuid::Uuid::new_v4().to_string())),
            other => Err(format!("unknown function {other}")),
        }
    }
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
        let Some(&(_, min, max)) = FUNCTIONS.iter().find(|(n, _, _)| *n == name) else {
            return Err(format!("unknown function '{name}'"));
        };
        self.skip_ws();
        if self.chars.get(self.pos) != Some(&'(') {
            return Err(format!("expected '(' after {name}"));
        }
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_ws();
        if self.chars.get(self.pos) == Some(&')') {
            self.pos += 1;
        } else {
            loop {
                args.push(self.arg()?);
                self.skip_ws();
                match self.chars.get(self.pos) {
                    Some(',') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(format!("expected ',' or ')' in the arguments of {name}")),
                }
            }
        }
        if args.len() < min || args.len() > max {
            let want = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(format!("{name} takes {want} arguments, got {}", args.len()));
        }
        if name == "States.Format" && matches!(args[0], Arg::Lit(_)) {
            return Err("the States.Format template must be a string".into());
        }
        Ok(Call { name, args })
    }

    fn arg(&mut self) -> Result<Arg, String> {
        self.skip_ws();
        let rest: String = self.chars[self.pos..].iter().take(7).collect();
        match self.chars.get(self.pos) {
            None => Err("missing argument".into()),
            Some('\'') => {
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
            Some('$') => {
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
            Some(_) if rest.starts_with("States.") => Ok(Arg::Call(self.call()?)),
            Some(_) => {
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
    }
}
