//! The sign-in service over HTTP, through the real router: code + PKCE, refresh, and every way
//! a request can be wrong.

mod common;

use axum::http::StatusCode;
use common::*;

#[tokio::test]
async fn discovery_and_jwks_describe_the_service() {
    let (_dir, service) = service();
    let doc = get(&service, "/.well-known/openid-configuration").await.json();
    assert_eq!(doc["issuer"], ISSUER);
    assert_eq!(doc["authorization_endpoint"], format!("{ISSUER}/oauth2/authorize"));
    assert_eq!(doc["token_endpoint"], format!("{ISSUER}/oauth2/token"));
    assert_eq!(doc["jwks_uri"], format!("{ISSUER}/.well-known/jwks.json"));
    assert_eq!(doc["end_session_endpoint"], format!("{ISSUER}/logout"));
    assert_eq!(doc["code_challenge_methods_supported"], serde_json::json!(["S256"]));

    let jwks = get(&service, "/.well-known/jwks.json").await.json();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["kid"], service.signing_key().kid());
    assert!(key.get("d").is_none(), "no private part is published");
}

#[tokio::test]
async fn code_and_pkce_flow_yields_cognito_shaped_tokens() {
    let (_dir, service) = service();
    let alice = service.users().get("alice").unwrap().unwrap();
    let pkce = pkce();

    let query = form(&pairs(&authorize_params(&pkce, "xyz")));
    let page = get(&service, &format!("/oauth2/authorize?{query}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    assert!(page.body.contains("name=\"username\"") && page.body.contains("name=\"password\""));
    assert!(page.body.contains(&format!("value=\"{}\"", pkce.challenge)));
    assert!(page.headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));

    let redirect = sign_in(&service, &pkce, "xyz", "alice", PASSWORD).await;
    assert_eq!(redirect.status, StatusCode::FOUND, "{}", redirect.body);
    assert!(redirect.location.as_deref().unwrap().starts_with(&format!("{REDIRECT_URI}?code=")));
    assert_eq!(redirect.location_param("state").as_deref(), Some("xyz"));
    let code = redirect.location_param("code").unwrap();

    let reply = exchange(&service, &code, &pkce.verifier, REDIRECT_URI, CLIENT_ID).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.headers["cache-control"], "no-store");
    let tokens = reply.json();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert!(tokens["refresh_token"].as_str().unwrap().len() >= 43);

    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(header_of(access), serde_json::json!({"alg": "RS256", "kid": service.signing_key().kid()}));
    let claims = payload(access);
    assert_eq!(claims["sub"], alice.sub.as_str());
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["client_id"], CLIENT_ID);
    assert_eq!(claims["token_use"], "access");
    assert_eq!(claims["scope"], "openid imgpipe/api");
    assert_eq!(claims["username"], "alice");
    assert!(claims.get("aud").is_none(), "Cognito access tokens have no aud");
    for name in ["auth_time", "exp", "iat"] {
        assert!(claims[name].is_u64(), "{name}");
    }
    assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), 3600);
    assert!(claims["jti"].is_string() && claims["origin_jti"].is_string() && claims["event_id"].is_string());

    let id = payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], CLIENT_ID);
    assert_eq!(id["token_use"], "id");
    assert_eq!(id["cognito:username"], "alice");
    assert_eq!(id["sub"], alice.sub.as_str());
    assert_eq!(id["origin_jti"], claims["origin_jti"]);
    assert!(id.get("scope").is_none());

    // The verifier accepts the access token as API Gateway would, and refuses the ID token.
    let verified = service.verifier().verify(&format!("Bearer {access}"), &["imgpipe/api"]).unwrap();
    assert_eq!(verified.sub(), Some(alice.sub.as_str()));
    assert_eq!(verified.username(), Some("alice"));
    assert_eq!(verified.claims["token_use"], "access");
    assert_eq!(verified.claims["exp"], claims["exp"].to_string());
    assert_eq!(verified.scopes, Some(vec!["openid".to_string(), "imgpipe/api".to_string()]));
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(service.verifier().verify(id_token, &["imgpipe/api"]), Err(auth::AuthError::InsufficientScope));
    assert_eq!(service.verifier().verify(id_token, &[]), Err(auth::AuthError::NotAnAccessToken));
}

