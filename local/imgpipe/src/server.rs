//! `imgpipe serve`'s HTTP app: the API routers (the very ones the Lambdas serve) behind the
//! JWT authorizer, the sign-in service at `/auth`, and the frontend's static files, all behind
//! the Host check.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{any_service, get};
use imgpipe_core::http::ApiState;

use crate::accounts::AUTH_PATH;
use crate::gate::{self, AllowedHosts, PageOrigins};
use auth::AuthService;

/// The whole HTTP app: the API (its routes but `/config` and `/health` need a token), the
/// sign-in service at [`AUTH_PATH`], then the page: core's embedded copy of `frontend/` (as the
/// Query function serves it), or the files of `frontend` when given (for page development);
/// requests for other host names are refused before any of it.
pub fn app(api: Arc<ApiState>, frontend: Option<PathBuf>, auth: &AuthService, port: u16) -> axum::Router {
    let app = imgpipe_core::http::router(api.clone())
        .route_layer(middleware::from_fn_with_state(auth.verifier(), gate::require_token))
        .nest_service(AUTH_PATH, sign_in_routes(auth, port));
    let app = match frontend {
        Some(dir) => app.fallback_service(get(static_file).with_state(Arc::new(dir))),
        None => app.merge(imgpipe_core::http::frontend::router(&api)),
    };
    app.layer(middleware::from_fn_with_state(AllowedHosts::loopback(port), gate::check_host))
}

/// The sign-in service, with CORS for the page's own origins on the endpoints the page `fetch`es.
fn sign_in_routes(auth: &AuthService, port: u16) -> axum::Router {
    let cors = middleware::from_fn_with_state(PageOrigins::loopback(port), gate::sign_in_cors);
    let service = auth.router();
    axum::Router::new()
        .route("/oauth2/token", any_service(service.clone()).layer(cors.clone()))
        .route("/oauth2/revoke", any_service(service.clone()).layer(cors))
        .fallback_service(service)
}

async fn static_file(State(root): State<Arc<PathBuf>>, req: Request) -> Response {
    let path = req.uri().path();
    let Some(file) = resolve(&root, path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    match tokio::fs::read(&file).await {
        Ok(bytes) => {
            ([(header::CONTENT_TYPE, content_type(&file)), (header::CACHE_CONTROL, "no-cache")], Body::from(bytes))
                .into_response()
        }
        Err(_) => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// Maps a URL path to a file under `root`; `None` for anything that would leave it.
fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let rel = url_path.trim_start_matches('/');
    let rel = if rel.is_empty() || rel.ends_with('/') { format!("{rel}index.html") } else { rel.to_string() };
    let rel = Path::new(&rel);
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let full = root.join(rel);
    full.is_file().then_some(full)
}

/// The type the embedded page would be served with; files of other types are not the page's.
fn content_type(path: &Path) -> &'static str {
    path.to_str().and_then(imgpipe_core::http::frontend::content_type).unwrap_or("application/octet-stream")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_frontend() {
        let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../frontend"));
        assert_eq!(resolve(root, "/../Cargo.toml"), None);
        assert_eq!(resolve(root, "/%2e%2e/Cargo.toml"), None);
        assert_eq!(resolve(root, "/nope.js"), None);
        assert_eq!(resolve(Path::new("/"), "/etc/../etc/passwd"), None);
    }
}
