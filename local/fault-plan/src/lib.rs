//! Injected faults shared by the embedded endpoints: a [`FaultPlan`] parsed from a string such as
//! `rate=0.05,kinds=slowdown+drop,seed=7`, and [`Faults`], which draws per request and counts what
//! it injected. Deterministic for a seed: the n-th request always draws the same. Each endpoint
//! names its own kinds (and the answers they stand for) by implementing [`FaultKind`].

use std::fmt::Debug;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

/// The kinds of fault one endpoint can inject.
pub trait FaultKind: Copy + Eq + Debug + 'static {
    /// Every kind, in the order [`Faults`] counts them; a plan without `kinds=` draws from all.
    const ALL: &'static [Self];

    /// The name used in a plan string.
    fn name(self) -> &'static str;
}

/// Which share of requests fail, how, and the seed that makes the choice repeatable.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan<K> {
    /// Share of requests that get a fault, 0.0..=1.0.
    pub rate: f64,
    /// Kinds drawn from, uniformly.
    pub kinds: Vec<K>,
    pub seed: u64,
}

impl<K: FaultKind> Default for FaultPlan<K> {
    fn default() -> Self {
        Self::none()
    }
}

impl<K: FaultKind> FaultPlan<K> {
    /// No faults.
    pub fn none() -> Self {
        Self { rate: 0.0, kinds: K::ALL.to_vec(), seed: 0 }
    }

    /// Whether any request can get a fault.
    pub fn is_active(&self) -> bool {
        self.rate > 0.0 && !self.kinds.is_empty()
    }
}

/// Why a plan string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault plan '{input}': {reason} (expected e.g. 'rate=0.05,kinds={all_kinds},seed=7')")]
pub struct FaultPlanError {
    input: String,
    reason: String,
    all_kinds: String,
}

impl<K: FaultKind> FromStr for FaultPlan<K> {
    type Err = FaultPlanError;

    /// `rate=0.05[,kinds=a+b][,seed=N]`; empty or `off` is no faults.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| FaultPlanError {
            input: clip(input, 200),
            reason,
            all_kinds: K::ALL.iter().map(|k| k.name()).collect::<Vec<_>>().join("+"),
        };
        let mut plan = FaultPlan::none();
        let text = input.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("off") {
            return Ok(plan);
        }
        let mut seen = Vec::new();
        for setting in text.split(',') {
            let (name, value) =
                setting.split_once('=').ok_or_else(|| fail(format!("'{}' is not name=value", clip(setting, 40))))?;
            let name = name.trim();
            if seen.contains(&name) {
                return Err(fail(format!("'{}' given twice", clip(name, 40))));
            }
            seen.push(name);
            let value = value.trim();
            match name {
                "rate" => {
                    plan.rate = value
                        .parse::<f64>()
                        .ok()
                        .filter(|r| (0.0..=1.0).contains(r))
                        .ok_or_else(|| fail(format!("rate '{}' is not a number in 0..=1", clip(value, 40))))?;
                }
                "seed" => {
                    plan.seed = value.parse().map_err(|_| fail(format!("seed '{}' is not a u64", clip(value, 40))))?
                }
                "kinds" => {
                    plan.kinds = value
                        .split('+')
                        .map(|kind| {
                            K::ALL
                                .iter()
                                .copied()
                                .find(|k| k.name() == kind.trim())
                                .ok_or_else(|| fail(format!("unknown kind '{}'", clip(kind, 40))))
                        })
                        .collect::<Result<_, _>>()?;
                }
                other => return Err(fail(format!("unknown setting '{}'", clip(other, 40)))),
            }
        }
        if !seen.contains(&"rate") {
            return Err(fail("rate is required".into()));
        }
        Ok(plan)
    }
}

/// At most `max` characters of `text`, so that an error message stays short whatever the input.
fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// A plan in force: draws per request and counts what it injected.
#[derive(Debug)]
pub struct Faults<K> {
    plan: FaultPlan<K>,
    draws: AtomicU64,
    /// Injected so far, one counter per kind in [`FaultKind::ALL`] order.
    injected: Vec<AtomicU64>,
}

/// SplitMix64: a small, well-mixed, deterministic generator step.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn index<K: FaultKind>(kind: K) -> usize {
    K::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

