//! The execution console's API (issue 15) through `imgpipe serve`: `GET /executions` lists the
//! caller's executions only, newest first, filtered by status and paged with signed tokens;
//! `GET /executions/{name}` draws one with its graph and history, shows failures as code +
//! sentence and no ARNs, account ids or causes; another user's execution is the same 404 as a
//! missing one, and an image's executions go with the image.
//!
//! Needs the model (IMGPIPE_MODEL or scripts/fetch-model.sh) and the `imgpipe` binary
//! (`cargo build --workspace --bins`).

use std::io::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use imgpipe_e2e::serve::{gradient_jpeg, imgpipe_command, Server, TempDir};
use serde_json::Value;

const FINAL: Duration = Duration::from_secs(240);
const FAST: (&str, &str) = ("IMGPIPE_TIME_SCALE", "0.01");

/// A second user on the server's data dir and an access token of theirs.
fn other_user(data: &Path, name: &str) -> String {
    let password = "console-test-password-not-a-secret";
    let run = |args: &[&str]| {
        let mut cmd = imgpipe_command();
        cmd.arg("users").args(args).arg("--data").arg(data);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run imgpipe users");
        child.stdin.take().expect("stdin").write_all(format!("{password}\n").as_bytes()).expect("password");
        let out = child.wait_with_output().expect("imgpipe users");
        assert!(out.status.success(), "imgpipe users {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    run(&["add", name, "--password-stdin"]);
    run(&["token", name])
}

/// GET `path` with `token`: status and JSON body.
async fn get_as(server: &Server, token: &str, path: &str) -> (u16, Value) {
    let resp = server.http().get(server.endpoint(path)).bearer_auth(token).send().await.expect("GET");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The names of a list answer's rows.
fn names(list: &Value) -> Vec<String> {
    list["items"].as_array().expect("items").iter().map(|i| i["name"].as_str().expect("a name").to_string()).collect()
}

fn outcome(execution: &Value, state: &str) -> String {
    let states = execution["graph"]["states"].as_array().expect("graph states");
    let found = states.iter().find(|s| s["name"] == state).unwrap_or_else(|| panic!("no {state}: {execution}"));
    found["outcome"].as_str().expect("an outcome").to_string()
}

#[tokio::test]
async fn the_console_shows_each_user_their_own_executions_only() {
    let dir = TempDir::new("console");
    let data = dir.join("data");
    let server = Server::signed_in(&data, &[FAST], &[]).await;
    let done_a = server.upload(&gradient_jpeg(320, 240), "a.jpg", "image/jpeg").await;
    let done_a_run = server.finished_execution(&done_a, FINAL).await.0;
    let rejected =
        server.upload(b"meeting notes, not a picture".repeat(20).as_slice(), "notes.jpg", "image/jpeg").await;
    let rejected_run = server.finished_execution(&rejected, FINAL).await.0;
    let done_b = server.upload(&gradient_jpeg(300, 200), "b.jpg", "image/jpeg").await;
    let done_b_run = server.finished_execution(&done_b, FINAL).await.0;

    // The list: newest first, with status, times, duration and image.
    let (status, list) = server.get_json("/executions").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(names(&list), [done_b_run.as_str(), rejected_run.as_str(), done_a_run.as_str()]);
    assert_eq!(list["nextToken"], Value::Null);
    let first = &list["items"][0];
    assert_eq!((first["status"].as_str(), first["imageId"].as_str()), (Some("SUCCEEDED"), Some(done_b.as_str())));
    assert_eq!(first["filename"], "b.jpg");
    assert!(first["durationMs"].as_i64().is_some_and(|ms| ms >= 0) && first["startedAt"].is_string(), "{first}");
    assert_eq!(list["items"][1]["status"], "FAILED", "a rejected upload's execution ends in the Rejected Fail state");

    // The filter, and paging one at a time.
    let (_, failed) = server.get_json("/executions?status=FAILED").await;
    assert_eq!(names(&failed), [rejected_run.as_str()]);
    let (_, succeeded) = server.get_json("/executions?status=SUCCEEDED").await;
    assert_eq!(names(&succeeded), [done_b_run.as_str(), done_a_run.as_str()]);
    let mut walked = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let path = match &token {
            Some(t) => format!("/executions?limit=1&nextToken={t}"),
            None => "/executions?limit=1".to_string(),
        };
        let (status, page) = server.get_json(&path).await;
        assert_eq!(status, 200, "{page}");
        assert!(names(&page).len() <= 1);
        walked.extend(names(&page));
        match page["nextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(walked, names(&list), "paging gives every execution once, in order");

    // Bad input is a 400 with a code; a token is bound to its user and filter.
    let (_, one) = server.get_json("/executions?limit=1").await;
    let token = one["nextToken"].as_str().expect("more than one").to_string();
    let tampered = format!("{}{}", &token[..token.len() - 1], if token.ends_with('Q') { 'A' } else { 'Q' });
    for path in [
        "/executions?status=failed".to_string(),
        "/executions?status=DONE".to_string(),
        "/executions?limit=0".to_string(),
        "/executions?limit=101".to_string(),
        format!("/executions?status=FAILED&nextToken={token}"),
        format!("/executions?nextToken={tampered}"),
        format!("/executions?nextToken={}", "A".repeat(5000)),
        "/executions/a%3Ab".to_string(),
        format!("/executions/{}", "n".repeat(81)),
    ] {
        let (status, body) = server.get_json(&path).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("BAD_REQUEST")), "{path}: {body}");
    }

    // One execution: the graph coloured by what happened, and the history.
    let (_, done) = server.get_json(&format!("/executions/{done_a_run}")).await;
    for state in ["Validate", "DetectLabels", "Thumbnail", "Persist"] {
        assert_eq!(outcome(&done, state), "SUCCEEDED", "{state}");
    }
    assert_eq!(outcome(&done, "RecordFailed"), "NOT_REACHED");
    let events = done["events"].as_array().expect("events");
    assert_eq!(
        (events[0]["type"].as_str(), events.last().unwrap()["type"].as_str()),
        (Some("ExecutionStarted"), Some("ExecutionSucceeded"))
    );
    let key = format!("uploads/{done_a}.jpg");
    assert_eq!(events[0]["input"]["detail"]["object"]["key"], key.as_str(), "the input is the S3 event");
    assert_eq!(events[0]["input"]["account"], "(hidden)");

    let (_, no) = server.get_json(&format!("/executions/{rejected_run}")).await;
    assert_eq!((outcome(&no, "Validate").as_str(), outcome(&no, "RecordRejected").as_str()), ("CAUGHT", "SUCCEEDED"));
    assert_eq!(outcome(&no, "Rejected"), "FAILED");
    let code = no["error"]["code"].as_str().expect("a code");
    assert!(["CORRUPT", "UNSUPPORTED_FORMAT"].contains(&code), "{no}");
    assert!(no["error"]["message"].as_str().is_some_and(|m| m.ends_with('.')), "{no}");
    for view in [&list, &done, &no] {
        let text = view.to_string();
        assert!(!text.contains("arn:") && !text.contains("000000000000") && !text.contains("errorMessage"), "{text}");
    }

    // Another user: nothing of this user's, and exactly the 404 of a missing name.
    let mallory = other_user(&data, "mallory");
    let (status, theirs) = get_as(&server, &mallory, "/executions").await;
    assert_eq!((status, names(&theirs).len()), (200, 0), "{theirs}");
    let (_, missing) = get_as(&server, &mallory, "/executions/no-such-execution").await;
    for name in [&done_a_run, &rejected_run, &done_b_run] {
        let (status, body) = get_as(&server, &mallory, &format!("/executions/{name}")).await;
        assert_eq!((status, &body), (404, &missing), "{name}");
    }
    let (status, _) = get_as(&server, &mallory, &format!("/executions?nextToken={token}")).await;
    assert_eq!(status, 400, "another user's token");
    let (status, _) =
        server.http().get(server.endpoint("/executions")).send().await.map(|r| (r.status().as_u16(), ())).unwrap();
    assert_eq!(status, 401, "no token");

    // An image's executions go with it.
    let resp = server.api(reqwest::Method::DELETE, &format!("/images/{done_a}")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    let (status, _) = server.get_json(&format!("/executions/{done_a_run}")).await;
    assert_eq!(status, 404);
    let (_, list) = server.get_json("/executions").await;
    assert_eq!(names(&list), [done_b_run.as_str(), rejected_run.as_str()]);
}
