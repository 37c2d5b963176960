//! Configuration from the environment, read once at cold start. Every variable is listed
//! in the README; defaults are the design's.

use std::str::FromStr;

use imgpipe_imaging::{Limits, ThumbnailSpec};

use crate::steps::detect::CustomLabelsModel;

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
    /// `CUSTOM_LABELS_MODEL_ARN`: a Rekognition Custom Labels model version whose labels DetectLabels
    /// merges with Rekognition's (AWS only). It must be in the functions' region (`AWS_REGION`).
    pub custom_labels: Option<CustomLabelsModel>,
    /// `THUMBNAIL_SIZES` (comma separated, longest side) and `THUMBNAIL_QUALITY`.
    pub thumbnails: ThumbnailSpec,
    /// `UPLOAD_URL_TTL_SECONDS`: lifetime of a signed upload.
    pub upload_ttl_seconds: u64,
    /// `PENDING_TTL_SECONDS`: a PENDING record expires (DynamoDB TTL) after this.
    pub pending_ttl_seconds: u64,
    /// `RESULT_URL_TTL_SECONDS`: lifetime of presigned GETs handed out by the query API.
    pub result_url_ttl_seconds: u64,
    /// `RECONCILE_AFTER_SECONDS`: the reconciler leaves a PENDING record alone until it has been
    /// untouched this long (its event may still be on its way).
    pub reconcile_after_seconds: u64,
    /// `STATE_MACHINE_ARN`: for execution timelines (query function); empty when unknown.
    pub state_machine_arn: String,
    /// `CURSOR_SECRET`: signs page cursors. When unset, a random secret for this process (cursors
    /// then only work against the process that issued them).
    pub cursor_secret: String,
    /// How the page signs in (`GET /config`): `USER_POOL_ISSUER`, `USER_POOL_CLIENT_ID`,
    /// `AUTH_DOMAIN_URL` (the endpoints' base; the issuer when unset) and `AUTH_SCOPES` (space
    /// separated; `openid` when unset). `None` when neither issuer nor client id is set.
    pub auth: Option<AuthSettings>,
}

/// The sign-in service the page uses: OAuth 2.0 authorization code with PKCE, public client.
/// `GET /config` hands it to the page as it is (camelCase).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthSettings {
    /// The tokens' `iss`.
    pub issuer: String,
    /// The page's app client (public: no secret).
    pub client_id: String,
    /// Where the browser goes to sign in.
    pub authorize_url: String,
    /// Where the page exchanges a code or a refresh token.
    pub token_url: String,
    /// Where the page revokes its refresh token on sign-out.
    pub revoke_url: String,
    /// Where the browser goes to sign out of the sign-in service.
    pub logout_url: String,
    /// The scopes the page asks for.
    pub scopes: Vec<String>,
}

/// Longest URL accepted in the auth settings.
const MAX_URL_BYTES: usize = 2048;
/// Most scopes the page may ask for.
const MAX_SCOPES: usize = 25;

impl AuthSettings {
    /// Settings for a sign-in service whose endpoints sit under `endpoints_base`
    /// (`/oauth2/authorize`, `/oauth2/token`, `/oauth2/revoke`, `/logout`): Cognito's hosted UI
    /// domain (`https://<prefix>.auth.<region>.amazoncognito.com`), or the local sign-in service's
    /// issuer (`http://127.0.0.1:<port>/auth`). Errors name what is wrong.
    pub fn new(
        issuer: &str,
        client_id: &str,
        endpoints_base: &str,
        scopes: Vec<String>,
    ) -> Result<AuthSettings, String> {
        check_url(issuer).map_err(|e| format!("issuer: {e}"))?;
        let base = endpoints_base.trim_end_matches('/');
        check_url(base).map_err(|e| format!("endpoints: {e}"))?;
        if client_id.is_empty()
            || client_id.len() > 128
            || !client_id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err("the client id must be 1-128 of A-Z a-z 0-9 - _ .".into());
        }
        if scopes.is_empty()
            || scopes.len() > MAX_SCOPES
            || scopes.iter().any(|s| s.is_empty() || s.len() > 256 || !s.chars().all(|c| c.is_ascii_graphic()))
        {
            return Err(format!("scopes must be 1-{MAX_SCOPES} words of printable ASCII"));
        }
        Ok(AuthSettings {
            issuer: issuer.to_string(),
            client_id: client_id.to_string(),
            authorize_url: format!("{base}/oauth2/authorize"),
            token_url: format!("{base}/oauth2/token"),
            revoke_url: format!("{base}/oauth2/revoke"),
            logout_url: format!("{base}/logout"),
            scopes,
        })
    }

    /// The origin (`scheme://host[:port]`) of the endpoints the page calls with `fetch`.
    pub fn endpoints_origin(&self) -> String {
        origin_of(&self.token_url).unwrap_or_default()
    }
}

