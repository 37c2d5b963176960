//! The faults DynamoDB shows under stress (see [`fault_plan`] for the plan and the draw):
//! throughput exceeded, throttling, an internal error, or a dropped connection.

pub use fault_plan::FaultPlanError;

use crate::dispatch::Answer;

/// A plan of DynamoDB faults, e.g. `rate=0.05,kinds=throughput+throttling+internal+drop,seed=7`.
pub type FaultPlan = fault_plan::FaultPlan<FaultKind>;
/// The DynamoDB fault plan in force.
pub(crate) type Faults = fault_plan::Faults<FaultKind>;

/// One kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// 400 `ProvisionedThroughputExceededException`.
    ProvisionedThroughputExceeded,
    /// 400 `ThrottlingException`.
    Throttling,
    /// 500 `InternalServerError`.
    InternalServerError,
    /// The connection is closed without an answer.
    DroppedConnection,
}

impl fault_plan::FaultKind for FaultKind {
    const ALL: &'static [FaultKind] = &[
        FaultKind::ProvisionedThroughputExceeded,
        FaultKind::Throttling,
        FaultKind::InternalServerError,
        FaultKind::DroppedConnection,
    ];

    fn name(self) -> &'static str {
        match self {
            FaultKind::ProvisionedThroughputExceeded => "throughput",
            FaultKind::Throttling => "throttling",
            FaultKind::InternalServerError => "internal",
            FaultKind::DroppedConnection => "drop",
        }
    }
}

impl FaultKind {
    /// The name used in a plan string.
    pub fn name(self) -> &'static str {
        fault_plan::FaultKind::name(self)
    }

    /// The answer DynamoDB gives for this fault (None: drop the connection).
    pub(crate) fn answer(self) -> Option<Answer> {
        Some(match self {
            FaultKind::ProvisionedThroughputExceeded => Answer::error(
                400,
                "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded. \
                 Consider increasing your provisioning level with the UpdateTable API.",
            ),
            FaultKind::Throttling => Answer::error(
                400,
                "com.amazon.coral.availability#ThrottlingException",
                "Rate of requests exceeds the allowed throughput.",
            ),
            FaultKind::InternalServerError => {
                Answer::error(500, "com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal server error")
            }
            FaultKind::DroppedConnection => return None,
        })
    }
}

/// How many faults of each kind were injected so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    pub provisioned_throughput_exceeded: u64,
    pub throttling: u64,
    pub internal_server_error: u64,
    pub dropped_connection: u64,
}

impl FaultCounts {
    pub(crate) fn of(faults: &Faults) -> Self {
        FaultCounts {
            provisioned_throughput_exceeded: faults.injected(FaultKind::ProvisionedThroughputExceeded),
            throttling: faults.injected(FaultKind::Throttling),
            internal_server_error: faults.injected(FaultKind::InternalServerError),
            dropped_connection: faults.injected(FaultKind::DroppedConnection),
        }
    }

    pub fn total(&self) -> u64 {
        self.provisioned_throughput_exceeded + self.throttling + self.internal_server_error + self.dropped_connection
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fault_plan::FaultKind as _;

    #[test]
    fn parses_the_dynamodb_kinds() {
        let plan: FaultPlan = "rate=0.3,kinds=throttling+drop,seed=42".parse().unwrap();
        assert_eq!(plan.kinds, [FaultKind::Throttling, FaultKind::DroppedConnection]);
        assert_eq!("rate=0.05".parse::<FaultPlan>().unwrap().kinds.len(), 4);
        let err = "rate=0.1,kinds=slowdown".parse::<FaultPlan>().unwrap_err().to_string();
        assert!(err.contains("kinds=throughput+throttling+internal+drop"), "{err}");
    }

    #[test]
    fn faults_answer_as_dynamodb_and_are_counted() {
        let faults = Faults::new("rate=0.3,seed=9".parse().unwrap());
        let drawn: Vec<_> = (0..10_000).filter_map(|_| faults.draw()).collect();
        let counts = FaultCounts::of(&faults);
        assert_eq!(counts.total(), drawn.len() as u64);
        assert!((2_700..3_300).contains(&counts.total()), "{counts:?}");
        let throttled = drawn.iter().filter(|k| **k == FaultKind::Throttling).count() as u64;
        assert_eq!(counts.throttling, throttled);
        assert!(FaultKind::ALL.iter().all(|k| drawn.contains(k)));
        assert!(FaultKind::DroppedConnection.answer().is_none());
        assert!(FaultKind::ALL[..3].iter().all(|k| k.answer().is_some()));
    }
}
