//! The page: the files of `frontend/`, embedded in the binary at compile time (see `build.rs`),
//! served by the Query function on AWS (`GET /`, `GET /{proxy+}`) and by `imgpipe serve` locally.
//!
//! A request names a file by its exact path; nothing is resolved on a file system, so no path
//! (`..`, `%2e%2e`, NUL, very long) can reach a file outside `frontend/`: it is not in the table.
//! Every answer says `no-cache` (with an `ETag`, so a revalidation costs a 304): a deploy is seen
//! at once. The page runs under a Content-Security-Policy that admits its own files, the storage
//! it uploads to and shows pictures from, and the sign-in service it exchanges tokens with.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::ApiState;
use crate::config::origin_of;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/frontend_files.rs"));
}

/// Longest request path looked up; anything longer cannot name a page file.
const MAX_PATH_BYTES: usize = 512;

/// One embedded file, ready to serve.
struct PageFile {
    body: &'static [u8],
    content_type: &'static str,
    etag: HeaderValue,
}

/// The files and the headers every answer carries.
struct Page {
    files: HashMap<&'static str, PageFile>,
    csp: HeaderValue,
}

/// `GET /` (index.html) and `GET /{path}` for each file of `frontend/` (HEAD too). The CSP is
/// computed from `state`: the input and output buckets' origins and the sign-in endpoints'.
pub fn router(state: &ApiState) -> axum::Router {
    let csp = content_security_policy(&page_origins(state));
    let page = Arc::new(Page::new(&csp));
    axum::Router::new().route("/", get(serve)).route("/{*path}", get(serve)).with_state(page)
}

/// The origins, beyond the page's own, that the page talks to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageOrigins {
    /// Where signed uploads are POSTed (the input bucket).
    pub upload: Vec<String>,
    /// Where thumbnails and originals are shown from (both buckets).
    pub images: Vec<String>,
    /// The sign-in service's token and revocation endpoints.
    pub sign_in: Vec<String>,
}

/// The origins of `state`'s buckets and sign-in service.
pub fn page_origins(state: &ApiState) -> PageOrigins {
    let bucket = |name: &str| origin_of(&state.clients.upload_url(name));
    let input = bucket(&state.config.input_bucket);
    let output = bucket(&state.config.output_bucket);
    let sign_in = state.config.auth.as_ref().map(|a| a.endpoints_origin()).filter(|o| !o.is_empty());
    PageOrigins {
        upload: input.iter().cloned().collect(),
        images: dedup(input.into_iter().chain(output).collect()),
        sign_in: sign_in.into_iter().collect(),
    }
}

fn dedup(mut origins: Vec<String>) -> Vec<String> {
    origins.sort();
    origins.dedup();
    origins
}

/// The page's Content-Security-Policy: its own scripts and styles only, no inline code, no
/// plugins, no framing, images from itself (and the favicon's `data:` URL) and the buckets,
/// requests to itself, the upload bucket and the sign-in service.
pub fn content_security_policy(origins: &PageOrigins) -> String {
    let sources = |extra: &[&[String]]| {
        let mut list = vec!["'self'".to_string()];
        for origin in extra.iter().flat_map(|o| o.iter()) {
            if is_csp_source(origin) && !list.contains(origin) {
                list.push(origin.clone());
            }
        }
        list.join(" ")
    };
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src {} data:; connect-src {}; \
         form-action 'self'; base-uri 'none'; frame-ancestors 'none'; object-src 'none'",
        sources(&[&origins.images]),
        sources(&[&origins.upload, &origins.sign_in]),
    )
}

/// An origin that cannot break out of its place in the policy (no `;`, `,`, quotes or spaces).
fn is_csp_source(origin: &str) -> bool {
    (origin.starts_with("https://") || origin.starts_with("http://"))
        && origin.len() <= 2048
        && origin.bytes().all(|b| b.is_ascii_alphanumeric() || b":/.-[]".contains(&b))
}

