//! String functions.

use super::js_regex::search_error;
use super::matcher::{end_of_match, evaluate_matcher, field, js_substring, next_match};
use super::{arg, num_arg, object, pattern_arg, str_arg, Pattern};
use crate::error::{Error, Result};
use crate::eval::{string_of, Ctx};
use crate::value::{stringify, Env, Val};
use base64::Engine as _;
use fancy_regex::{Captures, Regex};

type Args = Vec<Val>;

fn text(ctx: &Ctx, s: String) -> Result<Val> {
    ctx.check_string(&s)?;
    Ok(Val::string(s))
}

pub(super) fn string(ctx: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let value = arg(&args, 0);
    if matches!(arg(&args, 1), Val::Bool(true)) && !matches!(value, Val::Str(_) | Val::Func(_) | Val::Undefined) {
        if let Val::Num(n) = value {
            if !n.is_finite() {
                return Err(Error::new("D3001", "Attempting to invoke string function on Infinity or NaN"));
            }
        }
        return text(ctx, stringify(value, true));
    }
    match string_of(value)? {
        Some(s) => text(ctx, s),
        None => Ok(Val::Undefined),
    }
}

/// `String.prototype.slice` over code points, with JavaScript's index rules.
fn slice(chars: &[char], start: f64, end: Option<f64>) -> String {
    let len = chars.len() as f64;
    let resolve = |i: f64| {
        let i = i.trunc();
        if i < 0.0 {
            (len + i).max(0.0)
        } else {
            i.min(len)
        }
    };
    let from = resolve(start);
    let to = end.map(resolve).unwrap_or(len);
    if from >= to {
        return String::new();
    }
    chars[from as usize..to as usize].iter().collect()
}

pub(super) fn substring(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let Some(s) = str_arg(&args, 0) else { return Ok(Val::Undefined) };
    let chars: Vec<char> = s.chars().collect();
    let len = chars.len() as f64;
    let mut start = num_arg(&args, 1).unwrap_or(0.0);
    if len + start < 0.0 {
        start = 0.0;
    }
    Ok(Val::string(match num_arg(&args, 2) {
        Some(length) if length <= 0.0 => String::new(),
        Some(length) => {
            let end = if start >= 0.0 { start + length } else { len + start + length };
            slice(&chars, start, Some(end))
        }
        None => slice(&chars, start, None),
    }))
}

pub(super) fn substring_before(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let Some(s) = str_arg(&args, 0) else { return Ok(Val::Undefined) };
    let Some(chars) = str_arg(&args, 1) else { return Ok(Val::str(s)) };
    Ok(Val::str(s.find(chars).map(|i| &s[..i]).unwrap_or(s)))
}

pub(super) fn substring_after(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let Some(s) = str_arg(&args, 0) else { return Ok(Val::Undefined) };
    let Some(chars) = str_arg(&args, 1) else { return Ok(Val::str(s)) };
    Ok(Val::str(s.find(chars).map(|i| &s[i + chars.len()..]).unwrap_or(s)))
}

pub(super) fn lowercase(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    Ok(str_arg(&args, 0).map(|s| Val::string(s.to_lowercase())).unwrap_or(Val::Undefined))
}

pub(super) fn uppercase(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    Ok(str_arg(&args, 0).map(|s| Val::string(s.to_uppercase())).unwrap_or(Val::Undefined))
}

pub(super) fn length(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    Ok(str_arg(&args, 0).map(|s| Val::Num(s.chars().count() as f64)).unwrap_or(Val::Undefined))
}

pub(super) fn trim(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let Some(s) = str_arg(&args, 0) else { return Ok(Val::Undefined) };
    let collapsed = s.split(['\t', '\n', '\r', ' ']).filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ");
    Ok(Val::string(collapsed))
}

pub(super) fn pad(ctx: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let Some(s) = str_arg(&args, 0) else { return Ok(Val::Undefined) };
    let width = num_arg(&args, 1).unwrap_or(0.0);
    let fill = match str_arg(&args, 2) {
        Some(c) if !c.is_empty() => c,
        _ => " ",
    };
    let pad_length = width.abs().trunc() - s.chars().count() as f64;
    if pad_length <= 0.0 {
        return Ok(Val::str(s));
    }
    if pad_length > ctx.limits().max_string_bytes as f64 {
        return Err(Error::new("U1003", "$pad would build a string longer than the limit"));
    }
    let padding: String = fill.chars().cycle().take(pad_length as usize).collect();
    let result = if width > 0.0 { format!("{s}{padding}") } else { format!("{padding}{s}") };
    text(ctx, result)
}

