//! Object keys as opaque strings. s3s-fs maps a key to a file path, so `../` in a key reached other
//! buckets and the store's own files, and keys such as `a` and `a/b`, absolute keys or NUL bytes
//! could not be stored. Here every key S3 accepts becomes one flat file name inside its bucket:
//! the SHA-256 of the key, with the key itself kept beside it (`<name>.key`) for listings.

use std::path::{Path, PathBuf};

use s3s::{s3_error, S3Result};
use sha2::{Digest, Sha256};

/// S3's limit on a key: 1024 bytes of UTF-8.
pub(crate) const MAX_KEY_BYTES: usize = 1024;

/// Suffix of the file that holds an object's key.
const KEY_SUFFIX: &str = ".key";

/// Refuses what S3 refuses: empty keys and keys over 1024 bytes.
pub(crate) fn check(key: &str) -> S3Result<()> {
    if key.is_empty() {
        return Err(s3_error!(InvalidArgument, "The object key must not be empty."));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(s3_error!(KeyTooLongError, "Your key is too long"));
    }
    Ok(())
}

/// The file name (inside the bucket directory) that stores `key`: 64 hex digits.
pub(crate) fn file_name(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn is_file_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A name as S3 writes it under `encoding-type=url`: form encoding (space as `+`), `/` kept.
pub(crate) fn url_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for &b in name.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Where the objects of `bucket` live.
pub(crate) fn bucket_dir(root: &Path, bucket: &str) -> PathBuf {
    root.join(bucket)
}

/// Records the key of an object about to be written (before the data, so a listing never misses
/// a stored object; a key file without data is skipped by listings).
pub(crate) async fn remember(root: &Path, bucket: &str, key: &str) -> S3Result<()> {
    let path = bucket_dir(root, bucket).join(format!("{}{KEY_SUFFIX}", file_name(key)));
    tokio::fs::write(&path, key.as_bytes()).await.map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound => s3_error!(NoSuchBucket),
        _ => s3_error!(InternalError, "cannot record the object key: {err}"),
    })
}

/// Forgets the key of a deleted object.
pub(crate) async fn forget(root: &Path, bucket: &str, key: &str) {
    let path = bucket_dir(root, bucket).join(format!("{}{KEY_SUFFIX}", file_name(key)));
    if let Err(err) = tokio::fs::remove_file(&path).await {
        if err.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(error = %err, "cannot remove an object's key file");
        }
    }
}

/// One stored object, as a listing sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stored {
    pub key: String,
    pub size: u64,
    pub last_modified: std::time::SystemTime,
}

/// Every object of `bucket`, sorted by key.
pub(crate) async fn all(root: &Path, bucket: &str) -> S3Result<Vec<Stored>> {
    let dir = bucket_dir(root, bucket);
    let mut entries = tokio::fs::read_dir(&dir).await.map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound => s3_error!(NoSuchBucket),
        _ => s3_error!(InternalError, "cannot list the bucket: {err}"),
    })?;
    let mut stored = Vec::new();
    loop {
        let entry = match entries.next_entry().await {
            Ok(Some(entry)) => entry,
            Ok(None) => break,
            Err(err) => return Err(s3_error!(InternalError, "cannot list the bucket: {err}")),
        };
        let name = entry.file_name();
        let Some(object) = name.to_str().and_then(|n| n.strip_suffix(KEY_SUFFIX)).filter(|n| is_file_name(n)) else {
            continue;
        };
        let Ok(metadata) = tokio::fs::metadata(dir.join(object)).await else { continue };
        let Ok(bytes) = tokio::fs::read(entry.path()).await else { continue };
        let Ok(key) = String::from_utf8(bytes) else { continue };
        if file_name(&key) != object || !metadata.is_file() {
            continue;
        }
        let last_modified = metadata.modified().unwrap_or(std::time::UNIX_EPOCH);
        stored.push(Stored { key, size: metadata.len(), last_modified });
    }
    stored.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(stored)
}

/// One line of a listing page: an object or a common prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    Object(Stored),
    Prefix(String),
}

