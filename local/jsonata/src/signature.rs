//! Function signatures (`<s-nn?:s>`): checking and coercing arguments as the reference does,
//! by matching the arguments' type letters against a regular expression built from the signature.

use crate::error::{Error, Result};
use crate::value::Val;
use regex::Regex;

/// A parsed signature.
#[derive(Debug)]
pub(crate) struct Signature {
    params: Vec<Param>,
    regex: Regex,
}

#[derive(Debug, Default, Clone)]
struct Param {
    regex: String,
    kind: char,
    /// `-`: the context value is used when the argument is missing.
    context: Option<Regex>,
    subtype: Option<String>,
}

fn symbol(value: &Val) -> char {
    match value {
        Val::Func(_) => 'f',
        Val::Str(_) => 's',
        Val::Num(_) => 'n',
        Val::Bool(_) => 'b',
        Val::Null => 'l',
        Val::Arr(_) => 'a',
        Val::Obj(_) => 'o',
        Val::Undefined => 'm',
    }
}

fn closing(chars: &[char], start: usize, open: char, close: char) -> Option<usize> {
    let mut depth = 0;
    for (i, &c) in chars.iter().enumerate().skip(start) {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

fn signature_error(message: &str) -> Error {
    Error::new("S0402", message.to_string())
}

impl Signature {
    /// Parses a signature such as `<s-nn?:s>` (the return type is ignored, as the reference does).
    pub fn parse(text: &str) -> Result<Signature> {
        let chars: Vec<char> = text.chars().collect();
        let mut params: Vec<Param> = Vec::new();
        let mut position = 1;
        while position < chars.len() {
            let c = chars[position];
            if c == ':' || c == '>' {
                break;
            }
            match c {
                's' | 'n' | 'b' | 'l' | 'o' => {
                    params.push(Param { regex: format!("[{c}m]"), kind: c, ..Default::default() })
                }
                'a' => params.push(Param { regex: "[asnblfom]".into(), kind: 'a', ..Default::default() }),
                'f' => params.push(Param { regex: "f".into(), kind: 'f', ..Default::default() }),
                'j' => params.push(Param { regex: "[asnblom]".into(), kind: 'j', ..Default::default() }),
                'x' => params.push(Param { regex: "[asnblfom]".into(), kind: 'x', ..Default::default() }),
                '-' | '?' | '+' => {
                    let last = params.last_mut().ok_or_else(|| signature_error("Modifier without a type"))?;
                    if c == '-' {
                        last.context = Some(
                            Regex::new(&format!("^{}$", last.regex))
                                .map_err(|_| signature_error("Invalid signature"))?,
                        );
                        last.regex.push('?');
                    } else {
                        last.regex.push(c);
                    }
                }
                '(' => {
                    let end = closing(&chars, position, '(', ')').ok_or_else(|| signature_error("Unbalanced ("))?;
                    let choice: String = chars[position + 1..end].iter().collect();
                    if choice.contains('<') {
                        return Err(signature_error("Choice groups containing parameterized types are not supported"));
                    }
                    params.push(Param { regex: format!("[{choice}m]"), kind: '(', ..Default::default() });
                    position = end;
                }
                '<' => {
                    let last = params.last_mut().ok_or_else(|| signature_error("Type parameter without a type"))?;
                    if last.kind != 'a' && last.kind != 'f' {
                        return Err(Error::new("S0401", "Type parameters can only be applied to functions and arrays"));
                    }
                    let end = closing(&chars, position, '<', '>').ok_or_else(|| signature_error("Unbalanced <"))?;
                    last.subtype = Some(chars[position + 1..end].iter().collect());
                    position = end;
                }
                _ => return Err(signature_error(&format!("Unknown type '{c}' in signature"))),
            }
            position += 1;
        }
        let pattern: String = params.iter().map(|p| format!("({})", p.regex)).collect();
        let regex = Regex::new(&format!("^{pattern}$")).map_err(|_| signature_error("Invalid signature"))?;
        Ok(Signature { params, regex })
    }

    /// Checks `args` against the signature, substituting the context for a missing `-`
    /// argument and wrapping single values given for array parameters.
    pub fn validate(&self, args: Vec<Val>, context: &Val) -> Result<Vec<Val>> {
        let supplied: String = args.iter().map(symbol).collect();
        let Some(captures) = self.regex.captures(&supplied) else {
            return Err(self.mismatch(&args, &supplied));
        };
        let mut validated = Vec::with_capacity(self.params.len());
        let mut index = 0;
        for (i, param) in self.params.iter().enumerate() {
            let matched = captures.get(i + 1).map(|m| m.as_str()).unwrap_or("");
            if matched.is_empty() {
                if let Some(context_regex) = &param.context {
                    if context_regex.is_match(&symbol(context).to_string()) {
                        validated.push(context.clone());
                    } else {
                        return Err(Error::new(
                            "T0411",
                            format!("Context value is not a compatible type with argument {}", index + 1),
                        ));
                    }
                } else {
                    validated.push(args.get(index).cloned().unwrap_or(Val::Undefined));
                    index += 1;
                }
                continue;
            }
            for single in matched.chars() {
                let arg = args.get(index).cloned().unwrap_or(Val::Undefined);
                if param.kind == 'a' && single != 'm' {
                    self.check_items(param, &arg, single, matched, index)?;
                    validated.push(if single == 'a' { arg } else { Val::array(vec![arg]) });
                } else if param.kind == 'a' {
                    validated.push(Val::Undefined);
                } else {
                    validated.push(arg);
                }
                index += 1;
            }
        }
        Ok(validated)
    }

    fn check_items(&self, param: &Param, arg: &Val, single: char, matched: &str, index: usize) -> Result<()> {
        let Some(subtype) = &param.subtype else { return Ok(()) };
        let ok = match arg {
            Val::Arr(a) if single == 'a' => match a.items.first() {
                None => true,
                Some(first) => {
                    let item_type = symbol(first);
                    subtype.starts_with(item_type) && a.items.iter().all(|v| symbol(v) == item_type)
                }
            },
            _ => matched == subtype,
        };
        if ok {
            return Ok(());
        }
        let type_name = match subtype.as_str() {
            "a" => "arrays",
            "b" => "booleans",
            "f" => "functions",
            "n" => "numbers",
            "o" => "objects",
            "s" => "strings",
            _ => "values",
        };
        Err(Error::new("T0412", format!("Argument {} of function must be an array of {type_name}", index + 1)))
    }

    fn mismatch(&self, _args: &[Val], supplied: &str) -> Error {
        let mut partial = String::from("^");
        let mut good_to = 0;
        for param in &self.params {
            partial.push_str(&param.regex);
            match Regex::new(&partial).ok().and_then(|r| r.find(supplied)) {
                Some(m) => good_to = m.end(),
                None => break,
            }
        }
        Error::new("T0410", format!("Argument {} of function does not match function signature", good_to + 1))
    }
}