/// Successive regex matches as the reference's matcher closure: a zero-length match that is
/// not the last is an error (D1004), since it would never progress.
struct Matches<'a> {
    re: &'a Regex,
    text: &'a str,
    next_from: Option<usize>,
    first: bool,
}

impl<'a> Matches<'a> {
    fn new(re: &'a Regex, text: &'a str) -> Self {
        Matches { re, text, next_from: Some(0), first: true }
    }

    fn next(&mut self, ctx: &Ctx) -> Result<Option<Captures<'a>>> {
        let Some(from) = self.next_from else { return Ok(None) };
        ctx.charge(1)?;
        ctx.check_time()?;
        let first = std::mem::replace(&mut self.first, false);
        if !first && from >= self.text.len() {
            return Ok(None);
        }
        let found = self.re.captures_from_pos(self.text, from).map_err(|e| search_error(self.re.as_str(), e))?;
        let Some(captures) = found else {
            self.next_from = None;
            return Ok(None);
        };
        let whole = captures.get(0).map(|m| (m.start(), m.end())).unwrap_or((from, from));
        if !first && whole.0 == whole.1 {
            return Err(Error::new(
                "D1004",
                format!("Regular expression matches zero length string: {}", self.re.as_str()),
            ));
        }
        self.next_from = Some(whole.1);
        Ok(Some(captures))
    }
}

fn char_index(text: &str, byte: usize) -> f64 {
    text[..byte].chars().count() as f64
}

fn groups(captures: &Captures) -> Val {
    Val::array(
        captures.iter().skip(1).map(|g| g.map(|m| Val::str(m.as_str())).unwrap_or(Val::Str("".into()))).collect(),
    )
}

/// The object a regex produces for a match: `{match, start, end, groups}`.
pub(crate) fn regex_match_object(ctx: &Ctx, re: &Regex, text: &str) -> Result<Val> {
    ctx.check_time()?;
    let found = re.captures(text).map_err(|e| search_error(re.as_str(), e))?;
    Ok(match found {
        Some(c) => {
            let m = c.get(0).map(|m| (m.as_str(), m.start(), m.end())).unwrap_or(("", 0, 0));
            object(vec![
                ("match", Val::str(m.0)),
                ("start", Val::Num(char_index(text, m.1))),
                ("end", Val::Num(char_index(text, m.2))),
                ("groups", groups(&c)),
            ])
        }
        None => Val::Undefined,
    })
}

fn check_limit(args: &[Val], index: usize, code: &'static str) -> Result<Option<f64>> {
    match num_arg(args, index) {
        Some(limit) if limit < 0.0 => {
            Err(Error::new(code, "Fourth argument of replace function must evaluate to a positive number"))
        }
        other => Ok(other),
    }
}

fn under_limit(count: usize, limit: Option<f64>) -> bool {
    limit.is_none_or(|l| (count as f64) < l)
}

pub(super) fn match_(ctx: &Ctx, args: Args, _: &Val, env: &Env) -> Result<Val> {
    let Some(s) = str_arg(&args, 0) else { return Ok(Val::Undefined) };
    let limit = match num_arg(&args, 2) {
        Some(l) if l < 0.0 => {
            return Err(Error::new("D3040", "Third argument of match function must evaluate to a positive number"))
        }
        other => other,
    };
    let re = match pattern_arg(&args, 1)? {
        Some(Pattern::Regex(re)) => re,
        Some(Pattern::Custom(matcher)) => return match_custom(ctx, s, matcher, limit, env),
        _ => return Err(Error::new("T0410", "Argument 2 of function \"match\" does not match function signature")),
    };
    let mut results = Vec::new();
    if limit.is_none_or(|l| l > 0.0) {
        let mut matches = Matches::new(re, s);
        let mut current = matches.next(ctx)?;
        while let Some(c) = current {
            if !under_limit(results.len(), limit) {
                break;
            }
            let m = c.get(0).map(|m| (m.as_str(), m.start())).unwrap_or(("", 0));
            results.push(object(vec![
                ("match", Val::str(m.0)),
                ("index", Val::Num(char_index(s, m.1))),
                ("groups", groups(&c)),
            ]));
            current = matches.next(ctx)?;
        }
    }
    Ok(Val::sequence(results))
}

