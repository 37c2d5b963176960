//! `imgpipe serve`: the API routers (the very ones the Lambdas serve) and the frontend's
//! static files, on one loopback port.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use imgpipe_core::http::ApiState;

/// The repo's `frontend/` directory, where this binary was built from.
pub const DEFAULT_FRONTEND: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../frontend");

/// The whole HTTP app: API first, then static files from `frontend`.
pub fn app(api: Arc<ApiState>, frontend: PathBuf) -> axum::Router {
    imgpipe_core::http::router(api).fallback_service(get(static_file).with_state(Arc::new(frontend)))
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

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_frontend() {
        let root = Path::new(DEFAULT_FRONTEND);
        assert_eq!(resolve(root, "/../Cargo.toml"), None);
        assert_eq!(resolve(root, "/%2e%2e/Cargo.toml"), None);
        assert_eq!(resolve(root, "/nope.js"), None);
        assert_eq!(resolve(Path::new("/"), "/etc/../etc/passwd"), None);
    }
}
