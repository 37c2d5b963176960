//! `POST /uploads`: checks the declared file, creates the PENDING record, and returns a signed
//! upload that S3 itself constrains to that key, content type, size and a short expiry.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiState};
use crate::dynamo::{image_pk, owner_pk, recent_sk, IMAGE_SK};
use crate::error::classify_sdk_error;
use crate::post_policy::{sign, PostPolicy, SignedPost, SigningCredentials};
use imgpipe_imaging::Format;

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadRequest {
    pub filename: String,
    pub content_type: String,
    pub size: u64,
}

/// The response body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadResponse {
    pub image_id: String,
    pub key: String,
    pub upload: SignedPost,
    pub expires_at: String,
}

/// The presign route.
pub fn router(state: Arc<ApiState>) -> axum::Router {
    axum::Router::new().route("/uploads", post(create_upload)).with_state(state)
}

/// The format a declared content type stands for, if accepted.
pub fn accepted_format(content_type: &str) -> Option<Format> {
    [Format::Jpeg, Format::Png, Format::Webp, Format::Gif]
        .into_iter()
        .find(|f| f.content_type().eq_ignore_ascii_case(content_type.trim()))
}

async fn create_upload(
    State(state): State<Arc<ApiState>>,
    body: Result<Json<UploadRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<UploadResponse>), ApiError> {
    let Json(req) = body.map_err(|e| {
        ApiError::bad_request(
            "BAD_REQUEST",
            format!("Expected JSON {{filename, contentType, size}}: {}", e.body_text()),
        )
    })?;
    let filename = req.filename.trim();
    if filename.is_empty() || filename.chars().count() > 255 || filename.chars().any(char::is_control) {
        return Err(ApiError::bad_request("BAD_REQUEST", "filename must be 1-255 printable characters."));
    }
    let format = accepted_format(&req.content_type).ok_or_else(|| {
        ApiError::bad_request(
            "UNSUPPORTED_TYPE",
            format!("{:?} is not accepted; upload a JPEG, PNG, WebP or GIF image.", req.content_type),
        )
    })?;
    let max = state.config.limits.max_bytes;
    if req.size == 0 {
        return Err(ApiError::bad_request("EMPTY", "The file is empty."));
    }
    if req.size > max {
        return Err(ApiError::bad_request(
            "TOO_LARGE",
            format!("The file is {} bytes; the limit is {max} bytes.", req.size),
        ));
    }

    let id = uuid::Uuid::new_v4().hyphenated().to_string();
    let key = format!("uploads/{id}.{}", format.extension());
    let now = chrono::Utc::now();
    let expires_at = now + chrono::Duration::seconds(state.config.upload_ttl_seconds as i64);
    let created_at = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let owner = state.config.default_owner.clone();
    let ttl = now.timestamp() + state.config.pending_ttl_seconds as i64;

    state
        .clients
        .dynamo
        .put_item()
        .table_name(&state.config.table_name)
        .item("PK", AttributeValue::S(image_pk(&id)))
        .item("SK", AttributeValue::S(IMAGE_SK.into()))
        .item("GSI1PK", AttributeValue::S(owner_pk(&owner)))
        .item("GSI1SK", AttributeValue::S(recent_sk(&created_at, &id)))
        .item("imageId", AttributeValue::S(id.clone()))
        .item("status", AttributeValue::S("PENDING".into()))
        .item("owner", AttributeValue::S(owner))
        .item("filename", AttributeValue::S(filename.to_string()))
        .item("contentType", AttributeValue::S(format.content_type().into()))
        .item("declaredSize", AttributeValue::N(req.size.to_string()))
        .item("bucket", AttributeValue::S(state.config.input_bucket.clone()))
        .item("key", AttributeValue::S(key.clone()))
        .item("createdAt", AttributeValue::S(created_at.clone()))
        .item("updatedAt", AttributeValue::S(created_at))
        .item("expiresAt", AttributeValue::N(ttl.to_string()))
        .condition_expression("attribute_not_exists(PK)")
        .send()
        .await
        .map_err(|e| ApiError::backend(classify_sdk_error("creating the pending record", &e)))?;

    let creds = signing_credentials(&state).await?;
    let region = state.clients.region();
    let policy = PostPolicy {
        bucket: &state.config.input_bucket,
        key: &key,
        content_type: format.content_type(),
        min_bytes: req.size,
        max_bytes: req.size,
        region: &region,
        now,
        expires_at,
    };
    let upload = sign(&policy, &creds, &state.clients.upload_url(&state.config.input_bucket));
    let expires_at = expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Ok((StatusCode::CREATED, Json(UploadResponse { image_id: id, key, upload, expires_at })))
}

async fn signing_credentials(state: &ApiState) -> Result<SigningCredentials, ApiError> {
    use aws_sdk_s3::config::ProvideCredentials;
    let provider =
        state.clients.sdk.credentials_provider().ok_or_else(|| {
            ApiError::backend(crate::error::StepError::Internal("no AWS credentials configured".into()))
        })?;
    let creds = provider
        .provide_credentials()
        .await
        .map_err(|e| ApiError::backend(crate::error::StepError::Retryable(format!("loading credentials: {e}"))))?;
    Ok(SigningCredentials {
        access_key_id: creds.access_key_id().to_string(),
        secret_access_key: creds.secret_access_key().to_string(),
        session_token: creds.session_token().map(str::to_string),
    })
}
