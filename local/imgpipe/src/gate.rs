//! What stands in front of the local API as API Gateway stands in front of the Lambdas: the
//! JWT authorizer (bearer tokens checked as API Gateway checks them, the claims handed to the
//! handlers in the request context) and, because the server is on loopback, a Host check that
//! keeps web pages on other names (DNS rebinding) from reaching it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::accounts::API_SCOPE;

/// Paths of the core router that need no token, as in `template.yaml` (`AuthorizationType: NONE`).
pub const PUBLIC_API_PATHS: [&str; 2] = ["/config", "/health"];

/// The JWT authorizer: verifies the bearer token of every API route but the public ones, and
/// hands its claims to the handlers; otherwise answers 401 as API Gateway does.
pub async fn require_token(State(verifier): State<auth::Verifier>, mut req: Request, next: Next) -> Response {
    if PUBLIC_API_PATHS.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    let bearer = match req.headers().get(header::AUTHORIZATION).map(|value| value.to_str()) {
        None => Err(auth::AuthError::MissingToken),
        Some(Err(_)) => Err(auth::AuthError::Malformed),
        Some(Ok(value)) => Ok(value),
    };
    match bearer.and_then(|bearer| verifier.verify(bearer, &[API_SCOPE])) {
        Ok(claims) => {
            imgpipe_core::http::auth::attach_jwt_claims(&mut req, claims.claims, claims.scopes);
            next.run(req).await
        }
        Err(err) => {
            tracing::info!(path = req.uri().path(), reason = %err, "request refused: 401");
            unauthorized(&err)
        }
    }
}

