use crate::error::{Error, Result};
pub(in crate::functions) fn parse_date_time(_: &str, _: &str, _: f64) -> Result<Option<f64>> {
    Err(Error::new("U1000", "todo"))
}
