//! The AWS SigV4 test suite's signed requests verify; forged, expired, wrong-key, wrong-region and
//! wrong-service variants of them do not.

use chrono::{DateTime, Duration, TimeZone, Utc};
use sigv4::{Error, Verifier};

const ACCESS_KEY: &str = "AKIDEXAMPLE";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const REGION: &str = "us-east-1";
const SERVICE: &str = "service";

const CASES: &[(&str, &str, &str)] = &[
    (
        "get-vanilla",
        include_str!("vectors/get-vanilla/header-signed-request.txt"),
        include_str!("vectors/get-vanilla/query-signed-request.txt"),
    ),
    (
        "get-vanilla-query-order-key-case",
        include_str!("vectors/get-vanilla-query-order-key-case/header-signed-request.txt"),
        include_str!("vectors/get-vanilla-query-order-key-case/query-signed-request.txt"),
    ),
    (
        "get-vanilla-query-unreserved",
        include_str!("vectors/get-vanilla-query-unreserved/header-signed-request.txt"),
        include_str!("vectors/get-vanilla-query-unreserved/query-signed-request.txt"),
    ),
    (
        "get-vanilla-empty-query-key",
        include_str!("vectors/get-vanilla-empty-query-key/header-signed-request.txt"),
        include_str!("vectors/get-vanilla-empty-query-key/query-signed-request.txt"),
    ),
    (
        "get-header-key-duplicate",
        include_str!("vectors/get-header-key-duplicate/header-signed-request.txt"),
        include_str!("vectors/get-header-key-duplicate/query-signed-request.txt"),
    ),
    (
        "get-header-value-trim",
        include_str!("vectors/get-header-value-trim/header-signed-request.txt"),
        include_str!("vectors/get-header-value-trim/query-signed-request.txt"),
    ),
    (
        "post-header-key-sort",
        include_str!("vectors/post-header-key-sort/header-signed-request.txt"),
        include_str!("vectors/post-header-key-sort/query-signed-request.txt"),
    ),
    (
        "post-header-value-case",
        include_str!("vectors/post-header-value-case/header-signed-request.txt"),
        include_str!("vectors/post-header-value-case/query-signed-request.txt"),
    ),
    (
        "post-vanilla-query",
        include_str!("vectors/post-vanilla-query/header-signed-request.txt"),
        include_str!("vectors/post-vanilla-query/query-signed-request.txt"),
    ),
    (
        "post-x-www-form-urlencoded",
        include_str!("vectors/post-x-www-form-urlencoded/header-signed-request.txt"),
        include_str!("vectors/post-x-www-form-urlencoded/query-signed-request.txt"),
    ),
];

fn signed_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2015, 8, 30, 12, 36, 0).unwrap()
}

fn verifier() -> Verifier {
    Verifier::new(ACCESS_KEY, SECRET_KEY, REGION, SERVICE)
}

/// Parses a suite request file: request line, `Name:value` headers, blank line, body.
fn parse(text: &str) -> http::Request<Vec<u8>> {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let mut words = request_line.split(' ');
    let (method, target) = (words.next().unwrap(), words.next().unwrap());
    let mut builder = http::Request::builder().method(method).uri(target);
    for line in lines {
        let (name, value) = line.split_once(':').unwrap();
        builder = builder.header(name, value.trim_start());
    }
    builder.body(body.trim_end_matches('\n').as_bytes().to_vec()).unwrap()
}

#[test]
fn suite_requests_verify() {
    for (name, header_signed, query_signed) in CASES {
        for (kind, text) in [("header", header_signed), ("query", query_signed)] {
            let request = parse(text);
            let verified = verifier().verify(&request, signed_at() + Duration::seconds(30));
            let verified = verified.unwrap_or_else(|e| panic!("{name} ({kind}): {e}"));
            assert_eq!(verified.access_key, ACCESS_KEY);
            assert_eq!(verified.presigned, kind == "query", "{name}");
            assert_eq!(verified.signed_at, signed_at());
        }
    }
}

/// Changes one character of the signature (still hex).
fn forge(text: &str) -> String {
    let at = text.find("Signature=").unwrap() + "Signature=".len();
    let mut forged = text.to_owned();
    let replacement = if &text[at..=at] == "0" { "1" } else { "0" };
    forged.replace_range(at..=at, replacement);
    forged
}

#[test]
fn forged_signatures_are_refused() {
    for (name, header_signed, query_signed) in CASES {
        for text in [header_signed, query_signed] {
            let request = parse(&forge(text));
            assert_eq!(verifier().verify(&request, signed_at()), Err(Error::SignatureMismatch), "{name}");
        }
    }
}

#[test]
fn tampered_requests_are_refused() {
    let (_, header_signed, _) = CASES[0];
    let now = signed_at();
    // another path, another query, another signed header value
    for tampered in [
        header_signed.replacen("GET / ", "GET /other ", 1),
        header_signed.replacen("GET / ", "GET /?a=b ", 1),
        header_signed.replacen("Host:example.amazonaws.com", "Host:evil.example", 1),
        header_signed.replacen("GET / ", "DELETE / ", 1),
    ] {
        assert_eq!(verifier().verify(&parse(&tampered), now), Err(Error::SignatureMismatch), "{tampered}");
    }
    // a body the signature did not cover
    let mut request = parse(header_signed);
    *request.body_mut() = b"{\"injected\":true}".to_vec();
    assert_eq!(verifier().verify(&request, now), Err(Error::SignatureMismatch));
    // a body that does not match its declared hash
    let (_, form_signed, _) = CASES.iter().find(|c| c.0 == "post-x-www-form-urlencoded").unwrap();
    let mut request = parse(form_signed);
    *request.body_mut() = b"Param1=value2".to_vec();
    assert_eq!(verifier().verify(&request, now), Err(Error::PayloadHashMismatch));
    // a signed header removed
    let removed = header_signed.replacen("X-Amz-Date:20150830T123600Z\n", "", 1);
    assert!(matches!(verifier().verify(&parse(&removed), now), Err(Error::Malformed(_))));
}

