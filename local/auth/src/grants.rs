//! Pending authorization codes and live refresh tokens, in memory and bounded.
//!
//! A code is single-use: taking it removes it, whatever happens next. A restart forgets both
//! kinds, which only means signing in again.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

use crate::keys::KeyError;
use crate::tokens::{now_secs, random_token, Session};

/// Codes live 5 minutes, as Cognito's do.
pub(crate) const CODE_TTL_SECS: u64 = 300;
/// At most this many codes wait to be exchanged; the oldest give way.
const MAX_CODES: usize = 10_000;
/// At most this many refresh tokens are live; the ones closest to expiry give way.
const MAX_REFRESH_TOKENS: usize = 10_000;

/// A code waiting for the token request, bound to the client, the callback and the PKCE challenge.
#[derive(Debug, Clone)]
pub(crate) struct PendingCode {
    pub(crate) session: Session,
    pub(crate) redirect_uri: String,
    pub(crate) code_challenge: String,
    expires_at: u64,
}

#[derive(Debug, Clone)]
struct RefreshGrant {
    session: Session,
    expires_at: u64,
}

trait Expiring {
    fn expires_at(&self) -> u64;
}

impl Expiring for PendingCode {
    fn expires_at(&self) -> u64 {
        self.expires_at
    }
}

impl Expiring for RefreshGrant {
    fn expires_at(&self) -> u64 {
        self.expires_at
    }
}

#[derive(Default)]
pub(crate) struct Grants {
    codes: Mutex<HashMap<String, PendingCode>>,
    refresh: Mutex<HashMap<String, RefreshGrant>>,
}

impl Grants {
    /// Stores a new code for `session` and returns it.
    pub(crate) fn insert_code(
        &self,
        session: Session,
        redirect_uri: String,
        code_challenge: String,
    ) -> Result<String, KeyError> {
        let code = random_token()?;
        let pending = PendingCode { session, redirect_uri, code_challenge, expires_at: now_secs() + CODE_TTL_SECS };
        insert_bounded(&self.codes, code.clone(), pending, MAX_CODES);
        Ok(code)
    }

    /// Removes and returns the code's grant, if it exists and has not expired.
    pub(crate) fn take_code(&self, code: &str) -> Option<PendingCode> {
        let pending = lock(&self.codes).remove(code)?;
        (pending.expires_at > now_secs()).then_some(pending)
    }

    /// Stores a new refresh token for `session`, valid until `expires_at`, and returns it.
    pub(crate) fn insert_refresh(&self, session: Session, expires_at: u64) -> Result<String, KeyError> {
        let token = random_token()?;
        insert_bounded(&self.refresh, token.clone(), RefreshGrant { session, expires_at }, MAX_REFRESH_TOKENS);
        Ok(token)
    }

    /// The session a live refresh token stands for.
    pub(crate) fn refresh(&self, token: &str) -> Option<Session> {
        let mut refresh = lock(&self.refresh);
        let grant = refresh.get(token)?;
        if grant.expires_at <= now_secs() {
            refresh.remove(token);
            return None;
        }
        Some(grant.session.clone())
    }

    /// Forgets a refresh token; true if it was live.
    pub(crate) fn revoke(&self, token: &str) -> bool {
        lock(&self.refresh).remove(token).is_some()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Inserts, first dropping expired entries when full, then the entry closest to expiry.
fn insert_bounded<K: Eq + Hash + Clone, V: Expiring>(map: &Mutex<HashMap<K, V>>, key: K, value: V, max: usize) {
    let mut map = lock(map);
    if map.len() >= max {
        let now = now_secs();
        map.retain(|_, v| v.expires_at() > now);
    }
    while map.len() >= max {
        let Some(oldest) = map.iter().min_by_key(|(_, v)| v.expires_at()).map(|(k, _)| k.clone()) else {
            break;
        };
        map.remove(&oldest);
    }
    map.insert(key, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            username: "alice".into(),
            sub: "sub".into(),
            client_id: "client".into(),
            scopes: vec!["openid".into()],
            auth_time: 0,
            origin_jti: "o".into(),
            nonce: None,
        }
    }

    #[test]
    fn a_code_is_taken_once() {
        let grants = Grants::default();
        let code = grants.insert_code(session(), "https://app/cb".into(), "challenge".into()).unwrap();
        assert_eq!(code.len(), 43);
        assert!(grants.take_code(&code).is_some());
        assert!(grants.take_code(&code).is_none());
        assert!(grants.take_code("not-a-code").is_none());
    }

    #[test]
    fn an_expired_refresh_token_is_refused_and_forgotten() {
        let grants = Grants::default();
        let live = grants.insert_refresh(session(), now_secs() + 60).unwrap();
        let dead = grants.insert_refresh(session(), now_secs() - 1).unwrap();
        assert!(grants.refresh(&live).is_some());
        assert!(grants.refresh(&dead).is_none());
        assert!(!grants.revoke(&dead));
        assert!(grants.revoke(&live));
        assert!(grants.refresh(&live).is_none());
    }

    #[test]
    fn the_stores_stay_bounded() {
        let map = Mutex::new(HashMap::new());
        for i in 0..(MAX_CODES as u64 + 50) {
            let pending = PendingCode {
                session: session(),
                redirect_uri: String::new(),
                code_challenge: String::new(),
                expires_at: now_secs() + 100 + i,
            };
            insert_bounded(&map, i, pending, MAX_CODES);
        }
        let map = lock(&map);
        assert_eq!(map.len(), MAX_CODES);
        // The ones closest to expiry (the first inserted) gave way.
        assert!(!map.contains_key(&0) && map.contains_key(&(MAX_CODES as u64 + 49)));
    }
}
