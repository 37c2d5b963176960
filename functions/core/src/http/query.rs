//! The read side: `GET /images/{id}`, `GET /images?label=&minConfidence=`, `GET /images`
//! (recent), and `GET /images/{id}/timeline`. Each is one table read, through [`crate::table`].
//! Every route is the signed-in caller's: lists read only their partitions, and another owner's
//! image answers exactly as a missing one does. Views carry no execution ids, console links or
//! error causes ([`ClientFailure`]).

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::cursor::CursorCodec;
use super::failure::ClientFailure;
use super::timeline::{build_timeline, TimelineEntry};
use super::{ApiError, ApiState, ErrorCode};
use crate::error::StepError;
use crate::model::{is_image_id, ImageMeta, Label, Status};
use crate::table::{label_partition, recent_partition, ImageRecord, LabelHit, Page, PageKey};

const DEFAULT_LIMIT: i32 = 20;
const MAX_LIMIT: i32 = 100;
/// Longest label a query may name, in characters.
const MAX_LABEL_CHARS: usize = 100;
/// Labels shown per image in the recent list.
const TOP_LABELS: usize = 3;

/// The query routes.
pub fn router(state: Arc<ApiState>) -> axum::Router {
    axum::Router::new()
        .route("/images", get(list_images))
        .route("/images/{id}", get(get_image).delete(super::delete::delete_image))
        .route("/images/{id}/timeline", get(get_timeline))
        .with_state(state)
}

/// Query string of `GET /images` (all optional; strings so bad values get our own 400).
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListParams {
    pub label: Option<String>,
    pub min_confidence: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// `GET /images/{id}`: an image record as clients see it, with short-lived URLs for its files.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageView {
    pub image_id: String,
    pub status: Status,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub image: Option<ImageMeta>,
    pub labels: Vec<Label>,
    pub label_source: Option<String>,
    pub model_version: Option<String>,
    pub thumbnails: Vec<ThumbnailView>,
    pub original_url: Option<String>,
    pub result_url: Option<String>,
    pub error: Option<ClientFailure>,
}

/// One thumbnail of an [`ImageView`].
#[derive(Debug, Serialize)]
pub struct ThumbnailView {
    pub size: u32,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub url: Option<String>,
}

/// One row of `GET /images?label=`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelHitView {
    pub image_id: String,
    pub label: String,
    pub confidence: f32,
    pub created_at: String,
    pub thumbnail_url: Option<String>,
}

/// One row of `GET /images` (recent).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecentView {
    pub image_id: String,
    pub status: Status,
    pub created_at: String,
    pub filename: Option<String>,
    pub thumbnail_url: Option<String>,
    pub top_labels: Vec<String>,
}

/// A page of a list, with the cursor of the next one.
#[derive(Debug, Serialize)]
pub struct ListView<T> {
    pub items: Vec<T>,
    pub cursor: Option<String>,
}

/// `GET /images/{id}/timeline`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineView {
    pub status: Status,
    /// The execution's name, for the console's `GET /executions/{name}` (never its ARN).
    pub execution_name: Option<String>,
    pub events: Vec<TimelineEntry>,
}

