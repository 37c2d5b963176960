//! Thumbnail: one decode with shrink-on-load, orientation applied, each size written as JPEG.

use serde::Deserialize;

use super::validate::read_upload;
use super::Pipeline;
use crate::error::{classify_sdk_error, StepError};
use crate::model::{ImageMeta, ThumbnailRef};
use imgpipe_imaging::make_thumbnails;

/// Thumbnail's input: `{"image": $.image}`.
#[derive(Debug, Deserialize)]
pub struct ThumbnailInput {
    pub image: ImageMeta,
}

/// The key of one thumbnail in the output bucket.
pub fn thumbnail_key(id: &str, size: u32) -> String {
    format!("thumbnails/{id}/{size}.jpg")
}

/// Renders and stores the configured sizes.
pub async fn run(p: &Pipeline, input: ThumbnailInput) -> Result<Vec<ThumbnailRef>, StepError> {
    let image = input.image;
    let bytes = read_upload(&p.clients.s3, &image).await?;
    let info = image.info();
    let spec = p.config.thumbnails.clone();
    let limits = p.config.limits;
    let thumbs = tokio::task::spawn_blocking(move || make_thumbnails(&bytes, &info, &spec, &limits))
        .await
        .map_err(|e| StepError::Internal(format!("thumbnail worker failed: {e}")))??;
    let mut refs = Vec::with_capacity(thumbs.len());
    for t in thumbs {
        let key = thumbnail_key(&image.id, t.size);
        let len = t.jpeg.len() as u64;
        p.clients
            .s3
            .put_object()
            .bucket(&p.config.output_bucket)
            .key(&key)
            .content_type("image/jpeg")
            .cache_control("public, max-age=31536000, immutable")
            .body(t.jpeg.into())
            .send()
            .await
            .map_err(|e| classify_sdk_error("writing a thumbnail", &e))?;
        refs.push(ThumbnailRef {
            size: t.size,
            bucket: p.config.output_bucket.clone(),
            key,
            width: t.width,
            height: t.height,
            bytes: len,
            format: "jpeg".into(),
        });
    }
    Ok(refs)
}
