//! Signed-in callers for tests that serve the API routers directly: a layer that does what API
//! Gateway's JWT authorizer (or `imgpipe serve`) does once a token is verified, attaching the
//! claims to the request context with [`imgpipe_core::http::auth::attach_jwt_claims`].

use std::collections::HashMap;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use imgpipe_core::http::auth::attach_jwt_claims;

/// The header a test names its caller's `sub` in. Only routers wrapped by [`signed_in`] read it.
pub const TEST_CALLER: &str = "x-test-caller";

/// `router` behind the authorizer's hand-off: each request's caller is the `sub` in its
/// [`TEST_CALLER`] header, else `default_sub`; with neither, the request carries no claims.
pub fn signed_in(router: axum::Router, default_sub: Option<&str>) -> axum::Router {
    let default_sub = default_sub.map(str::to_string);
    router.layer(middleware::from_fn(move |mut req: Request, next: Next| {
        let default_sub = default_sub.clone();
        async move {
            let named = req.headers().get(TEST_CALLER).and_then(|v| v.to_str().ok()).map(str::to_string);
            if let Some(sub) = named.or(default_sub) {
                let claims = HashMap::from([("sub".to_string(), sub.clone()), ("username".to_string(), sub)]);
                attach_jwt_claims(&mut req, claims, Some(vec!["imgpipe/images".to_string()]));
            }
            let response: Response = next.run(req).await;
            response
        }
    }))
}
