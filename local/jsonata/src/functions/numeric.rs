//! Numeric and aggregation functions.

use super::{arg, num_arg, str_arg};
use crate::error::{Error, Result};
use crate::eval::Ctx;
use crate::value::{js_number, stringify, Env, Val};

type Args = Vec<Val>;

fn numbers(args: &[Val]) -> Option<Vec<f64>> {
    match arg(args, 0) {
        Val::Arr(a) => Some(a.items.iter().filter_map(Val::as_num).collect()),
        _ => None,
    }
}

pub(super) fn sum(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    Ok(numbers(&args).map(|n| Val::Num(n.iter().sum())).unwrap_or(Val::Undefined))
}

pub(super) fn count(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    Ok(Val::Num(match arg(&args, 0) {
        Val::Arr(a) => a.items.len() as f64,
        _ => 0.0,
    }))
}

pub(super) fn max(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    Ok(numbers(&args).and_then(|n| n.into_iter().reduce(f64::max)).map(Val::Num).unwrap_or(Val::Undefined))
}

pub(super) fn min(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    Ok(numbers(&args).and_then(|n| n.into_iter().reduce(f64::min)).map(Val::Num).unwrap_or(Val::Undefined))
}

pub(super) fn average(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    Ok(match numbers(&args) {
        Some(n) if !n.is_empty() => Val::Num(n.iter().sum::<f64>() / n.len() as f64),
        _ => Val::Undefined,
    })
}

