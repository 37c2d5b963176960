//! The S3 implementation served by s3s: s3s-fs storage under flat file names (see [`crate::keys`]),
//! with request bodies capped at `max_upload_bytes` and an [`ObjectCreated`](crate::ObjectCreated)
//! after each completed write.

use std::collections::HashMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use s3s::dto::*;
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{s3_error, S3Request, S3Response, S3Result, StdError, S3};
use s3s_fs::FileSystem;

use crate::events::{Created, Notifier};
use crate::keys;

pub(crate) struct Store {
    pub fs: FileSystem,
    /// The directory the buckets are in (as s3s-fs resolved it).
    pub root: PathBuf,
    pub notifier: Notifier,
    pub max_upload_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("request body exceeds {0} bytes")]
struct BodyTooLarge(u64);

/// What a capped body saw: bytes passed and whether it went over the cap.
#[derive(Default)]
struct Meter {
    bytes: AtomicU64,
    exceeded: AtomicBool,
}

/// A body stream that counts its bytes and fails once it goes past `limit`.
struct LimitedBody {
    inner: StreamingBlob,
    limit: u64,
    meter: Arc<Meter>,
}

impl Stream for LimitedBody {
    type Item = Result<Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.meter.exceeded.load(Ordering::Relaxed) {
            return Poll::Ready(None);
        }
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(bytes))) = &polled {
            let seen = self.meter.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed) + bytes.len() as u64;
            if seen > self.limit {
                self.meter.exceeded.store(true, Ordering::Relaxed);
                return Poll::Ready(Some(Err(Box::new(BodyTooLarge(self.limit)))));
            }
        }
        polled
    }
}

impl ByteStream for LimitedBody {
    fn remaining_length(&self) -> RemainingLength {
        self.inner.remaining_length()
    }
}

fn entity_too_large(max: u64) -> s3s::S3Error {
    s3_error!(EntityTooLarge, "Your proposed upload exceeds the maximum allowed size ({max} bytes)")
}

impl Store {
    /// Refuses a declared length over the limit and caps the body stream at the limit.
    fn limit(&self, body: &mut Option<StreamingBlob>, declared: Option<i64>) -> S3Result<Arc<Meter>> {
        let max = self.max_upload_bytes;
        if declared.is_some_and(|len| u64::try_from(len).map_or(true, |len| len > max)) {
            return Err(entity_too_large(max));
        }
        let meter = Arc::new(Meter::default());
        if let Some(inner) = body.take() {
            *body = Some(StreamingBlob::new(LimitedBody { inner, limit: max, meter: meter.clone() }));
        }
        Ok(meter)
    }

    /// Size, ETag and version of a stored object (for events after copy/complete, and listings).
    async fn stat(&self, bucket: &str, key: &str) -> S3Result<HeadObjectOutput> {
        let input = HeadObjectInput { bucket: bucket.to_owned(), key: keys::file_name(key), ..Default::default() };
        let req = S3Request {
            input,
            method: http::Method::HEAD,
            uri: http::Uri::from_static("/"),
            headers: http::HeaderMap::new(),
            extensions: http::Extensions::new(),
            credentials: None,
            region: None,
            service: None,
            trailing_headers: None,
        };
        Ok(self.fs.head_object(req).await?.output)
    }

    /// Emits the event for a completed write; reads the size from storage when not known.
    async fn created(&self, bucket: &str, key: &str, size: Option<u64>, etag: Option<&ETag>, reason: &'static str) {
        if !self.notifier.notifies(bucket) || key.ends_with('/') {
            return;
        }
        let (size, etag, version_id) = match (size, etag) {
            (Some(size), Some(etag)) => (size, etag.value().to_owned(), None),
            _ => match self.stat(bucket, key).await {
                Ok(head) => (
                    head.content_length.and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                    head.e_tag.as_ref().or(etag).map(|e| e.value().to_owned()).unwrap_or_default(),
                    head.version_id,
                ),
                Err(err) => {
                    tracing::error!(%bucket, %key, error = %err, "object written but cannot be read back; no event");
                    return;
                }
            },
        };
        self.notifier.object_created(Created { bucket, key, size, etag, version_id, reason });
    }
}

/// The stored name of a key S3 accepts.
fn stored_name(key: &str) -> S3Result<String> {
    keys::check(key)?;
    Ok(keys::file_name(key))
}

/// The stored form of a copy source.
fn stored_source(source: &mut CopySource) -> S3Result<()> {
    match source {
        CopySource::Bucket { key, .. } => {
            *key = stored_name(key)?.into();
            Ok(())
        }
        _ => Err(s3_error!(NotImplemented, "Only bucket copy sources are supported")),
    }
}

