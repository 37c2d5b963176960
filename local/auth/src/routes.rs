//! The HTTP endpoints, with Cognito's paths, parameters and error shapes.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Form, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::tokens::{self, Session};
use crate::users::UserError;
use crate::{html, throttle, AuthConfig, Inner};

/// Form bodies are a few hundred bytes; anything over this is refused unread.
const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest accepted value of any request parameter.
const MAX_PARAM_BYTES: usize = 2048;

type Shared = State<Arc<Inner>>;

pub(crate) fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/oauth2/authorize", get(authorize_page).post(authorize_submit))
        .route("/oauth2/token", post(token))
        .route("/oauth2/revoke", post(revoke))
        .route("/logout", get(logout))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(inner)
}

// ---------------------------------------------------------------------------------------------
// Discovery and keys

#[derive(Serialize)]
struct Discovery<'a> {
    issuer: &'a str,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    revocation_endpoint: String,
    end_session_endpoint: String,
    response_types_supported: [&'static str; 1],
    grant_types_supported: [&'static str; 2],
    subject_types_supported: [&'static str; 1],
    id_token_signing_alg_values_supported: [&'static str; 1],
    token_endpoint_auth_methods_supported: [&'static str; 1],
    code_challenge_methods_supported: [&'static str; 1],
    scopes_supported: &'a [String],
}

async fn discovery(State(inner): Shared) -> Response {
    let issuer = inner.config.issuer.as_str();
    let body = Discovery {
        issuer,
        authorization_endpoint: format!("{issuer}/oauth2/authorize"),
        token_endpoint: format!("{issuer}/oauth2/token"),
        jwks_uri: format!("{issuer}/.well-known/jwks.json"),
        revocation_endpoint: format!("{issuer}/oauth2/revoke"),
        end_session_endpoint: format!("{issuer}/logout"),
        response_types_supported: ["code"],
        grant_types_supported: ["authorization_code", "refresh_token"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
        token_endpoint_auth_methods_supported: ["none"],
        code_challenge_methods_supported: ["S256"],
        scopes_supported: &inner.config.scopes,
    };
    Json(body).into_response()
}

async fn jwks(State(inner): Shared) -> Response {
    Json(inner.key.jwks()).into_response()
}

// ---------------------------------------------------------------------------------------------
// Authorization endpoint: the sign-in form

/// The authorization request's parameters (others, such as `prompt` or `lang`, are ignored).
#[derive(Debug, Default, Deserialize)]
struct AuthorizeParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    scope: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    nonce: Option<String>,
}

impl AuthorizeParams {
    fn fields(&self) -> Vec<(&'static str, &str)> {
        [
            ("response_type", &self.response_type),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("state", &self.state),
            ("scope", &self.scope),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
            ("nonce", &self.nonce),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|value| (name, value)))
        .collect()
    }
}

#[derive(Debug, Deserialize)]
struct SignInForm {
    #[serde(flatten)]
    params: AuthorizeParams,
    username: Option<String>,
    password: Option<String>,
}

/// A checked authorization request.
struct AuthRequest {
    redirect_uri: String,
    state: Option<String>,
    scopes: Vec<String>,
    code_challenge: String,
    nonce: Option<String>,
}

/// What is wrong with an authorization request: either shown on a page (the client or the
/// callback cannot be trusted, so nothing is sent there) or sent back to the callback.
enum Fault {
    Page(String),
    Redirect { redirect_uri: String, state: Option<String>, error: &'static str, description: &'static str },
}

impl IntoResponse for Fault {
    fn into_response(self) -> Response {
        match self {
            Fault::Page(message) => html_response(StatusCode::BAD_REQUEST, html::error_page(&message), None),
            Fault::Redirect { redirect_uri, state, error, description } => {
                let mut pairs = vec![("error", error), ("error_description", description)];
                if let Some(state) = state.as_deref() {
                    pairs.push(("state", state));
                }
                found(&with_query(&redirect_uri, &pairs))
            }
        }
    }
}

fn check_request(config: &AuthConfig, params: &AuthorizeParams) -> Result<AuthRequest, Fault> {
    if let Some((name, _)) = params.fields().into_iter().find(|(_, value)| value.len() > MAX_PARAM_BYTES) {
        return Err(Fault::Page(format!("The parameter {name} is too long.")));
    }
    match params.client_id.as_deref() {
        None => return Err(Fault::Page("The request has no client_id.".into())),
        Some(id) if id != config.client_id => {
            return Err(Fault::Page("The client_id is not a known app client.".into()))
        }
        Some(_) => {}
    }
    let redirect_uri = match params.redirect_uri.as_deref() {
        Some(uri) if config.redirect_uris.iter().any(|allowed| allowed == uri) => uri.to_string(),
        Some(_) => return Err(Fault::Page("The redirect_uri is not registered for this client.".into())),
        None => return Err(Fault::Page("The request has no redirect_uri.".into())),
    };
    let state = params.state.clone();
    let back = |error, description| Fault::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        error,
        description,
    };
    match params.response_type.as_deref() {
        Some("code") => {}
        Some(_) => return Err(back("unsupported_response_type", "only response_type=code is supported")),
        None => return Err(back("invalid_request", "response_type is missing")),
    }
    if params.code_challenge_method.as_deref() != Some("S256") {
        return Err(back("invalid_request", "PKCE is required: code_challenge_method must be S256"));
    }
    let code_challenge = match params.code_challenge.as_deref() {
        Some(challenge) if is_s256_challenge(challenge) => challenge.to_string(),
        _ => return Err(back("invalid_request", "code_challenge must be 43 base64url characters")),
    };
    let scopes = match params.scope.as_deref() {
        None => config.scopes.clone(),
        Some(scope) => {
            let mut scopes: Vec<String> = Vec::new();
            for requested in scope.split_whitespace() {
                if !config.scopes.iter().any(|allowed| allowed == requested) {
                    return Err(back("invalid_scope", "a requested scope is not allowed for this client"));
                }
                if !scopes.iter().any(|s| s == requested) {
                    scopes.push(requested.to_string());
                }
            }
            if scopes.is_empty() {
                config.scopes.clone()
            } else {
                scopes
            }
        }
    };
    Ok(AuthRequest { redirect_uri, state, scopes, code_challenge, nonce: params.nonce.clone() })
}

async fn authorize_page(State(inner): Shared, params: Result<Query<AuthorizeParams>, QueryRejection>) -> Response {
    let Ok(Query(params)) = params else {
        return Fault::Page("The sign-in request is malformed.".into()).into_response();
    };
    if let Err(fault) = check_request(&inner.config, &params) {
        return fault.into_response();
    }
    form_response(&inner.config, StatusCode::OK, &params, "", None)
}

async fn authorize_submit(
    State(inner): Shared,
    ClientIp(ip): ClientIp,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return Fault::Page("The sign-in form is malformed.".into()).into_response();
    };
    let request = match check_request(&inner.config, &form.params) {
        Ok(request) => request,
        Err(fault) => return fault.into_response(),
    };
    let username = form.username.as_deref().unwrap_or_default().trim();
    let password = form.password.as_deref().unwrap_or_default();
    let retry = |status, message| form_response(&inner.config, status, &form.params, username, Some(message));
    if username.is_empty() || password.is_empty() {
        return retry(StatusCode::BAD_REQUEST, "Enter your username and password.");
    }
    let keys = throttle::keys(username, ip);
    if !inner.throttle.allows(&keys) {
        return retry(StatusCode::TOO_MANY_REQUESTS, "Too many failed sign-in attempts. Try again later.");
    }
    let user = match check_password(&inner, username, password).await {
        Ok(user) => user,
        Err(UserError::InvalidCredentials) => {
            inner.throttle.failed(&keys);
            tracing::info!(username, ?ip, "sign-in refused: incorrect username or password");
            return retry(StatusCode::OK, "Incorrect username or password.");
        }
        Err(err) => {
            tracing::error!(%err, "sign-in failed");
            return retry(StatusCode::INTERNAL_SERVER_ERROR, "Sign-in is unavailable; see the server log.");
        }
    };
    inner.throttle.succeeded(username);
    let session = Session::new(&user, &inner.config.client_id, request.scopes, request.nonce);
    let code = match inner.grants.insert_code(session, request.redirect_uri.clone(), request.code_challenge) {
        Ok(code) => code,
        Err(err) => {
            tracing::error!(%err, "could not issue an authorization code");
            return retry(StatusCode::INTERNAL_SERVER_ERROR, "Sign-in is unavailable; see the server log.");
        }
    };
    let mut pairs = vec![("code", code.as_str())];
    if let Some(state) = request.state.as_deref() {
        pairs.push(("state", state));
    }
    found(&with_query(&request.redirect_uri, &pairs))
}

/// Runs the argon2 check on a blocking thread, at most as many at once as there are cores.
async fn check_password(inner: &Arc<Inner>, username: &str, password: &str) -> Result<crate::User, UserError> {
    let Ok(_permit) = inner.hash_slots.acquire().await else {
        return Err(UserError::Hash("shutting down".into()));
    };
    let (worker, username, password) = (inner.clone(), username.to_string(), password.to_string());
    tokio::task::spawn_blocking(move || worker.users.verify_password(&username, &password))
        .await
        .unwrap_or_else(|err| Err(UserError::Hash(err.to_string())))
}

fn form_response(
    config: &AuthConfig,
    status: StatusCode,
    params: &AuthorizeParams,
    username: &str,
    error: Option<&str>,
) -> Response {
    let body = html::sign_in_form(&params.fields(), username, error);
    html_response(status, body, Some(config))
}

/// An HTML page that cannot be framed, cached or leak its URL; with `config`, the form may be
/// posted to this origin and its redirect may go to the registered callbacks.
fn html_response(status: StatusCode, body: String, config: Option<&AuthConfig>) -> Response {
    let mut form_action = String::from("'self'");
    for uri in config.map(|c| c.redirect_uris.as_slice()).unwrap_or_default() {
        if let Some(origin) = origin(uri) {
            form_action.push(' ');
            form_action.push_str(origin);
        }
    }
    let csp =
        format!("default-src 'none'; style-src 'unsafe-inline'; form-action {form_action}; frame-ancestors 'none'");
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

/// `scheme://host[:port]` of an http(s) URL.
fn origin(url: &str) -> Option<&str> {
    let start = url.find("://")? + 3;
    let end = url[start..].find(['/', '?', '#']).map_or(url.len(), |i| start + i);
    Some(&url[..end])
}

// ---------------------------------------------------------------------------------------------
// Token endpoint

#[derive(Debug, Deserialize)]
struct TokenParams {
    grant_type: Option<String>,
    client_id: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
}

/// An OAuth 2.0 error answer: `{"error": …, "error_description": …}`, HTTP 400 as Cognito sends.
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: &'static str,
}

fn oauth_error(error: &'static str, description: &'static str) -> OAuthError {
    OAuthError { status: StatusCode::BAD_REQUEST, error, description }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body {
            error: &'static str,
            error_description: &'static str,
        }
        no_store((self.status, Json(Body { error: self.error, error_description: self.description })).into_response())
    }
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

async fn token(State(inner): Shared, form: Result<Form<TokenParams>, FormRejection>) -> Response {
    match exchange(&inner, form).await {
        Ok(tokens) => no_store(Json(tokens).into_response()),
        Err(err) => err.into_response(),
    }
}

async fn exchange(
    inner: &Arc<Inner>,
    form: Result<Form<TokenParams>, FormRejection>,
) -> Result<tokens::Tokens, OAuthError> {
    let Ok(Form(params)) = form else {
        return Err(oauth_error("invalid_request", "the body must be a form (application/x-www-form-urlencoded)"));
    };
    match params.client_id.as_deref() {
        None => return Err(oauth_error("invalid_request", "client_id is missing")),
        Some(id) if id != inner.config.client_id => return Err(oauth_error("invalid_client", "unknown client")),
        Some(_) => {}
    }
    let (session, with_refresh) = match params.grant_type.as_deref() {
        Some("authorization_code") => (redeem_code(inner, &params)?, true),
        Some("refresh_token") => (redeem_refresh(inner, &params)?, false),
        Some(_) => {
            return Err(oauth_error("unsupported_grant_type", "grant_type must be authorization_code or refresh_token"))
        }
        None => return Err(oauth_error("invalid_request", "grant_type is missing")),
    };
    tokens::issue(inner, &session, with_refresh).map_err(|err| {
        tracing::error!(%err, "could not issue tokens");
        OAuthError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "server_error",
            description: "could not issue tokens",
        }
    })
}

fn redeem_code(inner: &Inner, params: &TokenParams) -> Result<Session, OAuthError> {
    let (Some(code), Some(redirect_uri), Some(verifier)) =
        (params.code.as_deref(), params.redirect_uri.as_deref(), params.code_verifier.as_deref())
    else {
        return Err(oauth_error("invalid_request", "code, redirect_uri and code_verifier are required"));
    };
    let invalid = || oauth_error("invalid_grant", "the code is invalid, expired, used, or bound to another request");
    // Taking the code burns it: a second attempt fails whatever this one does.
    let pending = inner.grants.take_code(code).ok_or_else(invalid)?;
    if Some(pending.session.client_id.as_str()) != params.client_id.as_deref()
        || pending.redirect_uri != redirect_uri
        || !pkce_matches(verifier, &pending.code_challenge)
    {
        return Err(invalid());
    }
    still_a_user(inner, pending.session)
}

fn redeem_refresh(inner: &Inner, params: &TokenParams) -> Result<Session, OAuthError> {
    let Some(token) = params.refresh_token.as_deref() else {
        return Err(oauth_error("invalid_request", "refresh_token is required"));
    };
    let invalid = || oauth_error("invalid_grant", "the refresh token is invalid, expired or revoked");
    let session = inner.grants.refresh(token).ok_or_else(invalid)?;
    if Some(session.client_id.as_str()) != params.client_id.as_deref() {
        return Err(invalid());
    }
    still_a_user(inner, session).inspect_err(|_| {
        inner.grants.revoke(token);
    })
}

/// A removed user (or one removed and re-added, with a new `sub`) gets no more tokens.
fn still_a_user(inner: &Inner, session: Session) -> Result<Session, OAuthError> {
    match inner.users.get(&session.username) {
        Ok(Some(user)) if user.sub == session.sub => Ok(session),
        Ok(_) => Err(oauth_error("invalid_grant", "the user no longer exists")),
        Err(err) => {
            tracing::error!(%err, "user store unavailable");
            Err(OAuthError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                error: "server_error",
                description: "user store unavailable",
            })
        }
    }
}

