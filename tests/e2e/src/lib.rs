//! Shared helpers for the end-to-end tests.

pub mod callers;
pub mod endpoints;
pub mod images;
pub mod runtime_api;
pub mod serve;
