//! The faults S3 shows under stress (see [`fault_plan`] for the plan and the draw): `SlowDown`,
//! `InternalError`, or a dropped connection.

use http::StatusCode;

pub use fault_plan::FaultPlanError;

use crate::s3_error::S3Failure;

/// A plan of S3 faults, e.g. `rate=0.05,kinds=slowdown+internal+drop,seed=7`.
pub type FaultPlan = fault_plan::FaultPlan<FaultKind>;
/// The S3 fault plan in force.
pub(crate) type Faults = fault_plan::Faults<FaultKind>;

/// One kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// 503 `SlowDown`.
    SlowDown,
    /// 500 `InternalError`.
    InternalError,
    /// The connection is closed without an answer.
    DroppedConnection,
}

impl fault_plan::FaultKind for FaultKind {
    const ALL: &'static [FaultKind] = &[FaultKind::SlowDown, FaultKind::InternalError, FaultKind::DroppedConnection];

    fn name(self) -> &'static str {
        match self {
            FaultKind::SlowDown => "slowdown",
            FaultKind::InternalError => "internal",
            FaultKind::DroppedConnection => "drop",
        }
    }
}

impl FaultKind {
    /// The name used in a plan string.
    pub fn name(self) -> &'static str {
        fault_plan::FaultKind::name(self)
    }

    /// The answer S3 gives for this fault (None: drop the connection).
    pub(crate) fn failure(self) -> Option<S3Failure> {
        Some(match self {
            FaultKind::SlowDown => {
                S3Failure::new(StatusCode::SERVICE_UNAVAILABLE, "SlowDown", "Please reduce your request rate.")
            }
            FaultKind::InternalError => S3Failure::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "We encountered an internal error. Please try again.",
            ),
            FaultKind::DroppedConnection => return None,
        })
    }
}

/// How many faults of each kind were injected so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    pub slow_down: u64,
    pub internal_error: u64,
    pub dropped_connection: u64,
}

impl FaultCounts {
    pub(crate) fn of(faults: &Faults) -> Self {
        FaultCounts {
            slow_down: faults.injected(FaultKind::SlowDown),
            internal_error: faults.injected(FaultKind::InternalError),
            dropped_connection: faults.injected(FaultKind::DroppedConnection),
        }
    }

    pub fn total(&self) -> u64 {
        self.slow_down + self.internal_error + self.dropped_connection
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fault_plan::FaultKind as _;

    #[test]
    fn parses_the_s3_kinds() {
        let plan: FaultPlan = "rate=0.3,kinds=slowdown+drop,seed=42".parse().unwrap();
        assert_eq!(plan.kinds, [FaultKind::SlowDown, FaultKind::DroppedConnection]);
        assert_eq!("rate=0.05".parse::<FaultPlan>().unwrap().kinds.len(), 3);
        let err = "rate=0.1,kinds=throttling".parse::<FaultPlan>().unwrap_err().to_string();
        assert!(err.contains("kinds=slowdown+internal+drop"), "{err}");
    }

    #[test]
    fn faults_answer_as_s3_and_are_counted() {
        let faults = Faults::new("rate=0.3,seed=9".parse().unwrap());
        let drawn: Vec<_> = (0..10_000).filter_map(|_| faults.draw()).collect();
        let counts = FaultCounts::of(&faults);
        assert_eq!(counts.total(), drawn.len() as u64);
        assert!((2_700..3_300).contains(&counts.total()), "{counts:?}");
        let slow = drawn.iter().filter(|k| **k == FaultKind::SlowDown).count() as u64;
        assert_eq!(counts.slow_down, slow);
        assert!(FaultKind::ALL.iter().all(|k| drawn.contains(k)));
        assert!(FaultKind::DroppedConnection.failure().is_none());
        assert!(FaultKind::SlowDown.failure().is_some() && FaultKind::InternalError.failure().is_some());
    }
}
