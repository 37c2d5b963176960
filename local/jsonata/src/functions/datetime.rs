//! Date/time functions: ISO 8601 text without a picture, XPath date/time pictures (in
//! `picture`) with one.

use super::{num_arg, str_arg};
use crate::error::{Error, Result};
use crate::eval::Ctx;
use crate::value::{Env, Val};
use chrono::NaiveDate;
use regex::Regex;
use std::sync::LazyLock;

type Args = Vec<Val>;

pub(super) fn now(ctx: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    formatted(ctx, ctx.now_millis as f64, str_arg(&args, 0), str_arg(&args, 1))
}

pub(super) fn millis(ctx: &Ctx, _: Args, _: &Val, _: &Env) -> Result<Val> {
    Ok(Val::Num(ctx.now_millis as f64))
}

pub(super) fn from_millis(ctx: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let Some(millis) = num_arg(&args, 0) else { return Ok(Val::Undefined) };
    formatted(ctx, millis, str_arg(&args, 1), str_arg(&args, 2))
}

/// `millis` formatted with the picture (ISO 8601 when none) in the timezone (UTC when none).
fn formatted(ctx: &Ctx, millis: f64, picture: Option<&str>, timezone: Option<&str>) -> Result<Val> {
    let text = super::picture::format_date_time(millis, picture, timezone, ctx.limits().max_string_bytes)?;
    ctx.check_string(&text)?;
    Ok(Val::string(text))
}

static ISO_8601: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"^(\d{4})(?:-([01]\d))?(?:-([0-3]\d))?(?:T([0-2]\d):([0-5]\d):([0-5]\d))?(\.\d+)?(Z|[+-][0-2]\d:?[0-5]\d)?$",
    )
    .ok()
});

/// `Date.parse` of the ISO 8601 forms the reference accepts (times without an offset are UTC).
fn parse_iso(text: &str) -> Option<f64> {
    let captures = ISO_8601.as_ref()?.captures(text)?;
    let number = |i: usize, default: u32| captures.get(i).map_or(Some(default), |m| m.as_str().parse().ok());
    let year: i32 = captures.get(1)?.as_str().parse().ok()?;
    let date = NaiveDate::from_ymd_opt(year, number(2, 1)?, number(3, 1)?)?;
    let time = date.and_hms_opt(number(4, 0)?, number(5, 0)?, number(6, 0)?)?;
    let mut millis = time.and_utc().timestamp_millis() as f64;
    if let Some(fraction) = captures.get(7) {
        let digits: String = fraction.as_str()[1..].chars().chain("000".chars()).take(3).collect();
        millis += digits.parse::<f64>().ok()?;
    }
    if let Some(zone) = captures.get(8).map(|m| m.as_str()).filter(|z| *z != "Z") {
        let sign = if zone.starts_with('-') { -1.0 } else { 1.0 };
        let digits: String = zone[1..].chars().filter(char::is_ascii_digit).collect();
        let hours: f64 = digits.get(..2)?.parse().ok()?;
        let minutes: f64 = digits.get(2..)?.parse().ok()?;
        millis -= sign * (hours * 60.0 + minutes) * 60_000.0;
    }
    Some(millis)
}

pub(super) fn to_millis(ctx: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let Some(text) = str_arg(&args, 0) else { return Ok(Val::Undefined) };
    if let Some(picture) = str_arg(&args, 1) {
        let millis = super::picture::parse_date_time(text, picture, ctx.now_millis as f64)?;
        return Ok(millis.map(Val::Num).unwrap_or(Val::Undefined));
    }
    if !ISO_8601.as_ref().is_some_and(|re| re.is_match(text)) {
        return Err(Error::new("D3110", format!("The timestamp {text} is not a valid ISO 8601 format")));
    }
    Ok(parse_iso(text).map(Val::Num).unwrap_or(Val::Num(f64::NAN)))
}
