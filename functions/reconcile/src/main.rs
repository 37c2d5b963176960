//! The `reconcile` Lambda, run on a schedule: PENDING uploads that nothing is processing get an
//! execution or a final FAILED record (see `imgpipe_core::reconcile`); each run logs its report
//! and an Embedded Metric Format line the findings alarm watches.

#[tokio::main]
async fn main() -> Result<(), imgpipe_core::lambda::Error> {
    imgpipe_core::lambda::run_reconcile().await
}
