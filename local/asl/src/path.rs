//! The JSONPath subset the States Language uses: `$`, `$$` (context object), `.field`,
//! `['field']`, `[n]` (negative counts from the end), `[*]` / `.*`, unions `[a,b]` / `['a','b']`,
//! slices `[start:end:step]` and recursive descent `..`. Filter expressions are rejected.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
enum Selector {
    Name(String),
    Index(i64),
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Field(String),
    Index(i64),
    Wildcard,
    Union(Vec<Selector>),
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Descendant(Box<Segment>),
}

/// A parsed JSONPath.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Path {
    text: String,
    /// `$$...`: evaluated against the context object.
    pub context: bool,
    /// `$name...`: evaluated against the workflow variable `name`.
    pub variable: Option<String>,
    segments: Vec<Segment>,
}

impl Path {
    /// Parses `text`; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Path, String> {
        let (context, rest) = if let Some(rest) = text.strip_prefix("$$") {
            (true, rest)
        } else if let Some(rest) = text.strip_prefix('$') {
            (false, rest)
        } else {
            return Err(format!("invalid JSONPath '{text}': it must start with '$'"));
        };
        let name_len = if context { 0 } else { rest.find(['.', '[']).unwrap_or(rest.len()) };
        let (name, rest) = rest.split_at(name_len);
        let variable = if name.is_empty() {
            None
        } else {
            check_variable_name(name).map_err(|e| format!("invalid JSONPath '{text}': {e}"))?;
            Some(name.to_string())
        };
        let segments = parse_segments(rest).map_err(|e| format!("invalid JSONPath '{text}': {e}"))?;
        Ok(Path { text: text.to_string(), context, variable, segments })
    }

    /// Selects from the root this path names: the input, the context object or a variable
    /// (`None` when the variable is not set or nothing matches).
    pub fn select_in(&self, input: &Value, scope: &crate::template::Scope) -> Option<Value> {
        match &self.variable {
            Some(name) => self.select(scope.vars.get(name)?),
            None if self.context => self.select(&scope.context),
            None => self.select(input),
        }
    }

    /// The path as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// A Reference Path: identifies at most one node (only fields and indexes).
    pub fn is_reference(&self) -> bool {
        self.segments.iter().all(|s| matches!(s, Segment::Field(_) | Segment::Index(_)))
    }

    /// Selects from `root`. A Reference Path yields the node or `None`; any other path yields
    /// an array of every match (possibly empty).
    pub fn select(&self, root: &Value) -> Option<Value> {
        let mut nodes: Vec<&Value> = vec![root];
        for seg in &self.segments {
            let mut next = Vec::new();
            for node in nodes {
                apply(seg, node, &mut next);
            }
            nodes = next;
        }
        if self.is_reference() {
            nodes.into_iter().next().cloned()
        } else {
            Some(Value::Array(nodes.into_iter().cloned().collect()))
        }
    }

    /// Writes `value` at this Reference Path inside `root`, creating missing objects
    /// (the ResultPath rule). Fails when an existing node on the way has the wrong type.
    pub fn set(&self, root: Value, value: Value) -> Result<Value, String> {
        if !self.is_reference() {
            return Err(format!("'{}' is not a Reference Path", self.text));
        }
        if self.segments.is_empty() {
            return Ok(value);
        }
        let mut root = root;
        let mut node = &mut root;
        let last = self.segments.len() - 1;
        for (i, seg) in self.segments.iter().enumerate() {
            match seg {
                Segment::Field(name) => {
                    let Value::Object(map) = node else {
                        return Err(format!(
                            "cannot set field '{name}' of {} for ResultPath '{}'",
                            kind(node),
                            self.text
                        ));
                    };
                    if i == last {
                        map.insert(name.clone(), value);
                        return Ok(root);
                    }
                    node = map.entry(name.clone()).or_insert_with(|| Value::Object(Map::new()));
                }
                Segment::Index(idx) => {
                    let Value::Array(items) = node else {
                        return Err(format!("cannot index {} with [{idx}] for ResultPath '{}'", kind(node), self.text));
                    };
                    let Some(pos) = resolve_index(*idx, items.len()) else {
                        return Err(format!("index [{idx}] is out of range for ResultPath '{}'", self.text));
                    };
                    if i == last {
                        items[pos] = value;
                        return Ok(root);
                    }
                    node = &mut items[pos];
                }
                _ => unreachable!("checked by is_reference"),
            }
        }
        Ok(root)
    }
}

