//! Tokens shaped like Cognito's: an RS256 access token (no `aud`; `client_id`, `scope`,
//! `token_use: "access"`), an ID token (`aud` = client id, `cognito:username`,
//! `token_use: "id"`) and an opaque refresh token.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::keys::KeyError;
use crate::users::User;
use crate::Inner;

/// The token endpoint's answer, and what [`crate::AuthService::issue_tokens`] returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    /// The access token: send it as `Authorization: Bearer …`.
    pub access_token: String,
    /// The ID token, when the `openid` scope was granted.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id_token: Option<String>,
    /// The refresh token; a refresh answer has none (the old one stays valid), as in Cognito.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub refresh_token: Option<String>,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// What a sign-in established, carried by an authorization code and a refresh token.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) username: String,
    pub(crate) sub: String,
    pub(crate) client_id: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) auth_time: u64,
    /// Cognito's `origin_jti`: one per sign-in, the same in every token refreshed from it.
    pub(crate) origin_jti: String,
    pub(crate) nonce: Option<String>,
}

impl Session {
    pub(crate) fn new(user: &User, client_id: &str, scopes: Vec<String>, nonce: Option<String>) -> Self {
        Session {
            username: user.username.clone(),
            sub: user.sub.clone(),
            client_id: client_id.to_string(),
            scopes,
            auth_time: now_secs(),
            origin_jti: uuid::Uuid::new_v4().to_string(),
            nonce,
        }
    }
}

#[derive(Serialize)]
struct AccessClaims<'a> {
    sub: &'a str,
    iss: &'a str,
    client_id: &'a str,
    origin_jti: &'a str,
    event_id: &'a str,
    token_use: &'static str,
    scope: String,
    auth_time: u64,
    exp: u64,
    iat: u64,
    jti: String,
    username: &'a str,
    version: u8,
}

#[derive(Serialize)]
struct IdClaims<'a> {
    at_hash: String,
    sub: &'a str,
    aud: &'a str,
    iss: &'a str,
    #[serde(rename = "cognito:username")]
    cognito_username: &'a str,
    origin_jti: &'a str,
    event_id: &'a str,
    token_use: &'static str,
    auth_time: u64,
    exp: u64,
    iat: u64,
    jti: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
}

/// Signs a fresh access token (and ID token when `openid` is granted) for `session`; with
/// `with_refresh`, also a refresh token remembered by the service.
pub(crate) fn issue(inner: &Inner, session: &Session, with_refresh: bool) -> Result<Tokens, KeyError> {
    let config = &inner.config;
    let iat = now_secs();
    let exp = iat + config.token_ttl.as_secs();
    let event_id = uuid::Uuid::new_v4().to_string();
    let access_token = inner.key.sign(&AccessClaims {
        sub: &session.sub,
        iss: &config.issuer,
        client_id: &session.client_id,
        origin_jti: &session.origin_jti,
        event_id: &event_id,
        token_use: "access",
        scope: session.scopes.join(" "),
        auth_time: session.auth_time,
        exp,
        iat,
        jti: uuid::Uuid::new_v4().to_string(),
        username: &session.username,
        version: 2,
    })?;
    let id_token = if session.scopes.iter().any(|s| s == "openid") {
        Some(inner.key.sign(&IdClaims {
            at_hash: at_hash(&access_token),
            sub: &session.sub,
            aud: &session.client_id,
            iss: &config.issuer,
            cognito_username: &session.username,
            origin_jti: &session.origin_jti,
            event_id: &event_id,
            token_use: "id",
            auth_time: session.auth_time,
            exp,
            iat,
            jti: uuid::Uuid::new_v4().to_string(),
            nonce: session.nonce.as_deref(),
        })?)
    } else {
        None
    };
    let refresh_token = if with_refresh {
        Some(inner.grants.insert_refresh(session.clone(), iat + config.refresh_token_ttl.as_secs())?)
    } else {
        None
    };
    Ok(Tokens {
        access_token,
        id_token,
        refresh_token,
        token_type: "Bearer".into(),
        expires_in: config.token_ttl.as_secs(),
    })
}

/// OIDC `at_hash`: base64url of the left half of SHA-256 of the access token.
fn at_hash(access_token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
}

/// 32 random bytes, base64url: an authorization code or a refresh token.
pub(crate) fn random_token() -> Result<String, KeyError> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| KeyError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