async fn get_image(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ImageView>, ApiError> {
    let record = load_image(&state, &caller, &id).await?;
    Ok(Json(image_view(&state, record).await))
}

/// The caller's image `id`; another owner's image is the same 404 as a missing one.
async fn load_image(state: &ApiState, caller: &Caller, id: &str) -> Result<ImageRecord, ApiError> {
    check_image_id(id)?;
    let record = state.table().get_image(id, false).await.map_err(ApiError::backend)?;
    record.filter(|r| r.owner == caller.sub).ok_or_else(not_found)
}

/// A 400 unless `id` has the form of an image id.
pub(super) fn check_image_id(id: &str) -> Result<(), ApiError> {
    if is_image_id(id) {
        return Ok(());
    }
    Err(ApiError::bad_request(
        ErrorCode::BadRequest,
        "An image id is a UUID like 0f8b8a9e-2f7c-4c47-9a53-1b2a3c4d5e6f.",
    ))
}

/// The answer for an image the caller cannot see: missing, or someone else's. The same body
/// for every id, so no answer tells them apart.
pub(super) fn not_found() -> ApiError {
    ApiError::not_found("There is no image with this id.")
}

async fn image_view(state: &ApiState, rec: ImageRecord) -> ImageView {
    let mut thumbnails = Vec::with_capacity(rec.thumbnails.len());
    for t in &rec.thumbnails {
        let url = presign_get(state, &t.bucket, &t.key).await;
        thumbnails.push(ThumbnailView { size: t.size, width: t.width, height: t.height, bytes: t.bytes, url });
    }
    let original_url = original_url(state, &rec).await;
    let result_url = match &rec.result_key {
        Some(k) => presign_get(state, &state.config.output_bucket, k).await,
        None => None,
    };
    let error = ClientFailure::of_record(rec.status, rec.error.as_ref());
    let (labels, label_source, model_version) = match rec.labels {
        Some(set) => (set.labels, Some(set.source), Some(set.model_version)),
        None => (Vec::new(), None, None),
    };
    ImageView {
        image_id: rec.image_id,
        status: rec.status,
        filename: rec.filename,
        content_type: rec.content_type,
        created_at: rec.created_at,
        updated_at: rec.updated_at,
        image: rec.image,
        labels,
        label_source,
        model_version,
        thumbnails,
        original_url,
        result_url,
        error,
    }
}

/// A download link for the original: only once Validate has shown it is an image (never for a
/// PENDING or REJECTED upload, whose bytes may be anything), served as an attachment of the
/// validated type so no browser renders it as a page. The link is pinned to the validated object
/// version: a form replayed later with other bytes does not change what it serves.
async fn original_url(state: &ApiState, rec: &ImageRecord) -> Option<String> {
    let image = rec.image.as_ref().filter(|_| matches!(rec.status, Status::Done | Status::Failed))?;
    let ttl = PresigningConfig::expires_in(Duration::from_secs(state.config.result_url_ttl_seconds.max(1))).ok()?;
    let presigned = state
        .clients
        .s3
        .get_object()
        .bucket(&rec.bucket)
        .key(&rec.key)
        .set_version_id(image.version_id.clone())
        .response_content_type(image.format.content_type())
        .response_content_disposition(format!("attachment; filename=\"{}.{}\"", rec.image_id, image.format.extension()))
        .presigned(ttl)
        .await;
    match presigned {
        Ok(req) => Some(req.uri().to_string()),
        Err(e) => {
            tracing::warn!(error = %e, key = rec.key, "cannot presign the original");
            None
        }
    }
}

async fn presign_get(state: &ApiState, bucket: &str, key: &str) -> Option<String> {
    let ttl = PresigningConfig::expires_in(Duration::from_secs(state.config.result_url_ttl_seconds.max(1))).ok()?;
    match state.clients.s3.get_object().bucket(bucket).key(key).presigned(ttl).await {
        Ok(req) => Some(req.uri().to_string()),
        Err(e) => {
            tracing::warn!(error = %e, key, "cannot presign a GET");
            None
        }
    }
}

/// `GET /images`: by label when `label` is given, else the recent images.
async fn list_images(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let limit = parse_limit(params.limit.as_deref())?;
    let cursor = params.cursor.as_deref().filter(|c| !c.is_empty());
    let owner = caller.sub;
    match params.label.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        Some(label) => {
            let min_confidence = parse_min_confidence(params.min_confidence.as_deref())?;
            if label.chars().count() > MAX_LABEL_CHARS {
                return Err(ApiError::bad_request(
                    ErrorCode::BadRequest,
                    format!("label is at most {MAX_LABEL_CHARS} characters."),
                ));
            }
            let (attribute, partition) = label_partition(&owner, label);
            let start = decode_cursor(&state, cursor, (attribute, &partition))?;
            let page = state.table().query_label(&owner, label, min_confidence, limit, start).await;
            let page = page.map_err(ApiError::backend)?;
            Ok(Json(label_page(&state, page).await).into_response())
        }
        None => {
            let (attribute, partition) = recent_partition(&owner);
            let start = decode_cursor(&state, cursor, (attribute, &partition))?;
            let page = state.table().query_recent(&owner, limit, start).await.map_err(ApiError::backend)?;
            Ok(Json(recent_page(&state, page).await).into_response())
        }
    }
}

