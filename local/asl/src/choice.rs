//! Choice rules: comparison operators, `And` / `Or` / `Not`, parsing and evaluation.

use crate::error::StatesError;
use crate::path::Path;
use crate::template::Scope;
use crate::time;
use serde_json::{Map, Value};
use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Family {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Relation {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum TypeTest {
    Null,
    Present,
    Numeric,
    String,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Literal(Value),
    Path(Path),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Test {
    Compare { family: Family, relation: Relation, operand: Operand },
    Matches(Vec<Pattern>),
    Type { test: TypeTest, expected: bool },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Pattern {
    Char(char),
    Star,
}

/// A Boolean expression of a Choice rule.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Leaf { variable: Path, test: Test },
}

/// The comparison operators, named as in the spec.
const FAMILIES: &[(&str, Family)] = &[
    ("String", Family::String),
    ("Numeric", Family::Numeric),
    ("Boolean", Family::Boolean),
    ("Timestamp", Family::Timestamp),
];
const RELATIONS: &[(&str, Relation)] = &[
    ("Equals", Relation::Equals),
    ("LessThanEquals", Relation::LessThanEquals),
    ("GreaterThanEquals", Relation::GreaterThanEquals),
    ("LessThan", Relation::LessThan),
    ("GreaterThan", Relation::GreaterThan),
];
const TYPE_TESTS: &[(&str, TypeTest)] = &[
    ("IsNull", TypeTest::Null),
    ("IsPresent", TypeTest::Present),
    ("IsNumeric", TypeTest::Numeric),
    ("IsString", TypeTest::String),
    ("IsBoolean", TypeTest::Boolean),
    ("IsTimestamp", TypeTest::Timestamp),
];

fn operator(name: &str) -> Option<(Family, Relation, bool)> {
    for (fname, family) in FAMILIES {
        let Some(rest) = name.strip_prefix(fname) else { continue };
        let (rest, is_path) = match rest.strip_suffix("Path") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        for (rname, relation) in RELATIONS {
            if rest == *rname && (*family != Family::Boolean || *relation == Relation::Equals) {
                return Some((*family, *relation, is_path));
            }
        }
    }
    None
}

impl Rule {
    /// Parses a rule object; `top_level` rules carry `Next` (checked by the caller), nested ones
    /// must not.
    pub fn parse(obj: &Map<String, Value>, top_level: bool) -> Result<Rule, String> {
        let mut keys: Vec<&str> = obj.keys().map(|k| k.as_str()).collect();
        keys.retain(|k| *k != "Comment" && !(top_level && *k == "Next"));
        if !top_level && obj.contains_key("Next") {
            return Err("a nested Choice rule must not have 'Next'".into());
        }
        for combinator in ["And", "Or", "Not"] {
            if let Some(v) = obj.get(combinator) {
                if keys.len() != 1 {
                    return Err(format!(
                        "a rule with '{combinator}' must have no other operator or Variable (found {keys:?})"
                    ));
                }
                let parse_nested = |v: &Value| -> Result<Rule, String> {
                    let o = v.as_object().ok_or_else(|| format!("'{combinator}' must hold rule objects"))?;
                    Rule::parse(o, false)
                };
                return Ok(match combinator {
                    "Not" => Rule::Not(Box::new(parse_nested(v)?)),
                    _ => {
                        let items = v
                            .as_array()
                            .filter(|a| !a.is_empty())
                            .ok_or_else(|| format!("'{combinator}' must be a non-empty array of rules"))?;
                        let rules = items.iter().map(parse_nested).collect::<Result<Vec<_>, _>>()?;
                        if combinator == "And" {
                            Rule::And(rules)
                        } else {
                            Rule::Or(rules)
                        }
                    }
                });
            }
        }
        let variable = match obj.get("Variable") {
            Some(Value::String(s)) => Path::parse(s)?,
            Some(_) => return Err("'Variable' must be a string".into()),
            None => return Err("a Choice rule needs 'Variable' (or And / Or / Not)".into()),
        };
        let ops: Vec<&str> = keys.iter().copied().filter(|k| *k != "Variable").collect();
        let [op] = ops.as_slice() else {
            return Err(format!("a Choice rule needs exactly one comparison operator, found {ops:?}"));
        };
        let value = &obj[*op];
        let test = if let Some((family, relation, is_path)) = operator(op) {
            let operand = if is_path {
                let s = value.as_str().ok_or_else(|| format!("'{op}' must be a JSONPath string"))?;
                Operand::Path(Path::parse(s)?)
            } else {
                let ok = match family {
                    Family::String => value.is_string(),
                    Family::Numeric => value.is_number(),
                    Family::Boolean => value.is_boolean(),
                    Family::Timestamp => value.as_str().and_then(time::parse).is_some(),
                };
                if !ok {
                    let want = match family {
                        Family::String => "a string",
                        Family::Numeric => "a number",
                        Family::Boolean => "a boolean",
                        Family::Timestamp => "an RFC 3339 timestamp string",
                    };
                    return Err(format!("'{op}' must be {want}, got {value}"));
                }
                Operand::Literal(value.clone())
            };
            Test::Compare { family, relation, operand }
        } else if *op == "StringMatches" {
            let s = value.as_str().ok_or_else(|| "'StringMatches' must be a string".to_string())?;
            Test::Matches(parse_pattern(s))
        } else if let Some((_, test)) = TYPE_TESTS.iter().find(|(n, _)| n == op) {
            let expected = value.as_bool().ok_or_else(|| format!("'{op}' must be true or false"))?;
            Test::Type { test: *test, expected }
        } else {
            return Err(format!("unknown Choice operator '{op}'"));
        };
        Ok(Rule::Leaf { variable, test })
    }

    /// Evaluates against the Choice state's effective input (`$$` paths read the context
    /// object, `$name` paths a variable).
    pub fn eval(&self, input: &Value, scope: &Scope) -> Result<bool, StatesError> {
        match self {
            Rule::And(rules) => {
                for r in rules {
                    if !r.eval(input, scope)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rules) => {
                for r in rules {
                    if r.eval(input, scope)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(r) => Ok(!r.eval(input, scope)?),
            Rule::Leaf { variable, test } => {
                let value = variable.select_in(input, scope);
                if let Test::Type { test: TypeTest::Present, expected } = test {
                    let present = match &value {
                        None => false,
                        Some(Value::Array(a)) if !variable.is_reference() => !a.is_empty(),
                        Some(_) => true,
                    };
                    return Ok(present == *expected);
                }
                let Some(value) = value else {
                    return Err(StatesError::runtime(format!(
                        "Invalid path '{}': the Choice state's condition path references an invalid value",
                        variable.text()
                    )));
                };
                match test {
                    Test::Type { test, expected } => {
                        let is = match test {
                            TypeTest::Null => value.is_null(),
                            TypeTest::Numeric => value.is_number(),
                            TypeTest::String => value.is_string(),
                            TypeTest::Boolean => value.is_boolean(),
                            TypeTest::Timestamp => value.as_str().and_then(time::parse).is_some(),
                            TypeTest::Present => true,
                        };
                        Ok(is == *expected)
                    }
                    Test::Matches(pattern) => {
                        Ok(value.as_str().is_some_and(|s| matches(pattern, &s.chars().collect::<Vec<_>>())))
                    }
                    Test::Compare { family, relation, operand } => {
                        let other = match operand {
                            Operand::Literal(v) => v.clone(),
                            Operand::Path(p) => p.select_in(input, scope).ok_or_else(|| {
                                StatesError::runtime(format!(
                                    "Invalid path '{}': the Choice state's condition path references an invalid value",
                                    p.text()
                                ))
                            })?,
                        };
                        Ok(compare(*family, &value, &other).is_some_and(|o| holds(*relation, o)))
                    }
                }
            }
        }
    }
}

fn holds(relation: Relation, o: Ordering) -> bool {
    match relation {
        Relation::Equals => o == Ordering::Equal,
        Relation::LessThan => o == Ordering::Less,
        Relation::GreaterThan => o == Ordering::Greater,
        Relation::LessThanEquals => o != Ordering::Greater,
        Relation::GreaterThanEquals => o != Ordering::Less,
    }
}

/// Compares two values of a family; `None` when either is not of that type (the rule is false).
fn compare(family: Family, a: &Value, b: &Value) -> Option<Ordering> {
    match family {
        Family::String => Some(a.as_str()?.cmp(b.as_str()?)),
        Family::Numeric => {
            let (x, y) = (a.as_number()?, b.as_number()?);
            match (x.as_i64(), y.as_i64()) {
                (Some(i), Some(j)) => Some(i.cmp(&j)),
                _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
            }
        }
        Family::Boolean => {
            let (x, y) = (a.as_bool()?, b.as_bool()?);
            Some(x.cmp(&y))
        }
        Family::Timestamp => {
            let (x, y) = (time::parse(a.as_str()?)?, time::parse(b.as_str()?)?);
            Some(x.cmp(&y))
        }
    }
}

/// `*` matches any run of characters; `\*` is a literal star and `\\` a literal backslash.
fn parse_pattern(s: &str) -> Vec<Pattern> {
    let mut out = Vec::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('*' | '\\')) => out.push(Pattern::Char(e)),
                Some(e) => {
                    out.push(Pattern::Char('\\'));
                    out.push(Pattern::Char(e));
                }
                None => out.push(Pattern::Char('\\')),
            },
            '*' => out.push(Pattern::Star),
            c => out.push(Pattern::Char(c)),
        }
    }
    out
}

fn matches(pattern: &[Pattern], text: &[char]) -> bool {
    // Iterative wildcard matching with backtracking to the last star.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Pattern::Char(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            Some(Pattern::Star) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|x| *x == Pattern::Star)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_patterns() {
        let m = |p: &str, t: &str| matches(&parse_pattern(p), &t.chars().collect::<Vec<_>>());
        assert!(m("*.log", "a.log"));
        assert!(m("*.log", ".log"));
        assert!(!m("*.log", "a.logx"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "aXb"));
        assert!(m("a\\\\b", "a\\b"));
        assert!(m("*", ""));
        assert!(!m("", "x"));
    }
}
