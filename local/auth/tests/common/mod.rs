//! Shared test fixtures: a service in a fresh directory, PKCE, and HTTP through the real router.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use auth::{AuthConfig, AuthService};
use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use tower::ServiceExt as _;

pub const ISSUER: &str = "http://127.0.0.1:8080/auth";
pub const CLIENT_ID: &str = "imgpipe-local";
pub const REDIRECT_URI: &str = "http://127.0.0.1:8080/";
pub const PASSWORD: &str = "correct horse battery";

/// A directory under the system temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("auth-test-{}", uuid_like()));
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn uuid_like() -> String {
    let mut bytes = [0u8; 12];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    URL_SAFE_NO_PAD.encode(bytes).replace(['-', '_'], "x")
}

pub fn config() -> AuthConfig {
    let mut config = AuthConfig::new(ISSUER, CLIENT_ID, vec![REDIRECT_URI.to_string()]);
    config.scopes = vec!["openid".into(), "imgpipe/api".into()];
    config
}

/// A service in a fresh directory with one user, `alice`.
pub fn service() -> (TempDir, AuthService) {
    let dir = TempDir::new();
    let service = AuthService::open(dir.path().join("auth"), config()).unwrap();
    service.users().add("alice", PASSWORD).unwrap();
    (dir, service)
}

pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    Pkce { challenge: URL_SAFE_NO_PAD.encode(digest.as_ref()), verifier }
}

pub fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

/// The authorization request's parameters for a fresh PKCE pair.
pub fn authorize_params(pkce: &Pkce, state: &str) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("client_id", CLIENT_ID.into()),
        ("redirect_uri", REDIRECT_URI.into()),
        ("state", state.into()),
        ("scope", "openid imgpipe/api".into()),
        ("code_challenge", pkce.challenge.clone()),
        ("code_challenge_method", "S256".into()),
    ]
}

pub fn pairs<'a>(params: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    params.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

pub struct Reply {
    pub status: StatusCode,
    pub location: Option<String>,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.body))
    }

    /// A query parameter of the redirect target.
    pub fn location_param(&self, name: &str) -> Option<String> {
        let location = self.location.as_deref()?;
        let query = location.split_once('?')?.1;
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == name).then(|| decode(v))
        })
    }
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

async fn reply(response: Response<Body>) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let location = headers.get(header::LOCATION).map(|v| v.to_str().unwrap().to_string());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    Reply { status, location, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
}

pub async fn get(service: &AuthService, uri: &str) -> Reply {
    let request = Request::get(uri).body(Body::empty()).unwrap();
    reply(service.router().oneshot(request).await.unwrap()).await
}

pub async fn post_form(service: &AuthService, uri: &str, body: String) -> Reply {
    let request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    reply(service.router().oneshot(request).await.unwrap()).await
}

/// Signs in as `username` through the form and returns the redirect.
pub async fn sign_in(service: &AuthService, pkce: &Pkce, state: &str, username: &str, password: &str) -> Reply {
    let mut fields = authorize_params(pkce, state);
    fields.push(("username", username.into()));
    fields.push(("password", password.into()));
    post_form(service, "/oauth2/authorize", form(&pairs(&fields))).await
}

/// Exchanges a code at the token endpoint.
pub async fn exchange(service: &AuthService, code: &str, verifier: &str, redirect_uri: &str, client_id: &str) -> Reply {
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("client_id", client_id),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ]);
    post_form(service, "/oauth2/token", body).await
}

/// The whole flow for alice: returns the token endpoint's JSON.
pub async fn tokens_for_alice(service: &AuthService) -> serde_json::Value {
    let pkce = pkce();
    let redirect = sign_in(service, &pkce, "s", "alice", PASSWORD).await;
    assert_eq!(redirect.status, StatusCode::FOUND, "{}", redirect.body);
    let code = redirect.location_param("code").unwrap();
    let reply = exchange(service, &code, &pkce.verifier, REDIRECT_URI, CLIENT_ID).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.json()
}

/// The claims of a JWT, read without checking anything (for asserting what was issued).
pub fn payload(token: &str) -> serde_json::Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

pub fn header_of(token: &str) -> serde_json::Value {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}
