//! The S3 implementation served by s3s: s3s-fs storage under flat file names (see [`crate::keys`]),
//! with request bodies capped at `max_upload_bytes`, versions kept in versioned buckets (see
//! [`crate::versions`]) and an [`ObjectCreated`](crate::ObjectCreated) after each completed write.

use std::collections::HashSet;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use base64::Engine as _;
use bytes::Bytes;
use futures::Stream;
use s3s::dto::*;
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{s3_error, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, StdError, S3};
use s3s_fs::FileSystem;

use crate::events::{Created, Notifier};
use crate::keys;
use crate::versions::{self, KeyLocks, Wanted};

/// S3's limit on the objects of one DeleteObjects request.
const MAX_DELETE_OBJECTS: usize = 1000;

pub(crate) struct Store {
    pub fs: FileSystem,
    /// The directory the buckets are in (as s3s-fs resolved it).
    pub root: PathBuf,
    pub notifier: Notifier,
    pub max_upload_bytes: u64,
    /// Buckets whose writes keep versions.
    pub versioned: HashSet<String>,
    pub locks: KeyLocks,
}

/// Where a read of a key goes: the stored name, and the version id it answers with.
struct Target {
    stored: String,
    version_id: Option<String>,
    /// The request named a version (a missing object is then `NoSuchVersion`).
    pinned: bool,
}

impl Target {
    /// A request's failure as S3 answers it when a version was named and is gone.
    fn missing_as_version(&self, err: S3Error) -> S3Error {
        if self.pinned && *err.code() == S3ErrorCode::NoSuchKey {
            versions::no_such_version()
        } else {
            err
        }
    }
}

/// A request of the store's own to s3s-fs.
fn internal<T>(input: T, method: http::Method) -> S3Request<T> {
    S3Request {
        input,
        method,
        uri: http::Uri::from_static("/"),
        headers: http::HeaderMap::new(),
        extensions: http::Extensions::new(),
        credentials: None,
        region: None,
        service: None,
        trailing_headers: None,
    }
}