/// RFC 7636 S256: base64url(SHA-256(verifier)) equals the challenge; the verifier is 43 to 128
/// unreserved characters.
fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !well_formed {
        return false;
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let computed = URL_SAFE_NO_PAD.encode(digest.as_ref());
    aws_lc_rs::constant_time::verify_slices_are_equal(computed.as_bytes(), challenge.as_bytes()).is_ok()
}

fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

// ---------------------------------------------------------------------------------------------
// Revocation and sign-out

#[derive(Debug, Deserialize)]
struct RevokeParams {
    token: Option<String>,
    client_id: Option<String>,
}

/// `POST /oauth2/revoke`: forgets a refresh token. 200 with an empty body, also for a token
/// that is unknown already (RFC 7009).
async fn revoke(State(inner): Shared, form: Result<Form<RevokeParams>, FormRejection>) -> Response {
    let Ok(Form(params)) = form else {
        return oauth_error("invalid_request", "the body must be a form").into_response();
    };
    if params.client_id.as_deref() != Some(inner.config.client_id.as_str()) {
        return oauth_error("invalid_client", "unknown client").into_response();
    }
    let Some(token) = params.token.as_deref() else {
        return oauth_error("invalid_request", "token is required").into_response();
    };
    if inner.grants.refresh(token).is_some_and(|session| session.client_id == inner.config.client_id) {
        inner.grants.revoke(token);
    }
    no_store(StatusCode::OK.into_response())
}

