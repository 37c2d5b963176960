//! End-to-end tests of accounts on one machine and of the API listener: the real `imgpipe serve`
//! with its real sign-in service. Every token fault API Gateway's JWT authorizer refuses gets 401
//! on every signed-in route; `imgpipe users` round trip; images are their owner's only; the
//! listener refuses other host names (DNS rebinding) and closes half-sent requests.
//!
//! Needs: `cargo build --workspace --bins` and the model (scripts/fetch-model.sh).

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use auth::SigningKey;
use imgpipe_e2e::serve::{gradient_jpeg, imgpipe_command, Server, TempDir};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const PASSWORD: &str = "correct horse battery staple";
const CLIENT_ID: &str = "imgpipe-local";
const SCOPE: &str = "imgpipe/images";

/// Runs `imgpipe ARGS --data DATA` with `stdin`; exit code, stdout, stderr.
fn imgpipe(data: &Path, args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
    let mut cmd: Command = imgpipe_command();
    cmd.args(args).arg("--data").arg(data);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run imgpipe");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    let out = child.wait_with_output().expect("wait for imgpipe");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn add_user(data: &Path, name: &str) {
    let (code, out, err) = imgpipe(data, &["users", "add", name, "--password-stdin"], &format!("{PASSWORD}\n"));
    assert_eq!(code, Some(0), "users add {name}: {out}{err}");
}

