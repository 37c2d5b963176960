//! Page cursors: the table's LastEvaluatedKey, signed so a client can hand it back but not
//! forge one, and checked to belong to the partition the request reads.
//!
//! Format: `base64url(json(key)) "." base64url(hmac_sha256(secret, json(key)))`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{ApiError, ErrorCode};
use crate::table::keys::{GSI1PK, GSI1SK, PK, SK};
use crate::table::PageKey;

/// Longest cursor accepted, in characters (a real one is a few hundred).
const MAX_CURSOR_CHARS: usize = 2048;

/// Signs and checks cursors with one secret.
pub struct CursorCodec<'a> {
    secret: &'a [u8],
}

impl<'a> CursorCodec<'a> {
    /// A codec over `secret` (the `CURSOR_SECRET` of the configuration).
    pub fn new(secret: &'a str) -> Self {
        CursorCodec { secret: secret.as_bytes() }
    }

    /// The cursor a client gets for the page after this one.
    pub fn encode(&self, key: &PageKey) -> String {
        self.sign(CURSOR_DOMAIN, &serde_json::to_vec(key).unwrap_or_default())
    }

    /// The page key in a cursor this API signed for the partition `(attribute, value)`; any
    /// other cursor is a 400.
    pub fn decode(&self, cursor: &str, partition: (&str, &str)) -> Result<PageKey, ApiError> {
        let json = self.verified(CURSOR_DOMAIN, cursor)?;
        let key: PageKey = serde_json::from_slice(&json).map_err(|_| bad_cursor())?;
        let known = [PK, SK, GSI1PK, GSI1SK];
        let (attribute, value) = partition;
        if key.keys().any(|k| !known.contains(&k.as_str())) || key.get(attribute).map(String::as_str) != Some(value) {
            return Err(bad_cursor());
        }
        Ok(key)
    }

    /// Another service's page token (Step Functions' `nextToken`), signed and bound to `scope`
    /// (whose list, with which filter), so a client can hand it back but not forge or move it.
    pub fn seal(&self, scope: &str, token: &str) -> String {
        self.sign(
            TOKEN_DOMAIN,
            &serde_json::to_vec(&SealedToken { scope: scope.into(), token: token.into() }).unwrap_or_default(),
        )
    }

    /// The token inside a [`CursorCodec::seal`] result made for `scope`; anything else is a 400.
    pub fn open(&self, sealed: &str, scope: &str) -> Result<String, ApiError> {
        let json = self.verified(TOKEN_DOMAIN, sealed)?;
        let token: SealedToken = serde_json::from_slice(&json).map_err(|_| bad_cursor())?;
        if token.scope != scope {
            return Err(bad_cursor());
        }
        Ok(token.token)
    }

    fn sign(&self, domain: &[u8], json: &[u8]) -> String {
        let signature = self.mac(domain, json).finalize().into_bytes();
        format!("{}.{}", URL_SAFE_NO_PAD.encode(json), URL_SAFE_NO_PAD.encode(signature))
    }

    /// The signed JSON of `cursor`, if this codec signed it in `domain`.
    fn verified(&self, domain: &[u8], cursor: &str) -> Result<Vec<u8>, ApiError> {
        if cursor.len() > MAX_CURSOR_CHARS {
            return Err(bad_cursor());
        }
        let (body, signature) = cursor.split_once('.').ok_or_else(bad_cursor)?;
        let json = URL_SAFE_NO_PAD.decode(body).map_err(|_| bad_cursor())?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| bad_cursor())?;
        self.mac(domain, &json).verify_slice(&signature).map_err(|_| bad_cursor())?;
        Ok(json)
    }

    fn mac(&self, domain: &[u8], data: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.secret).expect("HMAC takes keys of any length");
        mac.update(domain);
        mac.update(data);
        mac
    }
}

/// What the MAC of a table cursor starts with.
const CURSOR_DOMAIN: &[u8] = b"imgpipe-cursor-v1\0";
/// ...and of a sealed page token, so neither passes for the other.
const TOKEN_DOMAIN: &[u8] = b"imgpipe-token-v1\0";

#[derive(serde::Serialize, serde::Deserialize)]
struct SealedToken {
    scope: String,
    token: String,
}

fn bad_cursor() -> ApiError {
    ApiError::bad_request(ErrorCode::BadRequest, "cursor is not one this API returned.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PageKey {
        PageKey::from([(PK.to_string(), "OWNER#a#LABEL#dog".to_string()), (SK.to_string(), "C#09000#x".to_string())])
    }

    #[test]
    fn cursors_round_trip_within_their_partition() {
        let codec = CursorCodec::new("s3cret");
        let cursor = codec.encode(&key());
        assert_eq!(codec.decode(&cursor, (PK, "OWNER#a#LABEL#dog")).unwrap(), key());
    }

    #[test]
    fn forged_tampered_and_foreign_cursors_are_400() {
        let codec = CursorCodec::new("s3cret");
        let cursor = codec.encode(&key());
        let (body, sig) = cursor.split_once('.').unwrap();
        let mut forged = key();
        forged.insert(PK.into(), "OWNER#b#LABEL#dog".into());
        let forged_body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let cases = [
            String::new(),
            "!!!".into(),
            body.to_string(),
            format!("{forged_body}.{sig}"),
            format!("{body}.{}", URL_SAFE_NO_PAD.encode([0u8; 32])),
            CursorCodec::new("other").encode(&key()),
            "a".repeat(5000),
        ];
        for c in cases {
            let err = codec.decode(&c, (PK, "OWNER#a#LABEL#dog")).unwrap_err();
            assert_eq!((err.status.as_u16(), err.code), (400, ErrorCode::BadRequest), "{c:?}");
        }
        let err = codec.decode(&cursor, (PK, "OWNER#b#LABEL#dog")).unwrap_err();
        assert_eq!(err.status.as_u16(), 400, "another partition's cursor");
        let mut odd = key();
        odd.insert("evil".into(), "x".into());
        assert!(codec.decode(&codec.encode(&odd), (PK, "OWNER#a#LABEL#dog")).is_err(), "unknown attributes");
    }

    #[test]
    fn sealed_tokens_open_only_in_their_scope_and_never_as_cursors() {
        let codec = CursorCodec::new("s3cret");
        let sealed = codec.seal("executions|alice|FAILED", "page-2");
        assert_eq!(codec.open(&sealed, "executions|alice|FAILED").unwrap(), "page-2");
        let (body, sig) = sealed.split_once('.').unwrap();
        let moved = URL_SAFE_NO_PAD.encode(br#"{"scope":"executions|bob|FAILED","token":"page-2"}"#);
        for bad in [
            codec.open(&sealed, "executions|bob|FAILED"),
            codec.open(&sealed, "executions|alice|ALL"),
            codec.open(&format!("{moved}.{sig}"), "executions|bob|FAILED"),
            codec.open(&format!("{body}."), "executions|alice|FAILED"),
            CursorCodec::new("other").open(&sealed, "executions|alice|FAILED"),
            codec.open(&codec.encode(&key()), "executions|alice|FAILED"),
            codec.open(&"b".repeat(MAX_CURSOR_CHARS + 1), "executions|alice|FAILED"),
        ] {
            assert_eq!(bad.unwrap_err().status.as_u16(), 400);
        }
        assert!(codec.decode(&sealed, (PK, "executions|alice|FAILED")).is_err(), "a token is no table cursor");
    }
}
