//! Helpers for the tests that drive the real `imgpipe` binary: locating it and its inputs
//! (model, test photos), a [`Server`] running `imgpipe serve` on a private data directory, the
//! browser's upload flow over HTTP, and generated test files.
//!
//! Missing prerequisites fail loudly with the setup step to run; nothing is skipped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use image::ImageEncoder as _;
use serde_json::{json, Value};

/// How long `imgpipe serve` may take to print its URL.
pub const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Environment variables that change the product's behaviour: a test sets them explicitly,
/// never inherits them.
const PRODUCT_ENV: [&str; 6] = [
    "IMGPIPE_FAULTS",
    "IMGPIPE_TIME_SCALE",
    "IMGPIPE_DATA",
    "IMGPIPE_LOG",
    "IMGPIPE_CUSTOM_MODEL",
    "IMGPIPE_CUSTOM_LABELS",
];

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// `statemachine/pipeline.asl.json` of this checkout.
pub fn pipeline_definition_path() -> PathBuf {
    workspace_root().join("statemachine/pipeline.asl.json")
}

/// The built `imgpipe` binary: next to this test binary's target dir, `$CARGO_TARGET_DIR/debug`,
/// or `<workspace>/target/debug`. Panics with the build command when there is none.
pub fn imgpipe_bin() -> PathBuf {
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        // target/debug/deps/<test> -> target/debug/imgpipe
        if let Some(debug) = exe.parent().and_then(Path::parent) {
            candidates.push(debug.join("imgpipe"));
        }
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").filter(|v| !v.is_empty()) {
        candidates.push(PathBuf::from(dir).join("debug/imgpipe"));
    }
    candidates.push(workspace_root().join("target/debug/imgpipe"));
    candidates.iter().find(|p| p.is_file()).cloned().unwrap_or_else(|| {
        panic!("the imgpipe binary is not built (looked at {candidates:?}); run `cargo build --workspace --bins` first")
    })
}

/// The local detector's model: `IMGPIPE_MODEL`, else the path `scripts/fetch-model.sh` installs to.
pub fn model_path() -> PathBuf {
    let path = match std::env::var_os("IMGPIPE_MODEL").filter(|v| !v.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => home().join(".cache/imgpipe/models/ssd_mobilenet_v2_coco.pb"),
    };
    assert!(
        path.is_file(),
        "the label model is missing at {}: run scripts/fetch-model.sh (or set IMGPIPE_MODEL to the model file)",
        path.display()
    );
    path
}

/// A real photo from `IMGPIPE_TEST_PHOTOS` (chelsea.png: a cat, coffee.png: a cup,
/// astronaut.png: a person).
pub fn test_photo(name: &str) -> PathBuf {
    let dir = std::env::var_os("IMGPIPE_TEST_PHOTOS").filter(|v| !v.is_empty()).unwrap_or_else(|| {
        panic!(
            "IMGPIPE_TEST_PHOTOS is not set: run `export IMGPIPE_TEST_PHOTOS=$(tests/fixtures/photos.sh | tail -n 1)`"
        )
    });
    let path = PathBuf::from(dir).join(name);
    assert!(
        path.is_file(),
        "test photo {} is missing: run tests/fixtures/photos.sh \"$IMGPIPE_TEST_PHOTOS\"",
        path.display()
    );
    path
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"))
}

