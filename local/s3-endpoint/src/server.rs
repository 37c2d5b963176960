//! The front door: CORS, injected faults, size limits before any body is read, full verification
//! of browser POST uploads, then the s3s service.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use chrono::Utc;
use futures::StreamExt;
use http::{header, HeaderMap, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use s3s::service::S3Service;
use s3s::Body;

use crate::cors::Cors;
use crate::faults::Faults;
use crate::form::{self, FormError};
use crate::post_policy::{self, PostAuth};
use crate::s3_error::S3Failure;
use loopback_listener::Dropped;

/// Room for the form fields of a POST upload on top of the file itself.
pub(crate) const FORM_FIELDS_MAX: u64 = 64 * 1024;

pub(crate) struct FrontDoor {
    pub s3: S3Service,
    pub cors: Cors,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
    pub max_upload_bytes: u64,
    /// Longest a browser POST form may take to arrive.
    pub form_read_timeout: Duration,
    pub faults: Faults,
}

impl FrontDoor {
    /// Serves one request: errors become S3 error responses; only an injected fault drops the
    /// connection.
    pub(crate) async fn handle(&self, req: Request<Incoming>) -> Result<Response<Body>, Dropped> {
        let origin = req.headers().get(header::ORIGIN).cloned();
        let method = req.method().clone();
        let mut response = self.route(req).await?;
        self.cors.decorate(&method, origin.as_ref(), response.headers_mut());
        // Objects are served as their declared type, never as whatever a browser sniffs.
        response.headers_mut().insert("x-content-type-options", header::HeaderValue::from_static("nosniff"));
        Ok(response)
    }

    async fn route(&self, req: Request<Incoming>) -> Result<Response<Body>, Dropped> {
        let resource = req.uri().path().to_owned();
        if req.method() == Method::OPTIONS {
            return Ok(self.cors.preflight(req.headers(), &resource).map(Body::from));
        }
        if let Some(fault) = self.faults.draw() {
            tracing::debug!(fault = fault.name(), "S3 fault injected");
            let failure = fault.failure().ok_or(Dropped)?;
            return Ok(failure.into_response(&resource, true).map(Body::from));
        }
        Ok(self.answer(req, resource).await)
    }

    async fn answer(&self, req: Request<Incoming>, resource: String) -> Response<Body> {
        if let Err(failure) = self.check_declared_size(req.method(), req.headers()) {
            // The body is never read: ask the client to go away.
            return failure.into_response(&resource, true).map(Body::from);
        }
        let multipart_boundary = content_type(req.headers()).and_then(form::boundary);
        if req.method() == Method::POST {
            if let Some(boundary) = multipart_boundary {
                return match self.post_upload(req, &boundary).await {
                    Ok(response) => response,
                    Err((failure, close)) => failure.into_response(&resource, close).map(Body::from),
                };
            }
        }
        self.forward(req.map(Body::from)).await
    }

    /// Refuses uploads whose declared size is over the limit, before reading them.
    fn check_declared_size(&self, method: &Method, headers: &HeaderMap) -> Result<(), S3Failure> {
        let max = self.max_upload_bytes;
        let number =
            |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
        let decoded = number("x-amz-decoded-content-length");
        let length = number(header::CONTENT_LENGTH.as_str());
        let over = match *method {
            // aws-chunked bodies declare the object size separately from the framed length
            Method::PUT => match decoded {
                Some(size) => (size > max).then_some(size),
                None => length.filter(|&size| size > max),
            },
            Method::POST if content_type(headers).and_then(form::boundary).is_some() => {
                length.filter(|&size| size > max.saturating_add(FORM_FIELDS_MAX))
            }
            _ => None,
        };
        match over {
            Some(size) => Err(S3Failure::too_large(Some(size), max)),
            None => Ok(()),
        }
    }

    /// A browser POST upload: read the bounded form, verify it as S3 does, then let s3s store it.
    async fn post_upload(&self, req: Request<Incoming>, boundary: &str) -> Result<Response<Body>, (S3Failure, bool)> {
        let Some(bucket) = bucket_of_post(req.uri().path()) else {
            return Err((
                S3Failure::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "MethodNotAllowed",
                    "The specified method is not allowed against this resource.",
                ),
                true,
            ));
        };
        if !s3s::path::check_bucket_name(&bucket) {
            return Err((
                S3Failure::new(StatusCode::BAD_REQUEST, "InvalidBucketName", "The specified bucket is not valid."),
                true,
            ));
        }
        let (parts, body) = req.into_parts();
        let limit = self.max_upload_bytes.saturating_add(FORM_FIELDS_MAX);
        let body = tokio::time::timeout(self.form_read_timeout, read_bounded(Body::from(body), limit))
            .await
            .map_err(|_| (S3Failure::request_timeout(), true))??;
        let form = form::parse(&body, boundary).map_err(|err| (form_failure(&err), false))?;
        let auth = PostAuth {
            access_key: &self.access_key,
            secret_key: &self.secret_key,
            region: &self.region,
            max_upload_bytes: self.max_upload_bytes,
        };
        post_policy::verify(&form, &bucket, &auth, Utc::now()).map_err(|failure| (failure, false))?;
        drop(form);
        // s3s parses the form from a stream and refuses any single read that would take its form
        // buffer past 64 KiB, so hand it the checked body in small pieces, as a socket would.
        let chunks: s3s::stream::DynByteStream = Box::pin(ChunkedBody { data: body, chunk: 16 * 1024 });
        Ok(self.forward(Request::from_parts(parts, Body::from(chunks))).await)
    }

    async fn forward(&self, req: Request<Body>) -> Response<Body> {
        let resource = req.uri().path().to_owned();
        match self.s3.call(req).await {
            Ok(response) => response,
            Err(err) => {
                tracing::error!(error = ?err, "s3s failed to answer");
                S3Failure::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                )
                .into_response(&resource, true)
                .map(Body::from)
            }
        }
    }
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())
}

