//! The user store: `users.json` in the service's directory (0600, replaced atomically), passwords
//! as argon2id PHC strings, a stable `sub` (UUID) per user.
//!
//! Every call reads the file afresh, so `imgpipe users add` in another process is seen by a
//! running server at once. Usernames compare case-insensitively, as in a new Cognito user pool.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};

use crate::fs;

/// File name of the user store inside the service's directory.
pub const USERS_FILE: &str = "users.json";
/// Longest username, in characters (Cognito's limit).
pub const MAX_USERNAME_CHARS: usize = 128;
/// Shortest password accepted by [`UserStore::add`].
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password, in characters (Cognito's limit); longer ones are refused before any hashing.
pub const MAX_PASSWORD_CHARS: usize = 256;
const MAX_PASSWORD_BYTES: usize = MAX_PASSWORD_CHARS * 4;
/// A user entry is about 250 bytes, so this allows tens of thousands of users.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
const FILE_VERSION: u32 = 1;
/// Upper bounds on argon2 parameters read from the file, so a doctored hash cannot make one
/// verification take gigabytes or minutes.
const MAX_HASH_MEMORY_KIB: u32 = 256 * 1024;
const MAX_HASH_PASSES: u32 = 16;

/// A fault with the user store or a user operation.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The username is empty, too long or has a character outside `A-Z a-z 0-9 . _ @ + -`.
    #[error("invalid username: {0}")]
    InvalidUsername(String),
    /// The password is too short or too long.
    #[error("invalid password: {0}")]
    InvalidPassword(String),
    /// A user with this name (compared case-insensitively) exists already.
    #[error("user {0:?} exists already")]
    Exists(String),
    /// No user has this name.
    #[error("no user {0:?}")]
    NotFound(String),
    /// Wrong username or password (which one is not said).
    #[error("incorrect username or password")]
    InvalidCredentials,
    /// The store could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The store is not a user file this version understands; it is left untouched.
    #[error("{path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Hashing a password failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// A user as others see it: no password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// The name the user signs in with.
    pub username: String,
    /// The stable subject id (a UUID), the `sub` claim and the owner of the user's images.
    pub sub: String,
    /// When the user was added, in seconds since the Unix epoch.
    pub created_at: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredUser {
    username: String,
    sub: String,
    password_hash: String,
    created_at: u64,
}

impl StoredUser {
    fn public(&self) -> User {
        User { username: self.username.clone(), sub: self.sub.clone(), created_at: self.created_at }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct UsersFile {
    version: u32,
    users: Vec<StoredUser>,
}

/// The users of the local sign-in service.
#[derive(Debug)]
pub struct UserStore {
    path: PathBuf,
    write_lock: Mutex<()>,
    dummy_hash: OnceLock<String>,
}

impl UserStore {
    /// A store kept in `dir/users.json`; `dir` must exist (see [`crate::AuthService::open`]).
    pub(crate) fn new(dir: &Path) -> Self {
        UserStore { path: dir.join(USERS_FILE), write_lock: Mutex::new(()), dummy_hash: OnceLock::new() }
    }

    /// Adds a user with a fresh `sub`; the password is stored only as an argon2id hash.
    pub fn add(&self, username: &str, password: &str) -> Result<User, UserError> {
        validate_username(username)?;
        validate_new_password(password)?;
        let password_hash = hash_password(password)?;
        let _guard = self.write_lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut file = self.read()?;
        if find(&file.users, username).is_some() {
            return Err(UserError::Exists(username.to_string()));
        }
        let user = self.append(&mut file, username, password_hash)?;
        Ok(user.public())
    }

    /// If there are no users at all, adds `username` with a random password and returns that
    /// password (to be shown once); otherwise returns `None` and changes nothing.
    pub fn ensure_initial_user(&self, username: &str) -> Result<Option<(User, String)>, UserError> {
        validate_username(username)?;
        let _guard = self.write_lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut file = self.read()?;
        if !file.users.is_empty() {
            // Checked before hashing: a start with users costs no argon2 work.
            return Ok(None);
        }
        let password = generate_password();
        let password_hash = hash_password(&password)?;
        let user = self.append(&mut file, username, password_hash)?;
        Ok(Some((user.public(), password)))
    }

    /// All users, oldest first.
    pub fn list(&self) -> Result<Vec<User>, UserError> {
        Ok(self.read()?.users.iter().map(StoredUser::public).collect())
    }

    /// The user with this name (case-insensitive), if any.
    pub fn get(&self, username: &str) -> Result<Option<User>, UserError> {
        Ok(find(&self.read()?.users, username).map(StoredUser::public))
    }

    /// Removes a user. Tokens already issued stay valid until they expire; refresh is refused.
    pub fn remove(&self, username: &str) -> Result<User, UserError> {
        let _guard = self.write_lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut file = self.read()?;
        let index = file
            .users
            .iter()
            .position(|user| user.username.eq_ignore_ascii_case(username))
            .ok_or_else(|| UserError::NotFound(username.to_string()))?;
        let removed = file.users.remove(index);
        self.write(&file)?;
        Ok(removed.public())
    }

    /// Checks a username and password. An unknown user costs the same hashing work as a known
    /// one and gets the same error, so the answer does not tell which usernames exist.
    /// This is CPU-heavy (argon2id): call it off the async runtime.
    pub fn verify_password(&self, username: &str, password: &str) -> Result<User, UserError> {
        if password.is_empty() || password.len() > MAX_PASSWORD_BYTES || password.chars().count() > MAX_PASSWORD_CHARS {
            return Err(UserError::InvalidCredentials);
        }
        let file = self.read()?;
        let Some(user) = find(&file.users, username) else {
            let _ = verify_hash(self.dummy_hash(), password);
            return Err(UserError::InvalidCredentials);
        };
        match verify_hash(&user.password_hash, password) {
            Ok(true) => Ok(user.public()),
            Ok(false) => Err(UserError::InvalidCredentials),
            Err(reason) => Err(UserError::Corrupt { path: self.path.clone(), reason }),
        }
    }

    fn dummy_hash(&self) -> &str {
        self.dummy_hash.get_or_init(|| hash_password(&generate_password()).unwrap_or_default())
    }

    /// Adds a new user with a fresh `sub` to `file` and writes it (the caller holds the write lock).
    fn append(&self, file: &mut UsersFile, username: &str, password_hash: String) -> Result<StoredUser, UserError> {
        let user = StoredUser {
            username: username.to_string(),
            sub: uuid::Uuid::new_v4().to_string(),
            password_hash,
            created_at: now_secs(),
        };
        file.users.push(user.clone());
        self.write(file)?;
        Ok(user)
    }

    fn read(&self) -> Result<UsersFile, UserError> {
        let io = |source| UserError::Io { path: self.path.clone(), source };
        let Some(bytes) = fs::read_bounded(&self.path, MAX_FILE_BYTES).map_err(io)? else {
            return Ok(UsersFile { version: FILE_VERSION, users: Vec::new() });
        };
        fs::tighten_file(&self.path).map_err(io)?;
        let corrupt = |reason: String| UserError::Corrupt { path: self.path.clone(), reason };
        let file: UsersFile = serde_json::from_slice(&bytes).map_err(|err| corrupt(err.to_string()))?;
        if file.version != FILE_VERSION {
            return Err(corrupt(format!("unknown version {}", file.version)));
        }
        Ok(file)
    }

    fn write(&self, file: &UsersFile) -> Result<(), UserError> {
        let bytes = serde_json::to_vec_pretty(file)
            .map_err(|err| UserError::Corrupt { path: self.path.clone(), reason: err.to_string() })?;
        fs::write_atomic(&self.path, &bytes).map_err(|source| UserError::Io { path: self.path.clone(), source })
    }
}

fn find<'a>(users: &'a [StoredUser], username: &str) -> Option<&'a StoredUser> {
    users.iter().find(|user| user.username.eq_ignore_ascii_case(username))
}

/// Checks a username: 1 to 128 characters from `A-Z a-z 0-9 . _ @ + -`.
pub fn validate_username(username: &str) -> Result<(), UserError> {
    if username.is_empty() {
        return Err(UserError::InvalidUsername("empty".into()));
    }
    if username.len() > MAX_USERNAME_CHARS {
        return Err(UserError::InvalidUsername(format!("longer than {MAX_USERNAME_CHARS} characters")));
    }
    if let Some(bad) = username.chars().find(|c| !(c.is_ascii_alphanumeric() || "._@+-".contains(*c))) {
        return Err(UserError::InvalidUsername(format!(
            "character {bad:?} is not allowed (use A-Z a-z 0-9 . _ @ + -)"
        )));
    }
    Ok(())
}

fn validate_new_password(password: &str) -> Result<(), UserError> {
    let chars = password.chars().take(MAX_PASSWORD_CHARS + 1).count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(UserError::InvalidPassword(format!("shorter than {MIN_PASSWORD_CHARS} characters")));
    }
    if chars > MAX_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(UserError::InvalidPassword(format!("longer than {MAX_PASSWORD_CHARS} characters")));
    }
    Ok(())
}

