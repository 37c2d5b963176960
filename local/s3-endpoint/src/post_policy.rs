//! Browser POST upload verification, as S3 does it for SigV4: the signature over the base64
//! policy, the policy's expiration, every condition, no unsigned form field, and the size limits.
//! See <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html>.

use base64::Engine as _;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

use crate::form::Form;
use crate::s3_error::S3Failure;

/// The one identity the endpoint knows, and its limits.
pub(crate) struct PostAuth<'a> {
    pub access_key: &'a str,
    pub secret_key: &'a str,
    pub region: &'a str,
    pub max_upload_bytes: u64,
}

/// One policy condition; `text` is the condition as written, for error messages.
#[derive(Debug, PartialEq, Eq)]
enum Condition {
    Eq { field: String, value: String, text: String },
    StartsWith { field: String, prefix: String, text: String },
    LengthRange { min: u64, max: u64 },
}

#[derive(Debug)]
struct Policy {
    expiration: DateTime<Utc>,
    conditions: Vec<Condition>,
}

/// Form fields that never need a policy condition (S3's list).
fn is_exempt(field: &str) -> bool {
    let field = field.to_ascii_lowercase();
    matches!(field.as_str(), "x-amz-signature" | "file" | "policy") || field.starts_with("x-ignore-")
}

fn required<'f>(form: &'f Form, name: &str) -> Result<&'f str, S3Failure> {
    form.field(name)
        .ok_or_else(|| S3Failure::invalid_argument(format!("Bucket POST must contain a field named '{name}'.")))
}

/// Verifies a POST Object form for `bucket` (the bucket in the URL) at time `now`.
pub(crate) fn verify(form: &Form, bucket: &str, auth: &PostAuth<'_>, now: DateTime<Utc>) -> Result<(), S3Failure> {
    let Some(policy_b64) = form.field("policy") else {
        // No policy means an anonymous upload, and no bucket here is public.
        return Err(S3Failure::access_denied("Access Denied"));
    };
    required(form, "key")?;
    verify_signature(form, policy_b64, auth)?;
    let policy = parse_policy(policy_b64)?;

    if now >= policy.expiration {
        return Err(S3Failure::policy("Policy expired."));
    }
    if let Some(form_bucket) = form.field("bucket") {
        if form_bucket != bucket {
            return Err(S3Failure::invalid_argument("The bucket field does not match the bucket of the URL."));
        }
    }
    for condition in &policy.conditions {
        check_condition(condition, form, bucket)?;
    }
    for (name, _) in &form.fields {
        if is_exempt(name) {
            continue;
        }
        let covered = policy.conditions.iter().any(|c| match c {
            Condition::Eq { field, .. } | Condition::StartsWith { field, .. } => field.eq_ignore_ascii_case(name),
            Condition::LengthRange { .. } => false,
        });
        if !covered {
            return Err(S3Failure::policy(format!("Extra input fields: {name}")));
        }
    }

    let size = form.file.len() as u64;
    if size > auth.max_upload_bytes {
        return Err(S3Failure::too_large(Some(size), auth.max_upload_bytes));
    }
    for condition in &policy.conditions {
        if let Condition::LengthRange { min, max } = condition {
            if size > *max {
                return Err(S3Failure::too_large(Some(size), *max));
            }
            if size < *min {
                return Err(S3Failure::too_small(size, *min));
            }
        }
    }
    Ok(())
}

