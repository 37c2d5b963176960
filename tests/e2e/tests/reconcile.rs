//! Nothing lost (issue 12): the reconciler finds PENDING uploads through the pending index and
//! gives each one an execution or an explanation. Core's reconciler against the embedded S3 and
//! DynamoDB, with the embedded engine running `statemachine/pipeline.asl.json` with the real
//! step code and model as its `ExecutionStarter`; and `imgpipe serve` restarted after a crash
//! that lost an upload's event.
//!
//! Needs the model (IMGPIPE_MODEL or scripts/fetch-model.sh) and, for the serve test, the
//! `imgpipe` binary (`cargo build --workspace --bins`).

use std::sync::Arc;
use std::time::Duration;

use imgpipe::adapters::LocalDetector;
use imgpipe::invoker::{substitutions, FaultPlan, LocalInvoker};
use imgpipe::reconciler::EngineStarter;
use imgpipe::stack::{PIPELINE_DEFINITION, STATE_MACHINE_NAME};
use imgpipe_core::reconcile::{execution_name, ExecutionStarter, ReconcileReport, Reconciler, NOT_UPLOADED};
use imgpipe_core::table::{Claim, ImageRecord};
use imgpipe_core::Pipeline;
use imgpipe_e2e::endpoints::{Endpoints, INPUT_BUCKET, TEST_OWNER};
use imgpipe_e2e::images;
use imgpipe_e2e::runtime_api::LambdaFunction;
use imgpipe_e2e::serve::{model_path, Server, TempDir};
use serde_json::{json, Value};

/// The signed-upload lifetime the tests reconcile with.
const UPLOAD_TTL: Duration = Duration::from_secs(300);
/// How long one image may take to reach a final status (2 shared cores, a real model).
const FINAL: Duration = Duration::from_secs(240);

/// The storage, an engine running the pipeline with the real steps and model, and the
/// reconciler's view of that engine.
struct Harness {
    ep: Endpoints,
    engine: Arc<asl::Engine>,
    starter: EngineStarter,
}

impl Harness {
    async fn start() -> Harness {
        let ep = Endpoints::start().await;
        let config = ep.config();
        let detector = LocalDetector::start(&model_path(), None, ep.clients.s3.clone(), config.limits).await;
        let detector = Arc::new(detector.expect("the local models"));
        let pipeline = Pipeline { config, clients: ep.clients.clone(), detector: Some(detector) };
        let invoker = Arc::new(LocalInvoker::new(Arc::new(pipeline), FaultPlan::default()));
        let engine = asl::Engine::in_memory(invoker, asl::EngineOptions::default()).expect("an engine");
        let text = asl::Definition::substitute(PIPELINE_DEFINITION, &substitutions()).expect("substitutions");
        let arn =
            engine.register_state_machine(STATE_MACHINE_NAME, asl::Definition::parse(&text).expect("the pipeline"));
        let engine = Arc::new(engine);
        let starter = EngineStarter::new(engine.clone(), arn);
        Harness { ep, engine, starter }
    }

    /// One reconciler pass with no quiet period.
    async fn reconcile(&self) -> ReconcileReport {
        self.reconciler().run(chrono::Utc::now()).await.expect("a reconciler pass")
    }

    fn reconciler(&self) -> Reconciler<'_> {
        Reconciler {
            table: &self.ep.table,
            s3: &self.ep.clients.s3,
            starter: &self.starter,
            input_bucket: INPUT_BUCKET,
            quiet_for: Duration::ZERO,
            upload_ttl: UPLOAD_TTL,
            max_records: 100,
        }
    }

    /// An uploaded object whose "Object Created" event was lost: the record is PENDING and
    /// nothing ever ran. Returns the image id.
    async fn lost_upload(&mut self) -> String {
        let (id, _lost_event) = self.ep.upload(images::jpeg(640, 480), "jpg", "image/jpeg").await;
        id
    }

    /// A PENDING record created `age` ago, without an object.
    async fn pending_without_object(&self, age: Duration) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let created = chrono::Utc::now() - chrono::Duration::from_std(age).unwrap();
        let created = created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let record = ImageRecord::pending(&id, TEST_OWNER, INPUT_BUCKET, &format!("uploads/{id}.jpg"), &created);
        self.ep.table.put_pending(&record).await.expect("a pending record");
        id
    }

    /// Claims the record of `id` for `execution`, as its first state would.
    async fn claim_for(&self, id: &str, execution: &str) {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let claim =
            Claim { image_id: id, execution_id: execution, version_id: None, etag: "e", sequencer: None, now: &now };
        self.ep.table.claim(&claim).await.expect("a claim");
    }

    /// Waits for an execution to end; its status.
    async fn wait(&self, arn: &str) -> asl::ExecutionStatus {
        let done = tokio::time::timeout(FINAL, self.engine.wait(arn)).await.expect("the execution ends in time");
        done.expect("the execution exists").status
    }

    async fn record(&self, id: &str) -> ImageRecord {
        self.ep.image_record(id).await.expect("the record")
    }

    /// Ids the pending index lists.
    async fn pending_ids(&self) -> Vec<String> {
        let far = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self.ep.table.query_pending(&far, 100, None).await.expect("the pending index").items
    }
}

