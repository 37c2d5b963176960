//! Bearer-token checks as API Gateway's HTTP API JWT authorizer makes them, plus `token_use`.
//!
//! API Gateway's order: take the token (optionally prefixed `Bearer `), decode it, check the
//! algorithm and the signature against the issuer's JWKS by `kid` (RSA only), then the claims:
//! `iss` equals the configured issuer; `aud` (or `client_id` when there is no `aud`) is one of the
//! configured audiences; `exp` is after now; `nbf` and `iat` are before now; when the route has
//! scopes, the token's `scope` (or `scp`) holds at least one of them. This crate then requires
//! `token_use == "access"`, so an ID token is refused even on a route without scopes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::keys::Jwks;

/// Longest token accepted, so a huge header costs nothing to refuse.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Why a bearer token was refused. Every variant means HTTP 401 (`403` is never used by the JWT
/// authorizer for a bad token; a missing scope is also 401 in API Gateway's answer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token was given.
    #[error("no bearer token")]
    MissingToken,
    /// Not three base64url parts of JSON, or too long.
    #[error("the token is malformed")]
    Malformed,
    /// The header names an algorithm other than RS256 (`none`, `HS256`, …).
    #[error("the token's algorithm {0} is not accepted")]
    UnsupportedAlgorithm(String),
    /// The header has no `kid`, or one that is not in the JWKS.
    #[error("the token's signing key is unknown")]
    UnknownKey,
    /// The signature does not match the key.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// `iss` is missing or not the configured issuer.
    #[error("the token does not have a valid issuer")]
    InvalidIssuer,
    /// Neither `aud` nor (without `aud`) `client_id` is a configured audience.
    #[error("the token does not have a valid audience")]
    InvalidAudience,
    /// `exp` is missing or not in the future.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future.
    #[error("the token was issued in the future")]
    IssuedInFuture,
    /// The route needs a scope the token does not have.
    #[error("the token does not have the required scope")]
    InsufficientScope,
    /// `token_use` is not `access` (an ID token, for example).
    #[error("the token is not an access token")]
    NotAnAccessToken,
}

impl AuthError {
    /// The `www-authenticate` header value API Gateway sends with its 401, e.g.
    /// `Bearer scope="" error="invalid_token" error_description="the token has expired"`.
    pub fn www_authenticate(&self, required_scopes: &[&str]) -> String {
        let error = if *self == AuthError::InsufficientScope { "insufficient_scope" } else { "invalid_token" };
        format!(r#"Bearer scope="{}" error="{error}" error_description="{self}""#, required_scopes.join(" "))
    }
}

/// The verified claims in the shape API Gateway puts at `requestContext.authorizer.jwt` of a
/// payload v2 Lambda event: every claim as a string, plus the token's scopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtClaims {
    /// Claim name to value rendered as API Gateway renders it: strings as they are, numbers in
    /// decimal (`"1700000000"`), booleans as `"true"`/`"false"`, arrays as `"[a b c]"`.
    pub claims: HashMap<String, String>,
    /// The token's scopes (its space-separated `scope` claim), `None` when it has none.
    pub scopes: Option<Vec<String>>,
}

impl JwtClaims {
    /// The `sub` claim: the user's stable id, the owner of their images.
    pub fn sub(&self) -> Option<&str> {
        self.claims.get("sub").map(String::as_str)
    }

    /// The `username` claim of an access token.
    pub fn username(&self) -> Option<&str> {
        self.claims.get("username").map(String::as_str)
    }
}

/// Checks bearer tokens against a JWKS, an issuer and a list of audiences. Cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<VerifierInner>,
}