/// Checks algorithm, credential scope, date and the HMAC of the base64 policy.
fn verify_signature(form: &Form, policy_b64: &str, auth: &PostAuth<'_>) -> Result<(), S3Failure> {
    let algorithm = required(form, "x-amz-algorithm")?;
    let credential = required(form, "x-amz-credential")?;
    let amz_date = required(form, "x-amz-date")?;
    let signature = required(form, "x-amz-signature")?;

    if algorithm != "AWS4-HMAC-SHA256" {
        return Err(S3Failure::invalid_argument(format!("Unsupported x-amz-algorithm: {algorithm}")));
    }
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key, date, region, service, terminator] = scope[..] else {
        return Err(S3Failure::invalid_argument(format!("Invalid x-amz-credential: {credential}")));
    };
    if service != "s3" || terminator != "aws4_request" {
        return Err(S3Failure::invalid_argument(format!("Invalid x-amz-credential scope: {credential}")));
    }
    if access_key != auth.access_key {
        return Err(S3Failure::new(
            http::StatusCode::FORBIDDEN,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        ));
    }
    if region != auth.region {
        return Err(S3Failure::new(
            http::StatusCode::BAD_REQUEST,
            "AuthorizationHeaderMalformed",
            format!(
                "The authorization header is malformed; the region '{region}' is wrong; expecting '{}'",
                auth.region
            ),
        ));
    }
    if NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ").is_err()
        || !amz_date.starts_with(date)
        || date.len() != 8
    {
        return Err(S3Failure::invalid_argument(format!(
            "x-amz-date '{amz_date}' is not a valid date of the credential scope '{date}'"
        )));
    }
    let expected = post_policy_signature(auth.secret_key, date, region, policy_b64);
    if !sigv4::constant_time_eq(expected.as_bytes(), signature.to_ascii_lowercase().as_bytes()) {
        return Err(S3Failure::new(
            http::StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        ));
    }
    Ok(())
}

/// The POST signature: hex(HMAC(SigV4 signing key for s3, base64 policy)).
fn post_policy_signature(secret: &str, date: &str, region: &str, policy_b64: &str) -> String {
    hex::encode(sigv4::hmac_sha256(&sigv4::signing_key(secret, date, region, "s3"), policy_b64.as_bytes()))
}

fn parse_policy(policy_b64: &str) -> Result<Policy, S3Failure> {
    let json = base64::engine::general_purpose::STANDARD
        .decode(policy_b64.trim())
        .map_err(|_| S3Failure::invalid_policy("Invalid 'Base64' encoding."))?;
    let doc: Value = serde_json::from_slice(&json).map_err(|_| S3Failure::invalid_policy("Invalid JSON."))?;
    let Value::Object(doc) = doc else {
        return Err(S3Failure::invalid_policy("Invalid JSON."));
    };
    let expiration = doc.get("expiration").ok_or_else(|| S3Failure::invalid_policy("Policy missing expiration."))?;
    let expiration = expiration
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .ok_or_else(|| S3Failure::invalid_policy(format!("Invalid 'expiration' value: {expiration}")))?
        .with_timezone(&Utc);
    let conditions = doc
        .get("conditions")
        .and_then(Value::as_array)
        .ok_or_else(|| S3Failure::invalid_policy("Policy missing conditions."))?;
    let conditions = conditions.iter().map(parse_condition).collect::<Result<_, _>>()?;
    Ok(Policy { expiration, conditions })
}

fn parse_condition(raw: &Value) -> Result<Condition, S3Failure> {
    let text = raw.to_string();
    let invalid = || S3Failure::invalid_policy(format!("Invalid Simple-Condition: {text}"));
    match raw {
        Value::Object(map) if map.len() == 1 => {
            let (field, value) = map.iter().next().ok_or_else(invalid)?;
            let value = value.as_str().ok_or_else(invalid)?;
            Ok(Condition::Eq { field: field_name(field), value: value.to_owned(), text })
        }
        Value::Array(items) if items.len() == 3 => {
            let operator = items[0].as_str().ok_or_else(invalid)?.to_ascii_lowercase();
            if operator == "content-length-range" {
                let (min, max) =
                    (length_bound(&items[1]).ok_or_else(invalid)?, length_bound(&items[2]).ok_or_else(invalid)?);
                if min > max {
                    return Err(invalid());
                }
                return Ok(Condition::LengthRange { min, max });
            }
            let field = field_name(items[1].as_str().ok_or_else(invalid)?);
            let value = items[2].as_str().ok_or_else(invalid)?.to_owned();
            match operator.as_str() {
                "eq" => Ok(Condition::Eq { field, value, text }),
                "starts-with" => Ok(Condition::StartsWith { field, prefix: value, text }),
                _ => Err(invalid()),
            }
        }
        _ => Err(invalid()),
    }
}

fn field_name(raw: &str) -> String {
    raw.strip_prefix('$').unwrap_or(raw).to_ascii_lowercase()
}