/// `$match` with a custom matcher: `{match, index, groups}` from each match's fields.
fn match_custom(ctx: &Ctx, s: &str, matcher: &Val, limit: Option<f64>, env: &Env) -> Result<Val> {
    let mut results = Vec::new();
    if limit.is_none_or(|l| l > 0.0) {
        let mut current = evaluate_matcher(ctx, matcher, Val::str(s), "match", env)?;
        while let Some(found) = current {
            if !under_limit(results.len(), limit) {
                break;
            }
            let mut entries = Vec::new();
            for (key, from) in [("match", "match"), ("index", "start"), ("groups", "groups")] {
                let value = field(&found, "match", from)?;
                if !value.is_undefined() {
                    entries.push((key, value));
                }
            }
            results.push(object(entries));
            current = next_match(ctx, &found, "match", env)?;
        }
    }
    Ok(Val::sequence(results))
}

pub(super) fn contains(ctx: &Ctx, args: Args, _: &Val, env: &Env) -> Result<Val> {
    let Some(s) = str_arg(&args, 0) else { return Ok(Val::Undefined) };
    Ok(Val::Bool(match pattern_arg(&args, 1)? {
        Some(Pattern::Text(t)) => s.contains(t),
        Some(Pattern::Regex(re)) => {
            ctx.check_time()?;
            re.is_match(s).map_err(|e| search_error(re.as_str(), e))?
        }
        Some(Pattern::Custom(matcher)) => evaluate_matcher(ctx, matcher, Val::str(s), "contains", env)?.is_some(),
        None => false,
    }))
}

pub(super) fn split(ctx: &Ctx, args: Args, _: &Val, env: &Env) -> Result<Val> {
    let Some(s) = str_arg(&args, 0) else { return Ok(Val::Undefined) };
    let limit = match num_arg(&args, 2) {
        Some(l) if l < 0.0 => {
            return Err(Error::new("D3020", "Third argument of split function must evaluate to a positive number"))
        }
        other => other.map(f64::floor),
    };
    let mut parts: Vec<Val> = Vec::new();
    match pattern_arg(&args, 1)? {
        Some(Pattern::Text(separator)) => {
            let pieces: Vec<String> = if separator.is_empty() {
                s.chars().map(String::from).collect()
            } else {
                s.split(separator).map(String::from).collect()
            };
            for piece in pieces {
                if !under_limit(parts.len(), limit) {
                    break;
                }
                parts.push(Val::string(piece));
            }
        }
        Some(Pattern::Regex(re)) => {
            if limit.is_none_or(|l| l > 0.0) {
                let mut matches = Matches::new(re, s);
                let mut start = 0;
                let mut count = 0;
                let mut current = matches.next(ctx)?;
                while let Some(c) = current {
                    if !under_limit(count, limit) {
                        break;
                    }
                    let (from, to) = c.get(0).map(|m| (m.start(), m.end())).unwrap_or((start, start));
                    parts.push(Val::str(&s[start..from.max(start)]));
                    start = to;
                    count += 1;
                    current = matches.next(ctx)?;
                }
                if under_limit(count, limit) {
                    parts.push(Val::str(&s[start.min(s.len())..]));
                }
            }
        }
        Some(Pattern::Custom(matcher)) => {
            if limit.is_none_or(|l| l > 0.0) {
                parts = split_custom(ctx, s, matcher, limit, env)?;
            }
        }
        None => parts.push(Val::str(s)),
    }
    ctx.charge(parts.len() as u64)?;
    Ok(Val::array(parts))
}

/// `$split` with a custom matcher: the text between one match's `end` and the next's `start`.
fn split_custom(ctx: &Ctx, s: &str, matcher: &Val, limit: Option<f64>, env: &Env) -> Result<Vec<Val>> {
    let chars: Vec<char> = s.chars().collect();
    let mut current = evaluate_matcher(ctx, matcher, Val::str(s), "split", env)?;
    if current.is_none() {
        return Ok(vec![Val::str(s)]);
    }
    let mut parts = Vec::new();
    let mut start = Val::Num(0.0);
    while let Some(found) = current {
        if !under_limit(parts.len(), limit) {
            break;
        }
        parts.push(Val::string(js_substring(&chars, &start, &field(&found, "split", "start")?)));
        ctx.charge(1)?;
        start = field(&found, "split", "end")?;
        current = next_match(ctx, &found, "split", env)?;
    }
    if under_limit(parts.len(), limit) {
        parts.push(Val::string(js_substring(&chars, &start, &Val::Undefined)));
    }
    Ok(parts)
}

pub(super) fn join(ctx: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let Val::Arr(items) = arg(&args, 0) else { return Ok(Val::Undefined) };
    let separator = str_arg(&args, 1).unwrap_or("");
    let strings: Vec<&str> =
        items.items.iter().filter_map(|v| if let Val::Str(s) = v { Some(&**s) } else { None }).collect();
    text(ctx, strings.join(separator))
}