fn token(data: &Path, name: &str) -> String {
    let (code, out, err) = imgpipe(data, &["users", "token", name], &format!("{PASSWORD}\n"));
    assert_eq!(code, Some(0), "users token {name}: {out}{err}");
    let token = out.trim().to_string();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token:?}");
    token
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The claims of the server's access tokens, for minting faulty ones.
fn access_claims(issuer: &str) -> Value {
    json!({
        "sub": "00000000-0000-4000-8000-000000000001", "iss": issuer, "client_id": CLIENT_ID,
        "token_use": "access", "scope": format!("openid {SCOPE}"), "auth_time": now() - 10,
        "iat": now() - 10, "exp": now() + 3600, "jti": "j", "username": "mallory",
    })
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

/// One signed-in route: method, path, JSON body.
struct Route(&'static str, String, Option<Value>);

fn api_routes() -> Vec<Route> {
    let id = "6f1c1d0e-1111-4222-8333-444455556666";
    vec![
        Route("POST", "/uploads".into(), Some(json!({"filename": "a.jpg", "contentType": "image/jpeg", "size": 10}))),
        Route("GET", "/images".into(), None),
        Route("GET", "/images?label=Cat&minConfidence=10".into(), None),
        Route("GET", format!("/images/{id}"), None),
        Route("GET", format!("/images/{id}/timeline"), None),
        Route("DELETE", format!("/images/{id}"), None),
    ]
}

async fn call(server: &Server, route: &Route, bearer: Option<&str>) -> reqwest::Response {
    let Route(method, path, body) = route;
    let mut req = server.http().request(method.parse().unwrap(), server.endpoint(path));
    if let Some(bearer) = bearer {
        req = req.header("authorization", bearer);
    }
    if let Some(body) = body {
        req = req.json(body);
    }
    req.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_token_fault_gets_401_on_every_signed_in_route() {
    let dir = TempDir::new("auth-faults");
    let data = dir.join("data");
    add_user(&data, "alice");
    let server = Server::start(&data, &[], &[]).await;
    let good = token(&data, "alice");
    let issuer = format!("{}auth", server.url);
    let key_pem = std::fs::read_to_string(data.join("auth/signing-key.pem")).expect("the service's key");
    let key = SigningKey::from_pkcs8_pem(&key_pem).expect("a PKCS#8 key");
    let other_key = SigningKey::generate().expect("another key");

    let mut tampered = good.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let claims = access_claims(&issuer);
    let header_none = base64_url(br#"{"alg":"none","typ":"JWT"}"#);
    let id_token = json!({
        "sub": claims["sub"], "iss": issuer, "aud": CLIENT_ID, "token_use": "id", "cognito:username": "mallory",
        "auth_time": now() - 10, "iat": now() - 10, "exp": now() + 3600,
    });
    let faults: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("empty bearer", Some("Bearer ".into())),
        ("garbage", Some("Bearer not.a.jwt".into())),
        ("tampered signature", Some(format!("Bearer {tampered}"))),
        ("expired", Some(format!("Bearer {}", key.sign(&with(claims.clone(), "exp", json!(now() - 60))).unwrap()))),
        (
            "not yet valid",
            Some(format!("Bearer {}", key.sign(&with(claims.clone(), "nbf", json!(now() + 600))).unwrap())),
        ),
        (
            "wrong issuer",
            Some(format!(
                "Bearer {}",
                key.sign(&with(claims.clone(), "iss", json!("http://evil.example/auth"))).unwrap()
            )),
        ),
        (
            "wrong audience",
            Some(format!("Bearer {}", key.sign(&with(claims.clone(), "client_id", json!("someone-else"))).unwrap())),
        ),
        (
            "without the API scope",
            Some(format!("Bearer {}", key.sign(&with(claims.clone(), "scope", json!("openid email"))).unwrap())),
        ),
        ("an ID token", Some(format!("Bearer {}", key.sign(&id_token).unwrap()))),
        ("signed by another key", Some(format!("Bearer {}", other_key.sign(&claims).unwrap()))),
        ("alg none", Some(format!("Bearer {header_none}.{}.", base64_url(claims.to_string().as_bytes())))),
    ];
    for route in api_routes() {
        for (fault, bearer) in &faults {
            let resp = call(&server, &route, bearer.as_deref()).await;
            let status = resp.status().as_u16();
            let challenge = resp.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_string);
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            assert_eq!(status, 401, "{fault} on {} {}: {body}", route.0, route.1);
            assert_eq!(body, json!({"message": "Unauthorized"}), "{fault} on {} {}", route.0, route.1);
            assert!(challenge.is_some_and(|c| c.starts_with("Bearer ")), "{fault}: a WWW-Authenticate challenge");
        }
        // The real token passes the authorizer on the same route.
        let resp = call(&server, &route, Some(&format!("Bearer {good}"))).await;
        let status = resp.status().as_u16();
        assert!(status != 401 && status < 500, "a good token on {} {}: {status}", route.0, route.1);
    }
    // A token the server's own key signed, with the right claims, passes (the minting is faithful).
    let minted = key.sign(&claims).unwrap();
    let (status, body) = get(&server, "/images", Some(&minted)).await;
    assert_eq!(status, 200, "{body}");
    // The page, its config, health and the sign-in service need no token.
    for path in ["/", "/config", "/health", "/auth/.well-known/openid-configuration", "/auth/.well-known/jwks.json"] {
        let (status, _) = get(&server, path, None).await;
        assert_eq!(status, 200, "GET {path} without a token");
    }
    let (_, discovery) = get(&server, "/auth/.well-known/openid-configuration", None).await;
    assert_eq!(discovery["issuer"], issuer.as_str());
    assert!(discovery["scopes_supported"].as_array().unwrap().contains(&json!(SCOPE)), "{discovery}");
    // The page opened as localhost exchanges its code with the issuer on 127.0.0.1: CORS for the
    // page's own origins on the token endpoint, none for others.
    let port = server.url.trim_end_matches('/').rsplit(':').next().unwrap().to_string();
    for (origin, allowed) in [(format!("http://localhost:{port}"), true), ("http://evil.example".to_string(), false)] {
        let resp = server
            .http()
            .post(server.endpoint("/auth/oauth2/token"))
            .header("origin", &origin)
            .form(&[("grant_type", "authorization_code"), ("client_id", CLIENT_ID), ("code", "nope")])
            .send()
            .await
            .expect("POST /auth/oauth2/token");
        let acao = resp.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_string());
        assert_eq!(resp.status().as_u16(), 400, "a bad code is refused");
        assert_eq!(acao, allowed.then_some(origin.clone()), "CORS for {origin}");
    }
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn get(server: &Server, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = server.http().get(server.endpoint(path));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap_or_default();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn users_cli_round_trip_and_images_belong_to_their_owner() {
    let dir = TempDir::new("auth-users");
    let data = dir.join("data");
    add_user(&data, "alice");
    add_user(&data, "bob");
    // Refusals: a taken name (any case), a short password, a bad name.
    let (code, _, err) = imgpipe(&data, &["users", "add", "ALICE", "--password-stdin"], &format!("{PASSWORD}\n"));
    assert_eq!(code, Some(1), "a taken name: {err}");
    let (code, _, err) = imgpipe(&data, &["users", "add", "carol", "--password-stdin"], "short\n");
    assert_eq!(code, Some(1), "a short password: {err}");
    let (code, _, err) = imgpipe(&data, &["users", "add", "a b", "--password-stdin"], &format!("{PASSWORD}\n"));
    assert_eq!(code, Some(1), "a bad name: {err}");
    let (code, out, err) = imgpipe(&data, &["users", "list", "--json"], "");
    assert_eq!(code, Some(0), "{err}");
    let users: Value = serde_json::from_str(&out).expect("users list --json");
    let names: Vec<&str> = users.as_array().unwrap().iter().filter_map(|u| u["username"].as_str()).collect();
    assert_eq!(names, ["alice", "bob"]);
    assert!(!out.contains("argon2"), "no password hashes in the listing: {out}");

    // process as alice (the first user), then show as alice and as bob.
    let photo = dir.join("gradient.jpg");
    std::fs::write(&photo, gradient_jpeg(320, 240)).unwrap();
    let photo = photo.to_str().unwrap();
    let (code, out, err) = imgpipe(&data, &["process", "--json", photo], "");
    assert_eq!(code, Some(0), "process: {out}{err}");
    let rows: Value = serde_json::from_str(&out).expect("rows");
    let id = rows[0]["imageId"].as_str().expect("an image id").to_string();
    let (code, out, err) = imgpipe(&data, &["show", &id, "--user", "alice"], "");
    assert_eq!(code, Some(0), "alice sees her image: {out}{err}");
    let (code, out, err) = imgpipe(&data, &["show", &id, "--user", "bob"], "");
    assert_eq!(code, Some(1), "bob does not see alice's image: {out}{err}");
    let unknown = "6f1c1d0e-1111-4222-8333-444455556666";
    let (_, _, missing) = imgpipe(&data, &["show", unknown, "--user", "bob"], "");
    assert_eq!(err.replace(&id, unknown), missing, "another owner's image answers as one that does not exist");
    let (code, _, err) = imgpipe(&data, &["show", &id, "--user", "nobody"], "");
    assert_eq!(code, Some(1), "an unknown user: {err}");

    let server = Server::start(&data, &[], &[]).await;
    let alice = token(&data, "alice");
    let bob = token(&data, "bob");
    let (status, body) = get(&server, &format!("/images/{id}"), Some(&alice)).await;
    assert_eq!((status, body["imageId"].as_str()), (200, Some(id.as_str())), "{body}");
    let (status, body) = get(&server, &format!("/images/{id}"), Some(&bob)).await;
    assert_eq!(status, 404, "another owner's image is not found: {body}");
    let (status, body) = get(&server, "/images", Some(&bob)).await;
    assert_eq!(status, 200);
    assert_eq!(body["items"].as_array().map(Vec::len), Some(0), "bob has no images: {body}");

    // A wrong password gets no token.
    let (code, out, err) = imgpipe(&data, &["users", "token", "alice"], "wrong password\n");
    assert_eq!((code, out.trim()), (Some(1), ""), "{err}");
    // Removal: no new tokens; one already issued works until it expires, as Cognito's do.
    let (code, _, err) = imgpipe(&data, &["users", "remove", "bob"], "");
    assert_eq!(code, Some(0), "{err}");
    let (code, _, _) = imgpipe(&data, &["users", "token", "bob"], &format!("{PASSWORD}\n"));
    assert_eq!(code, Some(1), "a removed user gets no token");
    let (code, _, _) = imgpipe(&data, &["users", "remove", "bob"], "");
    assert_eq!(code, Some(1), "removing twice");
    let (status, _) = get(&server, "/images", Some(&bob)).await;
    assert_eq!(status, 200, "an issued token stays valid until it expires");
    let (_, out, _) = imgpipe(&data, &["users", "list"], "");
    assert!(out.contains("alice") && !out.contains("bob"), "{out}");
}

/// The page's sign-in, over HTTP as a browser makes it: `/config` names the sign-in service;
/// the authorization code flow with PKCE through its form gives an access token the API accepts.
#[tokio::test(flavor = "multi_thread")]
async fn the_page_signs_in_with_what_config_names_and_calls_the_api() {
    use sha2::Digest as _;
    let dir = TempDir::new("auth-page");
    let data = dir.join("data");
    add_user(&data, "alice");
    let server = Server::start(&data, &[], &[]).await;
    let (status, config) = get(&server, "/config", None).await;
    assert_eq!(status, 200);
    let auth = &config["auth"];
    assert_eq!(auth["issuer"], format!("{}auth", server.url), "{config}");
    assert_eq!(auth["clientId"], CLIENT_ID);
    assert!(auth["scopes"].as_array().unwrap().contains(&json!(SCOPE)), "{config}");
    let str_of = |name: &str| auth[name].as_str().unwrap_or_else(|| panic!("no {name}: {config}")).to_string();

    let verifier = base64_url(uuid::Uuid::new_v4().as_bytes()) + &base64_url(uuid::Uuid::new_v4().as_bytes());
    let challenge = base64_url(&sha2::Sha256::digest(verifier.as_bytes()));
    let scope = auth["scopes"].as_array().unwrap().iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" ");
    let params = [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", server.url.as_str()),
        ("state", "s1"),
        ("scope", scope.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let form = browser.get(str_of("authorizeUrl")).query(&params).send().await.expect("GET authorize");
    assert_eq!(form.status().as_u16(), 200);
    let html = form.text().await.unwrap();
    assert!(html.contains("name=\"username\"") && html.contains("name=\"password\""), "{html}");
    let mut fields: Vec<(&str, &str)> = params.to_vec();
    fields.extend([("username", "alice"), ("password", "wrong password")]);
    let refused = browser.post(str_of("authorizeUrl")).form(&fields).send().await.expect("POST authorize");
    assert!(refused.headers().get("location").is_none(), "a wrong password gets no code");
    fields.pop();
    fields.push(("password", PASSWORD));
    let signed_in = browser.post(str_of("authorizeUrl")).form(&fields).send().await.expect("POST authorize");
    assert_eq!(signed_in.status().as_u16(), 302);
    let location = signed_in.headers()["location"].to_str().unwrap().to_string();
    let url = reqwest::Url::parse(&location).expect("a redirect URL");
    assert_eq!(format!("{}://{}/", url.scheme(), url.authority()), server.url, "back to the page");
    let code = url.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned()).expect("a code");
    let tokens: Value = browser
        .post(str_of("tokenUrl"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("code", code.as_str()),
            ("redirect_uri", server.url.as_str()),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .expect("POST token")
        .json()
        .await
        .expect("token JSON");
    let access = tokens["access_token"].as_str().unwrap_or_else(|| panic!("no access token: {tokens}"));
    let (status, body) = get(&server, "/images", Some(access)).await;
    assert_eq!(status, 200, "{body}");
    let id_token = tokens["id_token"].as_str().expect("an ID token with openid");
    let (status, _) = get(&server, "/images", Some(id_token)).await;
    assert_eq!(status, 401, "the ID token of the same sign-in is not an access token");
}

/// Runs `imgpipe serve --port 0 --data DATA` until it prints its URL; the lines it printed.
fn serve_banner(data: &Path) -> Vec<String> {
    use std::io::BufRead as _;
    let mut child = imgpipe_command()
        .args(["serve", "--port", "0", "--data"])
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run imgpipe serve");
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(child.stdout.take().expect("stdout")).lines() {
        let Ok(line) = line else { break };
        let done = line.contains("imgpipe is running at http://127.0.0.1:");
        lines.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    lines
}

#[test]
fn a_first_start_creates_a_user_and_prints_its_password_once() {
    let dir = TempDir::new("auth-first");
    let data = dir.join("data");
    let first = serve_banner(&data);
    let notice = first
        .iter()
        .find(|l| l.starts_with("Created the first user: imgpipe"))
        .unwrap_or_else(|| panic!("the first start names the first user: {first:?}"));
    let password = notice.split("password: ").nth(1).and_then(|rest| rest.split_whitespace().next()).unwrap();
    assert!(password.len() >= 16, "a long random password: {notice}");
    assert!(first.last().unwrap().contains("http://127.0.0.1:"), "the page URL is printed: {first:?}");
    let (code, out, err) = imgpipe(&data, &["users", "token", "imgpipe"], &format!("{password}\n"));
    assert_eq!(code, Some(0), "the printed password works: {out}{err}");
    let second = serve_banner(&data);
    assert!(second.iter().all(|l| !l.contains("password")), "the password is shown once: {second:?}");
    assert!(second.last().unwrap().contains("http://127.0.0.1:"), "{second:?}");
}

/// A raw HTTP/1.1 exchange: sends `request`, returns what came back until the server closed
/// the connection or `wait` passed.
async fn raw(addr: &str, request: &[u8], wait: Duration) -> (String, bool) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("send");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + wait;
    let closed = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    (String::from_utf8_lossy(&got).into_owned(), closed)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_listener_refuses_other_host_names_and_closes_half_sent_requests() {
    let dir = TempDir::new("auth-listener");
    let server =
        Server::start(&dir.join("data"), &[], &["--header-read-timeout", "1", "--body-read-timeout", "1"]).await;
    let addr = server.url.trim_start_matches("http://").trim_end_matches('/').to_string();
    let port = addr.rsplit(':').next().unwrap().to_string();
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}")] {
        let request = format!("GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let (answer, _) = raw(&addr, request.as_bytes(), Duration::from_secs(10)).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "Host {host}: {answer}");
    }
    for host in ["evil.example", &format!("evil.example:{port}"), "127.0.0.1:1", "localhost"] {
        for path in ["/health", "/", "/auth/.well-known/jwks.json"] {
            let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
            let (answer, _) = raw(&addr, request.as_bytes(), Duration::from_secs(10)).await;
            assert!(answer.starts_with("HTTP/1.1 421"), "Host {host} {path}: {answer}");
        }
    }
    // An absolute-form target naming another host is refused too, and so is a missing Host.
    let request =
        format!("GET http://evil.example/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    let (answer, _) = raw(&addr, request.as_bytes(), Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 421") || answer.starts_with("HTTP/1.1 400"), "{answer}");
    let (answer, _) = raw(&addr, b"GET /health HTTP/1.0\r\n\r\n", Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.0 421") || answer.starts_with("HTTP/1.1 421"), "no Host: {answer}");

    // A request whose head never ends is closed after the header-read timeout (1 s here).
    let started = Instant::now();
    let half = format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    let (answer, closed) = raw(&addr, half.as_bytes(), Duration::from_secs(8)).await;
    assert!(closed, "a half-sent request is closed, not held open: {answer:?}");
    assert!(started.elapsed() < Duration::from_secs(6), "closed after {:?}", started.elapsed());

    // A body that never finishes arriving is dropped after the body-read timeout (1 s here).
    let started = Instant::now();
    let slow = format!("POST /uploads HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 100\r\n\r\n{{\"file");
    let (answer, closed) = raw(&addr, slow.as_bytes(), Duration::from_secs(8)).await;
    assert!(closed && !answer.contains(" 200 "), "a half-sent body is not waited for: {answer:?}");
    assert!(started.elapsed() < Duration::from_secs(6), "closed after {:?}", started.elapsed());
    // A body larger than any the API takes is refused unread.
    let huge = format!(
        "POST /uploads HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 10000000\r\n\r\n{}",
        "x".repeat(100_000)
    );
    let (answer, _) = raw(&addr, huge.as_bytes(), Duration::from_secs(8)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
}
