//! Sign-in throttle: failed attempts counted per username and per client IP in a fixed window.
//! Once a key is over its limit, attempts are refused before any password hashing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The counting window.
pub(crate) const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failed attempts allowed per username in a window.
pub(crate) const USERNAME_LIMIT: u32 = 10;
/// Failed attempts allowed per client IP in a window.
pub(crate) const IP_LIMIT: u32 = 50;
/// Tracked keys at most; expired windows go first, then the oldest.
const MAX_KEYS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

#[derive(Default)]
pub(crate) struct Throttle {
    windows: Mutex<HashMap<String, Window>>,
}

/// The keys one attempt counts against, with their limits.
pub(crate) fn keys(username: &str, ip: Option<IpAddr>) -> Vec<(String, u32)> {
    let mut keys = vec![(format!("user:{}", username.to_ascii_lowercase()), USERNAME_LIMIT)];
    if let Some(ip) = ip {
        keys.push((format!("ip:{ip}"), IP_LIMIT));
    }
    keys
}

impl Throttle {
    /// True when none of the keys is over its limit.
    pub(crate) fn allows(&self, keys: &[(String, u32)]) -> bool {
        let windows = self.lock();
        let now = Instant::now();
        keys.iter().all(|(key, limit)| {
            windows.get(key).is_none_or(|w| now.duration_since(w.started) >= WINDOW || w.failures < *limit)
        })
    }

    /// Counts a failed attempt against every key.
    pub(crate) fn failed(&self, keys: &[(String, u32)]) {
        let mut windows = self.lock();
        let now = Instant::now();
        for (key, _) in keys {
            if !windows.contains_key(key) && windows.len() >= MAX_KEYS {
                make_room(&mut windows, now);
            }
            let window = windows.entry(key.clone()).or_insert(Window { started: now, failures: 0 });
            if now.duration_since(window.started) >= WINDOW {
                *window = Window { started: now, failures: 0 };
            }
            window.failures = window.failures.saturating_add(1);
        }
    }

    /// A good sign-in clears the username's count (not the IP's).
    pub(crate) fn succeeded(&self, username: &str) {
        self.lock().remove(&format!("user:{}", username.to_ascii_lowercase()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Window>> {
        self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn make_room(windows: &mut HashMap<String, Window>, now: Instant) {
    windows.retain(|_, w| now.duration_since(w.started) < WINDOW);
    if windows.len() >= MAX_KEYS {
        if let Some(oldest) = windows.iter().min_by_key(|(_, w)| w.started).map(|(k, _)| k.clone()) {
            windows.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_username_is_locked_after_its_limit_and_freed_by_success() {
        let throttle = Throttle::default();
        let alice = keys("Alice", None);
        for _ in 0..USERNAME_LIMIT {
            assert!(throttle.allows(&alice));
            throttle.failed(&alice);
        }
        assert!(!throttle.allows(&alice));
        assert!(!throttle.allows(&keys("alice", None)), "usernames are case-insensitive");
        assert!(throttle.allows(&keys("bob", None)));
        throttle.succeeded("ALICE");
        assert!(throttle.allows(&alice));
    }

    #[test]
    fn an_ip_is_locked_across_usernames() {
        let throttle = Throttle::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        for i in 0..IP_LIMIT {
            throttle.failed(&keys(&format!("user{i}"), Some(ip)));
        }
        assert!(!throttle.allows(&keys("someone-new", Some(ip))));
        assert!(throttle.allows(&keys("someone-new", Some("192.0.2.8".parse().unwrap()))));
    }

    #[test]
    fn the_table_stays_bounded() {
        let throttle = Throttle::default();
        for i in 0..(MAX_KEYS + 100) {
            throttle.failed(&keys(&format!("u{i}"), None));
        }
        assert!(throttle.lock().len() <= MAX_KEYS);
    }
}
