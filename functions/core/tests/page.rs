//! The page and `/config` as the Query function serves them, over real HTTP/1.1 on a loopback
//! socket with raw request lines (a client library would normalise the adversarial paths away).

use std::sync::Arc;

use imgpipe_core::aws::{Clients, LocalEndpoints};
use imgpipe_core::config::{AuthSettings, Config};
use imgpipe_core::http::{query_function_router, ApiState};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const S3_URL: &str = "http://127.0.0.1:45999";

fn state(auth: Option<AuthSettings>) -> Arc<ApiState> {
    let clients = Clients::local(&LocalEndpoints {
        s3_url: S3_URL.into(),
        dynamodb_url: "http://127.0.0.1:45998".into(),
        access_key: "test".into(),
        secret_key: "test".into(),
        region: "us-east-1".into(),
    });
    Arc::new(ApiState { config: Config { auth, ..Config::default() }, clients, executions: None })
}

fn local_auth() -> AuthSettings {
    AuthSettings::new(
        "http://127.0.0.1:47000/auth",
        "imgpipe-web",
        "http://127.0.0.1:47000/auth",
        vec!["openid".into(), "imgpipe/images".into()],
    )
    .unwrap()
}

/// Serves the Query function's router on 127.0.0.1 and returns its address.
async fn serve(state: Arc<ApiState>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, query_function_router(state)).await });
    addr
}

struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Sends `request_head` (request line and headers, without the final blank line) as written.
async fn raw(addr: std::net::SocketAddr, request_head: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request_head).await.unwrap();
    stream.write_all(b"\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.unwrap();
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP answer");
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    Answer { status, head, body: bytes[split + 4..].to_vec() }
}

async fn get(addr: std::net::SocketAddr, path: &str) -> Answer {
    raw(addr, format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1").as_bytes()).await
}

fn page_file(path: &str) -> Vec<u8> {
    std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../frontend").join(path)).unwrap()
}

#[tokio::test]
async fn the_page_and_its_modules_are_served_with_types_and_safety_headers() {
    let addr = serve(state(Some(local_auth()))).await;
    let index = get(addr, "/").await;
    assert_eq!(index.status, 200);
    assert!(index.body == page_file("index.html"), "/ is not frontend/index.html");
    assert_eq!(index.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(index.header("cache-control"), Some("no-cache"));
    assert_eq!(index.header("x-content-type-options"), Some("nosniff"));
    let csp = index.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(csp.contains(&format!("connect-src 'self' {S3_URL} http://127.0.0.1:47000;")), "{csp}");
    assert!(csp.contains(&format!("img-src 'self' {S3_URL} data:;")), "{csp}");

    for (path, kind) in [("/js/app.js", "text/javascript; charset=utf-8"), ("/css/app.css", "text/css; charset=utf-8")]
    {
        let file = get(addr, path).await;
        assert_eq!(file.status, 200, "{path}");
        assert_eq!(file.header("content-type"), Some(kind), "{path}");
        assert!(file.body == page_file(&path[1..]), "{path} differs from frontend/");
        assert_eq!(file.header("cache-control"), Some("no-cache"));
    }

    // A revalidation with the ETag costs no body.
    let etag = index.header("etag").unwrap().to_string();
    let again = raw(addr, format!("GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}").as_bytes()).await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let head = raw(addr, b"HEAD /js/auth.js HTTP/1.1\r\nHost: x").await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

#[tokio::test]
async fn no_path_reaches_a_file_outside_the_page() {
    let addr = serve(state(None)).await;
    let long = format!("/{}", "a/".repeat(20_000));
    let dotted = format!("/js/{}app.js", "../".repeat(1000));
    let attempts = [
        "/../Cargo.toml",
        "/../../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/%2e%2e%2f%2e%2e%2fCargo.toml",
        "/js/..%2f..%2fCargo.toml",
        "/js/../../../etc/passwd",
        "/..%5c..%5cCargo.toml",
        "/./index.html",
        "//etc/passwd",
        "/js/%2e%2e/index.html",
        "/index.html%00.js",
        "/js/app.js/",
        "/.gitignore",
        "/build.rs",
        "/src/lib.rs",
        "/js",
        "/css/",
        long.as_str(),
        dotted.as_str(),
    ];
    for path in attempts {
        let answer = get(addr, path).await;
        assert!(matches!(answer.status, 400 | 404 | 414 | 431), "{path:.80}: {}", answer.status);
        assert!(!String::from_utf8_lossy(&answer.body).contains("[package]"), "{path:.80}");
        assert!(!String::from_utf8_lossy(&answer.body).contains("root:"), "{path:.80}");
    }
    // A raw NUL or space in the request target is refused by the HTTP parser, never looked up.
    for target in [&b"GET /index.html\0 HTTP/1.1\r\nHost: x"[..], b"GET /../\0/Cargo.toml HTTP/1.1\r\nHost: x"] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(target).await.unwrap();
        stream.write_all(b"\r\n\r\n").await.unwrap();
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).await.unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("[package]") && !text.starts_with("HTTP/1.1 200"), "{text:.200}");
    }
}

#[tokio::test]
async fn api_routes_still_answer_beside_the_page() {
    let addr = serve(state(None)).await;
    let health = get(addr, "/health").await;
    assert_eq!((health.status, health.body.as_slice()), (200, &b"ok"[..]));
    // No caller: the API answers, not the page (a JSON error, never index.html).
    let images = get(addr, "/images").await;
    assert_ne!(images.status, 200);
    assert!(!String::from_utf8_lossy(&images.body).contains("<html"));
}

#[tokio::test]
async fn config_tells_the_page_how_to_sign_in() {
    let addr = serve(state(Some(local_auth()))).await;
    let answer = get(addr, "/config").await;
    assert_eq!(answer.status, 200);
    let config: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    let auth = &config["auth"];
    assert_eq!(auth["issuer"], "http://127.0.0.1:47000/auth");
    assert_eq!(auth["clientId"], "imgpipe-web");
    assert_eq!(auth["authorizeUrl"], "http://127.0.0.1:47000/auth/oauth2/authorize");
    assert_eq!(auth["tokenUrl"], "http://127.0.0.1:47000/auth/oauth2/token");
    assert_eq!(auth["revokeUrl"], "http://127.0.0.1:47000/auth/oauth2/revoke");
    assert_eq!(auth["logoutUrl"], "http://127.0.0.1:47000/auth/logout");
    assert_eq!(auth["scopes"], serde_json::json!(["openid", "imgpipe/images"]));
    assert_eq!(config["limits"]["maxBytes"], Config::default().limits.max_bytes);

    let addr = serve(state(None)).await;
    let config: serde_json::Value = serde_json::from_slice(&get(addr, "/config").await.body).unwrap();
    assert!(config["auth"].is_null(), "{config}");
}