/// Longest variable name (the AWS limit).
pub(crate) const MAX_VARIABLE_NAME: usize = 80;

/// A workflow variable name as AWS allows it: a letter or `_` then letters, digits and `_`,
/// at most 80 characters, not the reserved `states`.
pub(crate) fn check_variable_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("'{name}' is not a valid variable name (a letter or '_', then letters, digits or '_')"));
    }
    if name.len() > MAX_VARIABLE_NAME {
        return Err(format!("variable name '{name}' is longer than {MAX_VARIABLE_NAME} characters"));
    }
    if name == "states" {
        return Err("'states' is a reserved variable name".into());
    }
    Ok(())
}

/// A short description of a JSON value's type for error messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn resolve_index(idx: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let pos = if idx < 0 { len + idx } else { idx };
    (0..len).contains(&pos).then_some(pos as usize)
}

fn apply<'a>(seg: &Segment, node: &'a Value, out: &mut Vec<&'a Value>) {
    match seg {
        Segment::Field(name) => {
            if let Some(v) = node.as_object().and_then(|m| m.get(name)) {
                out.push(v);
            }
        }
        Segment::Index(idx) => {
            if let Value::Array(items) = node {
                if let Some(pos) = resolve_index(*idx, items.len()) {
                    out.push(&items[pos]);
                }
            }
        }
        Segment::Wildcard => match node {
            Value::Array(items) => out.extend(items.iter()),
            Value::Object(map) => out.extend(map.values()),
            _ => {}
        },
        Segment::Union(sels) => {
            for sel in sels {
                match sel {
                    Selector::Name(n) => apply(&Segment::Field(n.clone()), node, out),
                    Selector::Index(i) => apply(&Segment::Index(*i), node, out),
                }
            }
        }
        Segment::Slice(start, end, step) => {
            if let Value::Array(items) = node {
                for i in slice_indexes(items.len(), *start, *end, *step) {
                    out.push(&items[i]);
                }
            }
        }
        Segment::Descendant(inner) => {
            apply(inner, node, out);
            match node {
                Value::Array(items) => items.iter().for_each(|c| apply(seg, c, out)),
                Value::Object(map) => map.values().for_each(|c| apply(seg, c, out)),
                _ => {}
            }
        }
    }
}

fn slice_indexes(len: usize, start: Option<i64>, end: Option<i64>, step: Option<i64>) -> Vec<usize> {
    let len = len as i64;
    let step = step.unwrap_or(1);
    let norm = |v: i64| if v < 0 { (len + v).max(0) } else { v.min(len) };
    let mut out = Vec::new();
    if step > 0 {
        let (s, e) = (norm(start.unwrap_or(0)), norm(end.unwrap_or(len)));
        let mut i = s;
        while i < e {
            out.push(i as usize);
            i += step;
        }
    } else if step < 0 {
        let s = start.map(|v| if v < 0 { len + v } else { v.min(len - 1) }).unwrap_or(len - 1);
        let e = end.map(|v| if v < 0 { (len + v).max(-1) } else { v }).unwrap_or(-1);
        let mut i = s;
        while i > e && i >= 0 {
            out.push(i as usize);
            i += step;
        }
    }
    out
}

