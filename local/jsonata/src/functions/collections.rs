//! Boolean, array, object and higher-order functions.

use super::{arg, str_arg};
use crate::error::{Error, Result};
use crate::eval::{self, arity, merge_sort, Ctx};
use crate::value::{self, deep_equal, Env, Val};
use indexmap::IndexMap;
use rand::Rng as _;

type Args = Vec<Val>;

fn items_of(args: &[Val]) -> Option<Vec<Val>> {
    match arg(args, 0) {
        Val::Undefined => None,
        other => Some(other.items()),
    }
}

pub(super) fn boolean(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    Ok(value::boolean(arg(&args, 0)).map(Val::Bool).unwrap_or(Val::Undefined))
}

pub(super) fn not(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    Ok(value::boolean(arg(&args, 0)).map(|b| Val::Bool(!b)).unwrap_or(Val::Undefined))
}

pub(super) fn exists(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    Ok(Val::Bool(!arg(&args, 0).is_undefined()))
}

pub(super) fn type_(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    Ok(match arg(&args, 0) {
        Val::Undefined => Val::Undefined,
        Val::Num(n) if n.is_infinite() => {
            return Err(Error::new("D1001", format!("Number out of range: {}", crate::value::js_number(*n))))
        }
        other => Val::str(other.type_name()),
    })
}

/// The arguments a higher-order function passes: value, index/key and the whole collection,
/// as many as `func` takes.
fn hof_args(func: &Val, value: Val, index: Val, whole: &Val) -> Vec<Val> {
    let mut args = vec![value];
    let n = arity(func);
    if n >= 2 {
        args.push(index);
    }
    if n >= 3 {
        args.push(whole.clone());
    }
    args
}

pub(super) fn map(ctx: &Ctx, args: Args, _: &Val, env: &Env) -> Result<Val> {
    let Some(items) = items_of(&args) else { return Ok(Val::Undefined) };
    let func = arg(&args, 1);
    let mut results = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let value = ctx.call_hof(func, hof_args(func, item, Val::Num(i as f64), &args[0]), env)?;
        if !value.is_undefined() {
            results.push(value);
        }
    }
    Ok(Val::sequence(results))
}

pub(super) fn filter(ctx: &Ctx, args: Args, _: &Val, env: &Env) -> Result<Val> {
    let Some(items) = items_of(&args) else { return Ok(Val::Undefined) };
    let func = arg(&args, 1);
    let mut results = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let keep = ctx.call_hof(func, hof_args(func, item.clone(), Val::Num(i as f64), &args[0]), env)?;
        if value::boolean(&keep).unwrap_or(false) {
            results.push(item);
        }
    }
    Ok(Val::sequence(results))
}

pub(super) fn single(ctx: &Ctx, args: Args, _: &Val, env: &Env) -> Result<Val> {
    let Some(items) = items_of(&args) else { return Ok(Val::Undefined) };
    let func = arg(&args, 1);
    let mut found = None;
    for (i, item) in items.into_iter().enumerate() {
        let matches = func.is_undefined()
            || value::boolean(&ctx.call_hof(func, hof_args(func, item.clone(), Val::Num(i as f64), &args[0]), env)?)
                .unwrap_or(false);
        if matches {
            if found.is_some() {
                return Err(Error::new(
                    "D3138",
                    "The $single() function expected exactly 1 matching result.  Instead it matched more.",
                ));
            }
            found = Some(item);
        }
    }
    found.ok_or_else(|| {
        Error::new("D3139", "The $single() function expected exactly 1 matching result.  Instead it matched 0.")
    })
}

pub(super) fn reduce(ctx: &Ctx, args: Args, _: &Val, env: &Env) -> Result<Val> {
    let Some(items) = items_of(&args) else { return Ok(Val::Undefined) };
    let func = arg(&args, 1);
    let n = arity(func);
    if n < 2 {
        return Err(Error::new(
            "D3050",
            "The second argument of reduce function must be a function with at least two arguments",
        ));
    }
    let mut items = items.into_iter().enumerate();
    let mut result = match arg(&args, 2) {
        Val::Undefined => match items.next() {
            Some((_, first)) => first,
            None => return Ok(Val::Undefined),
        },
        init => init.clone(),
    };
    for (i, item) in items {
        let mut call = vec![result, item];
        if n >= 3 {
            call.push(Val::Num(i as f64));
        }
        if n >= 4 {
            call.push(args[0].clone());
        }
        result = ctx.apply(func, call, &Val::Undefined, env)?;
        ctx.check_value(&result)?;
    }
    Ok(result)
}