struct VerifierInner {
    issuer: String,
    audiences: Vec<String>,
    keys: HashMap<String, DecodingKey>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.inner.issuer)
            .field("audiences", &self.inner.audiences)
            .field("kids", &self.inner.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Verifier {
    /// A verifier trusting the RSA keys of `jwks` (others are skipped), like an authorizer
    /// configured with `issuer` and `audiences`.
    pub fn new(issuer: impl Into<String>, audiences: Vec<String>, jwks: &Jwks) -> Self {
        let keys = jwks
            .keys
            .iter()
            .filter(|jwk| jwk.kty == "RSA")
            .filter_map(|jwk| DecodingKey::from_rsa_components(&jwk.n, &jwk.e).ok().map(|key| (jwk.kid.clone(), key)))
            .collect();
        Verifier { inner: Arc::new(VerifierInner { issuer: issuer.into(), audiences, keys }) }
    }

    /// Checks a bearer token (with or without the `Bearer ` prefix) for a route needing one of
    /// `required_scopes` (none: any scope), and returns its claims.
    pub fn verify(&self, bearer: &str, required_scopes: &[&str]) -> Result<JwtClaims, AuthError> {
        self.verify_at(bearer, required_scopes, now_secs())
    }

    /// [`Verifier::verify`] at a given time, in seconds since the Unix epoch.
    pub fn verify_at(&self, bearer: &str, required_scopes: &[&str], now: u64) -> Result<JwtClaims, AuthError> {
        let token = strip_bearer(bearer);
        if token.is_empty() {
            return Err(AuthError::MissingToken);
        }
        if token.len() > MAX_TOKEN_BYTES || token.split('.').count() != 3 {
            return Err(AuthError::Malformed);
        }
        let claims = self.check_signature(token)?;
        self.check_claims(&claims, required_scopes, now)?;
        Ok(render(&claims))
    }

    fn check_signature(&self, token: &str) -> Result<Map<String, Value>, AuthError> {
        let header = parse_header(token)?;
        if header.alg != "RS256" {
            return Err(AuthError::UnsupportedAlgorithm(header.alg));
        }
        let key = header.kid.as_deref().and_then(|kid| self.inner.keys.get(kid)).ok_or(AuthError::UnknownKey)?;
        // The library checks the algorithm and the signature only; the claims are checked below,
        // each with its own error.
        let mut validation = Validation::new(Algorithm::RS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation).map_err(|err| {
            use jsonwebtoken::errors::ErrorKind;
            match err.kind() {
                ErrorKind::InvalidSignature | ErrorKind::InvalidRsaKey(_) | ErrorKind::Provider(_) => {
                    AuthError::BadSignature
                }
                _ => AuthError::Malformed,
            }
        })?;
        Ok(data.claims)
    }

    fn check_claims(&self, claims: &Map<String, Value>, required_scopes: &[&str], now: u64) -> Result<(), AuthError> {
        if claims.get("iss").and_then(Value::as_str) != Some(self.inner.issuer.as_str()) {
            return Err(AuthError::InvalidIssuer);
        }
        self.check_audience(claims)?;
        let now = now as f64;
        match claims.get("exp").and_then(Value::as_f64) {
            Some(exp) if exp > now => {}
            _ => return Err(AuthError::Expired),
        }
        if let Some(nbf) = claims.get("nbf") {
            if nbf.as_f64().is_none_or(|nbf| nbf > now) {
                return Err(AuthError::NotYetValid);
            }
        }
        if let Some(iat) = claims.get("iat") {
            if iat.as_f64().is_none_or(|iat| iat > now) {
                return Err(AuthError::IssuedInFuture);
            }
        }
        if !required_scopes.is_empty() {
            let scopes = token_scopes(claims).unwrap_or_default();
            if !required_scopes.iter().any(|needed| scopes.iter().any(|have| have == needed)) {
                return Err(AuthError::InsufficientScope);
            }
        }
        if claims.get("token_use").and_then(Value::as_str) != Some("access") {
            return Err(AuthError::NotAnAccessToken);
        }
        Ok(())
    }

    /// API Gateway evaluates `aud` when present (a string or an array), and `client_id` only
    /// when there is no `aud`.
    fn check_audience(&self, claims: &Map<String, Value>) -> Result<(), AuthError> {
        let accepted = |value: &str| self.inner.audiences.iter().any(|aud| aud == value);
        let ok = match (claims.get("aud"), claims.get("client_id")) {
            (Some(Value::String(aud)), _) => accepted(aud),
            (Some(Value::Array(auds)), _) => auds.iter().filter_map(Value::as_str).any(accepted),
            (Some(_), _) => false,
            (None, Some(Value::String(client_id))) => accepted(client_id),
            (None, _) => false,
        };
        if ok {
            Ok(())
        } else {
            Err(AuthError::InvalidAudience)
        }
    }
}

/// The two header fields that matter, read without trusting anything else in it.
#[derive(Deserialize)]
struct TokenHeader {
    alg: String,
    kid: Option<String>,
}

fn parse_header(token: &str) -> Result<TokenHeader, AuthError> {
    let encoded = token.split('.').next().unwrap_or_default();
    let json = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| AuthError::Malformed)?;
    serde_json::from_slice(&json).map_err(|_| AuthError::Malformed)
}