fn parse_limit(text: Option<&str>) -> Result<i32, ApiError> {
    match text {
        None | Some("") => Ok(DEFAULT_LIMIT),
        Some(v) => v.parse::<i32>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
            ApiError::bad_request(ErrorCode::BadRequest, format!("limit must be a whole number from 1 to {MAX_LIMIT}."))
        }),
    }
}

fn parse_min_confidence(text: Option<&str>) -> Result<f32, ApiError> {
    match text {
        None | Some("") => Ok(0.0),
        Some(v) => v.parse::<f32>().ok().filter(|n| (0.0..=100.0).contains(n)).ok_or_else(|| {
            ApiError::bad_request(ErrorCode::BadRequest, "minConfidence must be a number from 0 to 100.")
        }),
    }
}

fn decode_cursor(state: &ApiState, cursor: Option<&str>, partition: (&str, &str)) -> Result<Option<PageKey>, ApiError> {
    let codec = CursorCodec::new(&state.config.cursor_secret);
    cursor.map(|c| codec.decode(c, partition)).transpose()
}

fn encode_cursor(state: &ApiState, next: Option<&PageKey>) -> Option<String> {
    next.map(|key| CursorCodec::new(&state.config.cursor_secret).encode(key))
}

async fn label_page(state: &ApiState, page: Page<LabelHit>) -> ListView<LabelHitView> {
    let mut items = Vec::with_capacity(page.items.len());
    for hit in page.items {
        let thumbnail_url = match &hit.thumbnail_key {
            Some(k) => presign_get(state, &state.config.output_bucket, k).await,
            None => None,
        };
        let LabelHit { image_id, label, confidence, created_at, .. } = hit;
        items.push(LabelHitView { image_id, label, confidence, created_at, thumbnail_url });
    }
    ListView { items, cursor: encode_cursor(state, page.next.as_ref()) }
}

async fn recent_page(state: &ApiState, page: Page<ImageRecord>) -> ListView<RecentView> {
    let mut items = Vec::with_capacity(page.items.len());
    for rec in page.items {
        let thumbnail_url = match rec.smallest_thumbnail() {
            Some(t) => presign_get(state, &t.bucket, &t.key).await,
            None => None,
        };
        let top_labels =
            rec.labels.iter().flat_map(|set| set.labels.iter()).take(TOP_LABELS).map(|l| l.name.clone()).collect();
        items.push(RecentView {
            image_id: rec.image_id,
            status: rec.status,
            created_at: rec.created_at,
            filename: rec.filename,
            thumbnail_url,
            top_labels,
        });
    }
    ListView { items, cursor: encode_cursor(state, page.next.as_ref()) }
}

async fn get_timeline(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TimelineView>, ApiError> {
    let record = load_image(&state, &caller, &id).await?;
    let Some(arn) = record.execution_id else {
        return Ok(Json(TimelineView { status: record.status, execution_name: None, events: Vec::new() }));
    };
    let executions = state
        .executions
        .as_ref()
        .ok_or_else(|| ApiError::backend(StepError::Internal("no execution history source configured".into())))?;
    let history = executions.history(&arn).await.map_err(ApiError::backend)?;
    let execution_name = top_level_execution_name(&arn);
    Ok(Json(TimelineView { events: build_timeline(&history), status: record.status, execution_name }))
}

/// The name in `arn:…:execution:<state machine>:<name>`, for executions the console lists (a
/// Map Run's child executions, `<state machine>/<label>`, are not among them).
fn top_level_execution_name(arn: &str) -> Option<String> {
    let (_, rest) = arn.split_once(":execution:")?;
    let (machine, name) = rest.split_once(':')?;
    (!machine.contains('/') && !name.is_empty() && !name.contains(':')).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_viewer_links_top_level_executions_by_name_only() {
        let arn = "arn:aws:states:eu-west-1:123456789012:execution:imgpipe-pipeline:3f0c-r1";
        assert_eq!(top_level_execution_name(arn).as_deref(), Some("3f0c-r1"));
        for other in [
            "arn:aws:states:local:000000000000:execution:reprocess/Images:child-1",
            "arn:aws:states:local:000000000000:execution:m:",
            "arn:aws:states:local:000000000000:stateMachine:m",
            "",
            "execution:",
        ] {
            assert_eq!(top_level_execution_name(other), None, "{other}");
        }
    }
}
