//! imgpipe's domain: the contracts between states, the error taxonomy, the step logic as
//! plain async functions, the HTTP API routers, and the AWS SDK client code. The Lambda
//! mains and the local `imgpipe` binary both run this code.

pub mod aws;
pub mod config;
pub mod error;
pub mod http;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod model;
pub mod post_policy;
pub mod reconcile;
pub mod steps;
pub mod table;

pub use config::Config;
pub use error::StepError;
pub use steps::{Pipeline, StepFunction};
