//! The local sign-in service: Amazon Cognito's endpoint shapes on one machine, and a bearer-token
//! verifier that checks tokens as API Gateway's HTTP API JWT authorizer does.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use auth::{AuthConfig, AuthService};
//! let config = AuthConfig::new("http://127.0.0.1:8080/auth", "imgpipe-local", vec!["http://127.0.0.1:8080/".into()]);
//! let service = AuthService::open("/var/lib/imgpipe/auth", config)?;
//! // The router's paths are relative to the issuer: mount it at the issuer's path.
//! let app = axum::Router::new().nest("/auth", service.router());
//! let claims = service.verifier().verify("Bearer eyJ…", &["openid"]);
//! # Ok(()) }
//! ```
//!
//! Files in the service's directory (0700): `signing-key.pem` (RS256, PKCS#8, 0600) and
//! `users.json` (argon2id hashes, 0600).

mod fs;
mod grants;
mod html;
pub mod keys;
mod routes;
mod throttle;
mod tokens;
pub mod users;
pub mod verify;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use keys::{Jwk, Jwks, KeyError, SigningKey};
pub use tokens::Tokens;
pub use users::{User, UserError, UserStore};
pub use verify::{AuthError, JwtClaims, Verifier};

/// Longest accepted access/ID token lifetime (Cognito's limit).
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);
/// Longest accepted refresh token lifetime (Cognito's limit).
pub const MAX_REFRESH_TOKEN_TTL: Duration = Duration::from_secs(3650 * 24 * 3600);

/// How the sign-in service is set up: its own URL and its one public app client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// The issuer: the URL where [`AuthService::router`] is mounted, e.g.
    /// `http://127.0.0.1:8080/auth` (no trailing slash). Every endpoint URL is derived from it
    /// and every token's `iss` is exactly this.
    pub issuer: String,
    /// The one accepted app client id (a public client: no secret, PKCE required).
    pub client_id: String,
    /// Callback URLs; a `redirect_uri` must equal one of them exactly.
    pub redirect_uris: Vec<String>,
    /// Sign-out URLs; a `/logout` `logout_uri` must equal one of them exactly.
    pub logout_uris: Vec<String>,
    /// Scopes the client may be granted; a request without `scope` gets all of them. An ID token
    /// is issued only when `openid` is granted.
    pub scopes: Vec<String>,
    /// Lifetime of access and ID tokens.
    pub token_ttl: Duration,
    /// Lifetime of refresh tokens.
    pub refresh_token_ttl: Duration,
}

impl AuthConfig {
    /// A configuration with Cognito's defaults: tokens live 1 hour, refresh tokens 30 days,
    /// scopes `openid`, sign-out URLs the same as the callback URLs.
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>, redirect_uris: Vec<String>) -> Self {
        AuthConfig {
            issuer: issuer.into(),
            client_id: client_id.into(),
            logout_uris: redirect_uris.clone(),
            redirect_uris,
            scopes: vec!["openid".to_string()],
            token_ttl: Duration::from_secs(3600),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
        }
    }

    fn validate(mut self) -> Result<Self, OpenError> {
        let bad = |what: String| Err(OpenError::Config(what));
        while self.issuer.ends_with('/') {
            self.issuer.pop();
        }
        if !is_http_url(&self.issuer) || self.issuer.contains(['?', '#']) {
            return bad(format!("issuer {:?} is not an http(s) URL without query", self.issuer));
        }
        if self.client_id.is_empty()
            || self.client_id.len() > 128
            || !self.client_id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return bad(format!("client id {:?} is not 1-128 of A-Z a-z 0-9 - _ .", self.client_id));
        }
        if self.redirect_uris.is_empty() {
            return bad("no redirect URIs".into());
        }
        for uri in self.redirect_uris.iter().chain(&self.logout_uris) {
            if !is_http_url(uri) || uri.contains('#') || uri.len() > 1024 {
                return bad(format!("redirect/logout URI {uri:?} is not an http(s) URL without fragment"));
            }
        }
        if self.scopes.iter().any(|s| s.is_empty() || s.len() > 256 || !s.chars().all(|c| c.is_ascii_graphic())) {
            return bad("a scope is empty, too long or has spaces".into());
        }
        if self.token_ttl.is_zero() || self.token_ttl > MAX_TOKEN_TTL {
            return bad("token lifetime must be more than 0 and at most 1 day".into());
        }
        if self.refresh_token_ttl.is_zero() || self.refresh_token_ttl > MAX_REFRESH_TOKEN_TTL {
            return bad("refresh token lifetime must be more than 0 and at most 10 years".into());
        }
        Ok(self)
    }
}

