//! Date/time functions: ISO 8601 forms only (XPath picture strings are not supported).

use super::{arg, num_arg, str_arg};
use crate::error::{Error, Result};
use crate::eval::Ctx;
use crate::value::{Env, Val};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use regex::Regex;
use std::sync::LazyLock;

type Args = Vec<Val>;

fn no_picture(args: &[Val], index: usize, name: &str) -> Result<()> {
    if arg(args, index).is_undefined() {
        return Ok(());
    }
    Err(Error::new(
        "U1000",
        format!("${name} with a picture string or timezone is not supported by this implementation"),
    ))
}

/// `Date.prototype.toISOString()`.
fn iso_string(millis: f64) -> Result<String> {
    let invalid = || Error::new("D3110", format!("Invalid time value: {millis}"));
    if !millis.is_finite() || millis.abs() > 8.64e15 {
        return Err(invalid());
    }
    let time: DateTime<Utc> = Utc.timestamp_millis_opt(millis.trunc() as i64).single().ok_or_else(invalid)?;
    Ok(time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

pub(super) fn now(ctx: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    formatted(ctx.now_millis as f64, str_arg(&args, 0), str_arg(&args, 1))
}

pub(super) fn millis(ctx: &Ctx, _: Args, _: &Val, _: &Env) -> Result<Val> {
    Ok(Val::Num(ctx.now_millis as f64))
}

pub(super) fn from_millis(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let Some(millis) = num_arg(&args, 0) else { return Ok(Val::Undefined) };
    formatted(millis, str_arg(&args, 1), str_arg(&args, 2))
}

/// ISO 8601 text of `millis`, or the picture/timezone form when either is given.
fn formatted(millis: f64, picture: Option<&str>, timezone: Option<&str>) -> Result<Val> {
    if picture.is_none() && timezone.is_none() {
        return Ok(Val::string(iso_string(millis)?));
    }
    if !millis.is_finite() || millis.abs() > 8.64e15 {
        return Err(Error::new("D3110", format!("Invalid time value: {millis}")));
    }
    let picture = picture.unwrap_or("[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001][Z01:01t]");
    Ok(Val::string(super::picture::format_millis(millis.trunc() as i64, picture, timezone)?))
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

pub(super) fn to_millis(_: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let Some(text) = str_arg(&args, 0) else { return Ok(Val::Undefined) };
    no_picture(&args, 1, "toMillis")?;
    if !ISO_8601.as_ref().is_some_and(|re| re.is_match(text)) {
        return Err(Error::new("D3110", format!("The timestamp {text} is not a valid ISO 8601 format")));
    }
    Ok(parse_iso(text).map(Val::Num).unwrap_or(Val::Num(f64::NAN)))
}
