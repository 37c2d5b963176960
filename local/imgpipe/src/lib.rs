//! imgpipe on one machine: the local stack (embedded S3 and DynamoDB, the engine running
//! `statemachine/pipeline.asl.json`, the local model) and the commands of the `imgpipe`
//! binary. The end-to-end tests start the same stack through this library.

pub mod accounts;
pub mod adapters;
pub mod cli;
pub mod commands;
pub mod gate;
pub mod invoker;
pub mod reconciler;
pub mod s3_integration;
pub mod server;
pub mod stack;
pub mod storage;