impl Item {
    fn name(&self) -> &str {
        match self {
            Item::Object(stored) => &stored.key,
            Item::Prefix(prefix) => prefix,
        }
    }
}

/// A listing page.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Page {
    pub items: Vec<Item>,
    pub truncated: bool,
}

impl Page {
    /// Where the next page starts (the last name on this one), when there is more.
    pub(crate) fn next_marker(&self) -> Option<String> {
        self.truncated.then(|| self.items.last().map(|i| i.name().to_owned())).flatten()
    }
}

/// S3's listing rules over sorted objects: keys under `prefix`, after `after`, grouped into
/// common prefixes by `delimiter`, at most `max` lines.
pub(crate) fn page(
    sorted: Vec<Stored>,
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<&str>,
    max: usize,
) -> Page {
    let mut out = Page::default();
    for stored in sorted {
        let Some(rest) = stored.key.strip_prefix(prefix) else { continue };
        if after.is_some_and(|after| stored.key.as_str() <= after) {
            continue;
        }
        let item = match delimiter.filter(|d| !d.is_empty()).and_then(|d| rest.find(d).map(|at| at + d.len())) {
            Some(end) => Item::Prefix(format!("{prefix}{}", &rest[..end])),
            None => Item::Object(stored),
        };
        if let Item::Prefix(common) = &item {
            let seen = out.items.last().is_some_and(|last| last.name() == common);
            if seen || after.is_some_and(|after| common.as_str() <= after) {
                continue;
            }
        }
        if out.items.len() == max {
            out.truncated = max > 0;
            break;
        }
        out.items.push(item);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(keys: &[&str]) -> Vec<Stored> {
        let mut all: Vec<_> = keys
            .iter()
            .map(|k| Stored { key: (*k).to_owned(), size: 1, last_modified: std::time::UNIX_EPOCH })
            .collect();
        all.sort_by(|a, b| a.key.cmp(&b.key));
        all
    }

    fn names(page: &Page) -> Vec<&str> {
        page.items.iter().map(Item::name).collect()
    }

    #[test]
    fn keys_become_flat_names() {
        for key in ["../imgpipe-output/x", "/abs", "a\0b", ".", "..", "a/../../b", "k\\..\\x", "😀"] {
            let name = file_name(key);
            assert!(is_file_name(&name), "{key:?}");
            assert!(check(key).is_ok());
        }
        assert_ne!(file_name("a"), file_name("a/"));
        assert!(check("").is_err());
        assert!(check(&"k".repeat(1024)).is_ok());
        assert!(check(&"k".repeat(1025)).is_err());
        assert!(check(&"é".repeat(513)).is_err(), "1026 bytes");
    }

    #[test]
    fn url_encodes_like_s3() {
        assert_eq!(url_encode("a b+c%/한\u{0}"), "a+b%2Bc%25/%ED%95%9C%00");
    }

    #[test]
    fn lists_like_s3() {
        let all = stored(&["a", "a/b", "a/c/d", "b", "photos/2024/x.jpg", "photos/2025/y.jpg", "photos/z.jpg"]);
        let page1 = page(all.clone(), "", Some("/"), None, 1000);
        assert_eq!(names(&page1), ["a", "a/", "b", "photos/"]);
        assert!(!page1.truncated);
        let nested = page(all.clone(), "photos/", Some("/"), None, 1000);
        assert_eq!(names(&nested), ["photos/2024/", "photos/2025/", "photos/z.jpg"]);
        let first = page(all.clone(), "", Some("/"), None, 2);
        assert_eq!((names(&first), first.next_marker()), (vec!["a", "a/"], Some("a/".to_owned())));
        let second = page(all.clone(), "", Some("/"), first.next_marker().as_deref(), 2);
        assert_eq!(names(&second), ["b", "photos/"]);
        assert!(!page(all.clone(), "", Some("/"), Some("b"), 1).truncated);
        let flat = page(all.clone(), "a", None, None, 1000);
        assert_eq!(names(&flat), ["a", "a/b", "a/c/d"]);
        assert_eq!(page(all, "", None, None, 0), Page::default());
    }
}
