//! Object versions, for the buckets configured as versioned. Every write gets a fresh version id
//! and a copy of what it wrote kept beside the object, inside the bucket's directory:
//! `<key file name>.version-<id>`, listed oldest first in `<key file name>.versions`. A key's
//! file name is a SHA-256 (see [`crate::keys`]), so no key can name these files, and a version id
//! is checked for S3's form before it comes near a path and looked up in that key's own list.
//! The newest [`MAX_VERSIONS_PER_KEY`] versions of a key are kept, until the key is deleted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use base64::Engine as _;
use s3s::{s3_error, S3Error, S3Result};

use crate::keys;

/// How many versions of one key are kept; a write past this drops the oldest.
pub(crate) const MAX_VERSIONS_PER_KEY: usize = 16;

/// Length of the version ids this endpoint hands out.
const ID_LEN: usize = 32;

/// A fresh version id: 32 URL-safe characters from 24 random bytes, like S3's in form.
pub(crate) fn new_id() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>())
}

fn is_id(text: &str) -> bool {
    text.len() == ID_LEN && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The version a request names with `versionId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Wanted {
    /// `null`: the object written while the bucket kept no versions.
    Null,
    Id(String),
}

/// Checks a request's `versionId` as S3 does: empty or not of S3's form is `InvalidArgument`.
pub(crate) fn parse(requested: &str) -> S3Result<Wanted> {
    if requested.is_empty() {
        return Err(s3_error!(InvalidArgument, "Version id cannot be the empty string"));
    }
    if requested == "null" {
        return Ok(Wanted::Null);
    }
    if !is_id(requested) {
        return Err(s3_error!(InvalidArgument, "Invalid version id specified"));
    }
    Ok(Wanted::Id(requested.to_owned()))
}

/// S3's answer for a version that does not exist.
pub(crate) fn no_such_version() -> S3Error {
    s3_error!(NoSuchVersion, "The specified version does not exist.")
}

/// The stored name (inside the bucket) of one version of `key`.
pub(crate) fn stored_name(key: &str, id: &str) -> String {
    format!("{}.version-{id}", keys::file_name(key))
}

fn list_path(root: &Path, bucket: &str, key: &str) -> PathBuf {
    keys::bucket_dir(root, bucket).join(format!("{}.versions", keys::file_name(key)))
}

fn io_error(err: std::io::Error) -> S3Error {
    s3_error!(InternalError, "cannot read or write the object's versions: {err}")
}

/// The kept version ids of `key`, oldest first (none if it has no list).
pub(crate) async fn list(root: &Path, bucket: &str, key: &str) -> S3Result<Vec<String>> {
    match tokio::fs::read_to_string(list_path(root, bucket, key)).await {
        Ok(text) => Ok(text.lines().filter(|line| is_id(line)).map(str::to_owned).collect()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(err) => Err(io_error(err)),
    }
}

/// Replaces the version list of `key` at once (readers see the old or the new list); an empty
/// list removes the file. Only under the key's [`KeyLocks`] lock.
pub(crate) async fn save(root: &Path, bucket: &str, key: &str, ids: &[String]) -> S3Result<()> {
    let path = list_path(root, bucket, key);
    if ids.is_empty() {
        return match tokio::fs::remove_file(&path).await {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(io_error(err)),
            _ => Ok(()),
        };
    }
    let temporary = path.with_extension("versions-new");
    let text: String = ids.iter().map(|id| format!("{id}\n")).collect();
    tokio::fs::write(&temporary, text).await.map_err(io_error)?;
    tokio::fs::rename(&temporary, &path).await.map_err(io_error)
}

/// One lock per object key, so that the writes and deletes of a key (and the version list they
/// keep) happen one at a time; writes to other keys do not wait.
#[derive(Default)]
pub(crate) struct KeyLocks(Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>);

impl KeyLocks {
    pub(crate) async fn lock(&self, bucket: &str, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            locks.retain(|_, lock| lock.strong_count() > 0);
            let name = format!("{bucket}/{}", keys::file_name(key));
            match locks.get(&name).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(name, Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_fresh_url_safe_and_of_s3_length() {
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| new_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| is_id(id)), "{ids:?}");
    }

    #[test]
    fn requested_ids_are_checked_before_use() {
        let id = new_id();
        assert_eq!(parse(&id).unwrap(), Wanted::Id(id.clone()));
        assert_eq!(parse("null").unwrap(), Wanted::Null);
        let long = "a".repeat(100_000);
        for bad in ["", "../x", "a\0b", &long, &format!("{}/", &id[..31]), &format!("{id}a"), "NULL", &id[..31]] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.code(), &s3s::S3ErrorCode::InvalidArgument, "{bad:.40}");
        }
        assert!(stored_name("k", &id).starts_with(&keys::file_name("k")));
    }

    #[tokio::test]
    async fn key_locks_serialize_one_key_only() {
        let locks = KeyLocks::default();
        let held = locks.lock("b", "k").await;
        let other = tokio::time::timeout(std::time::Duration::from_millis(200), locks.lock("b", "other")).await;
        assert!(other.is_ok(), "another key must not wait");
        let same = tokio::time::timeout(std::time::Duration::from_millis(200), locks.lock("b", "k")).await;
        assert!(same.is_err(), "the same key must wait");
        drop(held);
        assert!(tokio::time::timeout(std::time::Duration::from_millis(200), locks.lock("b", "k")).await.is_ok());
    }
}
