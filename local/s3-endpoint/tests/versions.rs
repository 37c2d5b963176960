//! Object versions in a versioned bucket (the input bucket here, as in the product): every write
//! gets its own version id, reads can name it after the key was overwritten, deletes remove them,
//! and no version id a client makes up reaches another object or the store's files.

mod common;

use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use chrono::{Duration as ChronoDuration, Utc};
use common::*;
use serde_json::json;

const MAX: u64 = 8 << 20;

async fn put(h: &Harness, bucket: &str, key: &str, body: &[u8], content_type: &str) -> Option<String> {
    let out = h
        .client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap();
    out.version_id().map(str::to_owned)
}

/// The bytes of `key` at `version` (or the newest), with the version id and content type the
/// answer names; or the HTTP status and S3 error code.
async fn get(
    h: &Harness,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> Result<(Vec<u8>, Option<String>, Option<String>), (u16, String)> {
    match h.client.get_object().bucket(bucket).key(key).set_version_id(version.map(str::to_owned)).send().await {
        Ok(out) => {
            let (id, content_type) = (out.version_id().map(str::to_owned), out.content_type().map(str::to_owned));
            Ok((out.body.collect().await.unwrap().into_bytes().to_vec(), id, content_type))
        }
        Err(SdkError::ServiceError(err)) => {
            Err((err.raw().status().as_u16(), err.err().meta().code().unwrap_or_default().to_owned()))
        }
        Err(other) => panic!("get_object failed: {other:?}"),
    }
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<_> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[tokio::test]
async fn an_overwritten_key_keeps_each_version_readable() {
    let mut h = Harness::start(MAX).await;
    let v1 = put(&h, INPUT, "uploads/a.jpg", b"first bytes", "image/jpeg").await.expect("a version id");
    let e1 = h.event().await;
    let v2 = put(&h, INPUT, "uploads/a.jpg", b"second, longer bytes", "image/png").await.expect("a version id");
    let e2 = h.event().await;

    assert_ne!(v1, v2);
    assert_eq!(v1.len(), 32);
    assert!(v1.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{v1}");
    assert_eq!((e1.version_id.as_deref(), e2.version_id.as_deref()), (Some(v1.as_str()), Some(v2.as_str())));
    assert!(e2.sequencer > e1.sequencer);

    let first = get(&h, INPUT, "uploads/a.jpg", Some(&v1)).await.unwrap();
    assert_eq!(first, (b"first bytes".to_vec(), Some(v1.clone()), Some("image/jpeg".into())));
    let newest = get(&h, INPUT, "uploads/a.jpg", None).await.unwrap();
    assert_eq!(newest, (b"second, longer bytes".to_vec(), Some(v2.clone()), Some("image/png".into())));

    let head = h.client.head_object().bucket(INPUT).key("uploads/a.jpg").version_id(&v1).send().await.unwrap();
    assert_eq!((head.content_length(), head.version_id()), (Some(11), Some(v1.as_str())));
    assert_eq!(head.e_tag().unwrap().trim_matches('"'), e1.etag);
    assert_eq!(e1.size, 11);
    let listed = h.client.list_objects_v2().bucket(INPUT).send().await.unwrap();
    let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["uploads/a.jpg"], "versions are not objects of their own");
}

/// The product's case: one signed POST form, posted again within its lifetime.
#[tokio::test]
async fn a_reposted_form_makes_a_new_version_and_the_first_stays() {
    let mut h = Harness::start(MAX).await;
    let key = "uploads/form.jpg";
    let conditions = vec![json!(["eq", "$key", key]), json!(["content-length-range", 1, 100_000])];
    let mut fields = signed_fields(INPUT, conditions, Utc::now() + ChronoDuration::minutes(5), SECRET_KEY);
    fields.insert(0, ("key".into(), key.into()));
    let mut answers = Vec::new();
    for file in [payload(3000), b"the replacement".to_vec()] {
        let (status, version) = post_with_version(&h.url, &fields, file.clone()).await;
        assert_eq!(status, 204);
        let event = h.event().await;
        assert_eq!(event.version_id, version, "the event names the version the upload answered");
        answers.push((version.expect("a version header"), file, event.sequencer));
    }
    assert_ne!(answers[0].0, answers[1].0);
    assert!(answers[1].2 > answers[0].2);
    for (version, file, _) in &answers {
        assert_eq!(&get(&h, INPUT, key, Some(version)).await.unwrap().0, file);
    }
}

async fn post_with_version(url: &str, fields: &[(String, String)], file: Vec<u8>) -> (u16, Option<String>) {
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in fields {
        form = form.text(name.clone(), value.clone());
    }
    form = form.part("file", reqwest::multipart::Part::bytes(file).file_name("photo.jpg"));
    let response = reqwest::Client::new().post(format!("{url}/{INPUT}")).multipart(form).send().await.unwrap();
    let version = response.headers().get("x-amz-version-id").map(|v| v.to_str().unwrap().to_owned());
    (response.status().as_u16(), version)
}

#[tokio::test]
async fn concurrent_writes_to_one_key_each_keep_their_own_bytes() {
    let mut h = Harness::start(MAX).await;
    let writes = (0..8u8).map(|n| {
        let client = h.client.clone();
        async move {
            let body = vec![n; 64 * 1024 + usize::from(n)];
            let out = client
                .put_object()
                .bucket(INPUT)
                .key("uploads/race")
                .body(ByteStream::from(body.clone()))
                .send()
                .await
                .unwrap();
            (out.version_id().unwrap().to_owned(), out.e_tag().unwrap().trim_matches('"').to_owned(), body)
        }
    });
    let written = futures::future::join_all(writes).await;
    let mut events = Vec::new();
    for _ in 0..8 {
        events.push(h.event().await);
    }
    for (version, etag, body) in &written {
        assert_eq!(&get(&h, INPUT, "uploads/race", Some(version)).await.unwrap().0, body);
        let event = events.iter().find(|e| e.version_id.as_deref() == Some(version)).expect("an event per version");
        assert_eq!((&event.etag, event.size), (etag, body.len() as u64));
    }
}

#[tokio::test]
async fn made_up_version_ids_get_s3_errors_and_nothing_else() {
    let h = Harness::start(MAX).await;
    let mine = put(&h, INPUT, "uploads/mine", b"mine", "image/jpeg").await.unwrap();
    let theirs = put(&h, INPUT, "uploads/theirs", b"theirs", "image/jpeg").await.unwrap();
    let not_found = (404, "NoSuchVersion".to_owned());
    let invalid = (400, "InvalidArgument".to_owned());

    assert_eq!(get(&h, INPUT, "uploads/mine", Some(&theirs)).await.unwrap_err(), not_found, "another key's version");
    let unknown = "A".repeat(32);
    assert_eq!(get(&h, INPUT, "uploads/mine", Some(&unknown)).await.unwrap_err(), not_found);
    assert_eq!(get(&h, INPUT, "uploads/mine", Some("null")).await.unwrap_err(), not_found);
    let dotted = format!("../{}", &mine[3..]);
    let long = "v".repeat(4000);
    for forged in ["../x", "..%2F..%2Fx", "a\0b", &long, &dotted, &format!("{mine}/"), &format!("{mine}.versions"), " "]
    {
        assert_eq!(get(&h, INPUT, "uploads/mine", Some(forged)).await.unwrap_err(), invalid, "{forged:.40}");
        let head = h.client.head_object().bucket(INPUT).key("uploads/mine").version_id(forged).send().await;
        let status = head.unwrap_err().raw_response().map(|r| r.status().as_u16());
        assert_eq!(status, Some(400), "{forged:.40}");
    }
    assert_eq!(get(&h, INPUT, "uploads/nothing", Some(&mine)).await.unwrap_err(), not_found);
    // Nothing was harmed by the attempts.
    assert_eq!(get(&h, INPUT, "uploads/mine", Some(&mine)).await.unwrap().0, b"mine");
    assert_eq!(get(&h, INPUT, "uploads/theirs", None).await.unwrap().0, b"theirs");
}

#[tokio::test]
async fn an_unversioned_bucket_has_only_the_null_version() {
    let h = Harness::start(MAX).await;
    assert_eq!(put(&h, RESULTS, "r.json", b"{}", "application/json").await, None);
    assert_eq!(get(&h, RESULTS, "r.json", Some("null")).await.unwrap().0, b"{}");
    assert_eq!(get(&h, RESULTS, "r.json", Some(&"B".repeat(32))).await.unwrap_err(), (404, "NoSuchVersion".into()));
    assert_eq!(get(&h, RESULTS, "r.json", Some("junk")).await.unwrap_err(), (400, "InvalidArgument".into()));
}

#[tokio::test]
async fn deleting_a_key_removes_it_with_every_version() {
    let h = Harness::start(MAX).await;
    let bucket_dir = h.dir.join(INPUT);
    let v1 = put(&h, INPUT, "uploads/gone.jpg", b"one", "image/jpeg").await.unwrap();
    put(&h, INPUT, "uploads/gone.jpg", b"two", "image/jpeg").await.unwrap();
    assert!(files_in(&bucket_dir).len() >= 4, "the object, its key, two versions and their list");

    h.client.delete_object().bucket(INPUT).key("uploads/gone.jpg").send().await.unwrap();
    assert_eq!(get(&h, INPUT, "uploads/gone.jpg", None).await.unwrap_err(), (404, "NoSuchKey".into()));
    assert_eq!(get(&h, INPUT, "uploads/gone.jpg", Some(&v1)).await.unwrap_err(), (404, "NoSuchVersion".into()));
    assert_eq!(files_in(&bucket_dir), Vec::<String>::new(), "no bytes of any version are left");
    h.client.delete_object().bucket(INPUT).key("uploads/gone.jpg").send().await.unwrap();

    // DeleteObjects likewise.
    put(&h, INPUT, "uploads/b1", b"b1", "image/jpeg").await.unwrap();
    put(&h, INPUT, "uploads/b1", b"b1 again", "image/jpeg").await.unwrap();
    let batch = Delete::builder().objects(ObjectIdentifier::builder().key("uploads/b1").build().unwrap()).build();
    let out = h.client.delete_objects().bucket(INPUT).delete(batch.unwrap()).send().await.unwrap();
    assert_eq!(out.deleted().len(), 1);
    assert_eq!(files_in(&bucket_dir), Vec::<String>::new());
    let attributes: Vec<_> = files_in(&h.dir).into_iter().filter(|f| f.starts_with(".bucket-")).collect();
    assert_eq!(attributes, Vec::<String>::new(), "no attributes of deleted objects are left");
}

#[tokio::test]
async fn deleting_the_newest_version_brings_back_the_one_before() {
    let h = Harness::start(MAX).await;
    let key = "uploads/undo";
    let v1 = put(&h, INPUT, key, b"one", "image/jpeg").await.unwrap();
    let v2 = put(&h, INPUT, key, b"two", "image/png").await.unwrap();
    let out = h.client.delete_object().bucket(INPUT).key(key).version_id(&v2).send().await.unwrap();
    assert_eq!(out.version_id(), Some(v2.as_str()));
    assert_eq!(
        get(&h, INPUT, key, None).await.unwrap(),
        (b"one".to_vec(), Some(v1.clone()), Some("image/jpeg".into()))
    );
    assert_eq!(get(&h, INPUT, key, Some(&v2)).await.unwrap_err(), (404, "NoSuchVersion".into()));
    let listed = h.client.list_objects_v2().bucket(INPUT).send().await.unwrap();
    assert_eq!(listed.contents()[0].size(), Some(3), "the listing shows the restored object");

    let bad = h.client.delete_object().bucket(INPUT).key(key).version_id("../../x").send().await.unwrap_err();
    assert_eq!(bad.raw_response().map(|r| r.status().as_u16()), Some(400));
    h.client.delete_object().bucket(INPUT).key(key).version_id(&v1).send().await.unwrap();
    assert_eq!(get(&h, INPUT, key, None).await.unwrap_err(), (404, "NoSuchKey".into()));
    assert_eq!(files_in(&h.dir.join(INPUT)), Vec::<String>::new());
}

#[tokio::test]
async fn versions_per_key_are_bounded() {
    let h = Harness::start(MAX).await;
    let mut ids = Vec::new();
    for n in 0..20u8 {
        ids.push(put(&h, INPUT, "uploads/often", &[n; 100], "image/jpeg").await.unwrap());
    }
    // The oldest four went; the sixteen newest are kept.
    assert_eq!(get(&h, INPUT, "uploads/often", Some(&ids[3])).await.unwrap_err(), (404, "NoSuchVersion".into()));
    assert_eq!(get(&h, INPUT, "uploads/often", Some(&ids[4])).await.unwrap().0, [4u8; 100]);
    let files = files_in(&h.dir.join(INPUT));
    assert_eq!(files.iter().filter(|f| f.contains(".version-")).count(), 16, "{files:?}");
}

#[tokio::test]
async fn copies_and_multipart_uploads_are_versioned_too() {
    let mut h = Harness::start(MAX).await;
    let v1 = put(&h, INPUT, "uploads/src", b"old source", "image/jpeg").await.unwrap();
    put(&h, INPUT, "uploads/src", b"new source", "image/jpeg").await.unwrap();
    h.event().await;
    h.event().await;
    let copy = h
        .client
        .copy_object()
        .copy_source(format!("{INPUT}/uploads/src?versionId={v1}"))
        .bucket(INPUT)
        .key("uploads/copy")
        .send()
        .await
        .unwrap();
    assert_eq!(copy.copy_source_version_id(), Some(v1.as_str()));
    let event = h.event().await;
    assert_eq!(event.version_id.as_deref(), copy.version_id());
    assert_eq!(get(&h, INPUT, "uploads/copy", None).await.unwrap().0, b"old source");
    let missing = format!("{INPUT}/uploads/src?versionId={}", "C".repeat(32));
    let err = h.client.copy_object().copy_source(missing).bucket(INPUT).key("uploads/x").send().await.unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));

    let upload = upload_parts(&h.client, INPUT, "uploads/big", &[1000]).await;
    let done = complete_upload(&h.client, INPUT, "uploads/big", upload).await;
    assert_eq!(done.key(), Some("uploads/big"), "the key, not its stored name");
    let event = h.event().await;
    assert!(done.version_id().is_some());
    assert_eq!(event.version_id.as_deref(), done.version_id());
    assert_eq!(get(&h, INPUT, "uploads/big", done.version_id()).await.unwrap().0, payload(1000));
}
