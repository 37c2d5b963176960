//! The reconciler: nothing uploaded stays PENDING without an explanation. It reads the sparse
//! pending index (no Scan) for uploads untouched for a while and, for each one:
//! - claimed by an execution that is still running: leaves it;
//! - its object exists (the S3 event was lost, or its claimer died): hands the record to a new
//!   execution in one conditional update, then starts that execution with the "Object Created"
//!   event S3 would have sent (reason `Reconciled`). The name is deterministic (`<id>-r<n>`), the
//!   hand-over is conditional and the first state's claim admits only the named execution, so
//!   two reconciler runs never process an upload twice;
//! - nothing was uploaded and the upload form has expired: stores FAILED `NOT_UPLOADED`;
//! - after [`MAX_ATTEMPTS`] hand-overs that all died: stores FAILED `NOT_PROCESSED`.
//!
//! The same code runs on AWS (a scheduled Lambda, Step Functions as the [`ExecutionStarter`])
//! and locally (`imgpipe serve`, the embedded engine).

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::error::{classify_sdk_error, StepError};
use crate::model::{image_id_from_key, object_created_event, BucketRef, ObjectCreatedDetail, ObjectRef, Status};
use crate::steps::detect::BoxFuture;
use crate::table::{FailureReason, Handover, ImageRecord, OutcomeWrite, Table, WriteError};

/// Hand-overs per upload before the reconciler gives up on it.
pub const MAX_ATTEMPTS: u32 = 3;
/// The stored code of an upload whose form expired with nothing uploaded.
pub const NOT_UPLOADED: &str = "NOT_UPLOADED";
/// The stored code of an upload whose executions kept dying without an outcome.
pub const NOT_PROCESSED: &str = "NOT_PROCESSED";
/// The `reason` of the events the reconciler starts executions with.
pub const RECONCILED_REASON: &str = "Reconciled";
/// Records examined per Query page.
const PAGE_SIZE: i32 = 100;

/// Starting and checking pipeline executions: Step Functions on AWS, the embedded engine locally.
pub trait ExecutionStarter: Send + Sync {
    /// The ARN the pipeline execution named `name` has (known before it starts).
    fn execution_arn(&self, name: &str) -> String;
    /// Starts the pipeline execution `name` with `input`.
    fn start<'a>(&'a self, name: &'a str, input: Value) -> BoxFuture<'a, Result<StartOutcome, StepError>>;
    /// Is the execution still running? `false` when it does not exist.
    fn is_running<'a>(&'a self, execution_arn: &'a str) -> BoxFuture<'a, Result<bool, StepError>>;
}

/// The answer to a start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOutcome {
    Started,
    /// An execution of that name exists already (`ExecutionAlreadyExists`): nothing was started.
    AlreadyExists,
}

/// AWS Step Functions as the [`ExecutionStarter`] of one state machine.
pub struct SfnStarter {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

impl SfnStarter {
    /// Starts executions of `state_machine_arn` through `client`.
    pub fn new(client: aws_sdk_sfn::Client, state_machine_arn: impl Into<String>) -> SfnStarter {
        SfnStarter { client, state_machine_arn: state_machine_arn.into() }
    }
}

impl ExecutionStarter for SfnStarter {
    fn execution_arn(&self, name: &str) -> String {
        format!("{}:{name}", self.state_machine_arn.replacen(":stateMachine:", ":execution:", 1))
    }

    fn start<'a>(&'a self, name: &'a str, input: Value) -> BoxFuture<'a, Result<StartOutcome, StepError>> {
        Box::pin(async move {
            let result = self
                .client
                .start_execution()
                .state_machine_arn(&self.state_machine_arn)
                .name(name)
                .input(input.to_string())
                .send()
                .await;
            match result {
                Ok(_) => Ok(StartOutcome::Started),
                Err(e) if e.as_service_error().is_some_and(|se| se.is_execution_already_exists()) => {
                    Ok(StartOutcome::AlreadyExists)
                }
                Err(e) => Err(classify_sdk_error("starting an execution", &e)),
            }
        })
    }