/// Expands `$0`, `$1`..., `$$` in a replacement string, as the reference does.
fn expand_replacement(replacement: &str, captures: &Captures) -> String {
    let whole = captures.get(0).map(|m| m.as_str()).unwrap_or("");
    expand_with(replacement, whole, captures.len() - 1, |n| captures.get(n).map(|m| m.as_str().to_string()))
}

/// The `$`-expansion of a replacement string given the whole match and its numbered groups.
fn expand_with(replacement: &str, whole: &str, group_count: usize, group: impl Fn(usize) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = replacement;
    while let Some(index) = rest.find('$') {
        out.push_str(&rest[..index]);
        rest = &rest[index + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        if let Some(after) = rest.strip_prefix('0') {
            out.push_str(whole);
            rest = after;
            continue;
        }
        let max_digits = if group_count == 0 { 1 } else { (group_count as f64).log10().floor() as usize + 1 };
        let digits: String = rest.chars().take(max_digits).take_while(|c| c.is_ascii_digit()).collect();
        let mut number = digits.parse::<usize>().ok();
        if max_digits > 1 && number.is_some_and(|n| n > group_count) {
            number = digits[..digits.len().saturating_sub(1)].parse::<usize>().ok();
        }
        match number {
            Some(n) => {
                if group_count > 0 && n >= 1 {
                    if let Some(text) = group(n) {
                        out.push_str(&text);
                    }
                }
                rest = &rest[n.to_string().len().min(rest.len())..];
            }
            None => out.push('$'),
        }
    }
    out.push_str(rest);
    out
}

pub(super) fn replace(ctx: &Ctx, args: Args, _: &Val, env: &Env) -> Result<Val> {
    let Some(s) = str_arg(&args, 0) else { return Ok(Val::Undefined) };
    if matches!(arg(&args, 1), Val::Str(p) if p.is_empty()) {
        return Err(Error::new("D3010", "Second argument of replace function cannot be an empty string"));
    }
    let limit = check_limit(&args, 3, "D3011")?;
    if limit.is_some_and(|l| l <= 0.0) {
        return Ok(Val::str(s));
    }
    let replacement = arg(&args, 2);
    let mut result = String::new();
    match pattern_arg(&args, 1)? {
        Some(Pattern::Text(pattern)) => {
            let literal = string_of(replacement)?.unwrap_or_default();
            let mut position = 0;
            let mut count = 0;
            while let Some(found) = s[position..].find(pattern) {
                if !under_limit(count, limit) {
                    break;
                }
                result.push_str(&s[position..position + found]);
                result.push_str(&literal);
                position += found + pattern.len();
                count += 1;
                ctx.check_string_size(&result)?;
            }
            result.push_str(&s[position..]);
        }
        Some(Pattern::Regex(re)) => {
            let mut matches = Matches::new(re, s);
            let mut position = 0;
            let mut count = 0;
            let mut current = matches.next(ctx)?;
            if current.is_none() {
                return Ok(Val::str(s));
            }
            while let Some(c) = current {
                if !under_limit(count, limit) {
                    break;
                }
                let (start, end) = c.get(0).map(|m| (m.start(), m.end())).unwrap_or((position, position));
                result.push_str(&s[position..start.max(position)]);
                match replacement {
                    Val::Str(r) => result.push_str(&expand_replacement(r, &c)),
                    Val::Func(_) => {
                        let m = c.get(0).map(|m| m.as_str()).unwrap_or("");
                        let match_object = object(vec![
                            ("match", Val::str(m)),
                            ("index", Val::Num(char_index(s, start))),
                            ("groups", groups(&c)),
                        ]);
                        match ctx.call_hof(replacement, vec![match_object], env)? {
                            Val::Str(r) => result.push_str(&r),
                            _ => {
                                return Err(Error::new(
                                    "D3012",
                                    "Attempted to replace a matched string with a non-string value",
                                ))
                            }
                        }
                    }
                    _ => {}
                }
                ctx.check_string_size(&result)?;
                position = end;
                count += 1;
                current = matches.next(ctx)?;
            }
            result.push_str(&s[position.min(s.len())..]);
        }
        Some(Pattern::Custom(matcher)) => {
            return replace_custom(ctx, s, matcher, replacement, limit, env);
        }
        None => return Ok(Val::str(s)),
    }
    text(ctx, result)
}

/// `$replace` with a custom matcher; a replacement function gets the matcher's match object.
fn replace_custom(ctx: &Ctx, s: &str, matcher: &Val, replacement: &Val, limit: Option<f64>, env: &Env) -> Result<Val> {
    let chars: Vec<char> = s.chars().collect();
    let mut current = evaluate_matcher(ctx, matcher, Val::str(s), "replace", env)?;
    if current.is_none() {
        return Ok(Val::str(s));
    }
    let mut result = String::new();
    let mut position = Val::Num(0.0);
    let mut count = 0;
    while let Some(found) = current {
        if !under_limit(count, limit) {
            break;
        }
        result.push_str(&js_substring(&chars, &position, &field(&found, "replace", "start")?));
        let substitute = match replacement {
            Val::Str(r) => expand_custom_replacement(r, &found)?,
            _ => match ctx.call_hof(replacement, vec![found.clone()], env)? {
                Val::Str(r) => r.to_string(),
                _ => return Err(Error::new("D3012", "Attempted to replace a matched string with a non-string value")),
            },
        };
        result.push_str(&substitute);
        ctx.check_string_size(&result)?;
        position = end_of_match(&found, "replace")?;
        count += 1;
        current = next_match(ctx, &found, "replace", env)?;
    }
    result.push_str(&js_substring(&chars, &position, &Val::Undefined));
    text(ctx, result)
}

/// JavaScript's string conversion of a match's parts when they are spliced into a replacement.
fn js_text(value: &Val) -> String {
    match value {
        Val::Str(s) => s.to_string(),
        Val::Undefined => "undefined".into(),
        other => stringify(other, false),
    }
}

/// [`expand_replacement`] over a custom matcher's `match` and `groups`.
fn expand_custom_replacement(replacement: &str, found: &Val) -> Result<String> {
    let whole = js_text(&field(found, "replace", "match")?);
    let groups = match field(found, "replace", "groups")? {
        Val::Arr(groups) => groups.items.clone(),
        _ => {
            return Err(Error::new(
                "T1010",
                "A match given to function \"replace\" has no groups array for the replacement string",
            ))
        }
    };
    Ok(expand_with(replacement, &whole, groups.len(), |n| groups.get(n - 1).map(js_text)))
}

pub(super) fn base64encode(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    Ok(str_arg(&args, 0)
        .map(|s| Val::string(base64::engine::general_purpose::STANDARD.encode(s.as_bytes())))
        .unwrap_or(Val::Undefined))
}

pub(super) fn base64decode(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let Some(s) = str_arg(&args, 0) else { return Ok(Val::Undefined) };
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let cleaned: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = engine
        .decode(cleaned.as_bytes())
        .map_err(|e| Error::new("D3137", format!("$base64decode: the string is not valid base64: {e}")))?;
    Ok(Val::string(String::from_utf8_lossy(&bytes).into_owned()))
}

const URI_UNRESERVED: &str = "-_.!~*'()";
const URI_RESERVED: &str = ";,/?:@&=+$#";

fn percent_encode(s: &str, keep: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || URI_UNRESERVED.contains(c) || keep.contains(c) {
            out.push(c);
        } else {
            let mut buffer = [0u8; 4];
            for byte in c.encode_utf8(&mut buffer).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    out
}

fn percent_decode(s: &str, keep_reserved: bool, name: &str) -> Result<String> {
    let malformed = || Error::new("D3140", format!("Malformed URL passed to ${name}(): \"{s}\""));
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let hex = s.get(i + 1..i + 3).ok_or_else(malformed)?;
        let byte = u8::from_str_radix(hex, 16).map_err(|_| malformed())?;
        if keep_reserved && byte < 0x80 && URI_RESERVED.contains(byte as char) {
            out.extend_from_slice(&bytes[i..i + 3]);
        } else {
            out.push(byte);
        }
        i += 3;
    }
    String::from_utf8(out).map_err(|_| malformed())
}

pub(super) fn encode_url_component(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    Ok(str_arg(&args, 0).map(|s| Val::string(percent_encode(s, ""))).unwrap_or(Val::Undefined))
}

pub(super) fn encode_url(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    Ok(str_arg(&args, 0).map(|s| Val::string(percent_encode(s, URI_RESERVED))).unwrap_or(Val::Undefined))
}

pub(super) fn decode_url_component(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let Some(s) = str_arg(&args, 0) else { return Ok(Val::Undefined) };
    Ok(Val::string(percent_decode(s, false, "decodeUrlComponent")?))
}

pub(super) fn decode_url(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let Some(s) = str_arg(&args, 0) else { return Ok(Val::Undefined) };
    Ok(Val::string(percent_decode(s, true, "decodeUrl")?))
}