#[tokio::test]
async fn without_openid_there_is_no_id_token() {
    let (_dir, service) = service();
    let pkce = pkce();
    let mut fields = authorize_params(&pkce, "s");
    fields[4].1 = "imgpipe/api".into();
    fields.push(("username", "alice".into()));
    fields.push(("password", PASSWORD.into()));
    let redirect = post_form(&service, "/oauth2/authorize", form(&pairs(&fields))).await;
    let code = redirect.location_param("code").unwrap();
    let tokens = exchange(&service, &code, &pkce.verifier, REDIRECT_URI, CLIENT_ID).await.json();
    assert!(tokens.get("id_token").is_none());
    assert_eq!(payload(tokens["access_token"].as_str().unwrap())["scope"], "imgpipe/api");
}

#[tokio::test]
async fn refresh_issues_new_tokens_until_revoked() {
    let (_dir, service) = service();
    let tokens = tokens_for_alice(&service).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let body = || form(&[("grant_type", "refresh_token"), ("client_id", CLIENT_ID), ("refresh_token", refresh)]);

    let reply = post_form(&service, "/oauth2/token", body()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let renewed = reply.json();
    assert!(renewed.get("refresh_token").is_none(), "Cognito keeps the old refresh token");
    let old = payload(tokens["access_token"].as_str().unwrap());
    let new = payload(renewed["access_token"].as_str().unwrap());
    assert_ne!(old["jti"], new["jti"]);
    assert_eq!(old["origin_jti"], new["origin_jti"]);
    assert_eq!(old["auth_time"], new["auth_time"]);
    assert!(service.verifier().verify(renewed["access_token"].as_str().unwrap(), &["openid"]).is_ok());

    // Another client cannot use it.
    let other = form(&[("grant_type", "refresh_token"), ("client_id", "someone-else"), ("refresh_token", refresh)]);
    assert_eq!(post_form(&service, "/oauth2/token", other).await.json()["error"], "invalid_client");

    let revoke = post_form(&service, "/oauth2/revoke", form(&[("token", refresh), ("client_id", CLIENT_ID)])).await;
    assert_eq!(revoke.status, StatusCode::OK);
    let reply = post_form(&service, "/oauth2/token", body()).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["error"], "invalid_grant");
}

#[tokio::test]
async fn a_removed_user_cannot_refresh_or_redeem() {
    let (_dir, service) = service();
    let tokens = tokens_for_alice(&service).await;
    let pkce = pkce();
    let code = sign_in(&service, &pkce, "s", "alice", PASSWORD).await.location_param("code").unwrap();
    service.users().remove("alice").unwrap();
    // Re-added under the same name: a new sub, so the old grants stay dead.
    service.users().add("alice", PASSWORD).unwrap();

    let refresh = form(&[
        ("grant_type", "refresh_token"),
        ("client_id", CLIENT_ID),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
    ]);
    assert_eq!(post_form(&service, "/oauth2/token", refresh).await.json()["error"], "invalid_grant");
    let reply = exchange(&service, &code, &pkce.verifier, REDIRECT_URI, CLIENT_ID).await;
    assert_eq!(reply.json()["error"], "invalid_grant");
}

#[tokio::test]
async fn a_code_is_single_use() {
    let (_dir, service) = service();
    let pkce = pkce();
    let code = sign_in(&service, &pkce, "s", "alice", PASSWORD).await.location_param("code").unwrap();
    assert_eq!(exchange(&service, &code, &pkce.verifier, REDIRECT_URI, CLIENT_ID).await.status, StatusCode::OK);
    let again = exchange(&service, &code, &pkce.verifier, REDIRECT_URI, CLIENT_ID).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.json()["error"], "invalid_grant");
}

/// Turns the right PKCE pair into the (verifier, redirect_uri, client_id) a token request sends.
type Tamper = fn(&Pkce) -> (String, String, String);