#[tokio::test]
async fn an_upload_whose_event_was_lost_is_processed_once() {
    let mut h = Harness::start().await;
    let id = h.lost_upload().await;
    assert_eq!(h.pending_ids().await, vec![id.clone()], "the PENDING record is in the pending index");

    // Two reconciler runs at once (a schedule overlapping itself): one hand-over, one execution.
    let (a, b) = tokio::join!(h.reconcile(), h.reconcile());
    let started: Vec<&String> = a.started.iter().chain(&b.started).collect();
    assert_eq!(started, vec![&id], "one run starts it: {a:?} {b:?}");
    let arn = h.starter.execution_arn(&execution_name(&id, 1));
    assert_eq!(h.engine.list_executions().len(), 1, "one execution");

    // A later run while it runs (or after) starts nothing more.
    let again = h.reconcile().await;
    assert!(again.started.is_empty() && again.findings() == 0, "{again:?}");

    assert_eq!(h.wait(&arn).await, asl::ExecutionStatus::Succeeded);
    let record = h.record(&id).await;
    assert_eq!(record.status, imgpipe_core::model::Status::Done, "{record:?}");
    assert_eq!(record.execution_id.as_deref(), Some(arn.as_str()), "the reconciled execution claimed and stored it");
    assert!(record.version_id.is_some() && record.etag.is_some(), "the claim pinned the object version: {record:?}");
    assert!(h.pending_ids().await.is_empty(), "a final record leaves the pending index");
    assert_eq!(h.reconcile().await, ReconcileReport::default());
    assert_eq!(h.engine.list_executions().len(), 1, "still one execution");
}

#[tokio::test]
async fn a_record_without_an_object_expires_only_after_the_upload_window() {
    let h = Harness::start().await;
    let old = h.pending_without_object(UPLOAD_TTL + Duration::from_secs(60)).await;
    let fresh = h.pending_without_object(Duration::from_secs(10)).await;

    let report = h.reconcile().await;
    assert_eq!(report.expired, vec![old.clone()], "{report:?}");
    assert_eq!(report.waiting, vec![fresh.clone()], "the fresh form may still be used: {report:?}");
    assert!(h.engine.list_executions().is_empty(), "nothing to run");

    let record = h.record(&old).await;
    assert_eq!(record.status, imgpipe_core::model::Status::Failed);
    let error = record.error.expect("an explanation");
    assert_eq!(error.code, NOT_UPLOADED);
    assert_eq!(record.expires_at, None, "a final record does not expire");
    assert_eq!(h.record(&fresh).await.status, imgpipe_core::model::Status::Pending);
    assert_eq!(h.pending_ids().await, vec![fresh], "only the fresh record is still pending");
}

#[tokio::test]
async fn a_running_claimer_is_left_alone_and_a_dead_one_is_replaced() {
    let mut h = Harness::start().await;
    // A state machine whose executions run for an hour stands for a pipeline still at work.
    let waiting = r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}"#;
    let slow = h.engine.register_state_machine("slow", asl::Definition::parse(waiting).unwrap());
    let running = h.engine.start_execution(&slow, Some("busy".into()), serde_json::json!({})).await.unwrap();

    let busy = h.lost_upload().await;
    h.claim_for(&busy, &running).await;
    let dead = h.lost_upload().await;
    h.claim_for(&dead, &h.starter.execution_arn("crashed-before-it-was-stored")).await;

    let report = h.reconcile().await;
    assert_eq!(report.running, vec![busy.clone()], "{report:?}");
    assert_eq!(report.started, vec![dead.clone()], "{report:?}");
    assert_eq!(h.record(&busy).await.execution_id.as_deref(), Some(running.as_str()), "the claim did not move");

    let arn = h.starter.execution_arn(&execution_name(&dead, 1));
    assert_eq!(h.wait(&arn).await, asl::ExecutionStatus::Succeeded);
    let record = h.record(&dead).await;
    assert_eq!(
        (record.status, record.execution_id.as_deref()),
        (imgpipe_core::model::Status::Done, Some(arn.as_str()))
    );
}

#[tokio::test]
async fn an_upload_whose_executions_keep_dying_fails_with_a_reason() {
    let mut h = Harness::start().await;
    let id = h.lost_upload().await;
    // The third hand-over's execution is gone without an outcome.
    h.claim_for(&id, &h.starter.execution_arn(&execution_name(&id, 3))).await;
    let report = h.reconcile().await;
    assert_eq!(report.gave_up, vec![id.clone()], "{report:?}");
    assert!(h.engine.list_executions().is_empty());
    let record = h.record(&id).await;
    assert_eq!(record.status, imgpipe_core::model::Status::Failed);
    assert_eq!(record.error.map(|e| e.code).as_deref(), Some(imgpipe_core::reconcile::NOT_PROCESSED));
}

