//! The S3 implementation served by s3s: s3s-fs storage, with request bodies capped at
//! `max_upload_bytes` and an [`ObjectCreated`](crate::ObjectCreated) after each completed write.

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

pub(crate) struct Store {
    pub fs: FileSystem,
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

    /// Size, ETag and version of a stored object (for events after copy/complete).
    async fn stat(&self, bucket: &str, key: &str) -> S3Result<HeadObjectOutput> {
        let input = HeadObjectInput { bucket: bucket.to_owned(), key: key.to_owned(), ..Default::default() };
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

/// Maps a failure after the body limit tripped to EntityTooLarge.
fn too_large_if<T>(result: S3Result<T>, meter: &Meter, max: u64) -> S3Result<T> {
    match result {
        Err(_) if meter.exceeded.load(Ordering::Relaxed) => Err(entity_too_large(max)),
        other => other,
    }
}

#[async_trait::async_trait]
impl S3 for Store {
    async fn put_object(&self, mut req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let meter = self.limit(&mut req.input.body, req.input.content_length)?;
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let resp = too_large_if(self.fs.put_object(req).await, &meter, self.max_upload_bytes)?;
        let size = meter.bytes.load(Ordering::Relaxed);
        self.created(&bucket, &key, Some(size), resp.output.e_tag.as_ref(), "PutObject").await;
        Ok(resp)
    }

    async fn post_object(&self, mut req: S3Request<PostObjectInput>) -> S3Result<S3Response<PostObjectOutput>> {
        let meter = self.limit(&mut req.input.body, req.input.content_length)?;
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        // s3s-fs answers POST by its put_object (not ours, so no PutObject event).
        let resp = too_large_if(self.fs.post_object(req).await, &meter, self.max_upload_bytes)?;
        let size = meter.bytes.load(Ordering::Relaxed);
        self.created(&bucket, &key, Some(size), resp.output.e_tag.as_ref(), "PostObject").await;
        Ok(resp)
    }

    async fn upload_part(&self, mut req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        let meter = self.limit(&mut req.input.body, req.input.content_length)?;
        too_large_if(self.fs.upload_part(req).await, &meter, self.max_upload_bytes)
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let resp = self.fs.complete_multipart_upload(req).await?;
        self.created(&bucket, &key, None, resp.output.e_tag.as_ref(), "CompleteMultipartUpload").await;
        Ok(resp)
    }

    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let resp = self.fs.copy_object(req).await?;
        let etag = resp.output.copy_object_result.as_ref().and_then(|r| r.e_tag.as_ref());
        self.created(&bucket, &key, None, etag, "CopyObject").await;
        Ok(resp)
    }

    // Everything else is s3s-fs unchanged.

    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        self.fs.create_bucket(req).await
    }
    async fn delete_bucket(&self, req: S3Request<DeleteBucketInput>) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.fs.delete_bucket(req).await
    }
    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.fs.delete_object(req).await
    }
    async fn delete_objects(&self, req: S3Request<DeleteObjectsInput>) -> S3Result<S3Response<DeleteObjectsOutput>> {
        self.fs.delete_objects(req).await
    }
    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.fs.get_bucket_location(req).await
    }
    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        self.fs.get_object(req).await
    }
    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        self.fs.head_bucket(req).await
    }
    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        self.fs.head_object(req).await
    }
    async fn list_buckets(&self, req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
        self.fs.list_buckets(req).await
    }
    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
        self.fs.list_objects(req).await
    }
    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.fs.list_objects_v2(req).await
    }
    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.fs.create_multipart_upload(req).await
    }
    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        self.fs.upload_part_copy(req).await
    }
    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        self.fs.list_parts(req).await
    }
    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.fs.abort_multipart_upload(req).await
    }
}