/// A command running the `imgpipe` binary with the model set and no inherited test knobs.
pub fn imgpipe_command() -> Command {
    let mut cmd = Command::new(imgpipe_bin());
    for name in PRODUCT_ENV {
        cmd.env_remove(name);
    }
    cmd.env("IMGPIPE_MODEL", model_path());
    // The product's own log filter, and plain text (tests read the log).
    cmd.env_remove("RUST_LOG");
    cmd.env("NO_COLOR", "1");
    cmd
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh, empty directory.
    pub fn new(prefix: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("imgpipe-e2e-{prefix}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("(keeping {} for inspection)", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// The user [`Server::signed_in`] acts as, and its password.
pub const E2E_USER: &str = "e2e";
const E2E_PASSWORD: &str = "e2e-test-password-not-a-secret";

/// `imgpipe serve --port 0 --data DIR` as a child process; killed on drop.
pub struct Server {
    /// Base URL, ending in `/`.
    pub url: String,
    pub data_dir: PathBuf,
    child: Child,
    log: PathBuf,
    http: reqwest::Client,
    /// The access token the API helpers send (`Authorization: Bearer`), if signed in.
    token: Option<String>,
}

static SERVER_COUNT: AtomicU32 = AtomicU32::new(0);

impl Server {
    /// Starts `imgpipe serve` on `data_dir` with `env` (e.g. `IMGPIPE_TIME_SCALE`) and extra
    /// arguments (e.g. `--definition FILE`), and waits for its URL. Its log goes to a file in
    /// `data_dir`, printed when a test fails.
    pub async fn start(data_dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Server {
        std::fs::create_dir_all(data_dir).expect("create data dir");
        let n = SERVER_COUNT.fetch_add(1, Ordering::SeqCst);
        let log = data_dir.join(format!("serve-{}-{n}.log", std::process::id()));
        let log_file = std::fs::File::create(&log).expect("create log file");
        let mut cmd = imgpipe_command();
        cmd.args(["serve", "--port", "0", "--data"]).arg(data_dir).args(args);
        cmd.envs(env.iter().copied());
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::from(log_file));
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run {}: {e}", imgpipe_bin().display()));

        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !sent {
                    if let Some(url) = find_url(&line) {
                        let _ = tx.send(url);
                        sent = true;
                    }
                }
            }
        });

        let deadline = Instant::now() + START_TIMEOUT;
        let url = loop {
            match rx.try_recv() {
                Ok(url) => break url,
                Err(mpsc::TryRecvError::Disconnected) | Err(mpsc::TryRecvError::Empty) => {}
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("imgpipe serve exited with {status} before printing its URL; log:\n{}", tail(&log, 80));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("imgpipe serve printed no URL within {START_TIMEOUT:?}; log:\n{}", tail(&log, 80));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("http client");
        Server { url, data_dir: data_dir.to_path_buf(), child, log, http, token: None }
    }

    /// [`Server::start`], signed in as [`E2E_USER`] (created in `data_dir` if missing): the API
    /// helpers send its access token, as the page does.
    pub async fn signed_in(data_dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Server {
        std::fs::create_dir_all(data_dir).expect("create data dir");
        // A data dir reused across restarts has the user already; `users token` below says if anything is wrong.
        let _ = users_command(data_dir, &["add", E2E_USER, "--password-stdin"]);
        let mut server = Server::start(data_dir, env, args).await;
        let (ok, out) = users_command(data_dir, &["token", E2E_USER]);
        let token = out.trim().to_string();
        assert!(ok && token.split('.').count() == 3, "imgpipe users token {E2E_USER} gave no token: {out}");
        server.token = Some(token);
        server
    }

    /// A request to an API path like `/images/ID`, with the access token if signed in.
    pub fn api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.http.request(method, self.endpoint(path));
        match &self.token {
            Some(token) => req.bearer_auth(token),
            None => req,
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server with SIGKILL (no chance to clean up) and reaps it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM (what a service manager sends) and waits up to `timeout` for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Stops the server with SIGINT (its graceful shutdown), SIGKILL after 15 s.
    pub fn stop(&mut self) {
        let _ = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill9();
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }

    /// Waits until the server's log satisfies `done` (e.g. a step has failed); false on timeout.
    pub async fn wait_for_log(&self, timeout: Duration, done: impl Fn(&str) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if done(&std::fs::read_to_string(&self.log).unwrap_or_default()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// An absolute URL for an API path like `/images/ID`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.url.trim_end_matches('/'), path)
    }

    /// The HTTP client the helpers use.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// GET an API path; the status and the JSON body (`Null` when not JSON).
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let resp = self.api(reqwest::Method::GET, path).send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap_or_default();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// POST /uploads, asserting 201; the response (`imageId`, `key`, `upload.url`, `upload.fields`).
    pub async fn presign(&self, filename: &str, content_type: &str, size: usize) -> Value {
        let resp = self
            .api(reqwest::Method::POST, "/uploads")
            .json(&json!({ "filename": filename, "contentType": content_type, "size": size }))
            .send()
            .await
            .expect("POST /uploads");
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 201, "POST /uploads for {filename}: {body}");
        assert!(body["imageId"].is_string() && body["upload"]["url"].is_string(), "POST /uploads: {body}");
        body
    }

    /// The browser's signed upload: the form fields of `presigned` (with `overrides` replacing
    /// or adding fields), then `file`. Returns the S3 endpoint's status and body.
    pub async fn signed_post(
        &self,
        presigned: &Value,
        bytes: &[u8],
        filename: &str,
        content_type: &str,
        overrides: &[(&str, &str)],
    ) -> (u16, String) {
        let url = presigned["upload"]["url"].as_str().unwrap_or_else(|| panic!("no upload.url in {presigned}"));
        let mut fields: Vec<(String, String)> = presigned["upload"]["fields"]
            .as_object()
            .unwrap_or_else(|| panic!("no upload.fields in {presigned}"))
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_else(|| panic!("field {k} is not a string")).to_string()))
            .collect();
        for (name, value) in overrides {
            fields.retain(|(k, _)| k != name);
            fields.push((name.to_string(), value.to_string()));
        }
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in fields {
            form = form.text(name, value);
        }
        let part = reqwest::multipart::Part::bytes(bytes.to_vec())
            .file_name(filename.to_string())
            .mime_str(content_type)
            .expect("content type");
        form = form.part("file", part);
        let resp = self.http.post(url).multipart(form).send().await.unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }

    /// POST /uploads for the bytes, then the signed multipart upload, as the page does.
    /// Returns the image id.
    pub async fn upload(&self, bytes: &[u8], filename: &str, content_type: &str) -> String {
        let presigned = self.presign(filename, content_type, bytes.len()).await;
        let (status, body) = self.signed_post(&presigned, bytes, filename, content_type, &[]).await;
        assert!((200..300).contains(&status), "signed upload of {filename} refused: {status} {body}");
        presigned["imageId"].as_str().unwrap_or_default().to_string()
    }

    /// Uploads a file from disk under its own name.
    pub async fn upload_file(&self, path: &Path, content_type: &str) -> String {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("upload");
        self.upload(&bytes, name, content_type).await
    }

    /// GET /images/{id}, asserting 200.
    pub async fn image(&self, id: &str) -> Value {
        let (status, body) = self.get_json(&format!("/images/{id}")).await;
        assert_eq!(status, 200, "GET /images/{id}: {body}");
        body
    }

    /// Polls GET /images/{id} until the status is DONE, REJECTED or FAILED.
    pub async fn wait_final(&self, id: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        let mut last = Value::Null;
        while Instant::now() < deadline {
            let (status, body) = self.get_json(&format!("/images/{id}")).await;
            if status == 200 && matches!(body["status"].as_str(), Some("DONE" | "REJECTED" | "FAILED")) {
                return body;
            }
            last = body;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("image {id} not final after {timeout:?}; last record: {last}\nserver log:\n{}", self.log_tail(60));
    }

    /// Polls the timeline until its last state is `last_state` and has ended (exited, or a Fail
    /// state). The record is final while its execution still finishes (e.g. Persist's exit, the
    /// Fail state after RecordFailed), so tests of the timeline wait for this.
    pub async fn wait_timeline(&self, id: &str, last_state: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let timeline = self.timeline(id).await;
            if let Some(last) = timeline["events"].as_array().and_then(|e| e.last()) {
                if last["state"] == last_state && (last["exitedAt"].is_string() || last["type"] == "Fail") {
                    return timeline;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "the timeline of {id} did not end in {last_state} within {timeout:?}: {timeline}\nserver log:\n{}",
                    self.log_tail(40)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until image `id` is final and the execution that processed it has ended; its name
    /// and its console view (`GET /executions/{name}`).
    pub async fn finished_execution(&self, id: &str, timeout: Duration) -> (String, Value) {
        self.wait_final(id, timeout).await;
        let deadline = Instant::now() + timeout;
        loop {
            let timeline = self.timeline(id).await;
            let name = timeline["executionName"].as_str().expect("the timeline names its execution").to_string();
            let (status, execution) = self.get_json(&format!("/executions/{name}")).await;
            assert_eq!(status, 200, "{execution}");
            if execution["status"] != "RUNNING" {
                return (name, execution);
            }
            assert!(Instant::now() < deadline, "{name} still running: {execution}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// GET /images/{id}/timeline, asserting 200.
    pub async fn timeline(&self, id: &str) -> Value {
        let (status, body) = self.get_json(&format!("/images/{id}/timeline")).await;
        assert_eq!(status, 200, "GET /images/{id}/timeline: {body}");
        body
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- imgpipe serve log ({}) ---\n{}", self.log.display(), tail(&self.log, 60));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `imgpipe users ARGS --data DIR` with the e2e password on stdin: success and stdout + stderr.
fn users_command(data_dir: &Path, args: &[&str]) -> (bool, String) {
    use std::io::Write as _;
    let mut cmd = imgpipe_command();
    cmd.arg("users").args(args).arg("--data").arg(data_dir);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run {}: {e}", imgpipe_bin().display()));
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(format!("{E2E_PASSWORD}\n").as_bytes());
    }
    let out = child.wait_with_output().expect("wait for imgpipe users");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), if out.status.success() { String::from_utf8_lossy(&out.stdout).into_owned() } else { text })
}

/// The `http://127.0.0.1:PORT/` in a line, if any.
fn find_url(line: &str) -> Option<String> {
    let start = line.find("http://127.0.0.1:")?;
    let rest = &line[start..];
    let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
    let url = &rest[..end];
    Some(if url.ends_with('/') { url.to_string() } else { format!("{url}/") })
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The S3 "Object Created" event of an upload whose record is `record` (with its image's bucket,
/// key and ETag) and whose file has `size` bytes, as EventBridge would deliver it again.
pub fn replayed_event(record: &Value, size: u64) -> Value {
    let image = &record["image"];
    let field = |name: &str| image[name].as_str().unwrap_or_else(|| panic!("no image.{name}: {record}")).to_string();
    let (bucket, key, etag) = (field("bucket"), field("key"), field("etag"));
    json!({
        "version": "0",
        "id": "5a3c1a47-0e4c-4c2b-9a53-1b2a3c4d5e6f",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "000000000000",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{bucket}")],
        "detail": {
            "version": "0",
            "bucket": { "name": bucket },
            "object": { "key": key, "size": size, "etag": etag, "sequencer": "0062E99A88DC407460" },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "000000000000",
            "reason": "PostObject"
        }
    })
}

/// `imgpipe sfn run --definition DEFINITION --input @INPUT --data DATA` with fast retries,
/// asserting that it exits 0 (SUCCEEDED); the output it prints, as JSON.
pub fn sfn_run_succeeds(definition: &Path, input: &Path, data: &Path) -> Value {
    let out = imgpipe_command()
        .env("IMGPIPE_TIME_SCALE", "0.01")
        .arg("sfn")
        .arg("run")
        .arg("--definition")
        .arg(definition)
        .arg("--input")
        .arg(format!("@{}", input.display()))
        .arg("--data")
        .arg(data)
        .output()
        .expect("run imgpipe sfn run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let run = format!("sfn run {} with {}", definition.display(), input.display());
    assert_eq!(out.status.code(), Some(0), "{run}: {stdout}\n{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{run}: the output is not JSON ({e}): {stdout}"))
}

/// The timeline entry of a state, if the state was entered.
pub fn timeline_state<'a>(timeline: &'a Value, state: &str) -> Option<&'a Value> {
    timeline["events"].as_array()?.iter().find(|e| e["state"] == state)
}

/// Names of the timeline's states, in order.
pub fn timeline_states(timeline: &Value) -> Vec<String> {
    timeline["events"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["state"].as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

// ----- generated test files -----

/// A JPEG of a colour gradient (`width`×`height`, quality 90).
pub fn gradient_jpeg(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 255 / width.max(1)) as u8, (y * 255 / height.max(1)) as u8, ((x + y) % 256) as u8])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(&img).expect("encode jpeg");
    out
}

/// A well-formed PNG (valid chunks and CRCs, one tiny IDAT) whose IHDR claims `width`×`height`:
/// a decompression bomb's header, a few dozen bytes on disk.
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&[0u8; 3], 1, 1, image::ExtendedColorType::Rgb8)
        .expect("encode png");
    // Signature (8) + IHDR length (4) + "IHDR" (4), then width and height.
    assert_eq!(&out[12..16], b"IHDR");
    out[16..20].copy_from_slice(&width.to_be_bytes());
    out[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&out[12..29]);
    out[29..33].copy_from_slice(&crc.to_be_bytes());
    out
}

/// CRC-32 (IEEE), as PNG chunks use.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Width and height of an encoded image, decoded with the `image` crate.
pub fn decoded_size(bytes: &[u8]) -> (u32, u32) {
    let img = image::load_from_memory(bytes).expect("decode image");
    (img.width(), img.height())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_png_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn bomb_header_is_a_valid_png_claiming_its_size() {
        let png = png_claiming(60_000, 60_000);
        let decoder = image::codecs::png::PngDecoder::new(std::io::Cursor::new(&png)).expect("valid png header");
        use image::ImageDecoder as _;
        assert_eq!(decoder.dimensions(), (60_000, 60_000));
        assert!(png.len() < 100);
    }

    #[test]
    fn finds_the_url_in_the_banner() {
        assert_eq!(
            find_url("imgpipe is running at http://127.0.0.1:4321/  (data: x)").as_deref(),
            Some("http://127.0.0.1:4321/")
        );
        assert_eq!(find_url("nothing here"), None);
    }
}