fn internal_error(err: impl std::fmt::Display) -> S3Error {
    s3_error!(InternalError, "{err}")
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

    /// Size and ETag of a stored object by its stored name (for events after copy/complete, and listings).
    async fn stat(&self, bucket: &str, stored: &str) -> S3Result<HeadObjectOutput> {
        let input = HeadObjectInput { bucket: bucket.to_owned(), key: stored.to_owned(), ..Default::default() };
        Ok(self.fs.head_object(internal(input, http::Method::HEAD)).await?.output)
    }

    /// Emits the event for a completed write (of its version, in a versioned bucket); reads the
    /// size and ETag from storage when not known.
    async fn created(&self, bucket: &str, key: &str, written: Written<'_>) {
        if !self.notifier.notifies(bucket) || key.ends_with('/') {
            return;
        }
        let Written { version_id, size, etag, reason } = written;
        let (size, etag) = match (size, etag) {
            (Some(size), Some(etag)) => (size, etag.value().to_owned()),
            _ => match self.stat(bucket, &stored_version(key, version_id.as_deref())).await {
                Ok(head) => (
                    head.content_length.and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                    head.e_tag.as_ref().or(etag).map(|e| e.value().to_owned()).unwrap_or_default(),
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

/// What a write reported about itself, for its event.
struct Written<'a> {
    version_id: Option<String>,
    size: Option<u64>,
    etag: Option<&'a ETag>,
    reason: &'static str,
}

/// The stored name of `key`, or of one of its versions.
fn stored_version(key: &str, version_id: Option<&str>) -> String {
    match version_id {
        Some(id) => versions::stored_name(key, id),
        None => keys::file_name(key),
    }
}

/// The stored name of a key S3 accepts.
fn stored_name(key: &str) -> S3Result<String> {
    keys::check(key)?;
    Ok(keys::file_name(key))
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

    /// Resolves a read of `key`: the version `requested`, or else the newest kept version, or the
    /// object itself when the key keeps no versions (S3's `null` version).
    async fn target(&self, bucket: &str, key: &str, requested: Option<&str>) -> S3Result<Target> {
        keys::check(key)?;
        let wanted = requested.map(versions::parse).transpose()?;
        let ids = versions::list(&self.root, bucket, key).await?;
        let version =
            |id: String, pinned| Target { stored: versions::stored_name(key, &id), version_id: Some(id), pinned };
        match wanted {
            None => Ok(match ids.last() {
                Some(newest) => version(newest.clone(), false),
                None => Target { stored: keys::file_name(key), version_id: None, pinned: false },
            }),
            Some(Wanted::Null) if ids.is_empty() => {
                Ok(Target { stored: keys::file_name(key), version_id: None, pinned: true })
            }
            Some(Wanted::Id(id)) if ids.contains(&id) => Ok(version(id, true)),
            Some(_) => Err(versions::no_such_version()),
        }
    }

    /// The stored form of a copy source (at its version, if named); returns that version id.
    async fn stored_source(&self, source: &mut CopySource) -> S3Result<Option<String>> {
        let CopySource::Bucket { bucket, key, version_id } = source else {
            return Err(s3_error!(NotImplemented, "Only bucket copy sources are supported"));
        };
        let target = self.target(bucket, key, version_id.as_deref()).await?;
        *key = target.stored.into();
        *version_id = None;
        Ok(target.version_id)
    }

    /// Runs a write that stores `key` under its file name; in a versioned bucket, under the key's
    /// lock, then keeps what it wrote as a new version and returns its id.
    async fn write<T>(
        &self,
        bucket: &str,
        key: &str,
        write: impl std::future::Future<Output = S3Result<T>>,
    ) -> S3Result<(T, Option<String>)> {
        if !self.versioned.contains(bucket) {
            return Ok((self.write_under_key(bucket, key, write).await?, None));
        }
        let _key_lock = self.locks.lock(bucket, key).await;
        let written = self.write_under_key(bucket, key, write).await?;
        Ok((written, Some(self.keep_version(bucket, key).await?)))
    }

    /// [`Store::write`] of a request body capped by `meter`: `EntityTooLarge` once it went over.
    async fn upload<T>(
        &self,
        bucket: &str,
        key: &str,
        meter: &Meter,
        write: impl std::future::Future<Output = S3Result<T>>,
    ) -> S3Result<(T, Option<String>)> {
        too_large_if(self.write(bucket, key, write).await, meter, self.max_upload_bytes)
    }

    /// Copies the object `key` as a new version and lists it, dropping the oldest past the limit.
    async fn keep_version(&self, bucket: &str, key: &str) -> S3Result<String> {
        let id = versions::new_id();
        self.copy_stored(bucket, &keys::file_name(key), &versions::stored_name(key, &id)).await?;
        let mut ids = versions::list(&self.root, bucket, key).await?;
        ids.push(id.clone());
        let dropped: Vec<String> = ids.drain(..ids.len().saturating_sub(versions::MAX_VERSIONS_PER_KEY)).collect();
        versions::save(&self.root, bucket, key, &ids).await?;
        for old in dropped {
            self.remove_stored(bucket, &versions::stored_name(key, &old)).await?;
        }
        Ok(id)
    }

    /// Copies one stored file (data and attributes) to another name in the same bucket.
    async fn copy_stored(&self, bucket: &str, from: &str, to: &str) -> S3Result<()> {
        let source = CopySource::Bucket { bucket: bucket.into(), key: from.into(), version_id: None };
        let input = CopyObjectInput::builder()
            .bucket(bucket.to_owned())
            .key(to.to_owned())
            .copy_source(source)
            .build()
            .map_err(internal_error)?;
        self.fs.copy_object(internal(input, http::Method::PUT)).await?;
        Ok(())
    }

    /// Removes one stored file and its attributes; a missing one is no error.
    async fn remove_stored(&self, bucket: &str, stored: &str) -> S3Result<()> {
        let input = DeleteObjectInput { bucket: bucket.to_owned(), key: stored.to_owned(), ..Default::default() };
        self.fs.delete_object(internal(input, http::Method::DELETE)).await?;
        for path in self.attribute_files(bucket, stored) {
            if let Err(err) = tokio::fs::remove_file(&path).await {
                if err.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(error = %err, "cannot remove a deleted object's attributes");
                }
            }
        }
        Ok(())
    }

    /// The files in which s3s-fs keeps an object's attributes (content type, ETag, checksums),
    /// named as s3s-fs 0.14 names them. s3s-fs leaves them behind when it deletes the object; every
    /// version has its own name, so without this they would pile up.
    fn attribute_files(&self, bucket: &str, stored: &str) -> [PathBuf; 2] {
        let encode = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
        let stem = format!(".bucket-{}.object-{}", encode(bucket), encode(stored));
        [self.root.join(format!("{stem}.metadata.json")), self.root.join(format!("{stem}.internal.json"))]
    }

    /// Deletes `key` with every kept version, or only the version `requested` (the one before it
    /// becomes the object if it was the newest). Returns the version id deleted.
    ///
    /// Unlike S3, deleting without a version id leaves no delete marker and keeps no older
    /// versions: local mode has no way to list or restore them, and a deleted image must be gone.
    async fn delete_key(&self, bucket: &str, key: &str, requested: Option<&str>) -> S3Result<Option<String>> {
        keys::check(key)?;
        let wanted = requested.map(versions::parse).transpose()?;
        if !keys::bucket_dir(&self.root, bucket).is_dir() {
            return Err(s3_error!(NoSuchBucket));
        }
        let _key_lock = self.locks.lock(bucket, key).await;
        let mut ids = versions::list(&self.root, bucket, key).await?;
        let id = match wanted {
            None => return self.delete_everything(bucket, key, &ids).await.map(|()| None),
            Some(Wanted::Null) if ids.is_empty() => {
                return self.delete_everything(bucket, key, &[]).await.map(|()| None)
            }
            Some(Wanted::Null) => return Ok(Some("null".into())),
            Some(Wanted::Id(id)) => id,
        };
        let Some(at) = ids.iter().position(|kept| *kept == id) else { return Ok(Some(id)) };
        ids.remove(at);
        if at == ids.len() {
            match ids.last() {
                Some(previous) => {
                    self.copy_stored(bucket, &versions::stored_name(key, previous), &keys::file_name(key)).await?
                }
                None => self.delete_everything(bucket, key, &[]).await?,
            }
        }
        self.remove_stored(bucket, &versions::stored_name(key, &id)).await?;
        versions::save(&self.root, bucket, key, &ids).await?;
        Ok(Some(id))
    }

    /// Removes the object, its key file and the versions `ids`, the version list last (so that a
    /// failure part way leaves what is left findable by a retry).
    async fn delete_everything(&self, bucket: &str, key: &str, ids: &[String]) -> S3Result<()> {
        self.remove_stored(bucket, &keys::file_name(key)).await?;
        keys::forget(&self.root, bucket, key).await;
        for id in ids {
            self.remove_stored(bucket, &versions::stored_name(key, id)).await?;
        }
        versions::save(&self.root, bucket, key, &[]).await
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
                    let e_tag = self.stat(bucket, &keys::file_name(&stored.key)).await.ok().and_then(|head| head.e_tag);
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
        let (mut resp, version_id) = self.upload(&bucket, &key, &meter, self.fs.put_object(req)).await?;
        resp.output.version_id.clone_from(&version_id);
        let size = Some(meter.bytes.load(Ordering::Relaxed));
        self.created(
            &bucket,
            &key,
            Written { version_id, size, etag: resp.output.e_tag.as_ref(), reason: "PutObject" },
        )
        .await;
        Ok(resp)
    }

    async fn post_object(&self, mut req: S3Request<PostObjectInput>) -> S3Result<S3Response<PostObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        req.input.key = stored_name(&key)?;
        let meter = self.limit(&mut req.input.body, req.input.content_length)?;
        // s3s-fs answers POST by its put_object (not ours, so no PutObject event).
        let (mut resp, version_id) = self.upload(&bucket, &key, &meter, self.fs.post_object(req)).await?;
        // s3s writes no version header for POST itself; S3 does.
        if let Some(value) = version_id.as_deref().and_then(|id| http::HeaderValue::from_str(id).ok()) {
            resp.headers.insert("x-amz-version-id", value);
        }
        let size = Some(meter.bytes.load(Ordering::Relaxed));
        let etag = resp.output.e_tag.as_ref();
        self.created(&bucket, &key, Written { version_id, size, etag, reason: "PostObject" }).await;
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
        let (mut resp, version_id) = self.write(&bucket, &key, self.fs.complete_multipart_upload(req)).await?;
        // s3s-fs answers with a future that yields the XML body: show the key, not its stored name.
        let (shown_key, shown_version) = (key.clone(), version_id.clone());
        let show = move |mut output: CompleteMultipartUploadOutput| {
            output.key = Some(shown_key);
            output.location = None;
            output.version_id = shown_version;
            output
        };
        match resp.output.future.take() {
            Some(done) => resp.output.future = Some(Box::pin(async move { done.await.map(show) })),
            None => resp.output = show(resp.output),
        }
        resp.output.version_id.clone_from(&version_id);
        let etag = resp.output.e_tag.as_ref();
        self.created(&bucket, &key, Written { version_id, size: None, etag, reason: "CompleteMultipartUpload" }).await;
        Ok(resp)
    }

    async fn copy_object(&self, mut req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        req.input.key = stored_name(&key)?;
        let source_version = self.stored_source(&mut req.input.copy_source).await?;
        let (mut resp, version_id) = self.write(&bucket, &key, self.fs.copy_object(req)).await?;
        resp.output.copy_source_version_id = source_version;
        resp.output.version_id.clone_from(&version_id);
        let etag = resp.output.copy_object_result.as_ref().and_then(|r| r.e_tag.as_ref());
        self.created(&bucket, &key, Written { version_id, size: None, etag, reason: "CopyObject" }).await;
        Ok(resp)
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        let input = req.input;
        let version_id = self.delete_key(&input.bucket, &input.key, input.version_id.as_deref()).await?;
        Ok(S3Response::new(DeleteObjectOutput { version_id, ..Default::default() }))
    }

    async fn delete_objects(&self, req: S3Request<DeleteObjectsInput>) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let DeleteObjectsInput { bucket, delete, .. } = req.input;
        if delete.objects.len() > MAX_DELETE_OBJECTS {
            return Err(s3_error!(MalformedXML, "A DeleteObjects request names at most 1000 objects."));
        }
        let (mut deleted, mut errors) = (Vec::new(), Vec::new());
        for object in delete.objects {
            match self.delete_key(&bucket, &object.key, object.version_id.as_deref()).await {
                Ok(version_id) => {
                    deleted.push(DeletedObject { key: Some(object.key), version_id, ..Default::default() })
                }
                Err(err) if *err.code() == S3ErrorCode::NoSuchBucket => return Err(err),
                Err(err) => errors.push(Error {
                    code: Some(err.code().as_str().to_owned()),
                    message: err.message().map(str::to_owned),
                    key: Some(object.key),
                    version_id: object.version_id,
                }),
            }
        }
        let quiet = delete.quiet.unwrap_or(false);
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: (!quiet).then_some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            ..Default::default()
        }))
    }

    async fn get_object(&self, mut req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        let target = self.target(&req.input.bucket, &req.input.key, req.input.version_id.take().as_deref()).await?;
        req.input.key.clone_from(&target.stored);
        // The `response-content-*` overrides of a signed GET, as S3 applies them.
        let content_type = req.input.response_content_type.take();
        let disposition = req.input.response_content_disposition.take();
        let mut resp = self.fs.get_object(req).await.map_err(|err| target.missing_as_version(err))?;
        resp.output.version_id = target.version_id;
        if let Some(content_type) = content_type {
            resp.output.content_type = Some(content_type);
        }
        if let Some(disposition) = disposition {
            resp.output.content_disposition = Some(disposition);
        }
        Ok(resp)
    }

    async fn head_object(&self, mut req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        let target = self.target(&req.input.bucket, &req.input.key, req.input.version_id.take().as_deref()).await?;
        req.input.key.clone_from(&target.stored);
        let mut resp = self.fs.head_object(req).await.map_err(|err| target.missing_as_version(err))?;
        resp.output.version_id = target.version_id;
        Ok(resp)
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
        let source_version = self.stored_source(&mut req.input.copy_source).await?;
        let mut resp = self.fs.upload_part_copy(req).await?;
        resp.output.copy_source_version_id = source_version;
        Ok(resp)
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
