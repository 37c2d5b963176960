//! `DELETE /images/{id}`: the owner removes an image and everything made from it.
//!
//! Order: first the image item and its label items in one transaction (conditional on the
//! owner and on the item being as read), then the files: every version of the original, every
//! object under `thumbnails/<id>/`, and `results/<id>.json`. Steps still running find no record
//! and clean up what they write (Persist, RecordFailed), so nothing is left behind.
//!
//! Answers: 204 when the caller's image was deleted; the same 404 as `GET /images/{id}` for a
//! missing id and for another owner's, so a delete reveals no one else's images. A DELETE of an
//! id with no record still removes that id's leftover files, so repeating a DELETE whose file
//! removal failed finishes it.

use std::sync::Arc;

use aws_sdk_s3::error::ProvideErrorMetadata;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::auth::Caller;
use super::query::{check_image_id, not_found};
use super::{ApiError, ApiState};
use crate::error::{classify_sdk_error, StepError};
use crate::steps::persist::result_key;

/// Reads and conditional deletes before giving up on a record that keeps changing.
const MAX_ATTEMPTS: usize = 3;
/// Listing pages per prefix: an image has a handful of objects, each with a few versions.
const MAX_PAGES: usize = 10;

/// The handler.
pub(super) async fn delete_image(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    check_image_id(&id)?;
    let table = state.table();
    for _ in 0..MAX_ATTEMPTS {
        match table.get_image(&id, true).await.map_err(ApiError::backend)? {
            None => {
                remove_files(&state, &id).await.map_err(ApiError::backend)?;
                return Err(not_found());
            }
            Some(record) if record.owner != caller.sub => return Err(not_found()),
            Some(record) => {
                if table.delete_image(&record).await.map_err(ApiError::backend)? {
                    tracing::info!(image = id, "image record deleted; removing its files");
                    remove_files(&state, &id).await.map_err(ApiError::backend)?;
                    return Ok(StatusCode::NO_CONTENT);
                }
            }
        }
    }
    Err(ApiError::backend(StepError::Retryable(format!("image {id} kept changing during its delete"))))
}

/// The places an image's files live, as (bucket, key prefix). Image ids are UUIDs and keys are
/// made server-side, so each prefix holds this image's files only.
fn file_prefixes(state: &ApiState, id: &str) -> [(String, String); 3] {
    let config = &state.config;
    [
        (config.input_bucket.clone(), format!("uploads/{id}.")),
        (config.output_bucket.clone(), format!("thumbnails/{id}/")),
        (config.output_bucket.clone(), result_key(id)),
    ]
}

/// Removes every file of image `id`.
async fn remove_files(state: &ApiState, id: &str) -> Result<(), StepError> {
    for (bucket, prefix) in file_prefixes(state, id) {
        remove_prefix(&state.clients.s3, &bucket, &prefix).await?;
    }
    Ok(())
}

/// Removes every object version and delete marker under `prefix`. A store without
/// ListObjectVersions (NotImplemented) keeps one version per key, so there a DeleteObject of each
/// current key removes it all.
async fn remove_prefix(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<(), StepError> {
    match remove_versions(s3, bucket, prefix).await {
        Err(Listing::NotImplemented) => remove_current(s3, bucket, prefix).await,
        Err(Listing::Failed(e)) => Err(e),
        Ok(()) => Ok(()),
    }
}

/// Why listing versions did not work.
enum Listing {
    NotImplemented,
    Failed(StepError),
}

async fn remove_versions(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<(), Listing> {
    for _ in 0..MAX_PAGES {
        // Deleting what a page listed and listing again from the start (not from a marker) is
        // bounded and cannot skip versions.
        let page = match s3.list_object_versions().bucket(bucket).prefix(prefix).send().await {
            Ok(page) => page,
            Err(e)
                if e.code() == Some("NotImplemented")
                    || e.raw_response().is_some_and(|r| r.status().as_u16() == 501) =>
            {
                return Err(Listing::NotImplemented)
            }
            Err(e) => return Err(Listing::Failed(classify_sdk_error("listing an image's file versions", &e))),
        };
        let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = page.delete_markers().iter().map(|m| (m.key(), m.version_id()));
        let found: Vec<(String, Option<String>)> =
            versions.chain(markers).filter_map(|(k, v)| Some((k?.to_string(), v.map(str::to_string)))).collect();
        if found.is_empty() {
            return Ok(());
        }
        for (key, version) in found {
            let deleted = match version {
                Some(version) => delete_version(s3, bucket, &key, &version).await,
                None => delete_current(s3, bucket, &key).await,
            };
            deleted.map_err(Listing::Failed)?;
        }
    }
    Err(Listing::Failed(StepError::Retryable(format!(
        "{bucket}/{prefix} still lists versions after {MAX_PAGES} rounds"
    ))))
}

async fn remove_current(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<(), StepError> {
    for _ in 0..MAX_PAGES {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .send()
            .await
            .map_err(|e| classify_sdk_error("listing an image's files", &e))?;
        let keys: Vec<String> = page.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect();
        if keys.is_empty() {
            return Ok(());
        }
        for key in keys {
            delete_current(s3, bucket, &key).await?;
        }
    }
    Err(StepError::Retryable(format!("{bucket}/{prefix} still lists objects after {MAX_PAGES} rounds")))
}

/// Deletes one version of an object (`s3:DeleteObjectVersion`).
async fn delete_version(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, version: &str) -> Result<(), StepError> {
    s3.delete_object()
        .bucket(bucket)
        .key(key)
        .version_id(version)
        .send()
        .await
        .map_err(|e| classify_sdk_error("deleting an image file version", &e))?;
    Ok(())
}

/// Deletes the current object of a key (`s3:DeleteObject`): where versions are kept, this
/// only adds a delete marker, so it serves stores that keep none.
async fn delete_current(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<(), StepError> {
    s3.delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| classify_sdk_error("deleting an image file", &e))?;
    Ok(())
}