    fn is_running<'a>(&'a self, execution_arn: &'a str) -> BoxFuture<'a, Result<bool, StepError>> {
        Box::pin(async move {
            use aws_sdk_sfn::types::ExecutionStatus;
            match self.client.describe_execution().execution_arn(execution_arn).send().await {
                Ok(out) => Ok(matches!(out.status(), ExecutionStatus::Running | ExecutionStatus::PendingRedrive)),
                Err(e) if e.as_service_error().is_some_and(|se| se.is_execution_does_not_exist()) => Ok(false),
                Err(e) => Err(classify_sdk_error("describing an execution", &e)),
            }
        })
    }
}

/// What one run needs.
pub struct Reconciler<'a> {
    pub table: &'a Table,
    pub s3: &'a aws_sdk_s3::Client,
    pub starter: &'a dyn ExecutionStarter,
    /// The bucket uploads land in; a record naming another is left alone.
    pub input_bucket: &'a str,
    /// Records untouched for less than this are left alone.
    pub quiet_for: Duration,
    /// Lifetime of a signed upload form: a record without an object is expired only after it.
    pub upload_ttl: Duration,
    /// Records examined per run at most (bounded work; the rest wait for the next run).
    pub max_records: usize,
}

/// What a run found, by image id.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconcileReport {
    /// Uploads handed to a new execution.
    pub started: Vec<String>,
    /// Uploads stored as FAILED `NOT_UPLOADED`.
    pub expired: Vec<String>,
    /// Uploads stored as FAILED `NOT_PROCESSED` after [`MAX_ATTEMPTS`].
    pub gave_up: Vec<String>,
    /// Uploads left alone: claimed by a running execution.
    pub running: Vec<String>,
    /// Uploads left alone: recently touched, still within their upload window, or changed
    /// by someone else during this run.
    pub waiting: Vec<String>,
    /// Uploads this run could not decide on (an error each; retried next run).
    pub errors: Vec<String>,
}

impl ReconcileReport {
    /// Logs what the run did (one line, the lists by image id).
    pub fn log(&self) {
        tracing::info!(
            started = ?self.started,
            expired = ?self.expired,
            gave_up = ?self.gave_up,
            running = self.running.len(),
            waiting = self.waiting.len(),
            errors = ?self.errors,
            "reconciled pending uploads"
        );
    }

    /// Findings that mean work was lost or stuck (what the alarm counts).
    pub fn findings(&self) -> usize {
        self.started.len() + self.gave_up.len() + self.errors.len()
    }
}

/// What to do with one record.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    Running,
    Waiting,
    Start { attempt: u32 },
    Expire,
    GiveUp,
}

