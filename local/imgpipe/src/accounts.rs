//! Accounts on one machine: the local sign-in service kept in `<data>/auth`, set up as the
//! page's Cognito user pool is (one public app client, the API's scope), and the way the
//! one-shot commands act as one of its users.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use auth::{AuthConfig, AuthService, User};

/// Where the sign-in service is mounted on the API's origin; the issuer is `http://HOST:PORT/auth`.
pub const AUTH_PATH: &str = "/auth";
/// The local app client (a public client: no secret, PKCE).
pub const CLIENT_ID: &str = "imgpipe-local";
/// The scope every API route requires: `template.yaml`'s `AuthorizationScopes`.
pub const API_SCOPE: &str = "imgpipe/images";
/// The scopes the client may ask for: `template.yaml`'s `AllowedOAuthScopes` and `AUTH_SCOPES`.
pub const SCOPES: [&str; 3] = ["openid", "email", API_SCOPE];
/// The user `serve` (or a first `process`) creates when there is none.
pub const INITIAL_USER: &str = "imgpipe";
/// The port whose issuer a token is minted for when no server has run on the data directory.
pub const DEFAULT_PORT: u16 = 8080;
/// The file in `<data>/auth` where `serve` records its issuer, so `users token` mints tokens
/// that server accepts.
const ISSUER_FILE: &str = "issuer";

/// The sign-in service's directory inside a data directory.
pub fn auth_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("auth")
}

/// The issuer of a server listening on `127.0.0.1:port`.
pub fn issuer_for_port(port: u16) -> String {
    format!("http://127.0.0.1:{port}{AUTH_PATH}")
}

/// The sign-in configuration of a server on `127.0.0.1:port`: its issuer, the page's own URLs as
/// callback and sign-out URLs.
pub fn auth_config(port: u16) -> AuthConfig {
    let page_urls = vec![format!("http://127.0.0.1:{port}/"), format!("http://localhost:{port}/")];
    let mut config = AuthConfig::new(issuer_for_port(port), CLIENT_ID, page_urls);
    config.scopes = SCOPES.iter().map(|s| s.to_string()).collect();
    config
}

/// Opens the sign-in service of a server on `127.0.0.1:port` and records its issuer.
pub fn open_for_server(data_dir: &Path, port: u16) -> anyhow::Result<AuthService> {
    let dir = auth_dir(data_dir);
    let service = AuthService::open(&dir, auth_config(port)).context("opening the sign-in service")?;
    crate::storage::write_private(&dir.join(ISSUER_FILE), service.config().issuer.as_bytes())?;
    Ok(service)
}

/// Opens the sign-in service for the one-shot commands, with the issuer of the last server
/// started on this data directory (port 8080 if none has run), so its tokens work there.
pub fn open(data_dir: &Path) -> anyhow::Result<AuthService> {
    let dir = auth_dir(data_dir);
    let config = match std::fs::read_to_string(dir.join(ISSUER_FILE)) {
        Ok(issuer) => {
            let mut config = auth_config(DEFAULT_PORT);
            config.issuer = issuer.trim().to_string();
            config
        }
        Err(_) => auth_config(DEFAULT_PORT),
    };
    AuthService::open(&dir, config).context("opening the sign-in service")
}

/// Creates [`INITIAL_USER`] with a random password when there are no users; returns the new
/// user and the password (to be shown once).
pub fn ensure_initial_user(service: &AuthService) -> anyhow::Result<Option<(User, String)>> {
    service.users().ensure_initial_user(INITIAL_USER).context("creating the first user")
}

/// The claims a command acting as `username` (default: the first user) presents to the API:
/// those of a freshly issued access token for that user, verified as the server verifies them.
/// With no users at all, the first user is created and its password printed on stderr.
pub fn acting_claims(service: &AuthService, username: Option<&str>) -> anyhow::Result<auth::JwtClaims> {
    let name = match username {
        Some(name) => name.to_string(),
        None => {
            if let Some((user, password)) = ensure_initial_user(service)? {
                eprintln!("{}", initial_user_notice(&user, &password));
            }
            let users = service.users().list()?;
            users.first().map(|u| u.username.clone()).context("there are no users")?
        }
    };
    let tokens = service.issue_tokens(&name).map_err(|err| match err {
        auth::IssueError::UnknownUser(name) => anyhow::anyhow!("no user {name:?} (see `imgpipe users list`)"),
        other => anyhow::Error::new(other),
    })?;
    service.verifier().verify(&tokens.access_token, &[API_SCOPE]).context("checking the command's own token")
}

/// The one-time announcement of the first user's password.
pub fn initial_user_notice(user: &User, password: &str) -> String {
    format!(
        "Created the first user: {}  password: {password}  (shown only this once; \
         more users: imgpipe users add NAME)",
        user.username
    )
}

/// Longest password line read from stdin, in bytes (a password is at most 256 characters).
const MAX_PASSWORD_LINE: u64 = 4096;

/// Reads one password line from stdin (without its line ending).
pub fn read_password_line() -> anyhow::Result<String> {
    password_line(std::io::stdin().lock())
}

/// The first line of `input` without its line ending; refuses one over [`MAX_PASSWORD_LINE`]
/// bytes (read no further) and one that is not UTF-8.
fn password_line(input: impl std::io::BufRead) -> anyhow::Result<String> {
    use std::io::BufRead as _;
    let mut line = Vec::new();
    input.take(MAX_PASSWORD_LINE + 1).read_until(b'\n', &mut line).context("reading the password")?;
    if line.len() as u64 > MAX_PASSWORD_LINE {
        anyhow::bail!("the password line is longer than {MAX_PASSWORD_LINE} bytes");
    }
    let line = String::from_utf8(line).map_err(|_| anyhow::anyhow!("the password is not UTF-8 text"))?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    Ok(line.strip_suffix('\r').unwrap_or(line).to_string())
}

/// The password of an existing user: asked without echo on a terminal, else one line of stdin.
pub fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("Password: ").context("reading the password");
    }
    read_password_line()
}

/// A new password: asked twice without echo on a terminal, else one line of stdin.
pub fn read_new_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin || !std::io::stdin().is_terminal() {
        return read_password_line();
    }
    let first = rpassword::prompt_password("Password: ").context("reading the password")?;
    let second = rpassword::prompt_password("Password again: ").context("reading the password")?;
    if first != second {
        anyhow::bail!("the passwords differ");
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_line_is_bounded_and_loses_only_its_line_ending() {
        assert_eq!(password_line(&b"secret words\nnext"[..]).unwrap(), "secret words");
        assert_eq!(password_line(&b"crlf\r\n"[..]).unwrap(), "crlf");
        assert_eq!(password_line(&b"no newline"[..]).unwrap(), "no newline");
        assert_eq!(password_line(&b"  spaces kept  \n"[..]).unwrap(), "  spaces kept  ");
        assert_eq!(password_line(&b""[..]).unwrap(), "");
        assert!(password_line(&b"\xff\xfe\n"[..]).is_err());
        let endless = std::io::repeat(b'a');
        assert!(password_line(std::io::BufReader::new(endless)).is_err(), "an endless line is refused, not read");
    }
}