fn strip_bearer(value: &str) -> &str {
    let value = value.trim();
    if value.eq_ignore_ascii_case("bearer") {
        return "";
    }
    match value.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") => value[7..].trim_start(),
        _ => value,
    }
}

/// The token's scopes: `scope` as a space-separated string, or `scp` as a string or an array.
fn token_scopes(claims: &Map<String, Value>) -> Option<Vec<String>> {
    let split = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(scope)), _) => Some(split(scope)),
        (_, Some(Value::String(scp))) => Some(split(scp)),
        (_, Some(Value::Array(scp))) => Some(scp.iter().filter_map(Value::as_str).map(str::to_string).collect()),
        _ => None,
    }
}

fn render(claims: &Map<String, Value>) -> JwtClaims {
    let rendered = claims
        .iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(name, value)| (name.clone(), render_value(value)))
        .collect();
    JwtClaims { claims: rendered, scopes: token_scopes(claims) }
}

/// One claim value as API Gateway renders it into the request context.
fn render_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            // A whole float (1.7e9) is written as an integer, as API Gateway shows `exp`.
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => format!("[{}]", items.iter().map(render_value).collect::<Vec<_>>().join(" ")),
        Value::Object(_) => value.to_string(),
        Value::Null => String::new(),
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claims_render_like_api_gateway() {
        let claims = json!({
            "sub": "abc", "exp": 1700000000, "auth_time": 1.7e9, "email_verified": true,
            "cognito:groups": ["admin", "users"], "ratio": 0.5, "nothing": null,
            "scope": "openid imgpipe/api",
        });
        let rendered = render(claims.as_object().unwrap());
        assert_eq!(rendered.claims["sub"], "abc");
        assert_eq!(rendered.claims["exp"], "1700000000");
        assert_eq!(rendered.claims["auth_time"], "1700000000");
        assert_eq!(rendered.claims["email_verified"], "true");
        assert_eq!(rendered.claims["cognito:groups"], "[admin users]");
        assert_eq!(rendered.claims["ratio"], "0.5");
        assert!(!rendered.claims.contains_key("nothing"));
        assert_eq!(rendered.scopes, Some(vec!["openid".to_string(), "imgpipe/api".to_string()]));
    }

    #[test]
    fn bearer_prefix_is_optional_and_case_insensitive() {
        assert_eq!(strip_bearer("Bearer abc"), "abc");
        assert_eq!(strip_bearer("bearer   abc "), "abc");
        assert_eq!(strip_bearer("abc"), "abc");
        assert_eq!(strip_bearer("Bearer"), "");
        assert_eq!(strip_bearer("  "), "");
        assert_eq!(strip_bearer("Beärer x"), "Beärer x");
    }

    #[test]
    fn www_authenticate_names_the_fault() {
        assert_eq!(
            AuthError::Expired.www_authenticate(&[]),
            r#"Bearer scope="" error="invalid_token" error_description="the token has expired""#
        );
        assert!(AuthError::InsufficientScope
            .www_authenticate(&["a", "b"])
            .starts_with(r#"Bearer scope="a b" error="insufficient_scope""#));
    }
}
