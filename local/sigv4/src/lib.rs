//! Verifies AWS Signature Version 4 requests against one configured identity: header-signed
//! requests (`Authorization: AWS4-HMAC-SHA256 ...`) and presigned URLs (`X-Amz-Signature` in
//! the query), with AWS's 15-minute clock-skew rule and a constant-time signature comparison.
//!
//! ```
//! # use chrono::Utc;
//! let verifier = sigv4::Verifier::new("AKID", "secret", "eu-west-1", "dynamodb");
//! let request = http::Request::post("http://127.0.0.1/").body(Vec::<u8>::new()).unwrap();
//! assert_eq!(verifier.verify(&request, Utc::now()), Err(sigv4::Error::MissingAuthentication));
//! ```

mod canonical;
pub mod coral;
mod credential;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use http::{HeaderMap, Method, Uri};
use sha2::{Digest, Sha256};

use canonical::PathEncoding;
use credential::{Credential, SignedRequest};

/// The only algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The payload hash a client sends when it does not sign the body.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// How far a header-signed request's time may be from the server's (AWS: 15 minutes).
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(15);
/// The longest a presigned URL may be valid (AWS: 7 days).
pub const MAX_PRESIGNED_EXPIRY_SECONDS: i64 = 604_800;

/// Why a request is not authenticated. Callers map these to their service's error codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the request carries no Authorization header and no X-Amz-Signature")]
    MissingAuthentication,
    #[error("the request has both an Authorization header and a presigned query")]
    AmbiguousAuthentication,
    #[error("malformed signature: {0}")]
    Malformed(String),
    #[error("unsupported signing algorithm '{0}'")]
    UnsupportedAlgorithm(String),
    #[error("unknown access key '{0}'")]
    UnknownAccessKey(String),
    #[error("credential is scoped to region '{got}', expected '{expected}'")]
    WrongRegion { expected: String, got: String },
    #[error("credential is scoped to service '{got}', expected '{expected}'")]
    WrongService { expected: String, got: String },
    #[error("credential scope date '{scope}' is not the request date '{date}'")]
    ScopeDateMismatch { scope: String, date: String },
    #[error("request time {request} is more than 15 minutes away from server time {server}")]
    TimeSkewed { request: DateTime<Utc>, server: DateTime<Utc> },
    #[error("presigned request expired at {0}")]
    Expired(DateTime<Utc>),
    #[error("header '{0}' must be signed")]
    UnsignedHeader(String),
    #[error("signed header '{0}' is not in the request")]
    MissingSignedHeader(String),
    #[error("the payload must be signed")]
    UnsignedPayload,
    #[error("x-amz-content-sha256 does not match the body")]
    PayloadHashMismatch,
    #[error("the signature does not match")]
    SignatureMismatch,
}

/// A request that passed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The access key that signed it.
    pub access_key: String,
    /// When it was signed.
    pub signed_at: DateTime<Utc>,
    /// The headers covered by the signature (lower case, sorted).
    pub signed_headers: Vec<String>,
    /// Whether it was a presigned URL.
    pub presigned: bool,
}

/// Checks requests against one access key, secret, region and service.
#[derive(Clone)]
pub struct Verifier {
    access_key: String,
    secret_key: String,
    region: String,
    service: String,
    allow_unsigned_payload: bool,
    required_signed_headers: Vec<String>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("access_key", &self.access_key)
            .field("region", &self.region)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier for one identity; `host` (and `x-amz-date` for header auth) must be signed.
    pub fn new(access_key: &str, secret_key: &str, region: &str, service: &str) -> Self {
        Self {
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            allow_unsigned_payload: false,
            required_signed_headers: vec!["host".to_owned()],
        }
    }

    /// Accepts `UNSIGNED-PAYLOAD` (as S3 does; presigned URLs then sign no payload).
    pub fn allow_unsigned_payload(mut self, allow: bool) -> Self {
        self.allow_unsigned_payload = allow;
        self
    }

    /// Refuses requests whose signature does not cover header `name` (when it is present or not).
    pub fn require_signed_header(mut self, name: &str) -> Self {
        self.required_signed_headers.push(name.to_ascii_lowercase());
        self
    }

    /// Verifies a request with its whole body at time `now`.
    pub fn verify<B: AsRef<[u8]>>(&self, request: &http::Request<B>, now: DateTime<Utc>) -> Result<Verified, Error> {
        self.verify_parts(request.method(), request.uri(), request.headers(), request.body().as_ref(), now)
    }

