//! CORS for the upload page: exact configured origins only, and only what the page needs (a POST
//! form upload, a GET of a presigned object). No configured origin means no CORS at all, as for
//! an S3 bucket without a CORS configuration.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode};

use crate::s3_error::S3Failure;

const ALLOWED_METHODS: &str = "GET, POST";
/// Request headers a preflight may ask for (the page sends none but a form's content type).
const ALLOWED_HEADERS: [&str; 1] = ["content-type"];
const EXPOSED_HEADERS: &str = "ETag, Location, x-amz-version-id, x-amz-request-id";
const MAX_AGE_SECONDS: &str = "3000";

pub(crate) struct Cors {
    /// Allowed origins, compared exactly (`*` is not special).
    origins: Vec<String>,
}

fn forbidden(resource: &str, message: &str) -> Response<Bytes> {
    S3Failure::new(StatusCode::FORBIDDEN, "AccessForbidden", message).into_response(resource, false)
}

impl Cors {
    pub(crate) fn new(origins: &[String]) -> Self {
        Self { origins: origins.iter().map(|o| o.trim_end_matches('/').to_owned()).filter(|o| !o.is_empty()).collect() }
    }

    /// The request origin when it is one of the configured ones.
    fn allow_origin(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        let text = origin.to_str().ok()?;
        self.origins.iter().any(|o| o == text).then(|| origin.clone())
    }

    fn method_allowed(headers: &HeaderMap) -> bool {
        headers
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
            .is_some_and(|m| m == Method::GET || m == Method::POST)
    }

    fn headers_allowed(headers: &HeaderMap) -> bool {
        headers.get_all(header::ACCESS_CONTROL_REQUEST_HEADERS).iter().all(|value| {
            value.to_str().is_ok_and(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|h| !h.is_empty())
                    .all(|h| ALLOWED_HEADERS.iter().any(|a| a.eq_ignore_ascii_case(h)))
            })
        })
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
        if self.origins.is_empty() {
            return forbidden(resource, "CORSResponse: CORS is not enabled for this bucket.");
        }
        let allow_origin =
            self.allow_origin(origin).filter(|_| Self::method_allowed(headers) && Self::headers_allowed(headers));
        let Some(allow_origin) = allow_origin else {
            return forbidden(
                resource,
                "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, \
                 request method / Access-Control-Request-Method or Access-Control-Request-Headers are not \
                 whitelisted by the resource's CORS spec.",
            );
        };

        let mut response = Response::new(Bytes::new());
        let out = response.headers_mut();
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOWED_METHODS));
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

    /// Adds the CORS headers to a response to a GET or POST from a configured origin.
    pub(crate) fn decorate(&self, method: &Method, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
        if *method != Method::GET && *method != Method::POST {
            return;
        }
        let Some(allow_origin) = origin.and_then(|o| self.allow_origin(o)) else { return };
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOWED_METHODS));
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED_HEADERS));
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preflight(cors: &Cors, origin: Option<&str>, method: &str, request_headers: &str) -> Response<Bytes> {
        let mut headers = HeaderMap::new();
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        headers.insert(header::ACCESS_CONTROL_REQUEST_METHOD, HeaderValue::from_str(method).unwrap());
        headers.insert(header::ACCESS_CONTROL_REQUEST_HEADERS, HeaderValue::from_str(request_headers).unwrap());
        cors.preflight(&headers, "/b")
    }

    fn decorated(cors: &Cors, method: Method, origin: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        cors.decorate(&method, Some(&HeaderValue::from_str(origin).unwrap()), &mut headers);
        headers
    }

    #[test]
    fn listed_origin_is_echoed_and_others_refused() {
        let cors = Cors::new(&["http://127.0.0.1:8080/".to_owned()]);
        let ok = preflight(&cors, Some("http://127.0.0.1:8080"), "POST", "content-type");
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://127.0.0.1:8080");
        assert_eq!(ok.headers()[header::ACCESS_CONTROL_ALLOW_METHODS], "GET, POST");
        assert_eq!(ok.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS], "content-type");
        let refused = [
            preflight(&cors, Some("http://evil.example"), "POST", "content-type"),
            preflight(&cors, Some("http://127.0.0.1:8080.evil.example"), "POST", ""),
            preflight(&cors, Some("http://127.0.0.1:8080"), "PUT", ""),
            preflight(&cors, Some("http://127.0.0.1:8080"), "DELETE", ""),
            preflight(&cors, Some("http://127.0.0.1:8080"), "POST", "content-type, x-amz-date, authorization"),
        ];
        assert!(refused.iter().all(|r| r.status() == StatusCode::FORBIDDEN));
        assert_eq!(preflight(&cors, None, "POST", "").status(), StatusCode::BAD_REQUEST);
        assert!(
            decorated(&cors, Method::GET, "http://127.0.0.1:8080").contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        );
        assert!(decorated(&cors, Method::PUT, "http://127.0.0.1:8080").is_empty());
        assert!(decorated(&cors, Method::GET, "http://evil.example").is_empty());
    }

    /// Regression: no configured origin (and "*") used to allow every origin.
    #[test]
    fn no_origin_configured_means_no_cors() {
        for origins in [vec![], vec!["*".to_owned()]] {
            let cors = Cors::new(&origins);
            let answer = preflight(&cors, Some("http://anything:1"), "POST", "");
            assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{origins:?}");
            assert!(answer.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
            assert!(decorated(&cors, Method::GET, "http://anything:1").is_empty(), "{origins:?}");
        }
    }
}
