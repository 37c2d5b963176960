//! SigV4 POST policies: a signed browser upload that S3 itself constrains (key, content type,
//! size range, expiry). The Rust SDK's presigner cannot express a content-length-range, so the
//! policy is signed here, as the S3 documentation specifies.

use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::json;
use sha2::Sha256;

/// Credentials to sign with (Lambda's role credentials carry a session token).
#[derive(Clone, Debug)]
pub struct SigningCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

/// What the upload may be.
#[derive(Clone, Debug)]
pub struct PostPolicy<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub content_type: &'a str,
    pub min_bytes: u64,
    pub max_bytes: u64,
    pub region: &'a str,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A signed upload: POST these form fields, then the `file` field, to `url`.
#[derive(Clone, Debug, Serialize)]
pub struct SignedPost {
    pub url: String,
    pub fields: BTreeMap<String, String>,
}

/// Signs `policy` for a POST to `url`.
pub fn sign(policy: &PostPolicy<'_>, creds: &SigningCredentials, url: &str) -> SignedPost {
    let date = policy.now.format("%Y%m%d").to_string();
    let amz_date = policy.now.format("%Y%m%dT%H%M%SZ").to_string();
    let credential = format!("{}/{date}/{}/s3/aws4_request", creds.access_key_id, policy.region);
    let mut conditions = vec![
        json!({ "bucket": policy.bucket }),
        json!(["eq", "$key", policy.key]),
        json!(["eq", "$Content-Type", policy.content_type]),
        json!(["content-length-range", policy.min_bytes, policy.max_bytes]),
        json!({ "x-amz-algorithm": "AWS4-HMAC-SHA256" }),
        json!({ "x-amz-credential": credential }),
        json!({ "x-amz-date": amz_date }),
    ];
    if let Some(token) = &creds.session_token {
        conditions.push(json!({ "x-amz-security-token": token }));
    }
    let document = json!({
        "expiration": policy.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "conditions": conditions,
    });
    let encoded = base64::engine::general_purpose::STANDARD.encode(document.to_string());
    let key = signing_key(&creds.secret_access_key, &date, policy.region, "s3");
    let signature = hex::encode(hmac(&key, encoded.as_bytes()));

    let mut fields = BTreeMap::new();
    fields.insert("key".into(), policy.key.to_string());
    fields.insert("Content-Type".into(), policy.content_type.to_string());
    fields.insert("x-amz-algorithm".into(), "AWS4-HMAC-SHA256".into());
    fields.insert("x-amz-credential".into(), credential);
    fields.insert("x-amz-date".into(), amz_date);
    if let Some(token) = &creds.session_token {
        fields.insert("x-amz-security-token".into(), token.clone());
    }
    fields.insert("policy".into(), encoded);
    fields.insert("x-amz-signature".into(), signature);
    SignedPost { url: url.to_string(), fields }
}

/// The SigV4 signing key: HMAC chain over date, region and service.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_key_matches_aws_documented_example() {
        // AWS SigV4 documentation example (secret, 20150830, us-east-1, iam).
        let key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam");
        assert_eq!(hex::encode(key), "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
    }

    #[test]
    fn policy_carries_every_constraint() {
        let now = Utc::now();
        let creds = SigningCredentials {
            access_key_id: "AK".into(),
            secret_access_key: "SK".into(),
            session_token: Some("T".into()),
        };
        let p = PostPolicy {
            bucket: "b",
            key: "uploads/x.jpg",
            content_type: "image/jpeg",
            min_bytes: 1,
            max_bytes: 10,
            region: "us-east-1",
            now,
            expires_at: now + chrono::Duration::seconds(300),
        };
        let signed = sign(&p, &creds, "http://x/b");
        let policy = base64::engine::general_purpose::STANDARD.decode(&signed.fields["policy"]).unwrap();
        let policy: serde_json::Value = serde_json::from_slice(&policy).unwrap();
        let conds = policy["conditions"].to_string();
        for needle in ["content-length-range", "uploads/x.jpg", "image/jpeg", "x-amz-security-token"] {
            assert!(conds.contains(needle), "{needle} missing from {conds}");
        }
        assert_eq!(signed.fields["x-amz-security-token"], "T");
        assert_eq!(signed.fields["x-amz-signature"].len(), 64);
    }
}
