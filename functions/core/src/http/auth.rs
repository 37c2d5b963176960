//! Who is calling: the claims API Gateway's JWT authorizer verified, read from the request
//! context exactly where `lambda_http` puts them on AWS. The local server verifies the token
//! itself and attaches the same context with [`attach_jwt_claims`], so the handlers see one shape.
//! Nothing here reads an identity from the request's own headers or body.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription, ApiGatewayV2httpRequestContext,
};
use lambda_http::request::RequestContext;

use super::{ApiError, ErrorCode};

/// Longest `sub` accepted, in bytes (Cognito's are 36-character UUIDs).
const MAX_SUB_BYTES: usize = 128;

/// The signed-in caller, from the authorizer's verified claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user's stable id (`sub`): the owner of everything they upload.
    pub sub: String,
    /// `username` (access tokens) or `cognito:username` (id tokens), for display only.
    pub username: Option<String>,
    /// The token's scopes.
    pub scopes: Vec<String>,
}

impl Caller {
    /// The caller in a request context, if it carries verified JWT claims with a usable `sub`.
    pub fn from_context(context: &RequestContext) -> Option<Caller> {
        #[allow(irrefutable_let_patterns)]
        let RequestContext::ApiGatewayV2(ctx) = context
        else {
            return None;
        };
        let jwt = ctx.authorizer.as_ref()?.jwt.as_ref()?;
        let sub = jwt.claims.get("sub").map(|s| s.trim()).filter(|s| is_usable_sub(s))?;
        let username =
            jwt.claims.get("username").or_else(|| jwt.claims.get("cognito:username")).filter(|u| !u.is_empty());
        let scopes = match &jwt.scopes {
            Some(scopes) => scopes.clone(),
            None => {
                jwt.claims.get("scope").map(|s| s.split_whitespace().map(str::to_string).collect()).unwrap_or_default()
            }
        };
        Some(Caller { sub: sub.to_string(), username: username.cloned(), scopes })
    }
}

/// A `sub` that can name an owner: non-empty, bounded, printable, and without `#`, the key
/// separator of the table's partition keys.
fn is_usable_sub(sub: &str) -> bool {
    !sub.is_empty() && sub.len() <= MAX_SUB_BYTES && !sub.chars().any(|c| c.is_control() || c == '#')
}

/// The answer when there is no verified caller: 401 with `WWW-Authenticate: Bearer`.
#[derive(Debug)]
pub struct Unauthorized;

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        let error = ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: ErrorCode::Unauthorized,
            message: "Sign in to use this; the request carried no valid access token.".into(),
        };
        let mut response = error.into_response();
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        response
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Unauthorized;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<RequestContext>().and_then(Caller::from_context).ok_or(Unauthorized)
    }
}

/// Puts verified JWT claims on a request in the shape a Lambda behind an HTTP API JWT
/// authorizer receives them (`requestContext.authorizer.jwt`). Only for claims already verified:
/// the local server after checking the token, and tests.
pub fn attach_jwt_claims<B>(req: &mut http::Request<B>, claims: HashMap<String, String>, scopes: Option<Vec<String>>) {
    let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
    jwt.claims = claims;
    jwt.scopes = scopes;
    let mut authorizer = ApiGatewayRequestAuthorizer::default();
    authorizer.jwt = Some(jwt);
    let mut ctx = ApiGatewayV2httpRequestContext::default();
    ctx.authorizer = Some(authorizer);
    ctx.http.method = req.method().clone();
    ctx.http.path = Some(req.uri().path().to_string());
    req.extensions_mut().insert(RequestContext::ApiGatewayV2(ctx));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller_of(claims: &[(&str, &str)], scopes: Option<Vec<String>>) -> Result<Caller, u16> {
        let mut req = http::Request::new(());
        let claims = claims.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        attach_jwt_claims(&mut req, claims, scopes);
        let (mut parts, ()) = req.into_parts();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(Caller::from_request_parts(&mut parts, &())).map_err(|e| e.into_response().status().as_u16())
    }

    #[test]
    fn reads_sub_username_and_scopes_from_the_authorizer_context() {
        let caller = caller_of(&[("sub", "u-1"), ("username", "ana"), ("scope", "a b")], None).unwrap();
        assert_eq!(
            caller,
            Caller { sub: "u-1".into(), username: Some("ana".into()), scopes: vec!["a".into(), "b".into()] }
        );
        let caller = caller_of(&[("sub", "u-2"), ("cognito:username", "bo")], Some(vec!["x".into()])).unwrap();
        assert_eq!((caller.username.as_deref(), caller.scopes), (Some("bo"), vec!["x".to_string()]));
    }

    #[test]
    fn no_context_or_no_usable_sub_is_401_with_a_bearer_challenge() {
        let (mut parts, ()) = http::Request::new(()).into_parts();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let response = rt.block_on(Caller::from_request_parts(&mut parts, &())).unwrap_err().into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
        let long = "x".repeat(MAX_SUB_BYTES + 1);
        for claims in [
            vec![],
            vec![("sub", "")],
            vec![("sub", "  ")],
            vec![("sub", "a#b")],
            vec![("sub", "a\nb")],
            vec![("sub", long.as_str())],
            vec![("username", "ana")],
        ] {
            assert_eq!(caller_of(&claims, None), Err(401), "{claims:?}");
        }
    }
}
