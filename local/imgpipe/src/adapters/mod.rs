//! The local parts plugged into core's ports: the local model as the `LabelDetector`, the
//! embedded engine as the `Executions` history source.

mod detector;
mod executions;

pub use detector::{detector_view, LocalDetector};
pub use executions::EngineExecutions;
