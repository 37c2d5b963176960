//! The `reclaim` Lambda: the first state of a re-process batch (`statemachine/reprocess.asl.json`).
//! All logic lives in `imgpipe-core`.

#[tokio::main]
async fn main() -> Result<(), imgpipe_core::lambda::Error> {
    imgpipe_core::lambda::run_step(imgpipe_core::StepFunction::Reclaim).await
}
