//! Every token fault the API Gateway JWT authorizer refuses is refused here, with real RSA keys.

mod common;

use auth::{AuthError, SigningKey, Verifier};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::*;
use serde_json::{json, Value};

const NOW: u64 = 1_800_000_000;
const SCOPE: &[&str] = &["imgpipe/api"];

fn access_claims() -> Value {
    json!({
        "sub": "2f4d8e4c-0000-4000-8000-000000000001",
        "iss": ISSUER,
        "client_id": CLIENT_ID,
        "token_use": "access",
        "scope": "openid imgpipe/api",
        "auth_time": NOW - 100,
        "iat": NOW - 100,
        "exp": NOW + 3500,
        "jti": "j",
        "username": "alice",
        "cognito:groups": ["a", "b"],
    })
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

fn without(mut claims: Value, name: &str) -> Value {
    claims.as_object_mut().unwrap().remove(name);
    claims
}

struct Fixture {
    key: SigningKey,
    verifier: Verifier,
}

fn fixture() -> Fixture {
    let key = SigningKey::generate().unwrap();
    let verifier = Verifier::new(ISSUER, vec![CLIENT_ID.to_string()], &key.jwks());
    Fixture { key, verifier }
}

impl Fixture {
    fn check(&self, claims: &Value) -> Result<auth::JwtClaims, AuthError> {
        self.verifier.verify_at(&self.key.sign(claims).unwrap(), SCOPE, NOW)
    }
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

#[test]
fn a_good_access_token_passes_with_api_gateway_shaped_claims() {
    let f = fixture();
    let claims = f.check(&access_claims()).unwrap();
    assert_eq!(claims.sub(), Some("2f4d8e4c-0000-4000-8000-000000000001"));
    assert_eq!(claims.claims["exp"], (NOW + 3500).to_string());
    assert_eq!(claims.claims["cognito:groups"], "[a b]");
    assert_eq!(claims.scopes, Some(vec!["openid".into(), "imgpipe/api".into()]));
    // The struct serializes as requestContext.authorizer.jwt.
    let jwt = serde_json::to_value(&claims).unwrap();
    assert_eq!(jwt["claims"]["username"], "alice");
    assert_eq!(jwt["scopes"][1], "imgpipe/api");
    // With or without the Bearer prefix; a route without scopes accepts it too.
    let token = f.key.sign(&access_claims()).unwrap();
    assert!(f.verifier.verify_at(&format!("Bearer {token}"), &[], NOW).is_ok());
    assert!(f.verifier.verify_at(&token, &["other", "imgpipe/api"], NOW).is_ok());
}

#[test]
fn missing_and_malformed_tokens_are_refused() {
    let f = fixture();
    assert_eq!(f.verifier.verify_at("", SCOPE, NOW), Err(AuthError::MissingToken));
    assert_eq!(f.verifier.verify_at("Bearer ", SCOPE, NOW), Err(AuthError::MissingToken));
    for garbage in ["abc", "a.b", "a.b.c", "a.b.c.d", "!!!.???.***", &format!("{}.e30.", b64(&json!("x")))] {
        assert_eq!(f.verifier.verify_at(garbage, SCOPE, NOW), Err(AuthError::Malformed), "{garbage}");
    }
    let huge = format!("{}.{}.sig", "a".repeat(20_000), "b");
    assert_eq!(f.verifier.verify_at(&huge, SCOPE, NOW), Err(AuthError::Malformed));
}

#[test]
fn a_tampered_token_is_refused() {
    let f = fixture();
    let token = f.key.sign(&access_claims()).unwrap();
    let parts: Vec<&str> = token.split('.').collect();

    // Flip one signature byte.
    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    signature[10] ^= 1;
    let flipped = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(&signature));
    assert_eq!(f.verifier.verify_at(&flipped, SCOPE, NOW), Err(AuthError::BadSignature));

    // Swap in other claims under the original signature.
    let forged = b64(&with(access_claims(), "sub", json!("someone-else")));
    let swapped = format!("{}.{}.{}", parts[0], forged, parts[2]);
    assert_eq!(f.verifier.verify_at(&swapped, SCOPE, NOW), Err(AuthError::BadSignature));

    // Drop the signature.
    let bare = format!("{}.{}.", parts[0], parts[1]);
    assert_eq!(f.verifier.verify_at(&bare, SCOPE, NOW), Err(AuthError::BadSignature));
}

#[test]
fn time_claims_are_enforced() {
    let f = fixture();
    assert_eq!(f.check(&with(access_claims(), "exp", json!(NOW))), Err(AuthError::Expired));
    assert_eq!(f.check(&with(access_claims(), "exp", json!(NOW - 1))), Err(AuthError::Expired));
    assert_eq!(f.check(&without(access_claims(), "exp")), Err(AuthError::Expired));
    assert_eq!(f.check(&with(access_claims(), "exp", json!("tomorrow"))), Err(AuthError::Expired));
    assert_eq!(f.check(&with(access_claims(), "nbf", json!(NOW + 60))), Err(AuthError::NotYetValid));
    assert!(f.check(&with(access_claims(), "nbf", json!(NOW))).is_ok());
    assert_eq!(f.check(&with(access_claims(), "iat", json!(NOW + 60))), Err(AuthError::IssuedInFuture));
    assert_eq!(f.check(&with(access_claims(), "iat", json!("x"))), Err(AuthError::IssuedInFuture));
}

#[test]
fn issuer_must_match_exactly() {
    let f = fixture();
    for iss in [
        json!("https://evil.example"),
        json!(format!("{ISSUER}/")),
        json!(ISSUER.to_uppercase()),
        json!(null),
        json!([ISSUER]),
    ] {
        assert_eq!(f.check(&with(access_claims(), "iss", iss.clone())), Err(AuthError::InvalidIssuer), "{iss}");
    }
    assert_eq!(f.check(&without(access_claims(), "iss")), Err(AuthError::InvalidIssuer));
}

#[test]
fn audience_is_aud_when_present_else_client_id() {
    let f = fixture();
    assert_eq!(f.check(&with(access_claims(), "client_id", json!("other-client"))), Err(AuthError::InvalidAudience));
    assert_eq!(f.check(&without(access_claims(), "client_id")), Err(AuthError::InvalidAudience));
    // aud is evaluated instead of client_id when both are present.
    assert_eq!(f.check(&with(access_claims(), "aud", json!("other-client"))), Err(AuthError::InvalidAudience));
    assert!(f.check(&with(with(access_claims(), "aud", json!(CLIENT_ID)), "client_id", json!("x"))).is_ok());
    assert!(f.check(&with(access_claims(), "aud", json!(["x", CLIENT_ID]))).is_ok());
    assert_eq!(f.check(&with(access_claims(), "aud", json!(7))), Err(AuthError::InvalidAudience));
}

#[test]
fn id_tokens_and_missing_scopes_are_refused() {
    let f = fixture();
    let id_token = json!({
        "sub": "s", "aud": CLIENT_ID, "iss": ISSUER, "cognito:username": "alice", "token_use": "id",
        "auth_time": NOW - 10, "iat": NOW - 10, "exp": NOW + 3000,
    });
    assert_eq!(f.check(&id_token), Err(AuthError::InsufficientScope));
    let token = f.key.sign(&id_token).unwrap();
    assert_eq!(f.verifier.verify_at(&token, &[], NOW), Err(AuthError::NotAnAccessToken));
    // An access token without the route's scope, or with token_use tampered (re-signed) away.
    assert_eq!(f.check(&with(access_claims(), "scope", json!("openid"))), Err(AuthError::InsufficientScope));
    assert_eq!(f.check(&without(access_claims(), "scope")), Err(AuthError::InsufficientScope));
    assert_eq!(
        f.check(&with(access_claims(), "scope", json!("imgpipe/api2 imgpipe"))),
        Err(AuthError::InsufficientScope)
    );
    assert_eq!(f.check(&with(access_claims(), "token_use", json!("id"))), Err(AuthError::NotAnAccessToken));
    assert_eq!(f.check(&without(access_claims(), "token_use")), Err(AuthError::NotAnAccessToken));
    // `scp` counts like `scope`, as in API Gateway.
    assert!(f.check(&with(without(access_claims(), "scope"), "scp", json!(["imgpipe/api"]))).is_ok());
}

#[test]
fn a_token_signed_by_another_key_is_refused() {
    let f = fixture();
    let other = SigningKey::generate().unwrap();
    let token = other.sign(&access_claims()).unwrap();
    assert_eq!(f.verifier.verify_at(&token, SCOPE, NOW), Err(AuthError::UnknownKey));

    // The other key claiming our kid: the signature does not verify.
    let parts: Vec<&str> = token.split('.').collect();
    let header = b64(&json!({"alg": "RS256", "kid": f.key.kid()}));
    let signing_input = format!("{header}.{}", parts[1]);
    let signature = jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &jsonwebtoken::EncodingKey::from_rsa_pem(other.to_pkcs8_pem().as_bytes()).unwrap(),
        jsonwebtoken::Algorithm::RS256,
    )
    .unwrap();
    let impostor = format!("{signing_input}.{signature}");
    assert_eq!(f.verifier.verify_at(&impostor, SCOPE, NOW), Err(AuthError::BadSignature));

    // No kid at all.
    let no_kid = format!("{}.{}.{}", b64(&json!({"alg": "RS256"})), parts[1], parts[2]);
    assert_eq!(f.verifier.verify_at(&no_kid, SCOPE, NOW), Err(AuthError::UnknownKey));
}

