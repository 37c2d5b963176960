//! Files in the data dir: modes, persistence, the user store's rules, hostile file contents.

mod common;

use std::os::unix::fs::PermissionsExt;

use auth::{AuthService, OpenError, UserError};
use common::*;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_directory_is_0700_and_the_files_0600() {
    let (dir, service) = service();
    let auth_dir = dir.path().join("auth");
    assert_eq!(mode(&auth_dir), 0o700);
    assert_eq!(mode(&auth_dir.join("signing-key.pem")), 0o600);
    assert_eq!(mode(&auth_dir.join("users.json")), 0o600);
    // Atomic writes leave no temporary files behind.
    let names: Vec<_> = std::fs::read_dir(&auth_dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 2, "{names:?}");

    // Loosened by hand: tightened again on the next open and the next read.
    std::fs::set_permissions(&auth_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(auth_dir.join("signing-key.pem"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(auth_dir.join("users.json"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let reopened = AuthService::open(&auth_dir, config()).unwrap();
    assert_eq!(mode(&auth_dir), 0o700);
    assert_eq!(mode(&auth_dir.join("signing-key.pem")), 0o600);
    reopened.users().list().unwrap();
    assert_eq!(mode(&auth_dir.join("users.json")), 0o600);
    drop(service);
}

#[test]
fn the_key_and_users_survive_a_restart() {
    let (dir, first) = service();
    let auth_dir = dir.path().join("auth");
    let token = first.issue_tokens("alice").unwrap().access_token;
    let alice = first.users().get("alice").unwrap().unwrap();
    drop(first);

    let second = AuthService::open(&auth_dir, config()).unwrap();
    assert_eq!(second.users().get("alice").unwrap(), Some(alice.clone()));
    let claims = second.verifier().verify(&token, &["openid"]).unwrap();
    assert_eq!(claims.sub(), Some(alice.sub.as_str()));

    let pem = std::fs::read_to_string(auth_dir.join("signing-key.pem")).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
}

#[test]
fn passwords_are_stored_as_argon2id_hashes_only() {
    let (dir, service) = service();
    service.users().add("bob", "another secret phrase").unwrap();
    let file = std::fs::read_to_string(dir.path().join("auth/users.json")).unwrap();
    assert!(!file.contains(PASSWORD) && !file.contains("another secret phrase"));
    assert_eq!(file.matches("$argon2id$v=19$").count(), 2);
}

#[test]
fn users_are_added_listed_checked_and_removed() {
    let (_dir, service) = service();
    let users = service.users();
    let bob = users.add("Bob.Smith@example.com", "bob's password").unwrap();
    assert_eq!(bob.sub.len(), 36);
    let names: Vec<_> = users.list().unwrap().into_iter().map(|u| u.username).collect();
    assert_eq!(names, ["alice", "Bob.Smith@example.com"]);

    assert_eq!(users.verify_password("bob.smith@EXAMPLE.com", "bob's password").unwrap(), bob);
    assert!(matches!(
        users.verify_password("Bob.Smith@example.com", "bob's passworD"),
        Err(UserError::InvalidCredentials)
    ));
    assert!(matches!(users.verify_password("nobody", "bob's password"), Err(UserError::InvalidCredentials)));
    assert!(matches!(users.verify_password("alice", &"x".repeat(257)), Err(UserError::InvalidCredentials)));

    assert!(matches!(users.add("ALICE", "whatever123"), Err(UserError::Exists(_))));
    assert!(matches!(users.add("eve", "short"), Err(UserError::InvalidPassword(_))));
    assert!(matches!(users.add("eve", &"p".repeat(257)), Err(UserError::InvalidPassword(_))));
    assert!(matches!(users.add("eve smith", "long enough"), Err(UserError::InvalidUsername(_))));
    assert!(matches!(users.add("<script>", "long enough"), Err(UserError::InvalidUsername(_))));
    assert!(matches!(users.add(&"e".repeat(129), "long enough"), Err(UserError::InvalidUsername(_))));

    assert_eq!(users.remove("BOB.smith@example.com").unwrap(), bob);
    assert!(matches!(users.remove("Bob.Smith@example.com"), Err(UserError::NotFound(_))));
    assert!(matches!(
        users.verify_password("Bob.Smith@example.com", "bob's password"),
        Err(UserError::InvalidCredentials)
    ));
    // A new user under an old name gets a new sub: nothing of the old owner carries over.
    let again = users.add("Bob.Smith@example.com", "bob's password").unwrap();
    assert_ne!(again.sub, bob.sub);
}

#[test]
fn the_first_user_is_created_once_with_a_random_password() {
    let dir = TempDir::new();
    let service = AuthService::open(dir.path(), config()).unwrap();
    let (user, password) = service.users().ensure_initial_user("admin").unwrap().unwrap();
    assert_eq!(user.username, "admin");
    assert_eq!(password.len(), 20);
    assert!(service.users().verify_password("admin", &password).is_ok());
    assert!(service.users().ensure_initial_user("admin").unwrap().is_none());
    assert!(service.users().ensure_initial_user("other").unwrap().is_none());
    assert_eq!(service.users().list().unwrap().len(), 1);
}

#[test]
fn a_damaged_user_file_is_reported_and_left_alone() {
    let (dir, service) = service();
    let path = dir.path().join("auth/users.json");
    for damage in ["", "{", "[]", r#"{"version":2,"users":[]}"#, "\u{0}\u{1}binary"] {
        std::fs::write(&path, damage).unwrap();
        assert!(matches!(service.users().list(), Err(UserError::Corrupt { .. })), "{damage:?}");
        assert!(matches!(service.users().add("carol", "long enough"), Err(UserError::Corrupt { .. })));
        assert!(matches!(service.users().verify_password("alice", PASSWORD), Err(UserError::Corrupt { .. })));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), damage, "the file was overwritten");
    }
    // An oversized file is refused without being parsed.
    let big = std::fs::File::create(&path).unwrap();
    big.set_len(17 * 1024 * 1024).unwrap();
    assert!(matches!(service.users().list(), Err(UserError::Io { .. })));
}

#[test]
fn a_damaged_key_file_stops_the_start() {
    let dir = TempDir::new();
    std::fs::create_dir_all(dir.path()).unwrap();
    for damage in ["", "not a key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"] {
        std::fs::write(dir.path().join("signing-key.pem"), damage).unwrap();
        assert!(matches!(AuthService::open(dir.path(), config()), Err(OpenError::Key(_))), "{damage:?}");
        assert_eq!(std::fs::read_to_string(dir.path().join("signing-key.pem")).unwrap(), damage);
    }
}

type Change = Box<dyn Fn(&mut auth::AuthConfig)>;

#[test]
fn unusable_configurations_are_refused() {
    let dir = TempDir::new();
    let cases: Vec<(&str, Change)> = vec![
        ("issuer not a URL", Box::new(|c| c.issuer = "127.0.0.1:8080".into())),
        ("issuer with a query", Box::new(|c| c.issuer = "http://h/auth?x=1".into())),
        ("no client id", Box::new(|c| c.client_id = String::new())),
        ("client id with spaces", Box::new(|c| c.client_id = "a b".into())),
        ("no redirect URIs", Box::new(|c| c.redirect_uris.clear())),
        ("redirect URI with fragment", Box::new(|c| c.redirect_uris = vec!["http://h/#x".into()])),
        ("redirect URI not http", Box::new(|c| c.redirect_uris = vec!["javascript:alert(1)".into()])),
        ("logout URI with userinfo", Box::new(|c| c.logout_uris = vec!["http://a@b/".into()])),
        ("zero token lifetime", Box::new(|c| c.token_ttl = std::time::Duration::ZERO)),
        ("two-day tokens", Box::new(|c| c.token_ttl = std::time::Duration::from_secs(2 * 86400))),
        ("scope with a space", Box::new(|c| c.scopes = vec!["a b".into()])),
    ];
    for (what, change) in cases {
        let mut config = config();
        change(&mut config);
        assert!(matches!(AuthService::open(dir.path(), config), Err(OpenError::Config(_))), "{what}");
    }
    // A trailing slash on the issuer is dropped.
    let mut config = config();
    config.issuer = format!("{ISSUER}/");
    assert_eq!(AuthService::open(dir.path(), config).unwrap().config().issuer, ISSUER);
}
