//! `POST /uploads`: checks the declared file, creates the PENDING record, and returns a signed
//! upload that S3 itself constrains to that key, content type, size and a short expiry.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::{ApiError, ApiState, ErrorCode};
use crate::post_policy::{sign, PostPolicy, SignedPost, SigningCredentials};
use crate::table::ImageRecord;
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

/// The formats an upload may declare.
pub const ACCEPTED_FORMATS: [Format; 4] = [Format::Jpeg, Format::Png, Format::Webp, Format::Gif];

/// The format a declared content type stands for, if accepted.
pub fn accepted_format(content_type: &str) -> Option<Format> {
    ACCEPTED_FORMATS.into_iter().find(|f| f.content_type().eq_ignore_ascii_case(content_type.trim()))
}

async fn create_upload(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    body: Result<Json<UploadRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<UploadResponse>), ApiError> {
    let Json(req) = body.map_err(|e| {
        ApiError::bad_request(
            ErrorCode::BadRequest,
            format!("Expected JSON {{filename, contentType, size}}: {}", e.body_text()),
        )
    })?;
    let format = check_request(&req, state.config.limits.max_bytes)?;
    let id = uuid::Uuid::new_v4().hyphenated().to_string();
    let key = format!("uploads/{id}.{}", format.extension());
    let now = chrono::Utc::now();
    let expires_at = now + chrono::Duration::seconds(state.config.upload_ttl_seconds as i64);
    let record = pending_record(&state, &req, format, &id, &key, &caller.sub, now);
    state.table().put_pending(&record).await.map_err(ApiError::backend)?;

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

/// The accepted format of a declared upload, or why it is refused.
fn check_request(req: &UploadRequest, max_bytes: u64) -> Result<Format, ApiError> {
    let filename = req.filename.trim();
    if filename.is_empty()
        || filename.chars().count() > 255
        || filename.chars().any(|c| c.is_control() || is_format_char(c))
    {
        return Err(ApiError::bad_request(
            ErrorCode::BadRequest,
            "filename must be 1-255 printable characters, without direction or invisible formatting marks.",
        ));
    }
    let format = accepted_format(&req.content_type).ok_or_else(|| {
        ApiError::bad_request(
            ErrorCode::UnsupportedType,
            format!("{:?} is not accepted; upload a JPEG, PNG, WebP or GIF image.", req.content_type),
        )
    })?;
    if req.size == 0 {
        return Err(ApiError::bad_request(ErrorCode::Empty, "The file is empty."));
    }
    if req.size > max_bytes {
        return Err(ApiError::bad_request(
            ErrorCode::TooLarge,
            format!("The file is {} bytes; the limit is {max_bytes} bytes.", req.size),
        ));
    }
    Ok(format)
}

/// Unicode format characters that change how text around them displays without showing
/// themselves: bidi embeddings, overrides and isolates (`U+202E` shows `gpj.exe` as `exe.jpg`),
/// zero-width characters, and the other invisible marks of category Cf.
pub fn is_format_char(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

/// The PENDING record of a new upload; it expires (DynamoDB TTL) unless the pipeline finishes it.
fn pending_record(
    state: &ApiState,
    req: &UploadRequest,
    format: Format,
    id: &str,
    key: &str,
    owner: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> ImageRecord {
    let created_at = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut record = ImageRecord::pending(id, owner, &state.config.input_bucket, key, &created_at);
    record.filename = Some(req.filename.trim().to_string());
    record.content_type = Some(format.content_type().to_string());
    record.declared_size = Some(req.size);
    record.expires_at = Some(now.timestamp() + state.config.pending_ttl_seconds as i64);
    record
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(filename: &str) -> UploadRequest {
        UploadRequest { filename: filename.into(), content_type: "image/jpeg".into(), size: 10 }
    }

    #[test]
    fn filenames_that_disguise_themselves_are_refused() {
        for name in
            ["photo\u{202E}gpj.exe", "a\u{2066}b", "zero\u{200B}width.jpg", "\u{FEFF}bom.jpg", "tag\u{E0041}.jpg"]
        {
            let err = check_request(&request(name), 100).unwrap_err();
            assert_eq!((err.status.as_u16(), err.code), (400, ErrorCode::BadRequest), "{name:?}");
        }
        for name in ["cat.jpg", "Café au lait.jpeg", "日本の猫.png", "emoji 🐈.gif"] {
            assert_eq!(check_request(&request(name), 100).unwrap(), Format::Jpeg, "{name:?}");
        }
    }

    #[test]
    fn declared_uploads_are_checked_before_anything_is_stored() {
        assert_eq!(check_request(&request("a\nb.jpg"), 100).unwrap_err().code, ErrorCode::BadRequest);
        assert_eq!(check_request(&request(&"x".repeat(256)), 100).unwrap_err().code, ErrorCode::BadRequest);
        let html = UploadRequest { content_type: "text/html".into(), ..request("a.jpg") };
        assert_eq!(check_request(&html, 100).unwrap_err().code, ErrorCode::UnsupportedType);
        let empty = UploadRequest { size: 0, ..request("a.jpg") };
        assert_eq!(check_request(&empty, 100).unwrap_err().code, ErrorCode::Empty);
        let big = UploadRequest { size: 101, ..request("a.jpg") };
        assert_eq!(check_request(&big, 100).unwrap_err().code, ErrorCode::TooLarge);
    }
}
