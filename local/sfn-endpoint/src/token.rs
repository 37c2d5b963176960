//! Page tokens (`nextToken`): opaque to clients, signed with a key this process drew at start,
//! bound to the operation and its other arguments, and valid for 24 hours as AWS's are. A token
//! that is forged, altered, expired, or from another request or process is `InvalidToken`; a valid
//! one only says where the previous page ended.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long a token stays valid (AWS: 24 hours).
const LIFETIME_SECONDS: i64 = 24 * 60 * 60;

/// Issues and checks page tokens.
pub(crate) struct Tokens {
    key: [u8; 32],
}

/// What a token carries.
#[derive(Serialize, Deserialize)]
struct Payload {
    /// SHA-256 of the request it continues (operation and arguments but the token).
    scope: String,
    /// The position after which the next page starts.
    after: String,
    /// Unix time after which the token is refused.
    expires: i64,
}

impl Tokens {
    /// Tokens signed with a fresh random key: those of an earlier process are refused.
    pub fn new() -> Self {
        Self { key: rand::random() }
    }

    /// A token that continues the request described by `scope` after position `after`.
    pub fn issue(&self, scope: &str, after: &str, now: i64) -> String {
        let payload = Payload { scope: digest(scope), after: after.to_owned(), expires: now + LIFETIME_SECONDS };
        let json = serde_json::to_vec(&payload).unwrap_or_default();
        let signature = sigv4::hmac_sha256(&self.key, &json);
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&json), URL_SAFE_NO_PAD.encode(signature))
    }

    /// The position a token of this request continues after; why not, if it is not one.
    pub fn open(&self, token: &str, scope: &str, now: i64) -> Result<String, &'static str> {
        let (payload, signature) = token.split_once('.').ok_or("not a page token")?;
        let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| "not a page token")?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| "not a page token")?;
        if !sigv4::constant_time_eq(&sigv4::hmac_sha256(&self.key, &json), &signature) {
            return Err("not a page token of this endpoint");
        }
        let payload: Payload = serde_json::from_slice(&json).map_err(|_| "not a page token")?;
        if payload.scope != digest(scope) {
            return Err("the token belongs to a different request");
        }
        if now > payload.expires {
            return Err("the token has expired");
        }
        Ok(payload.after)
    }
}

fn digest(scope: &str) -> String {
    hex::encode(Sha256::digest(scope.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_continue_only_their_own_request() {
        let tokens = Tokens::new();
        let token = tokens.issue("ListExecutions|arn|RUNNING", "2026-01-01|arn:x", 1_000);
        assert_eq!(tokens.open(&token, "ListExecutions|arn|RUNNING", 1_001).as_deref(), Ok("2026-01-01|arn:x"));
        assert!(tokens.open(&token, "ListExecutions|arn|FAILED", 1_001).is_err(), "another filter");
        assert!(tokens.open(&token, "ListExecutions|arn|RUNNING", 1_000 + LIFETIME_SECONDS + 1).is_err());
        assert!(Tokens::new().open(&token, "ListExecutions|arn|RUNNING", 1_001).is_err(), "another process");
    }

    #[test]
    fn forged_and_altered_tokens_are_refused() {
        let tokens = Tokens::new();
        let scope = "GetExecutionHistory|arn|false";
        let token = tokens.issue(scope, "5", 0);
        let (payload, signature) = token.split_once('.').unwrap();
        // The same signature over a payload pointing elsewhere.
        let forged_payload = Payload { scope: digest(scope), after: "0".into(), expires: i64::MAX };
        let forged = format!("{}.{signature}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged_payload).unwrap()));
        // A payload signed with a key someone guessed (all zeros).
        let zero_key = sigv4::hmac_sha256(&[0; 32], &serde_json::to_vec(&forged_payload).unwrap());
        let guessed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged_payload).unwrap()),
            URL_SAFE_NO_PAD.encode(zero_key)
        );
        let mut flipped = payload.to_owned().into_bytes();
        flipped[3] ^= 1;
        let flipped = format!("{}.{signature}", String::from_utf8_lossy(&flipped));
        for bad in [forged, guessed, flipped, String::new(), ".".into(), "a.b.c".into(), "é.ü".into(), "x".repeat(3000)]
        {
            assert!(tokens.open(&bad, scope, 0).is_err(), "{bad:.80}");
        }
    }
}
