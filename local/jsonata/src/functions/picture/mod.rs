//! XPath picture strings as JSONata 2.0.6 implements them: `$formatNumber` (decimal formats),
//! `$formatInteger`/`$parseInteger` (digit patterns, words, roman numerals, letters) and
//! date/time pictures for `$fromMillis`, `$now` and `$toMillis`. The reference's behaviour is
//! reproduced, quirks included; string work follows JavaScript's UTF-16 indexing where it
//! shows. Every operation is bounded by the size of its inputs and by the string size limit.

mod civil;
mod datetime;
mod integer;
mod js;
mod number;
mod parse_datetime;
mod words;

pub(super) use datetime::format_date_time;
pub(super) use integer::{format_integer, parse_integer};
pub(super) use number::format_number;
pub(super) use parse_datetime::parse_date_time;

use crate::error::{Error, Result};

/// Refuses a result longer than `max_bytes` (`U1003`).
fn check_size(bytes: f64, max_bytes: usize) -> Result<()> {
    if bytes > max_bytes as f64 {
        return Err(Error::new(
            "U1003",
            format!("A picture would build a string longer than the limit of {max_bytes} bytes"),
        ));
    }
    Ok(())
}
