//! CORS for the browser: preflight answers and the headers on actual responses.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode};

use crate::s3_error::S3Failure;

const ALLOWED_METHODS: &str = "GET, PUT, POST, HEAD";
const EXPOSED_HEADERS: &str = "ETag, Location, x-amz-version-id, x-amz-request-id";
const MAX_AGE_SECONDS: &str = "3000";

pub(crate) struct Cors {
    /// Allowed origins; empty or containing "*" means any origin.
    origins: Vec<String>,
}

impl Cors {
    pub(crate) fn new(origins: &[String]) -> Self {
        Self { origins: origins.iter().map(|o| o.trim_end_matches('/').to_owned()).collect() }
    }

    fn any_origin(&self) -> bool {
        self.origins.is_empty() || self.origins.iter().any(|o| o == "*")
    }

    /// The Access-Control-Allow-Origin value for this request origin, if it is allowed.
    fn allow_origin(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        if self.any_origin() {
            return Some(HeaderValue::from_static("*"));
        }
        let text = origin.to_str().ok()?;
        self.origins.iter().any(|o| o == text).then(|| origin.clone())
    }

    /// The answer to an OPTIONS request, shaped like S3's.
    pub(crate) fn preflight(&self, headers: &HeaderMap, resource: &str) -> Response<Bytes> {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return S3Failure::new(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Insufficient information. Origin request header needed.",
            )
            .into_response(resource, false);
        };
        let method_allowed = headers
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
            .is_some_and(|m| [Method::GET, Method::PUT, Method::POST, Method::HEAD].contains(&m));
        let allow_origin = self.allow_origin(origin).filter(|_| method_allowed);
        let Some(allow_origin) = allow_origin else {
            return S3Failure::new(
                StatusCode::FORBIDDEN,
                "AccessForbidden",
                "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, \
                 request method / Access-Control-Request-Method or Access-Control-Request-Headers are not \
                 whitelisted by the resource's CORS spec.",
            )
            .into_response(resource, false);
        };

        let mut response = Response::new(Bytes::new());
        let out = response.headers_mut();
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOWED_METHODS));
        // Any request header is allowed (as with an S3 CORS rule `AllowedHeaders: ["*"]`).
        if let Some(requested) = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
        }
        out.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED_HEADERS));
        out.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE_SECONDS));
        out.insert(
            header::VARY,
            HeaderValue::from_static("Origin, Access-Control-Request-Headers, Access-Control-Request-Method"),
        );
        response
    }

    /// Adds the CORS headers to a response to a cross-origin request from an allowed origin.
    pub(crate) fn decorate(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
        let Some(allow_origin) = origin.and_then(|o| self.allow_origin(o)) else { return };
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOWED_METHODS));
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED_HEADERS));
        if !self.any_origin() {
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preflight(cors: &Cors, origin: Option<&str>, method: &str) -> Response<Bytes> {
        let mut headers = HeaderMap::new();
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        headers.insert(header::ACCESS_CONTROL_REQUEST_METHOD, HeaderValue::from_str(method).unwrap());
        headers.insert(header::ACCESS_CONTROL_REQUEST_HEADERS, HeaderValue::from_static("content-type"));
        cors.preflight(&headers, "/b")
    }

    #[test]
    fn listed_origin_is_echoed_and_others_refused() {
        let cors = Cors::new(&["http://127.0.0.1:8080/".to_owned()]);
        let ok = preflight(&cors, Some("http://127.0.0.1:8080"), "POST");
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://127.0.0.1:8080");
        assert_eq!(ok.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS], "content-type");
        assert_eq!(preflight(&cors, Some("http://evil.example"), "POST").status(), StatusCode::FORBIDDEN);
        assert_eq!(preflight(&cors, Some("http://127.0.0.1:8080"), "DELETE").status(), StatusCode::FORBIDDEN);
        assert_eq!(preflight(&cors, None, "POST").status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn wildcard_by_default() {
        let cors = Cors::new(&[]);
        let ok = preflight(&cors, Some("http://anything:1"), "PUT");
        assert_eq!(ok.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        let mut headers = HeaderMap::new();
        cors.decorate(Some(&HeaderValue::from_static("http://x")), &mut headers);
        assert_eq!(headers[header::ACCESS_CONTROL_EXPOSE_HEADERS], EXPOSED_HEADERS);
    }
}
