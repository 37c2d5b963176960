//! The product's S3 client (aws-sdk-s3, path style, static credentials) against the endpoint.

mod common;

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use common::*;

#[tokio::test]
async fn put_get_head_list_delete_round_trip() {
    let mut h = Harness::start(1 << 20).await;
    let body = payload(10_000);
    let put = h
        .client
        .put_object()
        .bucket(RESULTS)
        .key("results/a b/é.json")
        .content_type("application/json")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    assert!(put.e_tag().is_some());

    let got = h.client.get_object().bucket(RESULTS).key("results/a b/é.json").send().await.unwrap();
    assert_eq!(got.content_type(), Some("application/json"));
    assert_eq!(got.body.collect().await.unwrap().into_bytes().to_vec(), body);

    let head = h.client.head_object().bucket(RESULTS).key("results/a b/é.json").send().await.unwrap();
    assert_eq!(head.content_length(), Some(10_000));
    assert_eq!(head.e_tag(), put.e_tag());

    let list = h.client.list_objects_v2().bucket(RESULTS).prefix("results/").send().await.unwrap();
    let keys: Vec<_> = list.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["results/a b/é.json"]);

    h.client.delete_object().bucket(RESULTS).key("results/a b/é.json").send().await.unwrap();
    assert!(!h.exists(RESULTS, "results/a b/é.json").await);
    // RESULTS is not a notified bucket
    h.assert_no_event().await;
}

#[tokio::test]
async fn wrong_secret_is_refused() {
    let mut h = Harness::start(1 << 20).await;
    let intruder = client(&h.url, "not-the-secret");
    let err = intruder
        .put_object()
        .bucket(INPUT)
        .key("uploads/x")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.as_service_error().and_then(|e| e.meta().code()), Some("SignatureDoesNotMatch"), "{err:?}");
    let err = intruder.list_objects_v2().bucket(INPUT).send().await.unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403));
    assert!(!h.exists(INPUT, "uploads/x").await);
    h.assert_no_event().await;

    // and unsigned requests are anonymous, which is refused
    let anonymous = reqwest::get(format!("{}/{INPUT}?list-type=2", h.url)).await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 403);
}

#[tokio::test]
async fn presigned_get_works_until_it_expires() {
    let h = Harness::start(1 << 20).await;
    h.client
        .put_object()
        .bucket(RESULTS)
        .key("thumbs/t.jpg")
        .body(ByteStream::from_static(b"thumb"))
        .send()
        .await
        .unwrap();

    let presigned = h
        .client
        .get_object()
        .bucket(RESULTS)
        .key("thumbs/t.jpg")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(60)).unwrap())
        .await
        .unwrap();
    let response = reqwest::get(presigned.uri()).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.bytes().await.unwrap().as_ref(), b"thumb");

    // tampering with the signed URL breaks it
    let tampered = presigned.uri().replace("thumbs/t.jpg", "thumbs/u.jpg");
    assert_eq!(reqwest::get(tampered).await.unwrap().status().as_u16(), 403);

    let short = h
        .client
        .get_object()
        .bucket(RESULTS)
        .key("thumbs/t.jpg")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(1)).unwrap())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let expired = reqwest::get(short.uri()).await.unwrap();
    assert_eq!(expired.status().as_u16(), 403);
    let body = expired.text().await.unwrap();
    assert_eq!(error_code(&body), "AccessDenied", "{body}");
}

#[tokio::test]
async fn puts_into_the_notified_bucket_emit_events_with_increasing_sequencers() {
    let mut h = Harness::start(1 << 20).await;
    let mut last = String::new();
    for (i, size) in [3usize, 5000, 0].into_iter().enumerate() {
        let key = format!("uploads/{i}.jpg");
        let put =
            h.client.put_object().bucket(INPUT).key(&key).body(ByteStream::from(payload(size))).send().await.unwrap();
        let event = h.event().await;
        assert_eq!((event.bucket.as_str(), event.key.as_str()), (INPUT, key.as_str()));
        assert_eq!(event.size, size as u64);
        assert_eq!(event.etag, put.e_tag().unwrap().trim_matches('"'));
        assert_eq!(event.reason, "PutObject");
        assert!(event.sequencer > last, "{} !> {last}", event.sequencer);
        assert!(event.sequencer.chars().all(|c| c.is_ascii_hexdigit()));
        assert!((chrono::Utc::now() - event.time).num_seconds().abs() < 10);
        last = event.sequencer;
    }
    h.client.put_object().bucket(RESULTS).key("r.json").body(ByteStream::from_static(b"{}")).send().await.unwrap();
    h.assert_no_event().await;
}