    /// Verifies a request given as its parts and whole body at time `now`.
    pub fn verify_parts(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Verified, Error> {
        let query = uri.query().unwrap_or("");
        let pairs = canonical::query_pairs(query)?;
        let signed = credential::read(headers, &pairs)?;
        self.check_scope(&signed.credential, &signed.amz_date)?;
        let signed_at = parse_amz_date(&signed.amz_date)?;
        self.check_time(&signed, signed_at, now)?;
        for required in &self.required_signed_headers {
            if !signed.signed_headers.contains(required) {
                return Err(Error::UnsignedHeader(required.clone()));
            }
        }
        if !signed.presigned && !signed.signed_headers.iter().any(|h| h == "x-amz-date") {
            return Err(Error::UnsignedHeader("x-amz-date".into()));
        }

        let payload_hash = self.payload_hash(headers, body, signed.presigned)?;
        let encoding = if self.service == "s3" { PathEncoding::Single } else { PathEncoding::Double };
        let mut canonical_request = format!(
            "{}\n{}\n{}\n",
            method.as_str(),
            canonical::canonical_uri(uri.path(), encoding)?,
            canonical::canonical_query(&pairs, signed.presigned.then_some("X-Amz-Signature")),
        )
        .into_bytes();
        canonical_request.extend_from_slice(&canonical::canonical_headers(headers, &signed.signed_headers)?);
        canonical_request.push(b'\n');
        canonical_request.extend_from_slice(signed.signed_headers.join(";").as_bytes());
        canonical_request.push(b'\n');
        canonical_request.extend_from_slice(payload_hash.as_bytes());

        let string_to_sign = format!(
            "{ALGORITHM}\n{}\n{}/{}/{}/aws4_request\n{}",
            signed.amz_date,
            signed.credential.date,
            self.region,
            self.service,
            hex::encode(Sha256::digest(&canonical_request))
        );
        let key = signing_key(&self.secret_key, &signed.credential.date, &self.region, &self.service);
        let provided = hex::decode(&signed.signature).map_err(|_| Error::SignatureMismatch)?;
        let mut mac = new_mac(&key);
        mac.update(string_to_sign.as_bytes());
        mac.verify_slice(&provided).map_err(|_| Error::SignatureMismatch)?;

        Ok(Verified {
            access_key: signed.credential.access_key,
            signed_at,
            signed_headers: signed.signed_headers,
            presigned: signed.presigned,
        })
    }

    fn check_scope(&self, credential: &Credential, amz_date: &str) -> Result<(), Error> {
        if !constant_time_eq(credential.access_key.as_bytes(), self.access_key.as_bytes()) {
            return Err(Error::UnknownAccessKey(credential.access_key.clone()));
        }
        if credential.region != self.region {
            return Err(Error::WrongRegion { expected: self.region.clone(), got: credential.region.clone() });
        }
        if credential.service != self.service {
            return Err(Error::WrongService { expected: self.service.clone(), got: credential.service.clone() });
        }
        if amz_date.get(..8) != Some(credential.date.as_str()) {
            return Err(Error::ScopeDateMismatch { scope: credential.date.clone(), date: amz_date.to_owned() });
        }
        Ok(())
    }

    fn check_time(&self, signed: &SignedRequest, signed_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), Error> {
        // Not signed in the future beyond the skew, for either kind.
        if signed_at - now > MAX_CLOCK_SKEW {
            return Err(Error::TimeSkewed { request: signed_at, server: now });
        }
        match signed.expires_seconds {
            Some(seconds) => {
                let expiry = signed_at + Duration::seconds(seconds);
                if now >= expiry {
                    return Err(Error::Expired(expiry));
                }
            }
            None if now - signed_at > MAX_CLOCK_SKEW => {
                return Err(Error::TimeSkewed { request: signed_at, server: now });
            }
            None => {}
        }
        Ok(())
    }

    fn payload_hash(&self, headers: &HeaderMap, body: &[u8], presigned: bool) -> Result<String, Error> {
        let body_hash = || hex::encode(Sha256::digest(body));
        let declared = match headers.get("x-amz-content-sha256") {
            Some(value) => Some(value.to_str().map_err(|_| Error::Malformed("x-amz-content-sha256".into()))?),
            None => None,
        };
        match declared {
            Some(UNSIGNED_PAYLOAD) if self.allow_unsigned_payload => Ok(UNSIGNED_PAYLOAD.to_owned()),
            Some(UNSIGNED_PAYLOAD) => Err(Error::UnsignedPayload),
            Some(hash) => {
                let actual = body_hash();
                if constant_time_eq(hash.to_ascii_lowercase().as_bytes(), actual.as_bytes()) {
                    Ok(hash.to_owned())
                } else if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                    Err(Error::PayloadHashMismatch)
                } else {
                    Err(Error::Malformed(format!("unsupported x-amz-content-sha256 '{hash}'")))
                }
            }
            None if presigned && self.allow_unsigned_payload => Ok(UNSIGNED_PAYLOAD.to_owned()),
            None => Ok(body_hash()),
        }
    }
}

fn parse_amz_date(text: &str) -> Result<DateTime<Utc>, Error> {
    NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%SZ")
        .map(|t| t.and_utc())
        .map_err(|_| Error::Malformed(format!("X-Amz-Date '{text}' is not yyyyMMddTHHmmssZ")))
}

type HmacSha256 = Hmac<Sha256>;

fn new_mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length.
    HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = new_mac(key);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The SigV4 signing key: the HMAC chain of `"AWS4" + secret`, date (yyyymmdd), region, service,
/// `"aws4_request"`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }

    /// The signing key of the AWS documentation's "Examples of how to derive a signing key".
    #[test]
    fn signing_key_matches_aws_example() {
        let key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam");
        assert_eq!(hex::encode(key), "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
    }
}