#[test]
fn algorithm_confusion_is_refused() {
    let f = fixture();
    let payload = b64(&access_claims());

    // alg=none, with and without a signature part.
    for alg in ["none", "None", "NONE"] {
        let header = b64(&json!({"alg": alg, "kid": f.key.kid()}));
        for token in [format!("{header}.{payload}."), format!("{header}.{payload}.AAAA")] {
            assert_eq!(f.verifier.verify_at(&token, SCOPE, NOW), Err(AuthError::UnsupportedAlgorithm(alg.into())));
        }
    }

    // HS256 keyed with the public key, in each form an attacker could pick it up.
    let jwk = f.key.jwk();
    let n = URL_SAFE_NO_PAD.decode(&jwk.n).unwrap();
    let secrets: Vec<Vec<u8>> = vec![serde_json::to_vec(&f.key.jwks()).unwrap(), jwk.n.clone().into_bytes(), n];
    for secret in secrets {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(f.key.kid().to_string());
        let token =
            jsonwebtoken::encode(&header, &access_claims(), &jsonwebtoken::EncodingKey::from_secret(&secret).unwrap())
                .unwrap();
        assert_eq!(f.verifier.verify_at(&token, SCOPE, NOW), Err(AuthError::UnsupportedAlgorithm("HS256".into())));
    }

    // Other RSA algorithms are not what the issuer uses.
    let token = f.key.sign(&access_claims()).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let ps256 = format!("{}.{}.{}", b64(&json!({"alg": "PS256", "kid": f.key.kid()})), parts[1], parts[2]);
    assert_eq!(f.verifier.verify_at(&ps256, SCOPE, NOW), Err(AuthError::UnsupportedAlgorithm("PS256".into())));
}

