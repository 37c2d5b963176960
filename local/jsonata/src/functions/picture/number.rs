use crate::error::{Error, Result};
use crate::value::Val;
use indexmap::IndexMap;
pub(in crate::functions) fn format_number(
    _: f64,
    _: &str,
    _: Option<&IndexMap<String, Val>>,
    _: usize,
) -> Result<String> {
    Err(Error::new("U1000", "todo"))
}
