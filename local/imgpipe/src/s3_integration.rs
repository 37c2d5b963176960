//! The S3 actions a Distributed Map's ItemReader and ResultWriter call through the task invoker
//! ([`asl::resources`]: `arn:aws:states:::s3:listObjectsV2`, `s3:getObject`, `s3:putObject`),
//! run with the stack's S3 client and answered as Step Functions' AWS SDK integration answers:
//! the API's result in PascalCase JSON, errors named `S3.<Code>` (`S3.NoSuchBucket`, ...).

use asl::{resources, TaskFailure};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::{DateTime, DateTimeFormat};
use serde::Deserialize;
use serde_json::{json, Value};

/// The largest object getObject reads for an ItemReader (its text is held in memory).
pub const MAX_OBJECT_BYTES: u64 = 256 * 1024 * 1024;

/// Is `resource` one of the S3 actions answered here?
pub fn handles(resource: &str) -> bool {
    [resources::LIST_OBJECTS_V2, resources::GET_OBJECT, resources::PUT_OBJECT].contains(&resource)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct ListParams {
    bucket: String,
    prefix: Option<String>,
    continuation_token: Option<String>,
    start_after: Option<String>,
    max_keys: Option<i32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct GetParams {
    bucket: String,
    key: String,
    version_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct PutParams {
    bucket: String,
    key: String,
    body: String,
}

/// Runs one S3 action with `s3`.
pub async fn invoke(s3: &aws_sdk_s3::Client, resource: &str, params: Value) -> Result<Value, TaskFailure> {
    invoke_within(s3, resource, params, MAX_OBJECT_BYTES).await
}

async fn invoke_within(
    s3: &aws_sdk_s3::Client,
    resource: &str,
    params: Value,
    max_object_bytes: u64,
) -> Result<Value, TaskFailure> {
    match resource {
        resources::LIST_OBJECTS_V2 => list_objects(s3, parse(params)?).await,
        resources::GET_OBJECT => get_object(s3, parse(params)?, max_object_bytes).await,
        resources::PUT_OBJECT => put_object(s3, parse(params)?).await,
        other => Err(TaskFailure::new("States.Runtime", format!("{other} is not an S3 action of this invoker"))),
    }
}

fn parse<T: serde::de::DeserializeOwned>(params: Value) -> Result<T, TaskFailure> {
    serde_json::from_value(params).map_err(|e| TaskFailure::new("S3.InvalidParameter", format!("Parameters: {e}")))
}

/// An SDK error as the integration names it: `S3.<error code>` and the service's message.
fn failure<E: ProvideErrorMetadata + std::error::Error + 'static>(
    err: aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> TaskFailure {
    let code = err.code().unwrap_or("S3Exception").to_string();
    let detail = aws_sdk_s3::error::DisplayErrorContext(&err).to_string();
    TaskFailure::new(format!("S3.{code}"), detail)
}

fn date(t: Option<&DateTime>) -> Value {
    t.and_then(|t| t.fmt(DateTimeFormat::DateTime).ok()).map(Value::String).unwrap_or(Value::Null)
}

async fn list_objects(s3: &aws_sdk_s3::Client, p: ListParams) -> Result<Value, TaskFailure> {
    let out = s3
        .list_objects_v2()
        .bucket(&p.bucket)
        .set_prefix(p.prefix.clone())
        .set_continuation_token(p.continuation_token)
        .set_start_after(p.start_after)
        .set_max_keys(p.max_keys)
        .send()
        .await
        .map_err(failure)?;
    let contents: Vec<Value> = out
        .contents()
        .iter()
        .map(|o| {
            json!({
                "Key": o.key(),
                "Size": o.size().unwrap_or(0),
                "ETag": o.e_tag(),
                "LastModified": date(o.last_modified()),
                "StorageClass": o.storage_class().map(|c| c.as_str()).unwrap_or("STANDARD"),
            })
        })
        .collect();
    let mut result = json!({
        "Name": p.bucket,
        "Prefix": p.prefix.unwrap_or_default(),
        "KeyCount": out.key_count().unwrap_or(contents.len() as i32),
        "MaxKeys": out.max_keys().unwrap_or(1000),
        "IsTruncated": out.is_truncated().unwrap_or(false),
        "Contents": contents,
    });
    if let Some(token) = out.next_continuation_token() {
        result["NextContinuationToken"] = json!(token);
    }
    Ok(result)
}

async fn get_object(s3: &aws_sdk_s3::Client, p: GetParams, max_bytes: u64) -> Result<Value, TaskFailure> {
    let out =
        s3.get_object().bucket(&p.bucket).key(&p.key).set_version_id(p.version_id).send().await.map_err(failure)?;
    let length = out.content_length().unwrap_or(0).max(0) as u64;
    if length > max_bytes {
        return Err(TaskFailure::new(
            "S3.ObjectTooLarge",
            format!("s3://{}/{} is {length} bytes; an ItemReader reads at most {max_bytes}", p.bucket, p.key),
        ));
    }
    let (etag, modified, content_type) =
        (out.e_tag().map(str::to_string), date(out.last_modified()), out.content_type().map(str::to_string));
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| TaskFailure::new("S3.ReadFailed", format!("reading s3://{}/{}: {e}", p.bucket, p.key)))?
        .into_bytes();
    if bytes.len() as u64 > max_bytes {
        return Err(TaskFailure::new(
            "S3.ObjectTooLarge",
            format!("s3://{}/{} is over {max_bytes} bytes", p.bucket, p.key),
        ));
    }
    let body = String::from_utf8(bytes.to_vec()).map_err(|_| {
        TaskFailure::new("S3.InvalidObjectText", format!("s3://{}/{} is not UTF-8 text", p.bucket, p.key))
    })?;
    Ok(json!({
        "Body": body,
        "ContentLength": bytes.len(),
        "ContentType": content_type,
        "ETag": etag,
        "LastModified": modified,
    }))
}

async fn put_object(s3: &aws_sdk_s3::Client, p: PutParams) -> Result<Value, TaskFailure> {
    let out = s3
        .put_object()
        .bucket(&p.bucket)
        .key(&p.key)
        .content_type("application/json")
        .body(p.body.into_bytes().into())
        .send()
        .await
        .map_err(failure)?;
    Ok(json!({"ETag": out.e_tag()}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Storage, StorageOptions};
    use imgpipe_core::Config;
    use std::sync::Arc;

    struct Stack {
        storage: Storage,
        dir: std::path::PathBuf,
    }
    impl Drop for Stack {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    async fn stack() -> Stack {
        let dir = std::env::temp_dir().join(format!("imgpipe-s3-integration-{}", uuid::Uuid::new_v4()));
        let opts = StorageOptions {
            data_dir: dir.join("data"),
            config: Config::default(),
            credentials: None,
            allowed_origins: Vec::new(),
        };
        Stack { storage: Storage::start(opts).await.unwrap(), dir }
    }

    async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &[u8]) {
        s3.put_object().bucket(bucket).key(key).body(body.to_vec().into()).send().await.unwrap();
    }

    #[tokio::test]
    async fn list_get_and_put_against_the_embedded_s3() {
        let st = stack().await;
        let s3 = &st.storage.clients.s3;
        let bucket = Config::default().input_bucket;
        for key in ["in/a", "in/b", "in/c", "out/x"] {
            put(s3, &bucket, key, b"[1,2]").await;
        }
        let list = |token: Option<&str>| {
            let mut p = json!({"Bucket": bucket, "Prefix": "in/", "MaxKeys": 2});
            if let Some(t) = token {
                p["ContinuationToken"] = json!(t);
            }
            invoke(s3, resources::LIST_OBJECTS_V2, p)
        };
        let first = list(None).await.unwrap();
        assert_eq!(first["IsTruncated"], json!(true));
        assert_eq!(first["Contents"].as_array().unwrap().len(), 2);
        let object = &first["Contents"][0];
        assert_eq!((object["Key"].as_str(), object["Size"].as_i64()), (Some("in/a"), Some(5)));
        assert!(object["ETag"].as_str().is_some_and(|e| e.starts_with('"')), "{object}");
        assert!(object["LastModified"].as_str().is_some_and(|t| t.ends_with('Z')), "{object}");
        let token = first["NextContinuationToken"].as_str().unwrap();
        let second = list(Some(token)).await.unwrap();
        assert_eq!(second["IsTruncated"], json!(false));
        assert_eq!(second["Contents"][0]["Key"], json!("in/c"));

        let got = invoke(s3, resources::GET_OBJECT, json!({"Bucket": bucket, "Key": "in/a"})).await.unwrap();
        assert_eq!(got["Body"], json!("[1,2]"));

        let put_answer =
            invoke(s3, resources::PUT_OBJECT, json!({"Bucket": bucket, "Key": "r/manifest.json", "Body": "{}"}))
                .await
                .unwrap();
        assert!(put_answer["ETag"].is_string());
        let back =
            invoke(s3, resources::GET_OBJECT, json!({"Bucket": bucket, "Key": "r/manifest.json"})).await.unwrap();
        assert_eq!(back["Body"], json!("{}"));
    }

    /// A Distributed Map run by the engine with the local invoker: it lists the embedded bucket
    /// and writes its results there.
    #[tokio::test]
    async fn a_distributed_map_reads_and_writes_the_embedded_s3_through_the_local_invoker() {
        let st = stack().await;
        let s3 = &st.storage.clients.s3;
        let config = Config::default();
        let bucket = config.input_bucket.clone();
        for key in ["uploads/a.jpg", "uploads/b.jpg", "uploads/c.jpg", "other/d.jpg"] {
            put(s3, &bucket, key, b"jpeg").await;
        }
        let pipeline =
            imgpipe_core::Pipeline { config: config.clone(), clients: st.storage.clients.clone(), detector: None };
        let invoker = Arc::new(crate::invoker::LocalInvoker::new(Arc::new(pipeline), Default::default()));
        let definition = json!({"StartAt": "Each", "States": {"Each": {
            "Type": "Map",
            "ItemReader": {"Resource": resources::LIST_OBJECTS_V2, "Parameters": {"Bucket": bucket, "Prefix": "uploads/"}},
            "ItemSelector": {"key.$": "$$.Map.Item.Value.Key"},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                              "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
            "ResultWriter": {"Resource": resources::PUT_OBJECT, "Parameters": {"Bucket": bucket, "Prefix": "runs"}},
            "End": true}}});
        let definition = asl::Definition::parse(&definition.to_string()).unwrap();
        let options = asl::EngineOptions { time_scale: 0.0, ..Default::default() };
        let done = asl::run_once(definition, json!({}), invoker, options).await.unwrap();
        let output = done.output_json().unwrap_or_else(|| panic!("{:?} {:?}", done.error, done.cause));
        let manifest_key = output["ResultWriterDetails"]["Key"].as_str().unwrap();
        assert!(manifest_key.starts_with("runs/") && manifest_key.ends_with("/manifest.json"), "{output}");
        let get = |key: &str| invoke(s3, resources::GET_OBJECT, json!({"Bucket": bucket, "Key": key}));
        let manifest: Value = serde_json::from_str(get(manifest_key).await.unwrap()["Body"].as_str().unwrap()).unwrap();
        let results_key = manifest["ResultFiles"]["SUCCEEDED"][0]["Key"].as_str().unwrap();
        let results: Vec<Value> =
            serde_json::from_str(get(results_key).await.unwrap()["Body"].as_str().unwrap()).unwrap();
        let mut keys: Vec<String> = results
            .iter()
            .map(|r| {
                serde_json::from_str::<Value>(r["Output"].as_str().unwrap()).unwrap()["key"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        keys.sort();
        assert_eq!(keys, ["uploads/a.jpg", "uploads/b.jpg", "uploads/c.jpg"]);
    }

    #[tokio::test]
    async fn bad_requests_are_named_failures() {
        let st = stack().await;
        let s3 = &st.storage.clients.s3;
        let bucket = Config::default().input_bucket;
        put(s3, &bucket, "binary", &[0xff, 0xfe, 0x00]).await;
        put(s3, &bucket, "big", &[b'x'; 100]).await;
        let missing = invoke(s3, resources::LIST_OBJECTS_V2, json!({"Bucket": "no-such-bucket"})).await.unwrap_err();
        assert_eq!(missing.error, "S3.NoSuchBucket");
        let no_key = invoke(s3, resources::GET_OBJECT, json!({"Bucket": bucket, "Key": "nope"})).await.unwrap_err();
        assert_eq!(no_key.error, "S3.NoSuchKey");
        let binary = invoke(s3, resources::GET_OBJECT, json!({"Bucket": bucket, "Key": "binary"})).await.unwrap_err();
        assert_eq!(binary.error, "S3.InvalidObjectText");
        let big =
            invoke_within(s3, resources::GET_OBJECT, json!({"Bucket": bucket, "Key": "big"}), 10).await.unwrap_err();
        assert_eq!(big.error, "S3.ObjectTooLarge");
        let forged = invoke(s3, resources::GET_OBJECT, json!({"Bucket": bucket, "Key": 7})).await.unwrap_err();
        assert_eq!(forged.error, "S3.InvalidParameter");
        let unknown =
            invoke(s3, resources::PUT_OBJECT, json!({"Bucket": bucket, "Key": "k", "Body": "x", "Acl": "public-read"}))
                .await
                .unwrap_err();
        assert_eq!(unknown.error, "S3.InvalidParameter", "unknown parameters are refused, not ignored");
    }
}
