//! Configuration from the environment, read once at cold start. Every variable is listed
//! in the README; defaults are the design's.

use std::str::FromStr;

use imgpipe_imaging::{Limits, ThumbnailSpec};

/// Everything the functions read from their environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `INPUT_BUCKET`: where uploads land (`uploads/<id>.<ext>`).
    pub input_bucket: String,
    /// `OUTPUT_BUCKET`: thumbnails and result JSON.
    pub output_bucket: String,
    /// `TABLE_NAME`: the single DynamoDB table.
    pub table_name: String,
    /// `MAX_IMAGE_BYTES`, `MIN_IMAGE_SIDE`, `MAX_IMAGE_SIDE`, `MAX_IMAGE_PIXELS`.
    pub limits: Limits,
    /// `MAX_LABELS`.
    pub max_labels: usize,
    /// `MIN_CONFIDENCE` (0-100).
    pub min_confidence: f32,
    /// `THUMBNAIL_SIZES` (comma separated, longest side) and `THUMBNAIL_QUALITY`.
    pub thumbnails: ThumbnailSpec,
    /// `UPLOAD_URL_TTL_SECONDS`: lifetime of a signed upload.
    pub upload_ttl_seconds: u64,
    /// `PENDING_TTL_SECONDS`: a PENDING record expires (DynamoDB TTL) after this.
    pub pending_ttl_seconds: u64,
    /// `RESULT_URL_TTL_SECONDS`: lifetime of presigned GETs handed out by the query API.
    pub result_url_ttl_seconds: u64,
    /// `DEFAULT_OWNER`: owner of uploads (no sign-in yet).
    pub default_owner: String,
    /// `STATE_MACHINE_ARN`: for execution timelines (query function); empty when unknown.
    pub state_machine_arn: String,
    /// `CURSOR_SECRET`: signs page cursors. When unset, a random secret for this process (cursors
    /// then only work against the process that issued them).
    pub cursor_secret: String,
}

/// A variable that is present but malformed.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}={value:?} is invalid: {reason}")]
pub struct ConfigError {
    name: &'static str,
    value: String,
    reason: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            input_bucket: "imgpipe-input".into(),
            output_bucket: "imgpipe-output".into(),
            table_name: "imgpipe".into(),
            limits: Limits::default(),
            max_labels: 20,
            min_confidence: 55.0,
            thumbnails: ThumbnailSpec::default(),
            upload_ttl_seconds: 300,
            pending_ttl_seconds: 86_400,
            result_url_ttl_seconds: 900,
            default_owner: "anonymous".into(),
            state_machine_arn: String::new(),
            cursor_secret: random_secret(),
        }
    }
}

impl Config {
    /// Reads the process environment over the defaults.
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` over the defaults (testable without touching the process env).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let d = Config::default();
        let text = |name: &'static str, default: String| lookup(name).filter(|v| !v.is_empty()).unwrap_or(default);
        let num = |name: &'static str, default: u64| parse_or(&lookup, name, default);
        let limits = Limits {
            max_bytes: num("MAX_IMAGE_BYTES", d.limits.max_bytes)?,
            min_side: parse_or(&lookup, "MIN_IMAGE_SIDE", d.limits.min_side)?,
            max_side: parse_or(&lookup, "MAX_IMAGE_SIDE", d.limits.max_side)?,
            max_pixels: num("MAX_IMAGE_PIXELS", d.limits.max_pixels)?,
        };
        let sizes = match lookup("THUMBNAIL_SIZES").filter(|v| !v.trim().is_empty()) {
            None => d.thumbnails.sizes.clone(),
            Some(v) => parse_sizes(&v).map_err(|reason| ConfigError { name: "THUMBNAIL_SIZES", value: v, reason })?,
        };
        let quality: u8 = parse_or(&lookup, "THUMBNAIL_QUALITY", d.thumbnails.quality)?;
        if !(1..=100).contains(&quality) {
            return Err(ConfigError {
                name: "THUMBNAIL_QUALITY",
                value: quality.to_string(),
                reason: "must be 1-100".into(),
            });
        }
        let min_confidence: f32 = parse_or(&lookup, "MIN_CONFIDENCE", d.min_confidence)?;
        if !(0.0..=100.0).contains(&min_confidence) {
            return Err(ConfigError {
                name: "MIN_CONFIDENCE",
                value: min_confidence.to_string(),
                reason: "must be 0-100".into(),
            });
        }
        Ok(Config {
            input_bucket: text("INPUT_BUCKET", d.input_bucket),
            output_bucket: text("OUTPUT_BUCKET", d.output_bucket),
            table_name: text("TABLE_NAME", d.table_name),
            limits,
            max_labels: parse_or(&lookup, "MAX_LABELS", d.max_labels)?,
            min_confidence,
            thumbnails: ThumbnailSpec { sizes, quality },
            upload_ttl_seconds: num("UPLOAD_URL_TTL_SECONDS", d.upload_ttl_seconds)?,
            pending_ttl_seconds: num("PENDING_TTL_SECONDS", d.pending_ttl_seconds)?,
            result_url_ttl_seconds: num("RESULT_URL_TTL_SECONDS", d.result_url_ttl_seconds)?,
            default_owner: text("DEFAULT_OWNER", d.default_owner),
            state_machine_arn: text("STATE_MACHINE_ARN", d.state_machine_arn),
            cursor_secret: text("CURSOR_SECRET", d.cursor_secret),
        })
    }
}

/// 244 random bits, as text.
fn random_secret() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

fn parse_or<T: FromStr>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match lookup(name).filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|e: T::Err| ConfigError { name, value: v.clone(), reason: e.to_string() }),
    }
}

/// Parses `"1024,256"` into sizes, largest first; each 16..=4096.
pub fn parse_sizes(text: &str) -> Result<Vec<u32>, String> {
    let mut sizes = text
        .split(',')
        .map(|s| s.trim().parse::<u32>().map_err(|e| format!("{s:?}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    if sizes.is_empty() || sizes.iter().any(|s| !(16..=4096).contains(s)) {
        return Err("sizes must be between 16 and 4096 px".into());
    }
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    sizes.dedup();
    Ok(sizes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let c = Config::from_lookup(|n| match n {
            "THUMBNAIL_SIZES" => Some("256, 1024".into()),
            "MAX_LABELS" => Some("5".into()),
            "INPUT_BUCKET" => Some("in".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.thumbnails.sizes, vec![1024, 256]);
        assert_eq!(c.max_labels, 5);
        assert_eq!(c.input_bucket, "in");
        assert_eq!(c.limits.max_bytes, 15 * 1024 * 1024);
    }

    #[test]
    fn malformed_values_are_clear_errors() {
        let e = Config::from_lookup(|n| (n == "MAX_IMAGE_BYTES").then(|| "lots".into())).unwrap_err();
        assert!(e.to_string().contains("MAX_IMAGE_BYTES"), "{e}");
        assert!(Config::from_lookup(|n| (n == "THUMBNAIL_SIZES").then(|| "0".into())).is_err());
        assert!(Config::from_lookup(|n| (n == "THUMBNAIL_QUALITY").then(|| "101".into())).is_err());
    }
}