/// A random 20-character password from `A-Z a-z 0-9` (about 119 bits).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut password = String::with_capacity(20);
    while password.len() < 20 {
        let mut bytes = [0u8; 32];
        if aws_lc_rs::rand::fill(&mut bytes).is_err() {
            continue;
        }
        // Rejection sampling keeps every character equally likely: 248 = 4 * 62.
        for byte in bytes.into_iter().filter(|b| *b < 248) {
            if password.len() < 20 {
                password.push(char::from(ALPHABET[usize::from(byte % 62)]));
            }
        }
    }
    password
}

fn hash_password(password: &str) -> Result<String, UserError> {
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut salt).map_err(|_| UserError::Hash("no randomness for a salt".into()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|err| UserError::Hash(err.to_string()))?;
    // Argon2::default() is argon2id v19, m=19 MiB, t=2, p=1 (the OWASP recommendation).
    let hash =
        Argon2::default().hash_password(password.as_bytes(), &salt).map_err(|err| UserError::Hash(err.to_string()))?;
    Ok(hash.to_string())
}

/// `Ok(true)` on a match, `Ok(false)` on a mismatch, `Err` if the stored hash is unusable.
fn verify_hash(stored: &str, password: &str) -> Result<bool, String> {
    let hash = PasswordHash::new(stored).map_err(|err| format!("bad password hash: {err}"))?;
    if hash.algorithm != argon2::ARGON2ID_IDENT {
        return Err(format!("password hash is {}, not argon2id", hash.algorithm));
    }
    let params = argon2::Params::try_from(&hash).map_err(|err| format!("bad password hash: {err}"))?;
    if params.m_cost() > MAX_HASH_MEMORY_KIB || params.t_cost() > MAX_HASH_PASSES {
        return Err("password hash parameters are out of bounds".into());
    }
    match Argon2::default().verify_password(password.as_bytes(), &hash) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(err) => Err(format!("password check failed: {err}")),
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_checked() {
        for good in ["a", "alice", "a.b_c@d+e-f", &"x".repeat(128)] {
            assert!(validate_username(good).is_ok(), "{good}");
        }
        for bad in ["", &"x".repeat(129), "a b", "a/b", "a<b>", "é", "a\0", "a\n"] {
            assert!(matches!(validate_username(bad), Err(UserError::InvalidUsername(_))), "{bad:?}");
        }
    }

    #[test]
    fn generated_passwords_differ_and_use_the_alphabet() {
        let a = generate_password();
        let b = generate_password();
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn hashes_are_argon2id_phc_and_salted() {
        let one = hash_password("correct horse").unwrap();
        let two = hash_password("correct horse").unwrap();
        assert!(one.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{one}");
        assert_ne!(one, two);
        assert_eq!(verify_hash(&one, "correct horse"), Ok(true));
        assert_eq!(verify_hash(&one, "correct horsf"), Ok(false));
    }

    #[test]
    fn doctored_hashes_are_refused_without_running_them() {
        let huge =
            "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXphYmNkZWY";
        assert!(verify_hash(huge, "x").is_err());
        let argon2i =
            "$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXphYmNkZWY";
        assert!(verify_hash(argon2i, "x").is_err());
        assert!(verify_hash("plain text", "plain text").is_err());
    }
}