/// The bucket of a POST Object path ("/bucket" or "/bucket/").
fn bucket_of_post(path: &str) -> Option<String> {
    let name = path.strip_prefix('/')?;
    let name = name.strip_suffix('/').unwrap_or(name);
    (!name.is_empty() && !name.contains('/')).then(|| name.to_owned())
}

/// Reads a whole body, refusing it (and closing the connection) once it passes `limit` bytes.
async fn read_bounded(mut body: Body, limit: u64) -> Result<Bytes, (S3Failure, bool)> {
    let mut buffer = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|err| {
            (
                S3Failure::new(
                    StatusCode::BAD_REQUEST,
                    "IncompleteBody",
                    format!("The request body could not be read: {err}"),
                ),
                true,
            )
        })?;
        if (buffer.len() + chunk.len()) as u64 > limit {
            return Err((S3Failure::too_large(None, limit.saturating_sub(FORM_FIELDS_MAX)), true));
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(buffer.freeze())
}

fn form_failure(err: &FormError) -> S3Failure {
    match err {
        FormError::Malformed | FormError::TooManyParts | FormError::DuplicateHeader(_) => {
            S3Failure::malformed_post("The body of your POST request is not well-formed multipart/form-data.")
        }
        FormError::NoFile | FormError::DuplicateField(_) => S3Failure::invalid_argument(err.to_string()),
    }
}

/// An in-memory body streamed in fixed-size pieces.
struct ChunkedBody {
    data: Bytes,
    chunk: usize,
}

impl futures::Stream for ChunkedBody {
    type Item = Result<Bytes, s3s::StdError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        if self.data.is_empty() {
            return std::task::Poll::Ready(None);
        }
        let n = self.chunk.min(self.data.len());
        std::task::Poll::Ready(Some(Ok(self.data.split_to(n))))
    }
}

impl s3s::stream::ByteStream for ChunkedBody {
    fn remaining_length(&self) -> s3s::stream::RemainingLength {
        s3s::stream::RemainingLength::new_exact(self.data.len())
    }
}