pub(super) fn sift(ctx: &Ctx, args: Args, _: &Val, env: &Env) -> Result<Val> {
    let Val::Obj(object) = arg(&args, 0) else { return Ok(Val::Undefined) };
    let func = arg(&args, 1);
    let mut result = IndexMap::new();
    for (key, value) in &object.map {
        let keep = ctx.call_hof(func, hof_args(func, value.clone(), Val::str(key), &args[0]), env)?;
        if value::boolean(&keep).unwrap_or(false) {
            result.insert(key.clone(), value.clone());
        }
    }
    Ok(if result.is_empty() { Val::Undefined } else { Val::object(result) })
}

pub(super) fn each(ctx: &Ctx, args: Args, _: &Val, env: &Env) -> Result<Val> {
    let Val::Obj(object) = arg(&args, 0) else { return Ok(Val::Undefined) };
    let func = arg(&args, 1);
    let mut results = Vec::new();
    for (key, value) in &object.map {
        let result = ctx.call_hof(func, hof_args(func, value.clone(), Val::str(key), &args[0]), env)?;
        if !result.is_undefined() {
            results.push(result);
        }
    }
    Ok(Val::sequence(results))
}

fn keys_into(value: &Val, out: &mut IndexMap<String, ()>) {
    match value {
        Val::Arr(a) => a.items.iter().for_each(|item| keys_into(item, out)),
        Val::Obj(o) => o.map.keys().for_each(|k| {
            out.insert(k.clone(), ());
        }),
        _ => {}
    }
}

pub(super) fn keys(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let mut keys = IndexMap::new();
    keys_into(arg(&args, 0), &mut keys);
    Ok(Val::sequence(keys.into_keys().map(Val::string).collect()))
}

pub(super) fn lookup(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    Ok(str_arg(&args, 1).map(|key| eval::lookup(arg(&args, 0), key)).unwrap_or(Val::Undefined))
}

pub(super) fn append(ctx: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let mut args = args.into_iter();
    let result = eval::append(args.next().unwrap_or(Val::Undefined), args.next().unwrap_or(Val::Undefined));
    if let Val::Arr(a) = &result {
        ctx.charge(a.items.len() as u64)?;
    }
    Ok(result)
}

fn spread_value(value: &Val) -> Val {
    match value {
        Val::Arr(a) => {
            a.items.iter().fold(Val::sequence(Vec::new()), |acc, item| eval::append(acc, spread_value(item)))
        }
        Val::Obj(o) => {
            Val::sequence(o.map.iter().map(|(k, v)| Val::object(IndexMap::from([(k.clone(), v.clone())]))).collect())
        }
        other => other.clone(),
    }
}

pub(super) fn spread(ctx: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let result = spread_value(arg(&args, 0));
    if let Val::Arr(a) = &result {
        ctx.charge(a.items.len() as u64)?;
    }
    Ok(result)
}

