//! The errors the API answers with, shaped as Step Functions shapes them: HTTP 400 and
//! `{"__type": "<namespace>#<name>", "message": "..."}`. Service errors are in
//! `com.amazonaws.swf.service.v2.model`, constraint violations in `com.amazon.coral.validate`,
//! protocol errors in `com.amazon.coral.service` (clients keep the part after `#`).

use serde::Serialize;

const SERVICE: &str = "com.amazonaws.swf.service.v2.model";
const VALIDATE: &str = "com.amazon.coral.validate";
const CORAL: &str = "com.amazon.coral.service";

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: u16,
    namespace: &'static str,
    pub name: &'static str,
    pub message: String,
}

impl ApiError {
    fn new(namespace: &'static str, name: &'static str, message: String) -> Self {
        Self { status: 400, namespace, name, message }
    }

    fn service(name: &'static str, message: String) -> Self {
        Self::new(SERVICE, name, message)
    }

    pub fn invalid_arn(reason: &str) -> Self {
        Self::service("InvalidArn", format!("Invalid Arn: '{reason}'"))
    }

    pub fn state_machine_does_not_exist(arn: &str) -> Self {
        Self::service("StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{arn}'"))
    }

    pub fn execution_does_not_exist(arn: &str) -> Self {
        Self::service("ExecutionDoesNotExist", format!("Execution Does Not Exist: '{arn}'"))
    }

    pub fn execution_already_exists(message: String) -> Self {
        Self::service("ExecutionAlreadyExists", message)
    }

    pub fn invalid_execution_input(reason: &str) -> Self {
        Self::service("InvalidExecutionInput", format!("Invalid State Machine Execution Input: '{reason}'"))
    }

    pub fn invalid_name(message: String) -> Self {
        Self::service("InvalidName", message)
    }

    pub fn invalid_token(reason: &str) -> Self {
        Self::service("InvalidToken", format!("Invalid Token: '{reason}'"))
    }

    pub fn resource_not_found(message: String) -> Self {
        Self::service("ResourceNotFound", message)
    }

    /// Constraint violations, e.g. `Value '1001' at 'maxResults' failed to satisfy constraint: ...`.
    pub fn validation(violations: &[String]) -> Self {
        let noun = if violations.len() == 1 { "error" } else { "errors" };
        let message = format!("{} validation {noun} detected: {}", violations.len(), violations.join("; "));
        Self::new(VALIDATE, "ValidationException", message)
    }

    /// A body that is not JSON, or a member of the wrong JSON type.
    pub fn serialization(reason: &str) -> Self {
        Self::new(CORAL, "SerializationException", reason.to_owned())
    }

    pub fn unknown_operation(target: Option<&str>) -> Self {
        let message = match target {
            Some(target) => format!("Unknown operation: '{target}'"),
            None => "The request has no X-Amz-Target header".to_owned(),
        };
        Self::new(CORAL, "UnknownOperationException", message)
    }

    pub fn too_large() -> Self {
        Self { status: 413, ..Self::new(CORAL, "RequestEntityTooLarge", "Request entity too large".to_owned()) }
    }

    pub fn refused(refusal: &sigv4::coral::Refusal) -> Self {
        Self::new(CORAL, refusal.error, refusal.message.clone())
    }

    pub fn internal(message: &str) -> Self {
        Self { status: 500, ..Self::new(SERVICE, "InternalFailure", message.to_owned()) }
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        #[derive(Serialize)]
        struct Envelope<'a> {
            #[serde(rename = "__type")]
            error_type: String,
            message: &'a str,
        }
        let envelope = Envelope { error_type: format!("{}#{}", self.namespace, self.name), message: &self.message };
        serde_json::to_string(&envelope).unwrap_or_default()
    }
}

/// One violated constraint; sensitive members (`value: None`) do not echo their value.
pub(crate) fn constraint(value: Option<&str>, member: &str, constraint: &str) -> String {
    match value {
        Some(value) => format!("Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"),
        None => format!("Value at '{member}' failed to satisfy constraint: {constraint}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_are_shaped_like_step_functions() {
        let body = ApiError::execution_does_not_exist("arn:x").body();
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["__type"], "com.amazonaws.swf.service.v2.model#ExecutionDoesNotExist");
        assert_eq!(parsed["message"], "Execution Does Not Exist: 'arn:x'");
        let two = ApiError::validation(&["a".into(), "b".into()]);
        assert_eq!(two.message, "2 validation errors detected: a; b");
        assert!(two.body().contains("com.amazon.coral.validate#ValidationException"));
        // quotes and control characters in a message stay inside the JSON string
        let odd = ApiError::invalid_token("\"}\n{");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&odd.body()).unwrap()["message"],
            "Invalid Token: '\"}\n{'"
        );
    }
}