/// API Gateway's answer to a refused token: 401, `{"message":"Unauthorized"}` and a
/// `www-authenticate` header naming the fault.
pub fn unauthorized(err: &auth::AuthError) -> Response {
    #[derive(serde::Serialize)]
    struct Body {
        message: &'static str,
    }
    let mut response = (StatusCode::UNAUTHORIZED, Json(Body { message: "Unauthorized" })).into_response();
    if let Ok(value) = HeaderValue::from_str(&err.www_authenticate(&[API_SCOPE])) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// The names a browser may use for this server: `127.0.0.1`, `localhost` and `[::1]` with its
/// port (and without it on port 80).
#[derive(Debug, Clone)]
pub struct AllowedHosts(Arc<Vec<String>>);

impl AllowedHosts {
    /// The loopback names for `port`.
    pub fn loopback(port: u16) -> Self {
        let mut hosts = Vec::new();
        for name in ["127.0.0.1", "localhost", "[::1]"] {
            hosts.push(format!("{name}:{port}"));
            if port == 80 {
                hosts.push(name.to_string());
            }
        }
        AllowedHosts(Arc::new(hosts))
    }

    /// Whether `host` (a Host header or an absolute URI's authority) is one of the names.
    pub fn allows(&self, host: &str) -> bool {
        self.0.iter().any(|allowed| allowed.eq_ignore_ascii_case(host))
    }
}

/// Refuses a request whose Host header (and absolute-form target, if any) is not a loopback
/// name of this server: a page on another name that resolves to 127.0.0.1 must not reach it.
pub async fn check_host(State(hosts): State<AllowedHosts>, req: Request, next: Next) -> Response {
    let header_ok = match req.headers().get_all(header::HOST).iter().collect::<Vec<_>>().as_slice() {
        [one] => one.to_str().is_ok_and(|host| hosts.allows(host)),
        _ => false,
    };
    let target_ok = req.uri().authority().is_none_or(|authority| hosts.allows(authority.as_str()));
    if header_ok && target_ok {
        return next.run(req).await;
    }
    tracing::info!(host = ?req.headers().get(header::HOST), "request refused: not addressed to this server's loopback names");
    (StatusCode::MISDIRECTED_REQUEST, "This server answers only to 127.0.0.1, localhost and [::1] on its port.\n")
        .into_response()
}

/// The page's own origins (`http://127.0.0.1:PORT`, `http://localhost:PORT`).
#[derive(Debug, Clone)]
pub struct PageOrigins(Arc<Vec<String>>);

impl PageOrigins {
    /// The origins of the page served on `port`.
    pub fn loopback(port: u16) -> Self {
        PageOrigins(Arc::new(vec![format!("http://127.0.0.1:{port}"), format!("http://localhost:{port}")]))
    }
}

/// CORS for the sign-in service's token and revocation endpoints, as Cognito answers them: a
/// page opened as `localhost` calls the issuer on `127.0.0.1`, another origin. Only the page's own
/// origins are named; others get no CORS headers (the browser then keeps the answer from them).
pub async fn sign_in_cors(State(origins): State<PageOrigins>, req: Request, next: Next) -> Response {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
        .filter(|origin| origins.0.iter().any(|allowed| allowed == origin))
        .and_then(|origin| HeaderValue::from_str(origin).ok());
    let preflight = req.method() == axum::http::Method::OPTIONS;
    let mut response = if preflight { StatusCode::NO_CONTENT.into_response() } else { next.run(req).await };
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if preflight {
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST"));
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("content-type, accept"));
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use imgpipe_core::http::auth::Caller;
    use tower::ServiceExt as _;

    /// A sign-in service in a fresh directory with one user, and an app whose `/images` answers
    /// the caller's `sub` behind [`require_token`] (`/config` is public).
    fn fixture() -> (std::path::PathBuf, auth::AuthService, axum::Router) {
        let dir = std::env::temp_dir().join(format!("imgpipe-gate-{}", uuid::Uuid::new_v4()));
        let service = auth::AuthService::open(dir.join("auth"), crate::accounts::auth_config(8080)).unwrap();
        service.users().add("alice", "correct horse battery").unwrap();
        let app = axum::Router::new()
            .route("/images", get(|caller: Caller| async move { caller.sub }))
            .route("/config", get(|| async { "public" }))
            .route_layer(axum::middleware::from_fn_with_state(service.verifier(), require_token));
        (dir, service, app)
    }

    async fn call(app: &axum::Router, path: &str, authorization: &[&[u8]]) -> (StatusCode, String, Option<String>) {
        let mut req = Request::get(path);
        for value in authorization {
            req = req.header(header::AUTHORIZATION, HeaderValue::from_bytes(value).unwrap());
        }
        let resp = app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        let status = resp.status();
        let challenge = resp.headers().get(header::WWW_AUTHENTICATE).map(|v| v.to_str().unwrap().to_string());
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
        (status, String::from_utf8_lossy(&body).into_owned(), challenge)
    }

    #[tokio::test]
    async fn the_verified_sub_reaches_the_handler_and_faults_are_401() {
        let (dir, service, app) = fixture();
        let tokens = service.issue_tokens("alice").unwrap();
        let sub = service.users().get("alice").unwrap().unwrap().sub;
        let bearer = format!("Bearer {}", tokens.access_token);
        assert_eq!(call(&app, "/images", &[bearer.as_bytes()]).await.1, sub);
        assert_eq!(call(&app, "/config", &[]).await, (StatusCode::OK, "public".into(), None));
        let huge = format!("Bearer {}", "a".repeat(100_000));
        let id_token = format!("Bearer {}", tokens.id_token.unwrap());
        for fault in
            [&b""[..], b"Bearer", b"Basic YWxpY2U6cHc=", b"Bearer \xff\xfe", huge.as_bytes(), id_token.as_bytes()]
        {
            let (status, body, challenge) = call(&app, "/images", &[fault]).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{:?}", String::from_utf8_lossy(fault));
            assert_eq!(body, r#"{"message":"Unauthorized"}"#);
            assert!(challenge.is_some_and(|c| c.starts_with("Bearer scope=\"imgpipe/images\" error=")));
        }
        // A second Authorization header does not replace a bad first one.
        let (status, _, _) = call(&app, "/images", &[b"Bearer nope", bearer.as_bytes()]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn only_loopback_names_with_the_port_are_allowed() {
        let hosts = AllowedHosts::loopback(8080);
        for good in ["127.0.0.1:8080", "localhost:8080", "LOCALHOST:8080", "[::1]:8080"] {
            assert!(hosts.allows(good), "{good}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "127.0.0.1",
            "localhost",
            "127.0.0.1:8081",
            "127.0.0.1:8080.evil.example",
            "localhost.:8080",
            "",
            "127.0.0.1:8080 ",
        ] {
            assert!(!hosts.allows(bad), "{bad:?}");
        }
        assert!(AllowedHosts::loopback(80).allows("localhost"));
    }
}