impl<K: FaultKind> Faults<K> {
    pub fn new(plan: FaultPlan<K>) -> Self {
        Self { plan, draws: AtomicU64::new(0), injected: K::ALL.iter().map(|_| AtomicU64::new(0)).collect() }
    }

    /// The fault for the next request, if it gets one.
    pub fn draw(&self) -> Option<K> {
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
        if let Some(counter) = self.injected.get(index(kind)) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        Some(kind)
    }

    /// How many faults of `kind` were injected so far.
    pub fn injected(&self, kind: K) -> u64 {
        self.injected.get(index(kind)).map_or(0, |counter| counter.load(Ordering::Relaxed))
    }

    /// How many faults were injected so far, of every kind.
    pub fn total(&self) -> u64 {
        self.injected.iter().map(|counter| counter.load(Ordering::Relaxed)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Kind {
        Slow,
        Broken,
        Drop,
    }

    impl FaultKind for Kind {
        const ALL: &'static [Kind] = &[Kind::Slow, Kind::Broken, Kind::Drop];

        fn name(self) -> &'static str {
            match self {
                Kind::Slow => "slow",
                Kind::Broken => "broken",
                Kind::Drop => "drop",
            }
        }
    }

    type Plan = FaultPlan<Kind>;

    #[test]
    fn parses_plans() {
        assert_eq!("".parse::<Plan>().unwrap(), Plan::none());
        assert_eq!("off".parse::<Plan>().unwrap(), Plan::none());
        let plan: Plan = "rate=0.05".parse().unwrap();
        assert_eq!((plan.rate, plan.kinds.len(), plan.seed), (0.05, 3, 0));
        let plan: Plan = " rate = 0.3 , kinds=slow+drop , seed=42".parse().unwrap();
        assert_eq!(plan.kinds, [Kind::Slow, Kind::Drop]);
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
            assert!(bad.parse::<Plan>().is_err(), "{bad:.40}");
        }
    }

    #[test]
    fn errors_name_the_kinds_and_stay_short() {
        let err = "rate=0.1,kinds=fire".parse::<Plan>().unwrap_err().to_string();
        assert!(err.contains("unknown kind 'fire'"), "{err}");
        assert!(err.contains("kinds=slow+broken+drop"), "{err}");
        for huge in [format!("rate=0.1,{}", "x".repeat(100_000)), format!("rate={}", "9".repeat(100_000))] {
            let err = huge.parse::<Plan>().unwrap_err().to_string();
            assert!(err.len() < 500, "{} bytes", err.len());
        }
    }

    #[test]
    fn draws_are_repeatable_and_near_the_rate() {
        let plan: Plan = "rate=0.3,seed=9".parse().unwrap();
        let (a, b) = (Faults::new(plan.clone()), Faults::new(plan));
        let first: Vec<_> = (0..10_000).map(|_| a.draw()).collect();
        let second: Vec<_> = (0..10_000).map(|_| b.draw()).collect();
        assert_eq!(first, second);
        let hits = a.total();
        assert!((2_700..3_300).contains(&hits), "{hits}");
        assert!(Kind::ALL.iter().all(|k| first.contains(&Some(*k))));
        let counted: u64 = Kind::ALL.iter().map(|k| a.injected(*k)).sum();
        assert_eq!(counted, hits);
        let drops = first.iter().filter(|d| **d == Some(Kind::Drop)).count() as u64;
        assert_eq!(a.injected(Kind::Drop), drops);
        let other = Faults::new("rate=0.3,seed=10".parse().unwrap());
        assert_ne!(first, (0..10_000).map(|_| other.draw()).collect::<Vec<_>>());
        let off = Faults::new(Plan::none());
        assert!((0..1000).all(|_| off.draw().is_none()));
    }

    #[test]
    fn draws_only_the_planned_kinds() {
        let faults = Faults::new("rate=1,kinds=broken,seed=3".parse::<Plan>().unwrap());
        assert!((0..500).all(|_| faults.draw() == Some(Kind::Broken)));
        assert_eq!((faults.injected(Kind::Broken), faults.injected(Kind::Slow)), (500, 0));
    }
}