#[tokio::test]
async fn the_service_verifier_refuses_faults_in_its_own_key_material() {
    // The same faults, signed with the service's real key and checked at the real clock.
    let (_dir, service) = service();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let good =
        with(with(with(access_claims(), "iat", json!(now - 5)), "exp", json!(now + 600)), "auth_time", json!(now - 5));
    let sign = |claims: &Value| service.signing_key().sign(claims).unwrap();
    let verify = |claims: &Value| service.verifier().verify(&sign(claims), SCOPE);
    assert!(verify(&good).is_ok());
    assert_eq!(verify(&with(good.clone(), "exp", json!(now - 1))), Err(AuthError::Expired));
    assert_eq!(verify(&with(good.clone(), "nbf", json!(now + 600))), Err(AuthError::NotYetValid));
    assert_eq!(verify(&with(good.clone(), "iss", json!("http://127.0.0.1:9999/auth"))), Err(AuthError::InvalidIssuer));
    assert_eq!(verify(&with(good.clone(), "client_id", json!("x"))), Err(AuthError::InvalidAudience));
    assert_eq!(verify(&with(good.clone(), "token_use", json!("id"))), Err(AuthError::NotAnAccessToken));
    let www = AuthError::Expired.www_authenticate(SCOPE);
    assert!(www.contains(r#"error="invalid_token""#) && www.contains("imgpipe/api"));
}