#[tokio::test]
async fn copy_and_multipart_uploads_emit_events() {
    let mut h = Harness::start(8 << 20).await;
    h.client.put_object().bucket(RESULTS).key("src").body(ByteStream::from(payload(1234))).send().await.unwrap();
    let copy = h
        .client
        .copy_object()
        .copy_source(format!("{RESULTS}/src"))
        .bucket(INPUT)
        .key("uploads/copied")
        .send()
        .await
        .unwrap();
    let event = h.event().await;
    assert_eq!((event.key.as_str(), event.reason.as_str(), event.size), ("uploads/copied", "CopyObject", 1234));
    assert_eq!(event.etag, copy.copy_object_result().and_then(|r| r.e_tag()).unwrap().trim_matches('"'));

    let upload = upload_parts(&h.client, INPUT, "uploads/big", &[5 << 20, 1000]).await;
    h.assert_no_event().await;
    let done = complete_upload(&h.client, INPUT, "uploads/big", upload).await;
    let event = h.event().await;
    assert_eq!((event.key.as_str(), event.reason.as_str()), ("uploads/big", "CompleteMultipartUpload"));
    assert_eq!(event.size, (5 << 20) + 1000);
    assert_eq!(event.etag, done.e_tag().unwrap().trim_matches('"'));
}

#[tokio::test]
async fn put_over_the_limit_is_refused_and_not_stored() {
    let mut h = Harness::start(64 * 1024).await;
    let err = h
        .client
        .put_object()
        .bucket(INPUT)
        .key("uploads/huge")
        .body(ByteStream::from(payload(64 * 1024 + 1)))
        .send()
        .await
        .unwrap_err();
    let code = err.as_service_error().and_then(|e| e.meta().code()).map(str::to_owned);
    assert_eq!(code.as_deref(), Some("EntityTooLarge"), "{err:?}");
    assert!(!h.exists(INPUT, "uploads/huge").await);
    h.assert_no_event().await;

    // exactly the limit is fine
    h.client
        .put_object()
        .bucket(INPUT)
        .key("uploads/max")
        .body(ByteStream::from(payload(64 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(h.event().await.size, 64 * 1024);
}

#[tokio::test]
async fn restart_keeps_objects_buckets_and_sequencer_order() {
    let dir = fresh_dir();
    let mut first = Harness::start_in(dir.clone(), 1 << 20).await;
    first.client.put_object().bucket(INPUT).key("uploads/1").body(ByteStream::from_static(b"1")).send().await.unwrap();
    let before = first.event().await.sequencer;
    first.endpoint.take().unwrap().shutdown().await;
    // the port is closed after shutdown
    assert!(reqwest::get(format!("{}/{INPUT}", first.url)).await.is_err());

    let mut second = Harness::start_in(dir.clone(), 1 << 20).await;
    assert!(second.exists(INPUT, "uploads/1").await);
    second.client.put_object().bucket(INPUT).key("uploads/2").body(ByteStream::from_static(b"2")).send().await.unwrap();
    assert!(second.event().await.sequencer > before);
    let buckets = second.client.list_buckets().send().await.unwrap();
    let mut names: Vec<_> = buckets.buckets().iter().filter_map(|b| b.name()).collect();
    names.sort_unstable();
    assert_eq!(names, [INPUT, RESULTS]);
    drop(first);
}

#[tokio::test]
async fn invalid_config_is_refused() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let mut bad = config(fresh_dir(), 10);
    bad.buckets.push("Not_A_Bucket".into());
    let err = s3_endpoint::start(bad.clone(), listener, tx).await.err().unwrap();
    assert!(err.to_string().contains("Not_A_Bucket"), "{err}");
    let _ = std::fs::remove_dir_all(bad.data_dir);
}