#[tokio::test]
async fn a_table_from_before_the_pending_index_gets_it() {
    let h = Harness::start().await;
    let dynamo = &h.ep.clients.dynamo;
    let attr = |name: &str| {
        aws_sdk_dynamodb::types::AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |name: &str, kind| {
        aws_sdk_dynamodb::types::KeySchemaElement::builder().attribute_name(name).key_type(kind).build().unwrap()
    };
    use aws_sdk_dynamodb::types::KeyType;
    dynamo
        .create_table()
        .table_name("older")
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .attribute_definitions(attr("PK"))
        .attribute_definitions(attr("SK"))
        .key_schema(key("PK", KeyType::Hash))
        .key_schema(key("SK", KeyType::Range))
        .send()
        .await
        .expect("a table without GSI2");
    let older = imgpipe_core::table::Table::new(dynamo.clone(), "older");
    assert!(older.query_pending("9", 10, None).await.is_err(), "precondition: no pending index");
    older.ensure_exists().await.expect("adding the index");
    older.ensure_exists().await.expect("a second start changes nothing");
    let record = ImageRecord::pending(
        "0f8b8a9e-2f7c-4c47-9a53-1b2a3c4d5e6f",
        "o",
        INPUT_BUCKET,
        "k",
        "2026-01-01T00:00:00.000Z",
    );
    older.put_pending(&record).await.unwrap();
    let page = older.query_pending("9", 10, None).await.expect("the pending index");
    assert_eq!(page.items, vec![record.image_id]);
}

/// The `reconcile` binary as Lambda runs it (`cargo build --workspace --bins`), on a scheduled
/// event: it needs the state machine, expires a form nobody used, and prints the metric line.
#[tokio::test]
async fn the_reconcile_lambda_expires_a_form_nobody_used_and_reports_it_as_a_metric() {
    let h = Harness::start().await;
    let unused = h.pending_without_object(Duration::from_secs(3600)).await;
    let mut env = h.ep.function_env();
    let failed = LambdaFunction::try_start("reconcile", &env).await.err().expect("no state machine: the init fails");
    assert!(failed.log.contains("STATE_MACHINE_ARN"), "{}", failed.log);

    env.push((
        "STATE_MACHINE_ARN".into(),
        "arn:aws:states:us-east-1:123456789012:stateMachine:imgpipe-pipeline".into(),
    ));
    env.push(("RECONCILE_AFTER_SECONDS".into(), "60".into()));
    let mut f = LambdaFunction::start("reconcile", &env).await;
    let scheduled = json!({
        "version": "0", "id": uuid::Uuid::new_v4().to_string(), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2026-01-01T00:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/imgpipe-Every5Minutes"], "detail": {},
    });
    let out = f.invoke(scheduled).await;
    assert_eq!(out.response()["expired"], json!([unused]), "{out:?}");
    assert_eq!(h.record(&unused).await.error.map(|e| e.code).as_deref(), Some(NOT_UPLOADED));

    let log = f.log();
    let line = log
        .lines()
        .find(|l| l.starts_with('{') && l.contains("\"_aws\":"))
        .unwrap_or_else(|| panic!("no metric line:\n{log}"));
    let metrics: Value = serde_json::from_str(line).expect("the metric line is JSON");
    assert_eq!((metrics["Expired"].as_u64(), metrics["Findings"].as_u64()), (Some(1), Some(0)), "{metrics}");
    assert_eq!(metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"], "imgpipe");
}

/// `imgpipe serve` is killed with SIGKILL after an upload was signed; the object lands while it
/// is down, so its "Object Created" event goes nowhere, exactly as when a crash falls between
/// writing the object and storing its execution. The next start finishes the upload.
#[tokio::test]
async fn an_upload_lost_in_a_crash_is_processed_after_the_restart() {
    let dir = TempDir::new("reconcile-crash");
    let data = dir.join("data");
    let mut server = Server::signed_in(&data, &[], &[]).await;
    let bytes = images::jpeg(640, 480);
    let presigned = server.presign("lost.jpg", "image/jpeg", bytes.len()).await;
    let id = presigned["imageId"].as_str().expect("an image id").to_string();
    let key = presigned["key"].as_str().expect("the upload key").to_string();
    server.kill9();
    drop(server);

    {
        let storage = imgpipe::storage::Storage::start(imgpipe::storage::StorageOptions {
            data_dir: data.clone(),
            config: imgpipe_core::Config::from_env().expect("config"),
            credentials: None,
            allowed_origins: vec![],
        })
        .await
        .expect("the data dir's storage");
        storage.clients.s3.put_object().bucket(INPUT_BUCKET).key(&key).body(bytes.into()).send().await.unwrap();
        let record = storage.table.get_image(&id, true).await.unwrap().expect("the record");
        assert_eq!(record.status, imgpipe_core::model::Status::Pending, "precondition: nothing ran");
    }

    let server = Server::signed_in(&data, &[], &[]).await;
    let record = server.wait_final(&id, FINAL).await;
    assert_eq!(record["status"], "DONE", "{record}\n{}", server.log_tail(40));
}