#[tokio::test]
async fn the_code_is_bound_to_verifier_redirect_uri_and_client() {
    let (_dir, service) = service();
    let cases: [(&str, Tamper); 4] = [
        ("wrong verifier", |_| (common::pkce().verifier, REDIRECT_URI.into(), CLIENT_ID.into())),
        ("malformed verifier", |_| ("short".into(), REDIRECT_URI.into(), CLIENT_ID.into())),
        ("wrong redirect_uri", |p| (p.verifier.clone(), "http://127.0.0.1:8080/other".into(), CLIENT_ID.into())),
        ("challenge sent as verifier", |p| (p.challenge.clone(), REDIRECT_URI.into(), CLIENT_ID.into())),
    ];
    for (what, tamper) in cases {
        let pkce = pkce();
        let code = sign_in(&service, &pkce, "s", "alice", PASSWORD).await.location_param("code").unwrap();
        let (verifier, redirect_uri, client_id) = tamper(&pkce);
        let reply = exchange(&service, &code, &verifier, &redirect_uri, &client_id).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{what}");
        assert_eq!(reply.json()["error"], "invalid_grant", "{what}");
        // The failed attempt burned the code: the right verifier is too late now.
        let retry = exchange(&service, &code, &pkce.verifier, REDIRECT_URI, CLIENT_ID).await;
        assert_eq!(retry.json()["error"], "invalid_grant", "{what}: code survived a failed exchange");
    }
}

