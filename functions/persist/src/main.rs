//! The `persist` Lambda: a state machine task. All logic lives in `imgpipe-core`.

#[tokio::main]
async fn main() -> Result<(), imgpipe_core::lambda::Error> {
    imgpipe_core::lambda::run_step(imgpipe_core::StepFunction::Persist).await
}
