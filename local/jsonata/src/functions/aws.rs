//! The functions AWS Step Functions adds to JSONata, standing in for the JSONPath intrinsics
//! (`States.ArrayPartition`, `States.ArrayRange`, `States.Hash`, `States.MathRandom`,
//! `States.UUID`, `States.StringToJson`).

use super::{arg, num_arg, str_arg};
use crate::error::{Error, Result};
use crate::eval::Ctx;
use crate::value::{Env, Val};
use rand::{Rng as _, SeedableRng as _};

type Args = Vec<Val>;

/// The most items `$range` returns (as `States.ArrayRange`).
pub const MAX_RANGE_ITEMS: usize = 1000;

fn invalid(message: String) -> Error {
    Error::new("U1005", message)
}

fn integer(value: Option<f64>) -> Option<i64> {
    value.filter(|n| n.fract() == 0.0 && n.abs() < 9e15).map(|n| n as i64)
}

/// `$partition(array, size)`: the array in chunks of `size` (the last may be shorter).
pub(super) fn partition(ctx: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let items = arg(&args, 0).items();
    let size = integer(num_arg(&args, 1))
        .filter(|s| *s > 0)
        .ok_or_else(|| invalid("$partition: the chunk size must be a positive integer".into()))?;
    ctx.charge(items.len() as u64)?;
    let result = Val::array(items.chunks(size as usize).map(|chunk| Val::array(chunk.to_vec())).collect());
    ctx.check_value(&result)?;
    Ok(result)
}

/// `$range(start, end, step)`: integers from `start` through `end` (inclusive) by `step`.
pub(super) fn range(ctx: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let bound = |i: usize, what: &str| {
        integer(num_arg(&args, i)).ok_or_else(|| invalid(format!("$range: the {what} must be an integer")))
    };
    let (start, end, step) = (bound(0, "start")?, bound(1, "end")?, bound(2, "step")?);
    if step == 0 {
        return Err(invalid("$range: the step must not be 0".into()));
    }
    let count = if (step > 0 && end < start) || (step < 0 && end > start) { 0 } else { (end - start) / step + 1 };
    if count as usize > MAX_RANGE_ITEMS {
        return Err(invalid(format!("$range: the result would have {count} items, more than {MAX_RANGE_ITEMS}")));
    }
    ctx.charge(count as u64)?;
    Ok(Val::array((0..count).map(|i| Val::Num((start + i * step) as f64)).collect()))
}

/// `$hash(value, algorithm)`: the hex digest of the string's UTF-8 bytes.
pub(super) fn hash(ctx: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let Some(text) = str_arg(&args, 0) else { return Ok(Val::Undefined) };
    ctx.charge(text.len() as u64 / 64)?;
    let data = text.as_bytes();
    let digest = match str_arg(&args, 1).unwrap_or("") {
        // md-5 and sha1 use digest 0.11, sha2 digest 0.10: each call names its own trait.
        "MD5" => hex::encode(<md5::Md5 as md5::Digest>::digest(data)),
        "SHA-1" => hex::encode(<sha1::Sha1 as sha1::Digest>::digest(data)),
        "SHA-256" => hex::encode(<sha2::Sha256 as sha2::Digest>::digest(data)),
        "SHA-384" => hex::encode(<sha2::Sha384 as sha2::Digest>::digest(data)),
        "SHA-512" => hex::encode(<sha2::Sha512 as sha2::Digest>::digest(data)),
        other => {
            return Err(invalid(format!(
                "$hash: unknown algorithm '{other}' (use MD5, SHA-1, SHA-256, SHA-384 or SHA-512)"
            )))
        }
    };
    Ok(Val::string(digest))
}

/// `$random([seed])`: a number in [0, 1); the same seed gives the same number.
pub(super) fn random(ctx: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    Ok(Val::Num(match num_arg(&args, 0) {
        Some(seed) => rand::rngs::StdRng::seed_from_u64(seed.to_bits()).gen::<f64>(),
        None => ctx.rng.borrow_mut().gen::<f64>(),
    }))
}

/// `$uuid()`: a random version 4 UUID.
pub(super) fn uuid(ctx: &Ctx, _: Args, _: &Val, _: &Env) -> Result<Val> {
    let bytes: [u8; 16] = ctx.rng.borrow_mut().gen();
    Ok(Val::string(uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()))
}

/// `$parse(text)`: the JSON value a string holds.
pub(super) fn parse(ctx: &Ctx, args: Args, _: &Val, _: &Env) -> Result<Val> {
    let Some(text) = str_arg(&args, 0) else { return Ok(Val::Undefined) };
    ctx.charge(text.len() as u64 / 16)?;
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| invalid(format!("$parse: the string is not valid JSON: {e}")))?;
    let value = Val::from_json(&json);
    ctx.check_value(&value)?;
    Ok(value)
}