fn parse_segments(text: &str) -> Result<Vec<Segment>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut segs = Vec::new();
    while i < chars.len() {
        match chars[i] {
            '.' => {
                let descendant = chars.get(i + 1) == Some(&'.');
                i += if descendant { 2 } else { 1 };
                let seg = if chars.get(i) == Some(&'[') {
                    if !descendant {
                        return Err("'.[' is not valid".into());
                    }
                    let (seg, next) = parse_bracket(&chars, i)?;
                    i = next;
                    seg
                } else if chars.get(i) == Some(&'*') {
                    i += 1;
                    Segment::Wildcard
                } else {
                    let start = i;
                    while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                        i += 1;
                    }
                    let name: String = chars[start..i].iter().collect();
                    if name.is_empty() {
                        return Err("empty field name".into());
                    }
                    if name.chars().any(|c| c.is_whitespace() || c == ']' || c == '\'') {
                        return Err(format!("invalid field name '{name}'"));
                    }
                    Segment::Field(name)
                };
                segs.push(if descendant { Segment::Descendant(Box::new(seg)) } else { seg });
            }
            '[' => {
                let (seg, next) = parse_bracket(&chars, i)?;
                segs.push(seg);
                i = next;
            }
            c => return Err(format!("unexpected character '{c}'")),
        }
    }
    Ok(segs)
}

/// One comma-separated item inside brackets.
enum Item {
    Quoted(String),
    Raw(String),
}

/// Parses `[...]` starting at `chars[start] == '['`; returns the segment and the index after `]`.
fn parse_bracket(chars: &[char], start: usize) -> Result<(Segment, usize), String> {
    let mut i = start + 1;
    let mut items: Vec<Item> = Vec::new();
    let mut raw = String::new();
    let mut quoted: Option<String> = None;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err("unclosed '['".into());
        };
        i += 1;
        match c {
            '\'' | '"' => {
                if quoted.is_some() || !raw.trim().is_empty() {
                    return Err("unexpected quote in brackets".into());
                }
                let mut name = String::new();
                loop {
                    match chars.get(i) {
                        None => return Err("unclosed quote".into()),
                        Some('\\') => {
                            if let Some(&n) = chars.get(i + 1) {
                                name.push(n);
                            }
                            i += 2;
                        }
                        Some(&q) if q == c => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            name.push(ch);
                            i += 1;
                        }
                    }
                }
                quoted = Some(name);
            }
            ',' | ']' => {
                let item = match quoted.take() {
                    Some(name) if raw.trim().is_empty() => Item::Quoted(name),
                    Some(_) => return Err("unexpected text after a quoted name".into()),
                    None if raw.trim().is_empty() => return Err("empty bracket selector".into()),
                    None => Item::Raw(raw.trim().to_string()),
                };
                raw.clear();
                items.push(item);
                if c == ']' {
                    break;
                }
            }
            _ => raw.push(c),
        }
    }
    if items.len() == 1 {
        let seg = match items.remove(0) {
            Item::Quoted(name) => Segment::Field(name),
            Item::Raw(t) => parse_raw_selector(&t)?,
        };
        return Ok((seg, i));
    }
    let mut sels = Vec::new();
    for item in items {
        sels.push(match item {
            Item::Quoted(name) => Selector::Name(name),
            Item::Raw(t) => Selector::Index(t.parse::<i64>().map_err(|_| format!("invalid index '{t}' in union"))?),
        });
    }
    Ok((Segment::Union(sels), i))
}

