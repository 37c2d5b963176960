//! `imgpipe users add|list|remove|token`: the local sign-in service's accounts, straight in the
//! data directory (a running server sees changes at once).

use std::path::Path;
use std::process::ExitCode;

use auth::UserError;

use crate::accounts;
use crate::cli::UsersCommand;

/// Runs a `users` subcommand on `data_dir`.
pub async fn run(command: UsersCommand, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let service = accounts::open(data_dir)?;
    match command {
        UsersCommand::Add { name, password_stdin } => {
            auth::users::validate_username(&name)?;
            let password = accounts::read_new_password(password_stdin)?;
            let user = blocking(move || service.users().add(&name, &password)).await?;
            println!("added {} (sub {})", user.username, user.sub);
        }
        UsersCommand::List { json } => {
            let users = service.users().list()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                println!("{:<32} {:<36}  CREATED", "USERNAME", "SUB");
                for user in users {
                    println!("{:<32} {:<36}  {}", user.username, user.sub, created(user.created_at));
                }
            }
        }
        UsersCommand::Remove { name } => {
            let user = service.users().remove(&name)?;
            println!(
                "removed {} (sub {}); their images stay, and tokens already issued work until they expire",
                user.username, user.sub
            );
        }
        UsersCommand::Token { name } => {
            let password = accounts::read_password()?;
            let checker = service.clone();
            let checked = blocking(move || checker.users().verify_password(&name, &password)).await;
            let user = match checked {
                Err(UserError::InvalidCredentials) => {
                    eprintln!("error: incorrect username or password");
                    return Ok(ExitCode::from(1));
                }
                other => other?,
            };
            let tokens = service.issue_tokens(&user.username)?;
            println!("{}", tokens.access_token);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs argon2 work off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, UserError> + Send + 'static,
) -> Result<T, UserError> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|err| Err(UserError::Hash(err.to_string())))
}

/// Seconds since the epoch as an RFC 3339 UTC time.
fn created(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| secs.to_string())
}