impl Reconciler<'_> {
    /// One pass over PENDING records created before `now - quiet_for`.
    pub async fn run(&self, now: DateTime<Utc>) -> Result<ReconcileReport, StepError> {
        let cutoff = timestamp(minus(now, self.quiet_for));
        let mut report = ReconcileReport::default();
        let mut start = None;
        let mut examined = 0;
        loop {
            let page = self.table.query_pending(&cutoff, PAGE_SIZE, start).await?;
            for id in page.items {
                if examined >= self.max_records {
                    return Ok(report);
                }
                examined += 1;
                if let Err(e) = self.reconcile_one(&id, now, &cutoff, &mut report).await {
                    tracing::warn!(image_id = %id, error = %e, "could not reconcile an upload");
                    report.errors.push(id);
                }
            }
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(report),
            }
        }
    }

    async fn reconcile_one(
        &self,
        id: &str,
        now: DateTime<Utc>,
        cutoff: &str,
        report: &mut ReconcileReport,
    ) -> Result<(), StepError> {
        let Some(record) = self.table.get_image(id, true).await? else { return Ok(()) };
        if record.is_final() {
            return Ok(());
        }
        if image_id_from_key(&record.key).as_deref() != Some(id) || record.bucket != self.input_bucket {
            return Err(StepError::Internal(format!("record {id} names an object imgpipe did not generate")));
        }
        let claimer_running = match record.execution_id.as_deref() {
            Some(arn) if record.updated_at.as_str() < cutoff => self.starter.is_running(arn).await?,
            _ => false,
        };
        let object =
            if record.updated_at.as_str() < cutoff && !claimer_running { self.head(&record).await? } else { None };
        let action = decide(&record, cutoff, claimer_running, object.is_some(), self.upload_deadline(&record)?, now);
        let outcome = match action {
            Action::Running => &mut report.running,
            Action::Waiting => &mut report.waiting,
            Action::Start { attempt } => {
                let started = match object {
                    Some(object) => self.start(&record, attempt, object, now).await?,
                    None => false,
                };
                if started {
                    &mut report.started
                } else {
                    &mut report.waiting
                }
            }
            Action::Expire => match self
                .fail(&record, NOT_UPLOADED, "Nothing was uploaded before the upload form expired.", now)
                .await?
            {
                true => &mut report.expired,
                false => &mut report.waiting,
            },
            Action::GiveUp => {
                let message = format!("The upload was not processed after {MAX_ATTEMPTS} attempts.");
                match self.fail(&record, NOT_PROCESSED, &message, now).await? {
                    true => &mut report.gave_up,
                    false => &mut report.waiting,
                }
            }
        };
        outcome.push(id.to_string());
        Ok(())
    }

    /// When a record without an object may be called not uploaded: its creation plus the upload
    /// form's lifetime plus the quiet period (an upload begun at the last second may still land).
    fn upload_deadline(&self, record: &ImageRecord) -> Result<DateTime<Utc>, StepError> {
        let created = DateTime::parse_from_rfc3339(&record.created_at)
            .map_err(|e| StepError::Internal(format!("record {} has a bad createdAt: {e}", record.image_id)))?;
        Ok(plus(created.with_timezone(&Utc), self.upload_ttl.saturating_add(self.quiet_for)))
    }

    /// The upload's current object version, if it exists.
    async fn head(&self, record: &ImageRecord) -> Result<Option<ObjectRef>, StepError> {
        // The current version: HeadObject without a version id.
        let result = self.s3.head_object().bucket(&record.bucket).key(&record.key).send().await;
        match result {
            Ok(out) => Ok(Some(ObjectRef {
                key: record.key.clone(),
                size: out.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                etag: out.e_tag().unwrap_or_default().trim_matches('"').to_string(),
                sequencer: None,
                version_id: out.version_id().map(str::to_string),
            })),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => Ok(None),
            Err(e) => Err(classify_sdk_error("looking for the upload", &e)),
        }
    }

    /// Hands the record to execution `<id>-r<attempt>` and starts it. `Ok(false)`: the record
    /// changed meanwhile, nothing was started.
    async fn start(
        &self,
        record: &ImageRecord,
        attempt: u32,
        object: ObjectRef,
        now: DateTime<Utc>,
    ) -> Result<bool, StepError> {
        let name = execution_name(&record.image_id, attempt);
        let arn = self.starter.execution_arn(&name);
        let now_text = timestamp(now);
        let handover = Handover {
            image_id: &record.image_id,
            from: record.execution_id.as_deref(),
            seen_updated_at: &record.updated_at,
            to: &arn,
            now: &now_text,
        };
        if !self.table.hand_over(&handover).await? {
            return Ok(false);
        }
        let (account, region) = account_and_region(&arn);
        let detail = ObjectCreatedDetail {
            version: Some("0".into()),
            bucket: BucketRef { name: record.bucket.clone() },
            object,
            request_id: None,
            requester: None,
            source_ip_address: None,
            reason: Some(RECONCILED_REASON.into()),
        };
        let event = object_created_event(&detail, account, region, now);
        let outcome = self.starter.start(&name, event).await?;
        tracing::info!(image_id = %record.image_id, execution = %arn, ?outcome, "reconciler started the pipeline");
        Ok(true)
    }

    /// Stores FAILED with `code`, if the record is unchanged since read. `Ok(false)` otherwise.
    async fn fail(
        &self,
        record: &ImageRecord,
        code: &str,
        message: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StepError> {
        let now = timestamp(now);
        let failed = ImageRecord {
            status: Status::Failed,
            updated_at: now.clone(),
            completed_at: Some(now),
            error: Some(FailureReason { error_type: "Reconciler".into(), code: code.into(), message: message.into() }),
            expires_at: None,
            label_keys: Vec::new(),
            ..record.clone()
        };
        let write = OutcomeWrite {
            record: &failed,
            seen_updated_at: Some(&record.updated_at),
            labels: &[],
            stale: &record.label_keys,
        };
        match self.table.write_outcome(write).await {
            Ok(()) => Ok(true),
            Err(WriteError::Conflict) => Ok(false),
            Err(WriteError::Failed(e)) => Err(e),
        }
    }
}

