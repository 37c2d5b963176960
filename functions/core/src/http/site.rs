//! The public routes beside the API: `GET /config` (what the page needs to know: the upload
//! limits, so the page never repeats them, and how to sign in) and `GET /health`.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::Json;
use serde::Serialize;

use super::presign::ACCEPTED_FORMATS;
use super::ApiState;
use crate::config::AuthSettings;

/// `GET /config`.
#[derive(Debug, Serialize)]
pub struct PageConfig {
    pub limits: UploadLimits,
    /// How to sign in; `null` when the API has no sign-in configured.
    pub auth: Option<AuthSettings>,
}

/// What an upload may be: the server checks all of it again.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadLimits {
    /// Largest upload, in bytes.
    pub max_bytes: u64,
    /// Smallest and largest side, in pixels.
    pub min_side: u32,
    pub max_side: u32,
    /// The content types accepted, e.g. `image/jpeg`.
    pub content_types: Vec<&'static str>,
}

/// The public routes.
pub fn router(state: Arc<ApiState>) -> axum::Router {
    axum::Router::new().route("/config", get(page_config)).route("/health", get(health)).with_state(state)
}

async fn page_config(State(state): State<Arc<ApiState>>) -> Json<PageConfig> {
    let limits = &state.config.limits;
    Json(PageConfig {
        limits: UploadLimits {
            max_bytes: limits.max_bytes,
            min_side: limits.min_side,
            max_side: limits.max_side,
            content_types: ACCEPTED_FORMATS.iter().map(|f| f.content_type()).collect(),
        },
        auth: state.config.auth.clone(),
    })
}

async fn health() -> &'static str {
    "ok"
}
