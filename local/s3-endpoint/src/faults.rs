//! Injected faults: a chosen share of requests answered with the errors S3 returns under stress,
//! or a dropped connection. Deterministic for a seed (the n-th request draws the same).

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use http::StatusCode;

use crate::s3_error::S3Failure;

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

impl FaultKind {
    /// Every kind, in the order [`FaultCounts`] lists them.
    pub const ALL: [FaultKind; 3] = [FaultKind::SlowDown, FaultKind::InternalError, FaultKind::DroppedConnection];

    /// The name used in a plan string.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::SlowDown => "slowdown",
            FaultKind::InternalError => "internal",
            FaultKind::DroppedConnection => "drop",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|k| *k == self).unwrap_or(0)
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

/// Which share of requests fail, how, and the seed that makes the choice repeatable.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    /// Share of requests that get a fault, 0.0..=1.0.
    pub rate: f64,
    /// Kinds drawn from, uniformly.
    pub kinds: Vec<FaultKind>,
    pub seed: u64,
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self::none()
    }
}

impl FaultPlan {
    /// No faults.
    pub fn none() -> Self {
        Self { rate: 0.0, kinds: FaultKind::ALL.to_vec(), seed: 0 }
    }

    /// Whether any request can get a fault.
    pub fn is_active(&self) -> bool {
        self.rate > 0.0 && !self.kinds.is_empty()
    }
}

/// Why a plan string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault plan '{input}': {reason} (expected e.g. 'rate=0.05,kinds=slowdown+internal+drop,seed=7')")]
pub struct FaultPlanError {
    input: String,
    reason: String,
}

impl FromStr for FaultPlan {
    type Err = FaultPlanError;

    /// `rate=0.05[,kinds=a+b][,seed=N]`; empty or `off` is no faults.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| FaultPlanError { input: input.chars().take(200).collect(), reason };
        let mut plan = FaultPlan::none();
        let text = input.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("off") {
            return Ok(plan);
        }
        let mut seen = Vec::new();
        for setting in text.split(',') {
            let (name, value) =
                setting.split_once('=').ok_or_else(|| fail(format!("'{setting}' is not name=value")))?;
            let name = name.trim();
            if seen.contains(&name) {
                return Err(fail(format!("'{name}' given twice")));
            }
            seen.push(name);
            let value = value.trim();
            match name {
                "rate" => {
                    plan.rate = value
                        .parse::<f64>()
                        .ok()
                        .filter(|r| (0.0..=1.0).contains(r))
                        .ok_or_else(|| fail(format!("rate '{value}' is not a number in 0..=1")))?;
                }
                "seed" => plan.seed = value.parse().map_err(|_| fail(format!("seed '{value}' is not a u64")))?,
                "kinds" => {
                    plan.kinds = value
                        .split('+')
                        .map(|kind| {
                            FaultKind::ALL
                                .into_iter()
                                .find(|k| k.name() == kind.trim())
                                .ok_or_else(|| fail(format!("unknown kind '{kind}'")))
                        })
                        .collect::<Result<_, _>>()?;
                }
                other => return Err(fail(format!("unknown setting '{other}'"))),
            }
        }
        if !seen.contains(&"rate") {
            return Err(fail("rate is required".into()));
        }
        Ok(plan)
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
    pub fn total(&self) -> u64 {
        self.slow_down + self.internal_error + self.dropped_connection
    }
}

/// A plan in force: draws per request and counts what it injected.
#[derive(Debug)]
pub(crate) struct Faults {
    plan: FaultPlan,
    draws: AtomicU64,
    injected: [AtomicU64; 3],
}

/// SplitMix64: a small, well-mixed, deterministic generator step.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Faults {
    pub(crate) fn new(plan: FaultPlan) -> Self {
        Self { plan, draws: AtomicU64::new(0), injected: Default::default() }
    }

    /// The fault for the next request, if it gets one.
    pub(crate) fn draw(&self) -> Option<FaultKind> {
        if !self.plan.is_active() {
            return None;
        }
        let n = self.draws.fetch_add(1, Ordering::Relaxed);
        let random = splitmix64(self.plan.seed ^ splitmix64(n));
        let unit = (random >> 11) as f64 / (1u64 << 53) as f64;
        if unit >= self.plan.rate {
            return None;
        }
        let choice = usize::try_from(splitmix64(random) % self.plan.kinds.len() as u64).unwrap_or(0);
        let kind = *self.plan.kinds.get(choice)?;
        self.injected[kind.index()].fetch_add(1, Ordering::Relaxed);
        Some(kind)
    }

    pub(crate) fn counts(&self) -> FaultCounts {
        let get = |kind: FaultKind| self.injected[kind.index()].load(Ordering::Relaxed);
        FaultCounts {
            slow_down: get(FaultKind::SlowDown),
            internal_error: get(FaultKind::InternalError),
            dropped_connection: get(FaultKind::DroppedConnection),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plans() {
        assert_eq!("".parse::<FaultPlan>().unwrap(), FaultPlan::none());
        assert_eq!("off".parse::<FaultPlan>().unwrap(), FaultPlan::none());
        let plan: FaultPlan = "rate=0.05".parse().unwrap();
        assert_eq!((plan.rate, plan.kinds.len(), plan.seed), (0.05, 3, 0));
        let plan: FaultPlan = " rate = 0.3 , kinds=slowdown+drop , seed=42".parse().unwrap();
        assert_eq!(plan.kinds, [FaultKind::SlowDown, FaultKind::DroppedConnection]);
        assert_eq!(plan.seed, 42);
        for bad in [
            "rate=1.5",
            "rate=-0.1",
            "rate=NaN",
            "rate=0.1,rate=0.2",
            "kinds=drop",
            "rate=0.1,kinds=",
            "rate=0.1,kinds=fire",
            "rate=0.1,seed=-1",
            "rate",
            "speed=1",
            &"rate=0.1,".repeat(10_000),
        ] {
            assert!(bad.parse::<FaultPlan>().is_err(), "{bad:.40}");
        }
    }

    #[test]
    fn draws_are_repeatable_and_near_the_rate() {
        let plan: FaultPlan = "rate=0.3,seed=9".parse().unwrap();
        let (a, b) = (Faults::new(plan.clone()), Faults::new(plan));
        let first: Vec<_> = (0..10_000).map(|_| a.draw()).collect();
        let second: Vec<_> = (0..10_000).map(|_| b.draw()).collect();
        assert_eq!(first, second);
        let hits = a.counts().total();
        assert!((2_700..3_300).contains(&hits), "{hits}");
        assert!(FaultKind::ALL.iter().all(|k| first.contains(&Some(*k))));
        let other = Faults::new("rate=0.3,seed=10".parse().unwrap());
        assert_ne!(first, (0..10_000).map(|_| other.draw()).collect::<Vec<_>>());
        let off = Faults::new(FaultPlan::none());
        assert!((0..1000).all(|_| off.draw().is_none()));
    }
}