pub(super) fn merge(ctx: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let Val::Arr(objects) = arg(&args, 0) else { return Ok(Val::Undefined) };
    let mut result = IndexMap::new();
    for object in &objects.items {
        if let Val::Obj(o) = object {
            ctx.charge(o.map.len() as u64)?;
            result.extend(o.map.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    Ok(Val::object(result))
}

pub(super) fn reverse(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    match arg(&args, 0) {
        Val::Arr(a) if a.items.len() > 1 => Ok(Val::array(a.items.iter().rev().cloned().collect())),
        other => Ok(other.clone()),
    }
}

pub(super) fn zip(ctx: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let arrays: Vec<Vec<Val>> = args.iter().map(|a| if a.is_array() { a.items() } else { Vec::new() }).collect();
    let length = arrays.iter().map(Vec::len).min().unwrap_or(0);
    ctx.charge((length * arrays.len()) as u64)?;
    let result = Val::array((0..length).map(|i| Val::array(arrays.iter().map(|a| a[i].clone()).collect())).collect());
    ctx.check_value(&result)?;
    Ok(result)
}

/// JavaScript truthiness (how the reference reads a custom `$sort` comparator's result).
fn js_truthy(value: &Val) -> bool {
    match value {
        Val::Undefined | Val::Null => false,
        Val::Bool(b) => *b,
        Val::Num(n) => *n != 0.0 && !n.is_nan(),
        Val::Str(s) => !s.is_empty(),
        _ => true,
    }
}

pub(super) fn sort(ctx: &Ctx, args: Args, _: &Val, env: &Env) -> Result<Val> {
    let items = match arg(&args, 0) {
        Val::Undefined => return Ok(Val::Undefined),
        Val::Arr(a) if a.items.len() > 1 => a.items.clone(),
        other => return Ok(other.clone()),
    };
    let comparator = arg(&args, 1);
    let sorted = if comparator.is_undefined() {
        let all_numbers = items.iter().all(|v| matches!(v, Val::Num(_)));
        let all_strings = items.iter().all(|v| matches!(v, Val::Str(_)));
        if !all_numbers && !all_strings {
            return Err(Error::new("D3070", "The single argument form of the sort function can only be applied to an array of strings or an array of numbers.  Use the second argument to specify a comparison function"));
        }
        merge_sort(ctx, items, &mut |a: &Val, b: &Val| {
            Ok(match (a, b) {
                (Val::Num(x), Val::Num(y)) => x > y,
                (Val::Str(x), Val::Str(y)) => x > y,
                _ => false,
            })
        })?
    } else {
        merge_sort(ctx, items, &mut |a: &Val, b: &Val| {
            Ok(js_truthy(&ctx.apply(comparator, vec![a.clone(), b.clone()], &Val::Undefined, env)?))
        })?
    };
    Ok(Val::array(sorted))
}

pub(super) fn shuffle(ctx: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let mut items = match arg(&args, 0) {
        Val::Undefined => return Ok(Val::Undefined),
        Val::Arr(a) if a.items.len() > 1 => a.items.clone(),
        other => return Ok(other.clone()),
    };
    let mut rng = ctx.rng.borrow_mut();
    for i in (1..items.len()).rev() {
        items.swap(i, rng.gen_range(0..=i));
    }
    Ok(Val::array(items))
}

pub(super) fn distinct(ctx: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let value = arg(&args, 0);
    let Val::Arr(a) = value else { return Ok(value.clone()) };
    if a.items.len() <= 1 {
        return Ok(value.clone());
    }
    // JSON values are compared by their canonical text (serde_json sorts object keys, so this
    // is deep equality); functions, which have none, by a linear scan.
    let mut seen = std::collections::HashSet::new();
    let mut functions: Vec<Val> = Vec::new();
    let mut results: Vec<Val> = Vec::new();
    for item in &a.items {
        let new = match item.to_json() {
            Some(json) => {
                let key = json.to_string();
                ctx.charge(key.len() as u64 / 64 + 1)?;
                seen.insert(key)
            }
            None => {
                ctx.charge(functions.len() as u64 + 1)?;
                let new = !functions.iter().any(|f| deep_equal(f, item));
                functions.push(item.clone());
                new
            }
        };
        if new {
            results.push(item.clone());
        }
    }
    Ok(if a.sequence { Val::sequence(results) } else { Val::array(results) })
}

pub(super) fn error(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    Err(Error::new("D3137", str_arg(&args, 0).unwrap_or("$error() function evaluated")))
}

pub(super) fn assert(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    if matches!(arg(&args, 0), Val::Bool(true)) {
        return Ok(Val::Undefined);
    }
    Err(Error::new("D3141", str_arg(&args, 1).unwrap_or("$assert() statement failed")))
}

pub(super) fn clone(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    Ok(arg(&args, 0).to_json().map(|json| Val::from_json(&json)).unwrap_or(Val::Undefined))
}
