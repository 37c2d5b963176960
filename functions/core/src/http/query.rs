//! The read side: `GET /images/{id}`, `GET /images?label=&minConfidence=`, `GET /images`
//! (recent), and `GET /images/{id}/timeline`. Each is one DynamoDB GetItem or Query.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::presigning::PresigningConfig;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::Json;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use super::timeline::build_timeline;
use super::{ApiError, ApiState};
use crate::dynamo::{get_s, image_pk, item_to_json, label_pk, label_sk_floor, owner_pk, IMAGE_SK};
use crate::error::{classify_sdk_error, StepError};
use crate::model::is_image_id;

const DEFAULT_LIMIT: i32 = 20;
const MAX_LIMIT: i32 = 100;

/// The query routes.
pub fn router(state: Arc<ApiState>) -> axum::Router {
    axum::Router::new()
        .route("/images", get(list_images))
        .route("/images/{id}", get(get_image))
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

async fn get_image(State(state): State<Arc<ApiState>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let item = load_image(&state, &id).await?;
    Ok(Json(image_view(&state, &item).await))
}

async fn load_image(state: &ApiState, id: &str) -> Result<HashMap<String, AttributeValue>, ApiError> {
    if !is_image_id(id) {
        return Err(ApiError::bad_request(
            "BAD_REQUEST",
            "An image id is a UUID like 0f8b8a9e-2f7c-4c47-9a53-1b2a3c4d5e6f.",
        ));
    }
    let out = state
        .clients
        .dynamo
        .get_item()
        .table_name(&state.config.table_name)
        .key("PK", AttributeValue::S(image_pk(id)))
        .key("SK", AttributeValue::S(IMAGE_SK.into()))
        .send()
        .await
        .map_err(|e| ApiError::backend(classify_sdk_error("reading an image record", &e)))?;
    out.item.ok_or_else(|| ApiError::not_found(format!("No image with id {id}.")))
}

/// The public view of an image record, with short-lived URLs for its files.
async fn image_view(state: &ApiState, item: &HashMap<String, AttributeValue>) -> Value {
    let rec = item_to_json(item);
    let mut thumbnails = Vec::new();
    for t in rec["thumbnails"].as_array().into_iter().flatten() {
        let url = match (t["bucket"].as_str(), t["key"].as_str()) {
            (Some(b), Some(k)) => presign_get(state, b, k).await,
            _ => None,
        };
        thumbnails.push(json!({
            "size": t["size"], "width": t["width"], "height": t["height"], "bytes": t["bytes"], "url": url,
        }));
    }
    let original_url = match (rec["bucket"].as_str(), rec["key"].as_str()) {
        (Some(b), Some(k)) if rec["status"] != "PENDING" => presign_get(state, b, k).await,
        _ => None,
    };
    let result_url = match rec["resultKey"].as_str() {
        Some(k) => presign_get(state, &state.config.output_bucket, k).await,
        None => None,
    };
    let execution_id = rec["executionId"].as_str();
    let console_url = execution_id.and_then(|arn| state.executions.as_ref()?.console_url(arn));
    json!({
        "imageId": rec["imageId"],
        "status": rec["status"],
        "filename": rec["filename"],
        "contentType": rec["contentType"],
        "createdAt": rec["createdAt"],
        "updatedAt": rec["updatedAt"],
        "executionId": execution_id,
        "image": rec["image"],
        "labels": rec["labels"]["labels"].as_array().cloned().unwrap_or_default(),
        "labelSource": rec["labels"]["source"],
        "modelVersion": rec["labels"]["modelVersion"],
        "thumbnails": thumbnails,
        "originalUrl": original_url,
        "resultUrl": result_url,
        "error": rec.get("error").filter(|e| !e.is_null()),
        "consoleUrl": console_url,
    })
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

async fn list_images(
    State(state): State<Arc<ApiState>>,
    Query(params): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let limit = match params.limit.as_deref() {
        None | Some("") => DEFAULT_LIMIT,
        Some(v) => v.parse::<i32>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
            ApiError::bad_request("BAD_REQUEST", format!("limit must be a whole number from 1 to {MAX_LIMIT}."))
        })?,
    };
    let min_confidence = match params.min_confidence.as_deref() {
        None | Some("") => 0.0,
        Some(v) => v
            .parse::<f32>()
            .ok()
            .filter(|n| (0.0..=100.0).contains(n))
            .ok_or_else(|| ApiError::bad_request("BAD_REQUEST", "minConfidence must be a number from 0 to 100."))?,
    };
    let cursor = params.cursor.as_deref().filter(|c| !c.is_empty()).map(decode_cursor).transpose()?;
    let owner = &state.config.default_owner;
    match params.label.as_deref().map(str::trim) {
        Some(label) if !label.is_empty() => {
            if label.chars().count() > 100 {
                return Err(ApiError::bad_request("BAD_REQUEST", "label is at most 100 characters."));
            }
            let out = state
                .clients
                .dynamo
                .query()
                .table_name(&state.config.table_name)
                .key_condition_expression("PK = :pk AND SK >= :floor")
                .expression_attribute_values(":pk", AttributeValue::S(label_pk(owner, label)))
                .expression_attribute_values(":floor", AttributeValue::S(label_sk_floor(min_confidence)))
                .scan_index_forward(false)
                .limit(limit)
                .set_exclusive_start_key(cursor)
                .send()
                .await
                .map_err(|e| ApiError::backend(classify_sdk_error("querying a label", &e)))?;
            let mut items = Vec::new();
            for it in out.items() {
                let rec = item_to_json(it);
                let thumb = match get_s(it, "thumbnailKey") {
                    Some(k) => presign_get(&state, &state.config.output_bucket, k).await,
                    None => None,
                };
                items.push(json!({
                    "imageId": rec["imageId"], "label": rec["label"], "confidence": rec["confidence"],
                    "createdAt": rec["createdAt"], "thumbnailUrl": thumb,
                }));
            }
            Ok(Json(json!({ "items": items, "cursor": out.last_evaluated_key().map(encode_cursor) })))
        }
        _ => {
            let out = state
                .clients
                .dynamo
                .query()
                .table_name(&state.config.table_name)
                .index_name("GSI1")
                .key_condition_expression("GSI1PK = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(owner_pk(owner)))
                .scan_index_forward(false)
                .limit(limit)
                .set_exclusive_start_key(cursor)
                .send()
                .await
                .map_err(|e| ApiError::backend(classify_sdk_error("listing recent images", &e)))?;
            let mut items = Vec::new();
            for it in out.items() {
                let rec = item_to_json(it);
                let small = rec["thumbnails"].as_array().and_then(|t| t.iter().min_by_key(|t| t["size"].as_u64()));
                let thumb = match small.and_then(|t| Some((t["bucket"].as_str()?, t["key"].as_str()?))) {
                    Some((b, k)) => presign_get(&state, b, k).await,
                    None => None,
                };
                let top: Vec<Value> = rec["labels"]["labels"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .take(3)
                    .map(|l| l["name"].clone())
                    .collect();
                items.push(json!({
                    "imageId": rec["imageId"], "status": rec["status"], "createdAt": rec["createdAt"],
                    "filename": rec["filename"], "thumbnailUrl": thumb, "topLabels": top,
                }));
            }
            Ok(Json(json!({ "items": items, "cursor": out.last_evaluated_key().map(encode_cursor) })))
        }
    }
}

async fn get_timeline(State(state): State<Arc<ApiState>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let item = load_image(&state, &id).await?;
    let Some(arn) = get_s(&item, "executionId") else {
        return Ok(Json(json!({ "executionId": null, "status": get_s(&item, "status"), "events": [] })));
    };
    let executions = state
        .executions
        .as_ref()
        .ok_or_else(|| ApiError::backend(StepError::Internal("no execution history source configured".into())))?;
    let history = executions.history(arn).await.map_err(ApiError::backend)?;
    Ok(Json(json!({
        "executionId": arn,
        "status": get_s(&item, "status"),
        "consoleUrl": executions.console_url(arn),
        "events": build_timeline(&history),
    })))
}

/// Cursors are the opaque base64url JSON of a LastEvaluatedKey (string attributes only).
fn encode_cursor(key: &HashMap<String, AttributeValue>) -> String {
    let map: HashMap<&str, &str> =
        key.iter().filter_map(|(k, v)| Some((k.as_str(), v.as_s().ok()?.as_str()))).collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&map).unwrap_or_default())
}

fn decode_cursor(cursor: &str) -> Result<HashMap<String, AttributeValue>, ApiError> {
    let bad = || ApiError::bad_request("BAD_REQUEST", "cursor is not one this API returned.");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let map: HashMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let allowed = ["PK", "SK", "GSI1PK", "GSI1SK"];
    if map.is_empty() || map.keys().any(|k| !allowed.contains(&k.as_str())) {
        return Err(bad());
    }
    Ok(map.into_iter().map(|(k, v)| (k, AttributeValue::S(v))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let key = HashMap::from([
            ("PK".to_string(), AttributeValue::S("a".into())),
            ("SK".to_string(), AttributeValue::S("b".into())),
        ]);
        assert_eq!(decode_cursor(&encode_cursor(&key)).unwrap(), key);
        assert!(decode_cursor("!!!").is_err());
        let foreign = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"evil":"x"}"#);
        assert!(decode_cursor(&foreign).is_err());
    }
}
