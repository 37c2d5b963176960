//! The ARNs the API takes: `arn:<partition>:states:<region>:<account>:stateMachine:<name>` and
//! `arn:<partition>:states:<region>:<account>:execution:<machine>:<name>`. Anything else is
//! `InvalidArn`, so no request reaches the engine with something that is not one of them.

use crate::error::ApiError;

/// What an ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    StateMachine,
    Execution,
}

impl Kind {
    fn resource_type(self) -> &'static str {
        match self {
            Kind::StateMachine => "stateMachine",
            Kind::Execution => "execution",
        }
    }
}

/// Checks that `arn` is a Step Functions ARN of `kind`.
pub(crate) fn check(arn: &str, kind: Kind) -> Result<(), ApiError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let [prefix, _partition, service, _region, _account, resource_type, names @ ..] = parts.as_slice() else {
        return Err(ApiError::invalid_arn(&format!("Invalid ARN prefix: {arn}")));
    };
    if *prefix != "arn" || *service != "states" {
        return Err(ApiError::invalid_arn(&format!("Invalid ARN prefix: {arn}")));
    }
    if *resource_type != kind.resource_type() {
        return Err(ApiError::invalid_arn(&format!("Resource type not valid in this context: {resource_type}")));
    }
    let expected = match kind {
        Kind::StateMachine => 1,
        Kind::Execution => 2,
    };
    if names.len() != expected || names.iter().any(|n| n.is_empty()) {
        return Err(ApiError::invalid_arn(&format!("Invalid Arn resource id: {}", names.join(":"))));
    }
    Ok(())
}

/// The last part of a state machine ARN: its name.
pub(crate) fn name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_step_functions_arns_of_the_right_kind_pass() {
        let machine = "arn:aws:states:local:000000000000:stateMachine:imgpipe-pipeline";
        let execution = "arn:aws:states:local:000000000000:execution:imgpipe-pipeline:run-1";
        assert!(check(machine, Kind::StateMachine).is_ok());
        assert!(check(execution, Kind::Execution).is_ok());
        let wrong_kind = check(execution, Kind::StateMachine).unwrap_err();
        assert_eq!(wrong_kind.name, "InvalidArn");
        assert!(wrong_kind.message.contains("Resource type not valid in this context: execution"));
        for bad in [
            "",
            "not-an-arn",
            "arn:aws:s3:::bucket",
            "arn:aws:states:local:000000000000:stateMachine:",
            "arn:aws:states:local:000000000000:stateMachine:a:b",
            "arn:aws:states:local:000000000000:execution:only-machine",
            &"arn:".repeat(10_000),
        ] {
            assert_eq!(check(bad, Kind::StateMachine).unwrap_err().name, "InvalidArn", "{bad:.60}");
        }
        assert_eq!(name(machine), "imgpipe-pipeline");
    }
}