#[test]
fn wrong_identity_is_refused() {
    let (_, header_signed, query_signed) = CASES[0];
    let now = signed_at();
    for text in [header_signed, query_signed] {
        let request = parse(text);
        let wrong_secret = Verifier::new(ACCESS_KEY, "another-secret", REGION, SERVICE);
        assert_eq!(wrong_secret.verify(&request, now), Err(Error::SignatureMismatch));
        let wrong_key = Verifier::new("AKIDOTHER", SECRET_KEY, REGION, SERVICE);
        assert_eq!(wrong_key.verify(&request, now), Err(Error::UnknownAccessKey(ACCESS_KEY.into())));
        let wrong_region = Verifier::new(ACCESS_KEY, SECRET_KEY, "eu-west-1", SERVICE);
        assert!(matches!(wrong_region.verify(&request, now), Err(Error::WrongRegion { .. })));
        let wrong_service = Verifier::new(ACCESS_KEY, SECRET_KEY, REGION, "dynamodb");
        assert!(matches!(wrong_service.verify(&request, now), Err(Error::WrongService { .. })));
    }
}

#[test]
fn clock_skew_and_expiry() {
    let (_, header_signed, query_signed) = CASES[0];
    let header = parse(header_signed);
    let query = parse(query_signed);
    let v = verifier();
    // header auth: 15 minutes either way
    assert!(v.verify(&header, signed_at() + Duration::minutes(15)).is_ok());
    assert!(matches!(v.verify(&header, signed_at() + Duration::minutes(16)), Err(Error::TimeSkewed { .. })));
    assert!(v.verify(&header, signed_at() - Duration::minutes(15)).is_ok());
    assert!(matches!(v.verify(&header, signed_at() - Duration::minutes(16)), Err(Error::TimeSkewed { .. })));
    // presigned: valid for X-Amz-Expires (3600 s), not before its date minus the skew
    assert!(v.verify(&query, signed_at() + Duration::seconds(3599)).is_ok());
    assert!(matches!(v.verify(&query, signed_at() + Duration::seconds(3600)), Err(Error::Expired(_))));
    assert!(matches!(v.verify(&query, signed_at() - Duration::minutes(16)), Err(Error::TimeSkewed { .. })));
}

#[test]
fn required_headers_and_payload_rules() {
    let (_, header_signed, query_signed) = CASES[0];
    let now = signed_at();
    let strict = verifier().require_signed_header("x-amz-target");
    assert_eq!(strict.verify(&parse(header_signed), now), Err(Error::UnsignedHeader("x-amz-target".into())));

    // UNSIGNED-PAYLOAD is refused unless allowed (it is not signed here, so the signature fails after)
    let mut request = parse(header_signed);
    request.headers_mut().insert("x-amz-content-sha256", "UNSIGNED-PAYLOAD".parse().unwrap());
    assert_eq!(verifier().verify(&request, now), Err(Error::UnsignedPayload));
    assert_eq!(verifier().allow_unsigned_payload(true).verify(&request, now), Err(Error::SignatureMismatch));
    // a presigned URL signed over the empty body does not verify as UNSIGNED-PAYLOAD
    let s3_like = verifier().allow_unsigned_payload(true);
    assert_eq!(s3_like.verify(&parse(query_signed), now), Err(Error::SignatureMismatch));
}

#[test]
fn hostile_inputs_get_errors_not_panics() {
    let now = signed_at();
    let long = "a".repeat(100_000);
    for auth in [
        String::new(),
        " ".into(),
        "AWS4-HMAC-SHA256 ,,,,".into(),
        "AWS4-HMAC-SHA256 Credential=".into(),
        format!("AWS4-HMAC-SHA256 Credential={long}"),
        "AWS4-HMAC-SHA256 Credential=\u{e9}/x".into(),
    ] {
        let request = http::Request::get("/")
            .header("authorization", auth.as_str())
            .header("x-amz-date", "20150830T123600Z")
            .body(Vec::new())
            .unwrap();
        assert!(verifier().verify(&request, now).is_err(), "{auth:.40}");
    }
    for query in ["/?X-Amz-Signature=%", "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Algorithm=x", "/?X-Amz-Algorithm"] {
        let request = http::Request::get(query).body(Vec::new()).unwrap();
        assert!(verifier().verify(&request, now).is_err(), "{query}");
    }
    let bad_date = http::Request::get("/")
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20150830/{REGION}/{SERVICE}/aws4_request, SignedHeaders=host;x-amz-date, Signature={}",
                "0".repeat(64)
            ),
        )
        .header("x-amz-date", "2015-08-30T12:36:00Z")
        .body(Vec::new())
        .unwrap();
    assert!(matches!(verifier().verify(&bad_date, now), Err(Error::ScopeDateMismatch { .. } | Error::Malformed(_))));
}
