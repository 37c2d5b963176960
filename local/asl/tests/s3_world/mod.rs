#![allow(dead_code)]
//! An in-memory S3 behind the TaskInvoker (listObjectsV2, getObject, putObject, answered as the
//! SDK integration does) and a `work` function for every other resource: the world the
//! Distributed Map tests run in.

use asl::{resources, TaskContext, TaskFailure, TaskFuture, TaskInvoker};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

pub type Work = dyn Fn(&Value) -> Option<Result<Value, TaskFailure>> + Send + Sync;

/// An in-memory S3 answering the three actions as the SDK integration does, and a `work`
/// function for every other resource (`None`: never answers).
pub struct World {
    pub buckets: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
    pub page_size: usize,
    pub work: Box<Work>,
    pub work_calls: Mutex<Vec<Value>>,
    pub list_calls: Mutex<Vec<Value>>,
}

impl World {
    pub fn new(work: impl Fn(&Value) -> Option<Result<Value, TaskFailure>> + Send + Sync + 'static) -> Arc<World> {
        Arc::new(World {
            buckets: Mutex::new(BTreeMap::from([("data".to_string(), BTreeMap::new())])),
            page_size: 2,
            work: Box::new(work),
            work_calls: Mutex::default(),
            list_calls: Mutex::default(),
        })
    }
    pub fn echo() -> Arc<World> {
        Self::new(|v| Some(Ok(v.clone())))
    }
    pub fn put(&self, key: &str, body: &str) {
        self.buckets.lock().unwrap().get_mut("data").unwrap().insert(key.into(), body.into());
    }
    pub fn get(&self, bucket: &str, key: &str) -> Option<String> {
        self.buckets.lock().unwrap().get(bucket)?.get(key).cloned()
    }
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        self.buckets.lock().unwrap().get(bucket).map(|b| b.keys().cloned().collect()).unwrap_or_default()
    }
    pub fn work_calls(&self) -> Vec<Value> {
        self.work_calls.lock().unwrap().clone()
    }

    fn s3(&self, resource: &str, p: &Value) -> Result<Value, TaskFailure> {
        let no_bucket = || TaskFailure::new("S3.NoSuchBucketException", "The specified bucket does not exist");
        let bucket_name = p["Bucket"].as_str().unwrap_or_default().to_string();
        let mut buckets = self.buckets.lock().unwrap();
        let bucket = buckets.get_mut(&bucket_name).ok_or_else(no_bucket)?;
        match resource {
            resources::LIST_OBJECTS_V2 => {
                self.list_calls.lock().unwrap().push(p.clone());
                let prefix = p["Prefix"].as_str().unwrap_or_default();
                let after = p["ContinuationToken"].as_str().unwrap_or_default();
                let keys: Vec<(&String, &String)> =
                    bucket.iter().filter(|(k, _)| k.starts_with(prefix) && k.as_str() > after).collect();
                let page: Vec<Value> = keys
                    .iter()
                    .take(self.page_size)
                    .map(|(k, body)| {
                        json!({"Key": k, "Size": body.len(), "ETag": format!("\"etag-{k}\""),
                               "LastModified": "2024-01-02T03:04:05Z", "StorageClass": "STANDARD"})
                    })
                    .collect();
                let truncated = keys.len() > self.page_size;
                let mut out = json!({"Name": bucket_name, "Prefix": prefix, "KeyCount": page.len(), "IsTruncated": truncated, "Contents": page});
                if truncated {
                    out["NextContinuationToken"] = json!(keys[self.page_size - 1].0);
                }
                Ok(out)
            }
            resources::GET_OBJECT => {
                let body = bucket
                    .get(p["Key"].as_str().unwrap_or_default())
                    .ok_or_else(|| TaskFailure::new("S3.NoSuchKeyException", "The specified key does not exist."))?;
                Ok(json!({"Body": body, "ContentLength": body.len()}))
            }
            resources::PUT_OBJECT => {
                let key = p["Key"].as_str().unwrap_or_default().to_string();
                bucket.insert(key, p["Body"].as_str().unwrap_or_default().to_string());
                Ok(json!({"ETag": "\"x\""}))
            }
            other => Err(TaskFailure::new("States.Runtime", format!("unknown resource {other}"))),
        }
    }
}

impl TaskInvoker for World {
    fn invoke(&self, resource: &str, input: Value, _: TaskContext) -> TaskFuture<'_> {
        if resource.starts_with("arn:aws:states:::s3:") {
            let out = self.s3(resource, &input);
            return Box::pin(async move { out });
        }
        self.work_calls.lock().unwrap().push(input.clone());
        let out = (self.work)(&input);
        Box::pin(async move {
            match out {
                Some(out) => out,
                None => std::future::pending().await,
            }
        })
    }
}

/// A `work` function failing (`Boom`) for items whose `field` is true, else `{"ok": n}`.
pub fn fail_when(field: &'static str) -> impl Fn(&Value) -> Option<Result<Value, TaskFailure>> {
    move |v| {
        Some(if v[field] == json!(true) {
            Err(TaskFailure::new("Boom", "it failed"))
        } else {
            Ok(json!({"ok": v["n"]}))
        })
    }
}

/// The ARN every non-S3 Task of these tests calls (the `work` function).
pub const WORK: &str = "arn:aws:lambda:local:000000000000:function:work";

/// A machine whose first state `M` is a Distributed Map with `fields`, processing each item
/// with one Task (the `work` function), then `End` unless `fields` has `Next`.
pub fn dmap(fields: Value) -> Value {
    let mut map = json!({
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Work",
            "States": {"Work": {"Type": "Task", "Resource": WORK, "End": true}}
        }
    });
    for (k, v) in fields.as_object().expect("fields are an object") {
        map[k] = v.clone();
    }
    if map.get("Next").is_none() {
        map["End"] = json!(true);
    }
    json!({"StartAt": "M", "States": {"M": map}})
}