/// Maps a failure after the body limit tripped to EntityTooLarge.
fn too_large_if<T>(result: S3Result<T>, meter: &Meter, max: u64) -> S3Result<T> {
    match result {
        Err(_) if meter.exceeded.load(Ordering::Relaxed) => Err(entity_too_large(max)),
        other => other,
    }
}

impl Store {
    /// Writes the key file before the data; if the write then fails and left no object, forgets it.
    async fn write_under_key<T>(
        &self,
        bucket: &str,
        key: &str,
        write: impl std::future::Future<Output = S3Result<T>>,
    ) -> S3Result<T> {
        keys::remember(&self.root, bucket, key).await?;
        let result = write.await;
        if result.is_err() && !keys::bucket_dir(&self.root, bucket).join(keys::file_name(key)).is_file() {
            keys::forget(&self.root, bucket, key).await;
        }
        result
    }

    /// One page of a listing, with each object's ETag; names URL-encoded when `url_encode`.
    async fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<&str>,
        max_keys: Option<i32>,
        url_encode: bool,
    ) -> S3Result<(keys::Page, Option<Vec<Object>>, Option<Vec<CommonPrefix>>)> {
        let name = |text: &str| if url_encode { keys::url_encode(text) } else { text.to_owned() };
        let max = usize::try_from(max_keys.unwrap_or(1000).clamp(0, 1000)).unwrap_or(1000);
        let page = keys::page(keys::all(&self.root, bucket).await?, prefix, delimiter, after, max);
        let mut objects = Vec::new();
        let mut prefixes = Vec::new();
        for item in &page.items {
            match item {
                keys::Item::Object(stored) => {
                    let e_tag = self.stat(bucket, &stored.key).await.ok().and_then(|head| head.e_tag);
                    objects.push(Object {
                        key: Some(name(&stored.key)),
                        size: i64::try_from(stored.size).ok(),
                        last_modified: Some(Timestamp::from(stored.last_modified)),
                        e_tag,
                        storage_class: Some(ObjectStorageClass::from_static(ObjectStorageClass::STANDARD)),
                        ..Default::default()
                    });
                }
                keys::Item::Prefix(prefix) => prefixes.push(CommonPrefix { prefix: Some(name(prefix)) }),
            }
        }
        let objects = (!objects.is_empty()).then_some(objects);
        let prefixes = (!prefixes.is_empty()).then_some(prefixes);
        Ok((page, objects, prefixes))
    }
}

#[async_trait::async_trait]
impl S3 for Store {
    async fn put_object(&self, mut req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        req.input.key = stored_name(&key)?;
        let meter = self.limit(&mut req.input.body, req.input.content_length)?;
        let resp = self.write_under_key(&bucket, &key, self.fs.put_object(req)).await;
        let resp = too_large_if(resp, &meter, self.max_upload_bytes)?;
        let size = meter.bytes.load(Ordering::Relaxed);
        self.created(&bucket, &key, Some(size), resp.output.e_tag.as_ref(), "PutObject").await;
        Ok(resp)
    }