/// An absolute http(s) URL without query, fragment or credentials, of bounded length.
fn check_url(url: &str) -> Result<(), String> {
    if url.len() > MAX_URL_BYTES {
        return Err(format!("longer than {MAX_URL_BYTES} bytes"));
    }
    let uri: axum::http::Uri = url.parse().map_err(|_| format!("{url:?} is not a URL"))?;
    let scheme_ok = matches!(uri.scheme_str(), Some("https" | "http"));
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
    if !scheme_ok || authority.is_empty() || authority.contains('@') || uri.query().is_some() || url.contains('#') {
        return Err(format!("{url:?} is not an absolute http(s) URL without query or credentials"));
    }
    Ok(())
}

/// `scheme://authority` of an absolute URL.
pub(crate) fn origin_of(url: &str) -> Option<String> {
    let uri: axum::http::Uri = url.parse().ok()?;
    Some(format!("{}://{}", uri.scheme_str()?, uri.authority()?))
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
            custom_labels: None,
            thumbnails: ThumbnailSpec::default(),
            upload_ttl_seconds: 300,
            pending_ttl_seconds: 86_400,
            result_url_ttl_seconds: 900,
            reconcile_after_seconds: 300,
            state_machine_arn: String::new(),
            cursor_secret: random_secret(),
            auth: None,
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
            custom_labels: custom_labels_from(&lookup)?,
            thumbnails: ThumbnailSpec { sizes, quality },
            upload_ttl_seconds: num("UPLOAD_URL_TTL_SECONDS", d.upload_ttl_seconds)?,
            pending_ttl_seconds: num("PENDING_TTL_SECONDS", d.pending_ttl_seconds)?,
            result_url_ttl_seconds: num("RESULT_URL_TTL_SECONDS", d.result_url_ttl_seconds)?,
            reconcile_after_seconds: num("RECONCILE_AFTER_SECONDS", d.reconcile_after_seconds)?,
            state_machine_arn: text("STATE_MACHINE_ARN", d.state_machine_arn),
            cursor_secret: text("CURSOR_SECRET", d.cursor_secret),
            auth: auth_from(&lookup)?,
        })
    }
}

/// The Custom Labels model from `CUSTOM_LABELS_MODEL_ARN` (unset or empty: none), checked against
/// `AWS_REGION` when that is set: DetectCustomLabels only reaches models in the caller's region.
fn custom_labels_from(lookup: &impl Fn(&str) -> Option<String>) -> Result<Option<CustomLabelsModel>, ConfigError> {
    const NAME: &str = "CUSTOM_LABELS_MODEL_ARN";
    let Some(arn) = lookup(NAME).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) else { return Ok(None) };
    let error = |reason: String| ConfigError { name: NAME, value: arn.clone(), reason };
    let model = CustomLabelsModel::parse(&arn).map_err(error)?;
    match lookup("AWS_REGION").filter(|r| !r.is_empty()) {
        Some(region) if region != model.region() => {
            Err(error(format!("the model is in {}, the functions in {region}", model.region())))
        }
        _ => Ok(Some(model)),
    }
}

