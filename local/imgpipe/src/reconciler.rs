//! The reconciler in the local stack: core's [`Reconciler`] with the embedded engine as its
//! [`ExecutionStarter`]. It runs once at start-up, after the engine resumed its executions (so
//! an upload whose "Object Created" event was lost in a crash, or whose execution was never
//! stored, is started now), then every minute, as the scheduled Lambda does on AWS.

use std::sync::Arc;
use std::time::Duration;

use imgpipe_core::aws::Clients;
use imgpipe_core::reconcile::{ExecutionStarter, ReconcileReport, Reconciler, StartOutcome};
use imgpipe_core::steps::detect::BoxFuture;
use imgpipe_core::table::Table;
use imgpipe_core::{Config, StepError};
use serde_json::Value;

/// How often the reconciler runs after start-up.
pub const EVERY: Duration = Duration::from_secs(60);
/// Records examined per run at most.
const MAX_RECORDS: usize = 1000;

/// The embedded engine as the reconciler's [`ExecutionStarter`] for one state machine.
pub struct EngineStarter {
    engine: Arc<asl::Engine>,
    state_machine_arn: String,
}

impl EngineStarter {
    /// Starts executions of `state_machine_arn` on `engine`.
    pub fn new(engine: Arc<asl::Engine>, state_machine_arn: impl Into<String>) -> EngineStarter {
        EngineStarter { engine, state_machine_arn: state_machine_arn.into() }
    }
}

impl ExecutionStarter for EngineStarter {
    fn execution_arn(&self, name: &str) -> String {
        format!("{}:{name}", self.state_machine_arn.replacen(":stateMachine:", ":execution:", 1))
    }

    fn start<'a>(&'a self, name: &'a str, input: Value) -> BoxFuture<'a, Result<StartOutcome, StepError>> {
        Box::pin(async move {
            match self.engine.start_execution(&self.state_machine_arn, Some(name.to_string()), input).await {
                Ok(_) => Ok(StartOutcome::Started),
                Err(asl::EngineError::ExecutionAlreadyExists(_)) => Ok(StartOutcome::AlreadyExists),
                Err(e) => Err(StepError::Internal(format!("starting execution {name}: {e}"))),
            }
        })
    }

    fn is_running<'a>(&'a self, execution_arn: &'a str) -> BoxFuture<'a, Result<bool, StepError>> {
        Box::pin(async move {
            Ok(self.engine.describe(execution_arn).is_some_and(|d| d.status == asl::ExecutionStatus::Running))
        })
    }
}

/// One reconciler pass over the stack's table and input bucket, leaving alone records touched
/// within `quiet_for`.
pub async fn reconcile_once(
    starter: &dyn ExecutionStarter,
    table: &Table,
    clients: &Clients,
    config: &Config,
    quiet_for: Duration,
) -> Result<ReconcileReport, StepError> {
    let reconciler = Reconciler {
        table,
        s3: &clients.s3,
        starter,
        input_bucket: &config.input_bucket,
        quiet_for,
        upload_ttl: Duration::from_secs(config.upload_ttl_seconds),
        max_records: MAX_RECORDS,
    };
    reconciler.run(chrono::Utc::now()).await
}

/// Runs the reconciler in the background: now with no quiet period (no event from before this
/// start can still be on its way, and every execution that survived is running again), then
/// every [`EVERY`] with `RECONCILE_AFTER_SECONDS`.
pub fn spawn(engine: Arc<asl::Engine>, state_machine_arn: String, config: Config, clients: Clients) {
    tokio::spawn(async move {
        let starter = EngineStarter::new(engine, state_machine_arn);
        let table = Table::new(clients.dynamo.clone(), config.table_name.clone());
        let mut quiet_for = Duration::ZERO;
        loop {
            match reconcile_once(&starter, &table, &clients, &config, quiet_for).await {
                Ok(report) if report == ReconcileReport::default() => {}
                Ok(report) => report.log(),
                Err(e) => tracing::warn!(error = %e, "the reconciler could not run"),
            }
            quiet_for = Duration::from_secs(config.reconcile_after_seconds);
            tokio::time::sleep(EVERY).await;
        }
    });
}