/// The decision for a PENDING record, from what was read: pure, so every branch is tested.
fn decide(
    record: &ImageRecord,
    cutoff: &str,
    claimer_running: bool,
    object_exists: bool,
    upload_deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Action {
    if record.updated_at.as_str() >= cutoff {
        return Action::Waiting;
    }
    if claimer_running {
        return Action::Running;
    }
    if !object_exists {
        return if now >= upload_deadline { Action::Expire } else { Action::Waiting };
    }
    let attempts = record.execution_id.as_deref().map_or(0, |arn| attempt_of(arn, &record.image_id));
    if attempts >= MAX_ATTEMPTS {
        Action::GiveUp
    } else {
        Action::Start { attempt: attempts + 1 }
    }
}

/// The execution name of the reconciler's `attempt`-th hand-over of an upload.
pub fn execution_name(image_id: &str, attempt: u32) -> String {
    format!("{image_id}-r{attempt}")
}

/// Which hand-over an execution ARN is (its name `<id>-r<n>`); 0 for any other execution.
fn attempt_of(execution_arn: &str, image_id: &str) -> u32 {
    let name = execution_arn.rsplit(':').next().unwrap_or_default();
    name.strip_prefix(image_id).and_then(|rest| rest.strip_prefix("-r")).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// Account and region of an ARN (`arn:partition:service:region:account:...`).
fn account_and_region(arn: &str) -> (&str, &str) {
    let mut parts = arn.split(':').skip(3);
    let region = parts.next().unwrap_or_default();
    (parts.next().unwrap_or_default(), region)
}

/// `t - d`, or the earliest time when that is out of range (a huge setting never panics).
fn minus(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d).ok().and_then(|d| t.checked_sub_signed(d)).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `t + d`, or the latest time when that is out of range.
fn plus(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d).ok().and_then(|d| t.checked_add_signed(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Times as records store them (RFC 3339, milliseconds, `Z`), so they compare as strings.
fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The report as a CloudWatch Embedded Metric Format line (namespace `imgpipe`): `Findings`
/// (started + gave up + errors, what the alarm watches), `Started`, `Expired`, `GaveUp`.
pub fn metric_line(report: &ReconcileReport, now: DateTime<Utc>) -> String {
    let metric = |name: &str| serde_json::json!({ "Name": name, "Unit": "Count" });
    serde_json::json!({
        "_aws": {
            "Timestamp": now.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": "imgpipe",
                "Dimensions": [["Component"]],
                "Metrics": [metric("Findings"), metric("Started"), metric("Expired"), metric("GaveUp")],
            }],
        },
        "Component": "Reconciler",
        "Findings": report.findings(),
        "Started": report.started.len(),
        "Expired": report.expired.len(),
        "GaveUp": report.gave_up.len(),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0f8b8a9e-2f7c-4c47-9a53-1b2a3c4d5e6f";
    const ARN: &str = "arn:aws:states:eu-west-1:123456789012:execution:imgpipe-pipeline";

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn record(updated_at: &str, claimer: Option<&str>) -> ImageRecord {
        let mut r = ImageRecord::pending(ID, "o", "in", &format!("uploads/{ID}.jpg"), "2026-01-01T00:00:00.000Z");
        r.updated_at = updated_at.into();
        r.execution_id = claimer.map(str::to_string);
        r
    }

    #[test]
    fn each_record_gets_one_decision() {
        let cutoff = "2026-01-01T01:00:00.000Z";
        let (deadline, now) = (at("2026-01-01T00:10:00Z"), at("2026-01-01T01:05:00Z"));
        let old = "2026-01-01T00:00:00.000Z";
        let decide = |r: &ImageRecord, running, exists, deadline| decide(r, cutoff, running, exists, deadline, now);
        assert_eq!(decide(&record("2026-01-01T01:00:00.000Z", None), false, true, deadline), Action::Waiting);
        assert_eq!(decide(&record(old, Some("arn:x")), true, true, deadline), Action::Running);
        assert_eq!(decide(&record(old, None), false, true, deadline), Action::Start { attempt: 1 });
        assert_eq!(decide(&record(old, Some("arn:x:other")), false, true, deadline), Action::Start { attempt: 1 });
        let second = format!("{ARN}:{ID}-r2");
        assert_eq!(decide(&record(old, Some(&second)), false, true, deadline), Action::Start { attempt: 3 });
        let third = format!("{ARN}:{ID}-r3");
        assert_eq!(decide(&record(old, Some(&third)), false, true, deadline), Action::GiveUp);
        assert_eq!(decide(&record(old, None), false, false, deadline), Action::Expire);
        assert_eq!(decide(&record(old, None), false, false, at("2026-01-01T02:00:00Z")), Action::Waiting);
    }

    #[test]
    fn attempts_come_only_from_the_reconcilers_own_names() {
        assert_eq!(attempt_of(&format!("{ARN}:{ID}-r2"), ID), 2);
        assert_eq!(attempt_of(&format!("{ARN}:{ID}-rx"), ID), 0);
        assert_eq!(attempt_of(&format!("{ARN}:other-r2"), ID), 0);
        assert_eq!(attempt_of(&format!("{ARN}:{ID}-r99999999999999999999"), ID), 0);
        assert_eq!(attempt_of("", ID), 0);
        assert!(execution_name(ID, 3).len() <= 80, "Step Functions names are at most 80 characters");
    }

    #[test]
    fn huge_settings_saturate_instead_of_panicking() {
        let now = at("2026-01-01T00:00:00Z");
        assert_eq!(minus(now, Duration::MAX), DateTime::<Utc>::MIN_UTC);
        assert_eq!(plus(now, Duration::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(minus(now, Duration::from_secs(300)), at("2025-12-31T23:55:00Z"));
        assert_eq!(plus(now, Duration::from_secs(60)), at("2026-01-01T00:01:00Z"));
        assert!(timestamp(DateTime::<Utc>::MIN_UTC) < timestamp(now), "the earliest cutoff selects nothing");
    }

    #[test]
    fn events_name_the_account_and_region_of_the_state_machine() {
        assert_eq!(account_and_region(&format!("{ARN}:x")), ("123456789012", "eu-west-1"));
        assert_eq!(account_and_region("nonsense"), ("", ""));
    }

    #[test]
    fn the_metric_line_is_embedded_metric_format() {
        let report = ReconcileReport {
            started: vec!["a".into()],
            expired: vec!["b".into(), "c".into()],
            errors: vec!["d".into()],
            ..Default::default()
        };
        let line: Value = serde_json::from_str(&metric_line(&report, at("2026-01-01T00:00:00Z"))).unwrap();
        assert_eq!(line["_aws"]["Timestamp"], 1_767_225_600_000_i64);
        assert_eq!(
            (line["Findings"].as_u64(), line["Started"].as_u64(), line["Expired"].as_u64()),
            (Some(2), Some(1), Some(2))
        );
        let names: Vec<&str> = line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["Name"].as_str())
            .collect();
        assert!(names.iter().all(|n| line[*n].is_u64()), "every metric has its value: {line}");
        assert_eq!(line["Component"], "Reconciler");
    }
}