fn length_bound(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

fn check_condition(condition: &Condition, form: &Form, bucket: &str) -> Result<(), S3Failure> {
    let value_of = |field: &str| if field == "bucket" { Some(bucket) } else { form.field(field) };
    let holds = match condition {
        Condition::Eq { field, value, .. } => value_of(field) == Some(value.as_str()),
        Condition::StartsWith { field, prefix, .. } => match value_of(field) {
            None => prefix.is_empty(),
            // S3 checks each entry of a comma-separated Content-Type.
            Some(actual) if field == "content-type" => {
                actual.split(',').all(|v| v.trim_start().starts_with(prefix.as_str()))
            }
            Some(actual) => actual.starts_with(prefix.as_str()),
        },
        Condition::LengthRange { .. } => true,
    };
    match condition {
        Condition::Eq { text, .. } | Condition::StartsWith { text, .. } if !holds => {
            Err(S3Failure::policy(format!("Policy Condition failed: {text}")))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    /// The example from the AWS documentation "Example: Browser-based upload using HTTP POST
    /// (using AWS Signature Version 4)".
    #[test]
    fn signature_matches_aws_documented_post_example() {
        let policy = "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9";
        let signature =
            post_policy_signature("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20151229", "us-east-1", policy);
        assert_eq!(signature, "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e");
    }

    const AUTH: PostAuth<'static> =
        PostAuth { access_key: "AKTEST", secret_key: "secret/KEY", region: "us-east-1", max_upload_bytes: 100 };

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2030-01-01T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn policy(conditions: &str, expiration: &str) -> String {
        let json = format!(
            r#"{{"expiration":"{expiration}","conditions":[{conditions},
            {{"x-amz-algorithm":"AWS4-HMAC-SHA256"}},{{"x-amz-credential":"AKTEST/20300101/us-east-1/s3/aws4_request"}},
            {{"x-amz-date":"20300101T115500Z"}}]}}"#
        );
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    fn form(policy: &str, extra: &[(&str, &str)], file: &'static [u8]) -> Form {
        let signature = post_policy_signature("secret/KEY", "20300101", "us-east-1", policy);
        let mut fields: Vec<(String, String)> = vec![
            ("x-amz-algorithm".into(), "AWS4-HMAC-SHA256".into()),
            ("x-amz-credential".into(), "AKTEST/20300101/us-east-1/s3/aws4_request".into()),
            ("x-amz-date".into(), "20300101T115500Z".into()),
            ("policy".into(), policy.into()),
            ("x-amz-signature".into(), signature),
        ];
        fields.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        Form { fields, file: Bytes::from_static(file) }
    }

    fn check(form: &Form) -> Result<(), S3Failure> {
        verify(form, "in", &AUTH, now())
    }

    const GOOD: &str = r#"{"bucket":"in"},["starts-with","$key","uploads/"],["eq","$Content-Type","image/png"],
        ["content-length-range",2,10]"#;

    #[test]
    fn accepts_a_correct_form() {
        let p = policy(GOOD, "2030-01-01T12:05:00.000Z");
        check(&form(&p, &[("key", "uploads/a.png"), ("Content-Type", "image/png")], b"abcd")).unwrap();
    }

    #[test]
    fn refuses_what_s3_refuses() {
        let p = policy(GOOD, "2030-01-01T12:05:00.000Z");
        let ok = [("key", "uploads/a.png"), ("Content-Type", "image/png")];
        let code = |f: Form| check(&f).unwrap_err();

        let expired = policy(GOOD, "2030-01-01T11:59:59Z");
        assert_eq!(code(form(&expired, &ok, b"abcd")).message, "Invalid according to Policy: Policy expired.");

        let wrong_type = code(form(&p, &[("key", "uploads/a.png"), ("Content-Type", "image/gif")], b"abcd"));
        assert_eq!((wrong_type.status.as_u16(), wrong_type.code), (403, "AccessDenied"));
        assert!(wrong_type.message.starts_with("Invalid according to Policy: Policy Condition failed: [\"eq\""));

        let wrong_key = code(form(&p, &[("key", "other/a.png"), ("Content-Type", "image/png")], b"abcd"));
        assert!(wrong_key.message.contains("starts-with"), "{wrong_key:?}");

        let extra =
            code(form(&p, &[("key", "uploads/a.png"), ("Content-Type", "image/png"), ("acl", "public-read")], b"abcd"));
        assert_eq!(extra.message, "Invalid according to Policy: Extra input fields: acl");
        // x-ignore-* is exempt
        check(&form(&p, &[("key", "uploads/a.png"), ("Content-Type", "image/png"), ("x-ignore-me", "1")], b"abcd"))
            .unwrap();

        assert_eq!(code(form(&p, &ok, b"abcdefghijk")).code, "EntityTooLarge");
        assert_eq!(code(form(&p, &ok, b"a")).code, "EntityTooSmall");
        let over_max = policy(
            r#"{"bucket":"in"},["starts-with","$key",""],["eq","$Content-Type","image/png"]"#,
            "2030-02-01T00:00:00Z",
        );
        assert_eq!(code(form(&over_max, &ok, &[0; 101])).code, "EntityTooLarge");

        let mut tampered = form(&p, &ok, b"abcd");
        let first = if tampered.fields[4].1.starts_with('0') { "1" } else { "0" };
        tampered.fields[4].1.replace_range(0..1, first);
        assert_eq!(code(tampered).code, "SignatureDoesNotMatch");

        let other_policy =
            policy(r#"["starts-with","$key",""],["starts-with","$Content-Type",""]"#, "2030-02-01T00:00:00Z");
        let mut swapped = form(&p, &ok, b"abcd");
        swapped.fields[3].1 = other_policy;
        assert_eq!(code(swapped).code, "SignatureDoesNotMatch");

        let wrong_bucket = verify(&form(&p, &ok, b"abcd"), "other", &AUTH, now()).unwrap_err();
        assert!(wrong_bucket.message.contains("{\"bucket\":\"in\"}"), "{wrong_bucket:?}");
    }

    #[test]
    fn refuses_malformed_policies() {
        let ok = [("key", "k"), ("Content-Type", "image/png")];
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        for (bad, expected) in [
            ("%%%".to_owned(), "Invalid Policy: Invalid 'Base64' encoding."),
            (b64("{not json"), "Invalid Policy: Invalid JSON."),
            (b64(r#"{"conditions":[]}"#), "Invalid Policy: Policy missing expiration."),
            (b64(r#"{"expiration":"2031-01-01T00:00:00Z"}"#), "Invalid Policy: Policy missing conditions."),
            (
                b64(r#"{"expiration":"tomorrow","conditions":[]}"#),
                "Invalid Policy: Invalid 'expiration' value: \"tomorrow\"",
            ),
            (b64(r#"{"expiration":"2031-01-01T00:00:00Z","conditions":[["match","$key","k"]]}"#), ""),
            (b64(r#"{"expiration":"2031-01-01T00:00:00Z","conditions":[["content-length-range",5,1]]}"#), ""),
            (b64(r#"{"expiration":"2031-01-01T00:00:00Z","conditions":[{"a":"1","b":"2"}]}"#), ""),
        ] {
            let failure = check(&form(&bad, &ok, b"ab")).unwrap_err();
            assert_eq!((failure.status.as_u16(), failure.code), (400, "InvalidPolicyDocument"), "{bad}");
            if !expected.is_empty() {
                assert_eq!(failure.message, expected);
            }
        }
    }

    #[test]
    fn refuses_missing_fields_and_bad_credentials() {
        let p = policy(GOOD, "2030-01-01T12:05:00.000Z");
        let ok = [("key", "uploads/a.png"), ("Content-Type", "image/png")];
        let mut no_key = form(&p, &ok[1..], b"abcd");
        assert_eq!(check(&no_key).unwrap_err().code, "InvalidArgument");
        no_key.fields.retain(|(n, _)| n != "policy");
        assert_eq!(check(&no_key).unwrap_err().code, "AccessDenied");

        let mut no_sig = form(&p, &ok, b"abcd");
        no_sig.fields.retain(|(n, _)| n != "x-amz-signature");
        assert_eq!(check(&no_sig).unwrap_err().code, "InvalidArgument");

        let mut other_key = form(&p, &ok, b"abcd");
        other_key.fields[1].1 = "NOPE/20300101/us-east-1/s3/aws4_request".into();
        assert_eq!(check(&other_key).unwrap_err().code, "InvalidAccessKeyId");

        let mut garbage = form(&p, &ok, b"abcd");
        garbage.fields[1].1 = "garbage".into();
        assert_eq!(check(&garbage).unwrap_err().code, "InvalidArgument");
    }
}