    async fn post_object(&self, mut req: S3Request<PostObjectInput>) -> S3Result<S3Response<PostObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        req.input.key = stored_name(&key)?;
        let meter = self.limit(&mut req.input.body, req.input.content_length)?;
        // s3s-fs answers POST by its put_object (not ours, so no PutObject event).
        let resp = self.write_under_key(&bucket, &key, self.fs.post_object(req)).await;
        let resp = too_large_if(resp, &meter, self.max_upload_bytes)?;
        let size = meter.bytes.load(Ordering::Relaxed);
        self.created(&bucket, &key, Some(size), resp.output.e_tag.as_ref(), "PostObject").await;
        Ok(resp)
    }

    async fn upload_part(&self, mut req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        req.input.key = stored_name(&req.input.key)?;
        let meter = self.limit(&mut req.input.body, req.input.content_length)?;
        too_large_if(self.fs.upload_part(req).await, &meter, self.max_upload_bytes)
    }

    async fn complete_multipart_upload(
        &self,
        mut req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        req.input.key = stored_name(&key)?;
        let mut resp = self.write_under_key(&bucket, &key, self.fs.complete_multipart_upload(req)).await?;
        resp.output.key = Some(key.clone());
        resp.output.location = None;
        self.created(&bucket, &key, None, resp.output.e_tag.as_ref(), "CompleteMultipartUpload").await;
        Ok(resp)
    }

    async fn copy_object(&self, mut req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        req.input.key = stored_name(&key)?;
        stored_source(&mut req.input.copy_source)?;
        let resp = self.write_under_key(&bucket, &key, self.fs.copy_object(req)).await?;
        let etag = resp.output.copy_object_result.as_ref().and_then(|r| r.e_tag.as_ref());
        self.created(&bucket, &key, None, etag, "CopyObject").await;
        Ok(resp)
    }

    async fn delete_object(&self, mut req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        req.input.key = stored_name(&key)?;
        let resp = self.fs.delete_object(req).await?;
        keys::forget(&self.root, &bucket, &key).await;
        Ok(resp)
    }

    async fn delete_objects(
        &self,
        mut req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let bucket = req.input.bucket.clone();
        let mut originals = HashMap::new();
        for object in &mut req.input.delete.objects {
            let stored = stored_name(&object.key)?;
            originals.insert(stored.clone(), std::mem::replace(&mut object.key, stored));
        }
        let mut resp = self.fs.delete_objects(req).await?;
        let original = |stored: &mut Option<String>| {
            if let Some(key) = stored.as_ref().and_then(|s| originals.get(s)) {
                *stored = Some(key.clone());
            }
        };
        for deleted in resp.output.deleted.iter_mut().flatten() {
            original(&mut deleted.key);
            if let Some(key) = &deleted.key {
                keys::forget(&self.root, &bucket, key).await;
            }
        }
        for error in resp.output.errors.iter_mut().flatten() {
            original(&mut error.key);
        }
        Ok(resp)
    }

    async fn get_object(&self, mut req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        req.input.key = stored_name(&req.input.key)?;
        // The `response-content-*` overrides of a signed GET, as S3 applies them.
        let content_type = req.input.response_content_type.take();
        let disposition = req.input.response_content_disposition.take();
        let mut resp = self.fs.get_object(req).await?;
        if let Some(content_type) = content_type {
            resp.output.content_type = Some(content_type);
        }
        if let Some(disposition) = disposition {
            resp.output.content_disposition = Some(disposition);
        }
        Ok(resp)
    }

    async fn head_object(&self, mut req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        req.input.key = stored_name(&req.input.key)?;
        self.fs.head_object(req).await
    }

    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let url = input.encoding_type.as_ref().is_some_and(|e| e.as_str() == EncodingType::URL);
        let (page, contents, common_prefixes) = self
            .list_page(&input.bucket, &prefix, input.delimiter.as_deref(), input.marker.as_deref(), input.max_keys, url)
            .await?;
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            encoding_type: input.encoding_type.clone().filter(|_| url),
            prefix: input.prefix,
            marker: input.marker,
            next_marker: page.next_marker(),
            max_keys: Some(input.max_keys.unwrap_or(1000).clamp(0, 1000)),
            is_truncated: Some(page.truncated),
            delimiter: input.delimiter,
            contents,
            common_prefixes,
            ..Default::default()
        }))
    }

    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        // the continuation token is the last name of the previous page
        let after = input.continuation_token.as_deref().or(input.start_after.as_deref());
        let url = input.encoding_type.as_ref().is_some_and(|e| e.as_str() == EncodingType::URL);
        let (page, contents, common_prefixes) =
            self.list_page(&input.bucket, &prefix, input.delimiter.as_deref(), after, input.max_keys, url).await?;
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            encoding_type: input.encoding_type.clone().filter(|_| url),
            prefix: input.prefix,
            key_count: i32::try_from(page.items.len()).ok(),
            max_keys: Some(input.max_keys.unwrap_or(1000).clamp(0, 1000)),
            is_truncated: Some(page.truncated),
            next_continuation_token: page.next_marker(),
            continuation_token: input.continuation_token,
            start_after: input.start_after,
            delimiter: input.delimiter,
            contents,
            common_prefixes,
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        mut req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let key = req.input.key.clone();
        req.input.key = stored_name(&key)?;
        let mut resp = self.fs.create_multipart_upload(req).await?;
        resp.output.key = Some(key);
        Ok(resp)
    }

    async fn upload_part_copy(
        &self,
        mut req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        req.input.key = stored_name(&req.input.key)?;
        stored_source(&mut req.input.copy_source)?;
        self.fs.upload_part_copy(req).await
    }

    async fn list_parts(&self, mut req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        let key = req.input.key.clone();
        req.input.key = stored_name(&key)?;
        let mut resp = self.fs.list_parts(req).await?;
        resp.output.key = Some(key);
        Ok(resp)
    }

    async fn abort_multipart_upload(
        &self,
        mut req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        req.input.key = stored_name(&req.input.key)?;
        self.fs.abort_multipart_upload(req).await
    }

    // Bucket operations are s3s-fs unchanged (bucket names are checked by s3s).

    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        self.fs.create_bucket(req).await
    }
    async fn delete_bucket(&self, req: S3Request<DeleteBucketInput>) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.fs.delete_bucket(req).await
    }
    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.fs.get_bucket_location(req).await
    }
    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        self.fs.head_bucket(req).await
    }
    async fn list_buckets(&self, req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
        self.fs.list_buckets(req).await
    }
}
