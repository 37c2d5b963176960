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
        let json = serde_json::to_vec(key).unwrap_or_default();
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&json), URL_SAFE_NO_PAD.encode(self.mac(&json).finalize().into_bytes()))
    }

    /// The page key in a cursor this API signed for the partition `(attribute, value)`; any
    /// other cursor is a 400.
    pub fn decode(&self, cursor: &str, partition: (&str, &str)) -> Result<PageKey, ApiError> {
        let bad = || ApiError::bad_request(ErrorCode::BadRequest, "cursor is not one this API returned.");
        if cursor.len() > MAX_CURSOR_CHARS {
            return Err(bad());
        }
        let (body, signature) = cursor.split_once('.').ok_or_else(bad)?;
        let json = URL_SAFE_NO_PAD.decode(body).map_err(|_| bad())?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| bad())?;
        self.mac(&json).verify_slice(&signature).map_err(|_| bad())?;
        let key: PageKey = serde_json::from_slice(&json).map_err(|_| bad())?;
        let known = [PK, SK, GSI1PK, GSI1SK];
        let (attribute, value) = partition;
        if key.keys().any(|k| !known.contains(&k.as_str())) || key.get(attribute).map(String::as_str) != Some(value) {
            return Err(bad());
        }
        Ok(key)
    }

    fn mac(&self, data: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.secret).expect("HMAC takes keys of any length");
        mac.update(b"imgpipe-cursor-v1\0");
        mac.update(data);
        mac
    }
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
}