fn parse_raw_selector(t: &str) -> Result<Segment, String> {
    if t == "*" {
        return Ok(Segment::Wildcard);
    }
    if t.starts_with('?') || t.starts_with('(') {
        return Err("filter and script expressions are not supported".into());
    }
    if t.contains(':') {
        let nums: Vec<&str> = t.split(':').collect();
        if nums.len() > 3 {
            return Err(format!("invalid slice '{t}'"));
        }
        let parse = |s: &str| -> Result<Option<i64>, String> {
            let s = s.trim();
            if s.is_empty() {
                Ok(None)
            } else {
                s.parse::<i64>().map(Some).map_err(|_| format!("invalid slice '{t}'"))
            }
        };
        let step = if nums.len() == 3 { parse(nums[2])? } else { None };
        if step == Some(0) {
            return Err("slice step cannot be 0".into());
        }
        return Ok(Segment::Slice(parse(nums[0])?, parse(nums[1])?, step));
    }
    t.parse::<i64>().map(Segment::Index).map_err(|_| format!("invalid index '{t}'"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(p: &str, v: &Value) -> Option<Value> {
        Path::parse(p).unwrap().select(v)
    }

    #[test]
    fn selects_fields_indexes_and_lists() {
        let v = json!({"a": {"b": [1, 2, 3, 4]}, "c d": 5, "x": [{"n": 1}, {"n": 2}]});
        assert_eq!(sel("$", &v), Some(v.clone()));
        assert_eq!(sel("$.a.b[1]", &v), Some(json!(2)));
        assert_eq!(sel("$.a.b[-1]", &v), Some(json!(4)));
        assert_eq!(sel("$['c d']", &v), Some(json!(5)));
        assert_eq!(sel("$.a['b'][0]", &v), Some(json!(1)));
        assert_eq!(sel("$.missing", &v), None);
        assert_eq!(sel("$.a.b[9]", &v), None);
        assert_eq!(sel("$.a.b[*]", &v), Some(json!([1, 2, 3, 4])));
        assert_eq!(sel("$.x[*].n", &v), Some(json!([1, 2])));
        assert_eq!(sel("$.a.b[0,2]", &v), Some(json!([1, 3])));
        assert_eq!(sel("$.a.b[1:3]", &v), Some(json!([2, 3])));
        assert_eq!(sel("$.a.b[:2]", &v), Some(json!([1, 2])));
        assert_eq!(sel("$.a.b[-2:]", &v), Some(json!([3, 4])));
        assert_eq!(sel("$.a.b[::2]", &v), Some(json!([1, 3])));
        assert_eq!(sel("$.a.b[::-1]", &v), Some(json!([4, 3, 2, 1])));
        assert_eq!(sel("$..n", &v), Some(json!([1, 2])));
        assert_eq!(sel("$['a','c d']", &v), Some(json!([{"b": [1, 2, 3, 4]}, 5])));
    }

    #[test]
    fn rejects_bad_paths() {
        for bad in ["a.b", "$.", "$[", "$.a[?(@.x)]", "$[1:2:0]", "$.a[x]", "$..", "$1a", "$a-b.c", "$states"] {
            assert!(Path::parse(bad).is_err(), "{bad} should be rejected");
        }
        assert!(Path::parse(&format!("${}", "v".repeat(81))).is_err(), "a variable name over 80 characters");
    }

    #[test]
    fn variable_paths_read_the_variable() {
        let p = Path::parse("$order.items[1]").unwrap();
        assert_eq!(p.variable.as_deref(), Some("order"));
        let mut vars = Map::new();
        vars.insert("order".into(), json!({"items": ["a", "b"]}));
        let scope = crate::template::Scope { context: json!({}), vars: std::sync::Arc::new(vars) };
        assert_eq!(p.select_in(&json!({"order": "input"}), &scope), Some(json!("b")));
        let unset = Path::parse("$other").unwrap();
        assert_eq!(unset.select_in(&json!({}), &scope), None);
    }

    #[test]
    fn sets_reference_paths() {
        let p = Path::parse("$.a.b").unwrap();
        assert_eq!(p.set(json!({"x": 1}), json!(2)).unwrap(), json!({"x": 1, "a": {"b": 2}}));
        assert!(p.set(json!({"a": 3}), json!(2)).is_err());
        assert!(p.set(json!("s"), json!(2)).is_err());
        assert_eq!(Path::parse("$").unwrap().set(json!(1), json!(2)).unwrap(), json!(2));
        let p = Path::parse("$.l[1]").unwrap();
        assert_eq!(p.set(json!({"l": [0, 0]}), json!(9)).unwrap(), json!({"l": [0, 9]}));
        assert!(p.set(json!({"l": [0]}), json!(9)).is_err());
    }
}
