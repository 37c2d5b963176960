//! The RS256 signing key: generated once with a real RSA key generator (aws-lc-rs) and kept in
//! the data dir as PKCS#8 PEM, mode 0600. Its `kid` is the RFC 7638 JWK thumbprint.

use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use crate::fs;

/// File name of the private key inside the service's directory.
pub const KEY_FILE: &str = "signing-key.pem";
const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";
/// Smallest accepted modulus, in bytes (2048 bits).
const MIN_MODULUS_BYTES: usize = 256;
/// A PKCS#8 PEM of an 8192-bit key is about 6.5 KB; anything much larger is not a key.
const MAX_PEM_BYTES: u64 = 16 * 1024;

/// A fault with the signing key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The key file is not an unencrypted PKCS#8 PEM RSA private key of at least 2048 bits.
    #[error("{0}")]
    Invalid(String),
    /// The RSA key generator failed.
    #[error("RSA key generation failed")]
    Generate,
    /// The system's random generator failed.
    #[error("no randomness available")]
    Random,
    /// Signing a token failed.
    #[error("signing a token failed: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// One public key as a JWK (RFC 7517), the shape Cognito's `jwks.json` lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type, `RSA`.
    pub kty: String,
    /// Algorithm, `RS256`.
    pub alg: String,
    /// Key id, matched against a token header's `kid`.
    pub kid: String,
    /// Intended use, `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// Modulus, base64url without padding.
    pub n: String,
    /// Public exponent, base64url without padding.
    pub e: String,
}

/// A JWK set, the document served at `/.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The public keys.
    pub keys: Vec<Jwk>,
}

/// An RSA private key that signs RS256 JWTs.
pub struct SigningKey {
    pkcs8_der: Vec<u8>,
    encoding: EncodingKey,
    jwk: Jwk,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.jwk.kid).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh 2048-bit RSA key.
    pub fn generate() -> Result<Self, KeyError> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
        let der = pair.as_der().map_err(|_| KeyError::Generate)?;
        Self::from_pkcs8_der(der.as_ref())
    }

    /// Parses an unencrypted PKCS#8 PEM RSA private key (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        let body = pem
            .trim()
            .strip_prefix(PEM_BEGIN)
            .and_then(|rest| rest.strip_suffix(PEM_END))
            .ok_or_else(|| KeyError::Invalid("not a PKCS#8 PEM private key".into()))?;
        let base64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let der = STANDARD.decode(base64).map_err(|err| KeyError::Invalid(format!("bad PEM base64: {err}")))?;
        Self::from_pkcs8_der(&der)
    }

    fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let pair = KeyPair::from_pkcs8(der).map_err(|err| KeyError::Invalid(format!("not an RSA key: {err}")))?;
        let public = pair.public_key();
        if public.modulus_len() < MIN_MODULUS_BYTES {
            return Err(KeyError::Invalid("RSA key shorter than 2048 bits".into()));
        }
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        let kid = thumbprint(&n, &e);
        let pem = pkcs8_pem(der);
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|err| KeyError::Invalid(format!("key rejected for signing: {err}")))?;
        let jwk = Jwk { kty: "RSA".into(), alg: "RS256".into(), kid, use_: "sig".into(), n, e };
        Ok(SigningKey { pkcs8_der: der.to_vec(), encoding, jwk })
    }

    /// Loads `dir/signing-key.pem`, or generates and stores a new key (0600) if there is none.
    pub(crate) fn load_or_create(dir: &Path) -> Result<Self, KeyError> {
        let path = dir.join(KEY_FILE);
        let io = |source| KeyError::Io { path: path.clone(), source };
        if let Some(key) = Self::load(&path)? {
            return Ok(key);
        }
        let key = Self::generate()?;
        if fs::create_atomic(&path, key.to_pkcs8_pem().as_bytes()).map_err(io)? {
            tracing::info!(path = %path.display(), kid = key.kid(), "generated the sign-in signing key");
            return Ok(key);
        }
        // Another process created it meanwhile: use that one, so both sign with the same key.
        Self::load(&path)?.ok_or_else(|| KeyError::Invalid(format!("{} vanished", path.display())))
    }

    fn load(path: &Path) -> Result<Option<Self>, KeyError> {
        let io = |source| KeyError::Io { path: path.to_path_buf(), source };
        let Some(bytes) = fs::read_bounded(path, MAX_PEM_BYTES).map_err(io)? else {
            return Ok(None);
        };
        fs::tighten_file(path).map_err(io)?;
        let pem =
            String::from_utf8(bytes).map_err(|_| KeyError::Invalid(format!("{} is not a PEM file", path.display())))?;
        Self::from_pkcs8_pem(&pem).map(Some).map_err(|err| KeyError::Invalid(format!("{}: {err}", path.display())))
    }

    /// The private key as PKCS#8 PEM.
    pub fn to_pkcs8_pem(&self) -> String {
        pkcs8_pem(&self.pkcs8_der)
    }

    /// The key id put into every token header.
    pub fn kid(&self) -> &str {
        &self.jwk.kid
    }

    /// The public half as a JWK.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// A JWK set holding only this key.
    pub fn jwks(&self) -> Jwks {
        Jwks { keys: vec![self.jwk.clone()] }
    }

    /// Signs `claims` as an RS256 JWT whose header is `{"alg":"RS256","kid":…}`, like Cognito's.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = None;
        header.kid = Some(self.jwk.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }
}

fn pkcs8_pem(der: &[u8]) -> String {
    let base64 = STANDARD.encode(der);
    let mut pem = String::with_capacity(base64.len() + base64.len() / 64 + 64);
    pem.push_str(PEM_BEGIN);
    pem.push('\n');
    for line in base64.as_bytes().chunks(64) {
        // Base64 output is ASCII, so every chunk is valid UTF-8.
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str(PEM_END);
    pem.push('\n');
    pem
}

/// RFC 7638 thumbprint of an RSA JWK: base64url(SHA-256 of the canonical `{"e","kty","n"}` JSON).
fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_keeps_the_key_id() {
        let key = SigningKey::generate().unwrap();
        let pem = key.to_pkcs8_pem();
        assert!(pem.starts_with(PEM_BEGIN));
        assert!(pem.lines().all(|line| line.len() <= 64));
        let again = SigningKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(again.jwk(), key.jwk());
        assert_eq!(key.jwk().e, "AQAB");
        // 2048-bit modulus: 256 bytes, 342 base64url characters.
        assert_eq!(key.jwk().n.len(), 342);
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        for pem in [
            "",
            "hello",
            "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        ] {
            assert!(matches!(SigningKey::from_pkcs8_pem(pem), Err(KeyError::Invalid(_))), "{pem:?}");
        }
    }
}