/// The auth settings from `USER_POOL_ISSUER`, `USER_POOL_CLIENT_ID`, `AUTH_DOMAIN_URL`, `AUTH_SCOPES`.
fn auth_from(lookup: &impl Fn(&str) -> Option<String>) -> Result<Option<AuthSettings>, ConfigError> {
    let get = |name: &str| lookup(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let (issuer, client_id) = match (get("USER_POOL_ISSUER"), get("USER_POOL_CLIENT_ID")) {
        (None, None) => return Ok(None),
        (Some(issuer), Some(client_id)) => (issuer, client_id),
        (issuer, _) => {
            let name = if issuer.is_some() { "USER_POOL_CLIENT_ID" } else { "USER_POOL_ISSUER" };
            let reason = "USER_POOL_ISSUER and USER_POOL_CLIENT_ID are set together or not at all".into();
            return Err(ConfigError { name, value: String::new(), reason });
        }
    };
    let base = get("AUTH_DOMAIN_URL").unwrap_or_else(|| issuer.clone());
    let scopes_text = get("AUTH_SCOPES").unwrap_or_else(|| "openid".into());
    let scopes = scopes_text.split_whitespace().map(str::to_string).collect();
    let auth = AuthSettings::new(&issuer, &client_id, &base, scopes).map_err(|reason| ConfigError {
        name: "USER_POOL_ISSUER",
        value: format!("{issuer} (client {client_id}, endpoints {base}, scopes {scopes_text})"),
        reason,
    })?;
    Ok(Some(auth))
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

    const MODEL_ARN: &str =
        "arn:aws:rekognition:eu-west-1:123456789012:project/widgets/version/widgets.2026-11-30T10.15.02/1764497702000";

    #[test]
    fn custom_labels_model_is_optional_and_read_from_its_arn() {
        assert_eq!(Config::from_lookup(|_| None).unwrap().custom_labels, None);
        assert_eq!(
            Config::from_lookup(|n| (n == "CUSTOM_LABELS_MODEL_ARN").then(String::new)).unwrap().custom_labels,
            None
        );
        let c = Config::from_lookup(|n| match n {
            "CUSTOM_LABELS_MODEL_ARN" => Some(format!(" {MODEL_ARN}\n")),
            "AWS_REGION" => Some("eu-west-1".into()),
            _ => None,
        })
        .unwrap();
        let model = c.custom_labels.expect("a model");
        assert_eq!(model.arn(), MODEL_ARN);
        assert_eq!(model.model_id(), "custom-labels:widgets@widgets.2026-11-30T10.15.02/1764497702000");
    }

    #[test]
    fn a_malformed_or_foreign_model_arn_is_a_clear_error() {
        for (arn, region) in [
            ("arn:aws:rekognition:eu-west-1:123456789012:project/widgets/1764497702000", "eu-west-1"),
            ("arn:aws:s3:::bucket/project/widgets/version/v1/1", "eu-west-1"),
            ("widgets", "eu-west-1"),
            (MODEL_ARN, "us-east-1"),
        ] {
            let err = Config::from_lookup(|n| match n {
                "CUSTOM_LABELS_MODEL_ARN" => Some(arn.to_string()),
                "AWS_REGION" => Some(region.to_string()),
                _ => None,
            })
            .unwrap_err()
            .to_string();
            assert!(err.contains("CUSTOM_LABELS_MODEL_ARN"), "{arn} in {region}: {err}");
        }
        let err = Config::from_lookup(|n| match n {
            "CUSTOM_LABELS_MODEL_ARN" => Some(MODEL_ARN.to_string()),
            "AWS_REGION" => Some("us-east-1".to_string()),
            _ => None,
        })
        .unwrap_err();
        assert!(err.to_string().contains("the model is in eu-west-1, the functions in us-east-1"), "{err}");
    }

    fn cognito_env(name: &str) -> Option<String> {
        match name {
            "USER_POOL_ISSUER" => Some("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC".into()),
            "USER_POOL_CLIENT_ID" => Some("3n4b5urk1ft4fl3mg5e62d9ado".into()),
            "AUTH_DOMAIN_URL" => Some("https://imgpipe-1.auth.eu-west-1.amazoncognito.com/".into()),
            "AUTH_SCOPES" => Some("openid email imgpipe/images".into()),
            _ => None,
        }
    }

    #[test]
    fn auth_settings_put_cognito_endpoints_under_the_hosted_ui_domain() {
        let auth = Config::from_lookup(cognito_env).unwrap().auth.unwrap();
        assert_eq!(auth.issuer, "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC");
        assert_eq!(auth.authorize_url, "https://imgpipe-1.auth.eu-west-1.amazoncognito.com/oauth2/authorize");
        assert_eq!(auth.token_url, "https://imgpipe-1.auth.eu-west-1.amazoncognito.com/oauth2/token");
        assert_eq!(auth.revoke_url, "https://imgpipe-1.auth.eu-west-1.amazoncognito.com/oauth2/revoke");
        assert_eq!(auth.logout_url, "https://imgpipe-1.auth.eu-west-1.amazoncognito.com/logout");
        assert_eq!(auth.scopes, ["openid", "email", "imgpipe/images"]);
        assert_eq!(auth.endpoints_origin(), "https://imgpipe-1.auth.eu-west-1.amazoncognito.com");
    }

    #[test]
    fn auth_endpoints_default_to_the_issuer_as_the_local_service_has_them() {
        let c = Config::from_lookup(|n| match n {
            "USER_POOL_ISSUER" => Some("http://127.0.0.1:8080/auth".into()),
            "USER_POOL_CLIENT_ID" => Some("imgpipe-web".into()),
            _ => None,
        })
        .unwrap();
        let auth = c.auth.unwrap();
        assert_eq!(auth.token_url, "http://127.0.0.1:8080/auth/oauth2/token");
        assert_eq!(auth.scopes, ["openid"]);
        assert_eq!(auth.endpoints_origin(), "http://127.0.0.1:8080");
        assert_eq!(Config::from_lookup(|_| None).unwrap().auth, None);
    }

    #[test]
    fn malformed_auth_settings_are_clear_errors() {
        let with = |name: &'static str, value: &'static str| {
            move |n: &str| if n == name { Some(value.to_string()) } else { cognito_env(n) }
        };
        let only_issuer = Config::from_lookup(|n| (n == "USER_POOL_ISSUER").then(|| "https://x.example".into()));
        assert!(only_issuer.unwrap_err().to_string().contains("USER_POOL_CLIENT_ID"));
        for (name, value) in [
            ("USER_POOL_ISSUER", "javascript:alert(1)"),
            ("USER_POOL_ISSUER", "https://user:pw@evil.example/"),
            ("AUTH_DOMAIN_URL", "https://x.example/?next=evil"),
            ("AUTH_DOMAIN_URL", "ftp://x.example"),
            ("AUTH_DOMAIN_URL", "/relative"),
            ("USER_POOL_CLIENT_ID", "a b"),
            ("USER_POOL_CLIENT_ID", "\"\u{0}<script>"),
            ("AUTH_SCOPES", "openid \u{7}bell"),
        ] {
            let err = Config::from_lookup(with(name, value)).unwrap_err();
            assert!(err.to_string().contains("USER_POOL_ISSUER"), "{name}={value:?}: {err}");
        }
        let long = format!("https://x.example/{}", "a".repeat(5000));
        assert!(AuthSettings::new(&long, "c", "https://x.example", vec!["openid".into()]).is_err());
        let many = vec!["s".to_string(); 26];
        assert!(AuthSettings::new("https://x.example", "c", "https://x.example", many).is_err());
    }
}