#[derive(Debug, Deserialize)]
struct LogoutParams {
    client_id: Option<String>,
    logout_uri: Option<String>,
}

/// `GET /logout?client_id=…&logout_uri=…`: there is no sign-in session to end (the form asks
/// every time), so this only sends the browser to a registered sign-out URL.
async fn logout(State(inner): Shared, params: Result<Query<LogoutParams>, QueryRejection>) -> Response {
    let Ok(Query(params)) = params else {
        return Fault::Page("The sign-out request is malformed.".into()).into_response();
    };
    if params.client_id.as_deref() != Some(inner.config.client_id.as_str()) {
        return Fault::Page("The client_id is not a known app client.".into()).into_response();
    }
    match params.logout_uri {
        Some(uri) if inner.config.logout_uris.contains(&uri) => found(&uri),
        _ => Fault::Page("The logout_uri is not registered for this client.".into()).into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// The client's IP when the server was started with connect info; `None` otherwise.
struct ClientIp(Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip())))
    }
}

/// 302 Found to `location` (a registered URI plus encoded parameters).
fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => no_store((StatusCode::FOUND, [(header::LOCATION, value)]).into_response()),
        Err(_) => Fault::Page("The redirect URI is not usable.".into()).into_response(),
    }
}

/// Appends `pairs` to `uri` as query parameters, percent-encoded.
fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = String::from(uri);
    let mut separator = if uri.contains('?') { '&' } else { '?' };
    for (name, value) in pairs {
        out.push(separator);
        out.push_str(&percent_encode(name));
        out.push('=');
        out.push_str(&percent_encode(value));
        separator = '&';
    }
    out
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(
            with_query("https://a/cb", &[("code", "x"), ("state", "a b&c=d/é")]),
            "https://a/cb?code=x&state=a%20b%26c%3Dd%2F%C3%A9"
        );
        assert_eq!(with_query("https://a/cb?x=1", &[("code", "y")]), "https://a/cb?x=1&code=y");
    }

    #[test]
    fn pkce_s256_matches_the_rfc_example() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(is_s256_challenge(challenge));
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj", challenge));
        assert!(!pkce_matches("short", challenge));
        assert!(!pkce_matches(&"a".repeat(129), challenge));
    }

    #[test]
    fn origins_are_scheme_host_port() {
        assert_eq!(origin("http://127.0.0.1:8080/app/?x#y"), Some("http://127.0.0.1:8080"));
        assert_eq!(origin("https://example.com"), Some("https://example.com"));
        assert_eq!(origin("nope"), None);
    }
}