fn is_http_url(url: &str) -> bool {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|rest| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty() && !host.contains('@') && url.chars().all(|c| c.is_ascii_graphic())
    })
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The configuration is unusable.
    #[error("sign-in configuration: {0}")]
    Config(String),
    /// The directory could not be created or made private.
    #[error("{path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The signing key could not be loaded or created.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// Why tokens could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// No such user.
    #[error("no user {0:?}")]
    UnknownUser(String),
    /// The user store failed.
    #[error(transparent)]
    Users(#[from] UserError),
    /// Signing failed, or no randomness was available.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// The sign-in service. Cheap to clone; clones share users, keys and pending grants.
#[derive(Clone)]
pub struct AuthService {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: AuthConfig,
    pub(crate) users: UserStore,
    pub(crate) key: SigningKey,
    pub(crate) verifier: Verifier,
    pub(crate) grants: grants::Grants,
    pub(crate) throttle: throttle::Throttle,
    /// At most this many argon2 verifications run at once; others wait.
    pub(crate) hash_slots: tokio::sync::Semaphore,
    dir: PathBuf,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("dir", &self.inner.dir)
            .field("issuer", &self.inner.config.issuer)
            .field("kid", &self.inner.key.kid())
            .finish()
    }
}

impl AuthService {
    /// Opens the service kept in `dir` (created 0700 if missing, made 0700 if looser): loads the
    /// signing key or generates one, and the user store.
    pub fn open(dir: impl AsRef<Path>, config: AuthConfig) -> Result<Self, OpenError> {
        let config = config.validate()?;
        let dir = dir.as_ref().to_path_buf();
        fs::private_dir(&dir).map_err(|source| OpenError::Dir { path: dir.clone(), source })?;
        let key = SigningKey::load_or_create(&dir)?;
        let verifier = Verifier::new(config.issuer.clone(), vec![config.client_id.clone()], &key.jwks());
        let slots = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
        Ok(AuthService {
            inner: Arc::new(Inner {
                users: UserStore::new(&dir),
                key,
                verifier,
                grants: grants::Grants::default(),
                throttle: throttle::Throttle::default(),
                hash_slots: tokio::sync::Semaphore::new(slots),
                config,
                dir,
            }),
        })
    }

    /// The HTTP endpoints (paths relative to the issuer URL):
    /// `GET /.well-known/openid-configuration`, `GET /.well-known/jwks.json`,
    /// `GET|POST /oauth2/authorize` (sign-in form), `POST /oauth2/token`, `POST /oauth2/revoke`
    /// and `GET /logout`. For the client's IP to count in the sign-in throttle, serve with
    /// `into_make_service_with_connect_info::<SocketAddr>()`.
    pub fn router(&self) -> axum::Router {
        routes::router(self.inner.clone())
    }

    /// The user store.
    pub fn users(&self) -> &UserStore {
        &self.inner.users
    }

    /// The configuration in force (issuer without trailing slash).
    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    /// The signing key, e.g. for tests that need tokens with chosen claims.
    pub fn signing_key(&self) -> &SigningKey {
        &self.inner.key
    }

    /// The public keys, as served at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Jwks {
        self.inner.key.jwks()
    }

    /// A verifier for this service's access tokens: its key, its issuer, its client id as the
    /// audience.
    pub fn verifier(&self) -> Verifier {
        self.inner.verifier.clone()
    }

    /// Issues access, ID and refresh tokens for an existing user with every configured scope,
    /// as a sign-in would. The caller checks the password first (`users().verify_password`).
    pub fn issue_tokens(&self, username: &str) -> Result<Tokens, IssueError> {
        let user = self.inner.users.get(username)?.ok_or_else(|| IssueError::UnknownUser(username.to_string()))?;
        let session = tokens::Session::new(&user, &self.inner.config.client_id, self.inner.config.scopes.clone(), None);
        Ok(tokens::issue(&self.inner, &session, true)?)
    }
}