impl Page {
    fn new(csp: &str) -> Page {
        let files = embedded::FILES
            .iter()
            .filter_map(|&(path, body)| {
                let content_type = content_type(path)?;
                let etag = HeaderValue::from_str(&format!("\"{}\"", hex::encode(&Sha256::digest(body)[..16]))).ok()?;
                Some((path, PageFile { body, content_type, etag }))
            })
            .collect();
        // The policy's sources are checked by `is_csp_source`, so this only fails on a bug: then
        // the strictest policy still serves the page's own files.
        let csp = HeaderValue::from_str(csp).unwrap_or(HeaderValue::from_static("default-src 'self'"));
        Page { files, csp }
    }
}

/// The content type of a page file by its extension; `None` for types the page never serves.
pub fn content_type(path: &str) -> Option<&'static str> {
    let extension = path.rsplit_once('.')?.1;
    Some(match extension {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => return None,
    })
}

async fn serve(State(page): State<Arc<Page>>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    let name = if path == "/" { "index.html" } else { path.strip_prefix('/').unwrap_or(path) };
    let file = (name.len() <= MAX_PATH_BYTES).then(|| page.files.get(name)).flatten();
    let mut response = match file {
        None => (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "Not found.\n")
            .into_response(),
        Some(file) if etag_matches(&headers, &file.etag) => {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            response.headers_mut().insert(header::ETAG, file.etag.clone());
            response
        }
        Some(file) => {
            let mut response = ([(header::CONTENT_TYPE, file.content_type)], file.body).into_response();
            response.headers_mut().insert(header::ETAG, file.etag.clone());
            response
        }
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CONTENT_SECURITY_POLICY, page.csp.clone());
    response
}

/// `If-None-Match` names `etag` (or is `*`).
fn etag_matches(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Some(value) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let etag = etag.to_str().unwrap_or_default();
    value.split(',').take(64).map(|t| t.trim().trim_start_matches("W/")).any(|t| t == "*" || t == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_file_is_embedded_with_a_known_type() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../frontend");
        let page = Page::new("default-src 'none'");
        for (path, _) in embedded::FILES {
            assert!(page.files.contains_key(path), "{path} has a type the page does not serve");
            assert!(std::fs::read(dir.join(path)).unwrap() == page.files[path].body, "{path} is stale");
        }
        for must in ["index.html", "js/app.js", "js/auth.js", "css/app.css"] {
            assert!(page.files.contains_key(must), "{must} is missing");
        }
    }

    #[test]
    fn policy_names_the_buckets_and_the_sign_in_service_and_nothing_else() {
        let origins = PageOrigins {
            upload: vec!["https://in.s3.eu-west-1.amazonaws.com".into()],
            images: vec![
                "https://in.s3.eu-west-1.amazonaws.com".into(),
                "https://out.s3.eu-west-1.amazonaws.com".into(),
            ],
            sign_in: vec!["https://p.auth.eu-west-1.amazoncognito.com".into()],
        };
        let csp = content_security_policy(&origins);
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(csp.contains(
            "img-src 'self' https://in.s3.eu-west-1.amazonaws.com https://out.s3.eu-west-1.amazonaws.com data:;"
        ));
        assert!(csp.contains(
            "connect-src 'self' https://in.s3.eu-west-1.amazonaws.com https://p.auth.eu-west-1.amazoncognito.com;"
        ));
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"));
        assert!(!csp.contains("unsafe"));
    }

    #[test]
    fn an_origin_that_would_widen_the_policy_is_left_out() {
        for forged in ["https://a.example; script-src *", "*", "https://a.example 'unsafe-inline'", "data:", ""] {
            let csp = content_security_policy(&PageOrigins { sign_in: vec![forged.into()], ..Default::default() });
            assert!(csp.contains("connect-src 'self';"), "{forged:?}: {csp}");
            assert!(!csp.contains("unsafe") && !csp.contains('*'), "{forged:?}: {csp}");
        }
    }

    #[test]
    fn etags_match_exactly_weakly_or_by_star() {
        let etag = HeaderValue::from_static("\"abc\"");
        let with = |v: &'static str| HeaderMap::from_iter([(header::IF_NONE_MATCH, HeaderValue::from_static(v))]);
        assert!(etag_matches(&with("\"abc\""), &etag));
        assert!(etag_matches(&with("\"x\", W/\"abc\""), &etag));
        assert!(etag_matches(&with("*"), &etag));
        assert!(!etag_matches(&with("\"abcd\""), &etag));
        assert!(!etag_matches(&HeaderMap::new(), &etag));
    }
}