#[tokio::test]
async fn the_token_endpoint_answers_oauth_errors() {
    let (_dir, service) = service();
    let pkce = pkce();
    let code = sign_in(&service, &pkce, "s", "alice", PASSWORD).await.location_param("code").unwrap();
    let unknown_client = exchange(&service, &code, &pkce.verifier, REDIRECT_URI, "not-our-client").await;
    assert_eq!(
        (unknown_client.status, unknown_client.json()["error"].clone()),
        (StatusCode::BAD_REQUEST, "invalid_client".into())
    );

    let cases = [
        (form(&[("client_id", CLIENT_ID)]), "invalid_request"),
        (form(&[("grant_type", "password"), ("client_id", CLIENT_ID)]), "unsupported_grant_type"),
        (form(&[("grant_type", "authorization_code")]), "invalid_request"),
        (form(&[("grant_type", "authorization_code"), ("client_id", CLIENT_ID), ("code", "x")]), "invalid_request"),
        (form(&[("grant_type", "refresh_token"), ("client_id", CLIENT_ID)]), "invalid_request"),
        (
            form(&[("grant_type", "refresh_token"), ("client_id", CLIENT_ID), ("refresh_token", "forged")]),
            "invalid_grant",
        ),
        (
            form(&[
                ("grant_type", "authorization_code"),
                ("client_id", CLIENT_ID),
                ("code", "forged"),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", &pkce.verifier),
            ]),
            "invalid_grant",
        ),
        ("grant_type=refresh_token&grant_type=authorization_code&client_id=imgpipe-local".into(), "invalid_request"),
        (
            format!("grant_type=refresh_token&client_id={CLIENT_ID}&refresh_token={}", "a".repeat(20_000)),
            "invalid_request",
        ),
        ("%ZZ=%%%".into(), "invalid_request"),
    ];
    for (body, error) in cases {
        let reply = post_form(&service, "/oauth2/token", body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", &body[..body.len().min(120)]);
        assert_eq!(reply.json()["error"], error, "{}", &body[..body.len().min(120)]);
    }

    // A JSON body is not a form.
    let request = axum::http::Request::post("/oauth2/token")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(r#"{"grant_type":"authorization_code"}"#))
        .unwrap();
    use tower::ServiceExt as _;
    let response = service.router().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unknown_clients_and_unregistered_redirects_are_never_redirected_to() {
    let (_dir, service) = service();
    let pkce = pkce();
    let hostile = [
        "https://evil.example/",
        "http://127.0.0.1:8080",
        "http://127.0.0.1:8080/?next=x",
        "http://127.0.0.1:8080//evil.example/",
        "http://127.0.0.1:8080/../",
        "http://127.0.0.1:8080@evil.example/",
        "http://127.0.0.1:80800/",
        "HTTP://127.0.0.1:8080/",
        "http://127.0.0.1:8080/%2e%2e/",
        "http://127.0.0.1:8080/ ",
        "//evil.example/",
        "javascript:alert(1)//",
        "",
    ];
    for uri in hostile {
        let mut fields = authorize_params(&pkce, "s");
        fields[2].1 = uri.to_string();
        let page = get(&service, &format!("/oauth2/authorize?{}", form(&pairs(&fields)))).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{uri:?}");
        assert!(page.location.is_none(), "{uri:?}");

        // Not even with good credentials.
        fields.push(("username", "alice".into()));
        fields.push(("password", PASSWORD.into()));
        let reply = post_form(&service, "/oauth2/authorize", form(&pairs(&fields))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri:?}");
        assert!(reply.location.is_none(), "{uri:?}");
    }

    for client in ["someone-else", "", "IMGPIPE-LOCAL"] {
        let mut fields = authorize_params(&pkce, "s");
        fields[1].1 = client.to_string();
        let page = get(&service, &format!("/oauth2/authorize?{}", form(&pairs(&fields)))).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{client:?}");
        assert!(page.location.is_none());
    }

    // Missing client_id or redirect_uri, a repeated parameter, garbage: a page, no redirect.
    for query in ["response_type=code", &format!("client_id={CLIENT_ID}"), "client_id=a&client_id=b", "%%%"] {
        let page = get(&service, &format!("/oauth2/authorize?{query}")).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(page.location.is_none());
    }

    // Sign-out goes only to a registered URL.
    let ok = get(&service, &format!("/logout?client_id={CLIENT_ID}&logout_uri={}", encode(REDIRECT_URI))).await;
    assert_eq!((ok.status, ok.location.as_deref()), (StatusCode::FOUND, Some(REDIRECT_URI)));
    for uri in ["https://evil.example/", "http://127.0.0.1:8080/x"] {
        let reply = get(&service, &format!("/logout?client_id={CLIENT_ID}&logout_uri={}", encode(uri))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(reply.location.is_none());
    }
    let reply = get(&service, &format!("/logout?client_id=other&logout_uri={}", encode(REDIRECT_URI))).await;
    assert!(reply.location.is_none());
}

#[tokio::test]
async fn bad_requests_from_a_trusted_client_go_back_with_an_error() {
    let (_dir, service) = service();
    let pkce = pkce();
    let cases: [(&str, &str, &str); 6] = [
        ("code_challenge_method", "plain", "invalid_request"),
        ("code_challenge_method", "", "invalid_request"),
        ("code_challenge", "too-short", "invalid_request"),
        ("response_type", "token", "unsupported_response_type"),
        ("scope", "openid admin", "invalid_scope"),
        ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c!", "invalid_request"),
    ];
    for (name, value, error) in cases {
        let mut fields = authorize_params(&pkce, "st<ate>");
        for field in &mut fields {
            if field.0 == name {
                field.1 = value.to_string();
            }
        }
        let reply = get(&service, &format!("/oauth2/authorize?{}", form(&pairs(&fields)))).await;
        assert_eq!(reply.status, StatusCode::FOUND, "{name}={value}");
        assert!(reply.location.as_deref().unwrap().starts_with(REDIRECT_URI));
        assert_eq!(reply.location_param("error").as_deref(), Some(error), "{name}={value}");
        assert_eq!(reply.location_param("state").as_deref(), Some("st<ate>"));
        assert!(reply.location_param("code").is_none());
    }
    // No PKCE at all.
    let query = format!("response_type=code&client_id={CLIENT_ID}&redirect_uri={}", encode(REDIRECT_URI));
    let reply = get(&service, &format!("/oauth2/authorize?{query}")).await;
    assert_eq!(reply.location_param("error").as_deref(), Some("invalid_request"));
    // An oversized state is not echoed anywhere.
    let mut fields = authorize_params(&pkce, &"s".repeat(5000));
    fields.truncate(7);
    let reply = get(&service, &format!("/oauth2/authorize?{}", form(&pairs(&fields)))).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.location.is_none() && !reply.body.contains("sssss"));
}

#[tokio::test]
async fn wrong_credentials_show_the_form_again_without_a_code() {
    let (_dir, service) = service();
    let pkce = pkce();
    for (username, password) in
        [("alice", "wrong password"), ("bob", PASSWORD), ("ALICE", "x"), ("alice", ""), ("", PASSWORD)]
    {
        let reply = sign_in(&service, &pkce, "s", username, password).await;
        assert!(reply.location.is_none(), "{username}/{password}");
        assert!(reply.status == StatusCode::OK || reply.status == StatusCode::BAD_REQUEST, "{}", reply.status);
        assert!(reply.body.contains("name=\"password\""));
        assert!(reply.body.contains("role=\"alert\""));
    }
    // Unknown user and wrong password read the same.
    let unknown = sign_in(&service, &pkce, "s", "nobody", PASSWORD).await;
    let wrong = sign_in(&service, &pkce, "s", "alice", "not it at all").await;
    assert!(unknown.body.contains("Incorrect username or password."));
    assert!(wrong.body.contains("Incorrect username or password."));
    // A password past the cap is refused like any wrong one.
    let huge = sign_in(&service, &pkce, "s", "alice", &"p".repeat(4000)).await;
    assert!(huge.location.is_none() && huge.body.contains("Incorrect username or password."));
    // Usernames are case-insensitive, as in Cognito.
    let upper = sign_in(&service, &pkce, "s", "ALICE", PASSWORD).await;
    assert_eq!(upper.status, StatusCode::FOUND);
}

#[tokio::test]
async fn repeated_failures_lock_the_username() {
    let (_dir, service) = service();
    let pkce = pkce();
    for _ in 0..10 {
        let reply = sign_in(&service, &pkce, "s", "alice", "wrong password").await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let locked = sign_in(&service, &pkce, "s", "alice", PASSWORD).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.location.is_none());
    assert!(locked.body.contains("Too many failed sign-in attempts"));
}

#[tokio::test]
async fn echoed_values_cannot_inject_markup() {
    let (_dir, service) = service();
    let pkce = pkce();
    let evil = "\"><script>alert(1)</script><img src=x onerror=alert(2)>'";
    let mut fields = authorize_params(&pkce, evil);
    fields.push(("nonce", evil.into()));
    let page = get(&service, &format!("/oauth2/authorize?{}", form(&pairs(&fields)))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("<script>") && !page.body.contains("<img"));
    assert!(page.body.contains("&quot;&gt;&lt;script&gt;"));

    let reply = sign_in(&service, &pkce, evil, evil, "wrong password").await;
    assert!(reply.location.is_none());
    assert!(!reply.body.contains("<script>") && !reply.body.contains("<img"));
    assert!(reply.body.contains("&lt;img src=x onerror=alert(2)&gt;&#39;"));

    let error = get(&service, &format!("/oauth2/authorize?client_id={}", encode(evil))).await;
    assert!(!error.body.contains("<script>"));
}

#[tokio::test]
async fn oversized_bodies_are_refused_unread() {
    let (_dir, service) = service();
    let pkce = pkce();
    let mut fields = authorize_params(&pkce, "s");
    fields.push(("username", "alice".into()));
    fields.push(("password", "p".repeat(100_000)));
    let reply = post_form(&service, "/oauth2/authorize", form(&pairs(&fields))).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.location.is_none());
}

#[tokio::test]
async fn issue_tokens_serves_scripts() {
    let (_dir, service) = service();
    let tokens = service.issue_tokens("alice").unwrap();
    let claims = service.verifier().verify(&tokens.access_token, &["imgpipe/api"]).unwrap();
    assert_eq!(claims.username(), Some("alice"));
    assert!(tokens.refresh_token.is_some());
    assert!(matches!(service.issue_tokens("nobody"), Err(auth::IssueError::UnknownUser(_))));
}