fn is_decimal_literal(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (number, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (integer, fraction) = match number.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (number, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let integer_ok = digits(integer);
    let fraction_ok = fraction.is_none_or(digits);
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    integer_ok && fraction_ok && exponent_ok
}

fn parse_prefixed(s: &str) -> Option<f64> {
    let radix = match s.get(..2)? {
        "0x" | "0X" => 16,
        "0o" | "0O" => 8,
        "0b" | "0B" => 2,
        _ => return None,
    };
    let digits = &s[2..];
    if digits.is_empty() {
        return None;
    }
    digits.chars().try_fold(0f64, |acc, c| c.to_digit(radix).map(|d| acc * radix as f64 + d as f64))
}

pub(super) fn number(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let value = arg(&args, 0);
    let cast_error = || Error::new("D3030", format!("Unable to cast value to a number: {}", stringify(value, false)));
    Ok(match value {
        Val::Undefined => Val::Undefined,
        Val::Num(n) => Val::Num(*n),
        Val::Bool(b) => Val::Num(if *b { 1.0 } else { 0.0 }),
        Val::Str(s) if is_decimal_literal(s) => match s.parse::<f64>() {
            Ok(n) if n.is_finite() => Val::Num(n),
            _ => return Err(cast_error()),
        },
        Val::Str(s) => Val::Num(parse_prefixed(s).ok_or_else(cast_error)?),
        _ => return Err(cast_error()),
    })
}

pub(super) fn floor(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    Ok(num_arg(&args, 0).map(|n| Val::Num(n.floor())).unwrap_or(Val::Undefined))
}

pub(super) fn ceil(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    Ok(num_arg(&args, 0).map(|n| Val::Num(n.ceil())).unwrap_or(Val::Undefined))
}

pub(super) fn abs(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    Ok(num_arg(&args, 0).map(|n| Val::Num(n.abs())).unwrap_or(Val::Undefined))
}

pub(super) fn sqrt(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    match num_arg(&args, 0) {
        None => Ok(Val::Undefined),
        Some(n) if n < 0.0 => Err(Error::new(
            "D3060",
            format!("The sqrt function cannot be applied to a negative number: {}", js_number(n)),
        )),
        Some(n) => Ok(Val::Num(n.sqrt())),
    }
}

pub(super) fn power(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let (Some(base), Some(exponent)) = (num_arg(&args, 0), num_arg(&args, 1)) else { return Ok(Val::Undefined) };
    let result = base.powf(exponent);
    if !result.is_finite() {
        return Err(Error::new(
            "D3061",
            format!(
                "The power function has resulted in a value that cannot be represented as a JSON number: base={}, exponent={}",
                js_number(base),
                js_number(exponent)
            ),
        ));
    }
    Ok(Val::Num(result))
}

/// JavaScript's `Math.round` (halves toward +infinity).
fn js_round(x: f64) -> f64 {
    let floor = x.floor();
    if x - floor >= 0.5 {
        floor + 1.0
    } else {
        floor
    }
}

/// `$round`: half to even, shifting the decimal point in the number's text as the reference does.
pub(crate) fn round_half_even(value: f64, precision: f64) -> f64 {
    let shift = |n: f64, by: f64| -> f64 {
        let text = js_number(n);
        let (mantissa, exponent) = match text.split_once('e') {
            Some((m, e)) => (m.to_string(), e.parse::<f64>().unwrap_or(0.0)),
            None => (text, 0.0),
        };
        format!("{mantissa}e{}", exponent + by).parse().unwrap_or(n)
    };
    let precision = precision.trunc();
    let shifted = if precision != 0.0 { shift(value, precision) } else { value };
    let mut result = js_round(shifted);
    if (result - shifted).abs() == 0.5 && (result % 2.0).abs() == 1.0 {
        result -= 1.0;
    }
    if precision != 0.0 {
        result = shift(result, -precision);
    }
    if result == 0.0 {
        0.0
    } else {
        result
    }
}

pub(super) fn round(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let Some(value) = num_arg(&args, 0) else { return Ok(Val::Undefined) };
    Ok(Val::Num(round_half_even(value, num_arg(&args, 1).unwrap_or(0.0))))
}

pub(super) fn format_base(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let Some(value) = num_arg(&args, 0) else { return Ok(Val::Undefined) };
    let value = round_half_even(value, 0.0);
    let radix = num_arg(&args, 1).map(|r| round_half_even(r, 0.0)).unwrap_or(10.0);
    if !(2.0..=36.0).contains(&radix) {
        return Err(Error::new(
            "D3100",
            format!(
                "The radix of the formatBase function must be between 2 and 36.  It was given {}",
                js_number(radix)
            ),
        ));
    }
    let radix = radix as u32;
    if value.abs() >= 1e30 {
        return Err(Error::new("U1000", "$formatBase of numbers beyond 1e30 is not supported"));
    }
    let mut magnitude = value.abs() as u128;
    let mut digits = Vec::new();
    loop {
        digits.push(std::char::from_digit((magnitude % radix as u128) as u32, radix).unwrap_or('0'));
        magnitude /= radix as u128;
        if magnitude == 0 {
            break;
        }
    }
    if value < 0.0 {
        digits.push('-');
    }
    Ok(Val::string(digits.into_iter().rev().collect()))
}

pub(super) fn format_number(ctx: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let Some(value) = num_arg(&args, 0) else { return Ok(Val::Undefined) };
    let picture = str_arg(&args, 1).unwrap_or_default();
    let options = match arg(&args, 2) {
        Val::Obj(o) => Some(o.map.clone()),
        _ => None,
    };
    let text = super::picture::format_number(value, picture, options.as_ref(), ctx.limits().max_string_bytes)?;
    ctx.check_string(&text)?;
    Ok(Val::string(text))
}

pub(super) fn format_integer(ctx: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let Some(value) = num_arg(&args, 0) else { return Ok(Val::Undefined) };
    let picture = str_arg(&args, 1).unwrap_or_default();
    let text = super::picture::format_integer(value, picture, ctx.limits().max_string_bytes)?;
    ctx.check_string(&text)?;
    Ok(Val::string(text))
}

pub(super) fn parse_integer(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let Some(value) = str_arg(&args, 0) else { return Ok(Val::Undefined) };
    Ok(Val::Num(super::picture::parse_integer(value, str_arg(&args, 1).unwrap_or_default())?))
}
