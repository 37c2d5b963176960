//! "Object Created" notifications: the event struct, the sequencer and the notifier.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc::UnboundedSender;

/// One object created in a notified bucket (what S3 would put in its "Object Created" event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectCreated {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    /// Monotonic, fixed-width upper-case hex: later events compare greater as strings.
    pub sequencer: String,
    /// The version the write created, in a versioned bucket (the event's `version-id`).
    pub version_id: Option<String>,
    /// "PutObject" | "PostObject" | "CompleteMultipartUpload" | "CopyObject".
    pub reason: String,
    pub time: DateTime<Utc>,
}

/// Hands out increasing sequencers and remembers the last one in a file, so that
/// sequencers keep increasing across restarts (even if the clock goes back).
pub(crate) struct Sequencer {
    last: Mutex<u64>,
    state_file: PathBuf,
}

impl Sequencer {
    /// Starts above both the persisted value and the current time in microseconds.
    pub(crate) fn open(state_file: &Path) -> Self {
        let persisted =
            std::fs::read_to_string(state_file).ok().and_then(|s| u64::from_str_radix(s.trim(), 16).ok()).unwrap_or(0);
        let now = u64::try_from(Utc::now().timestamp_micros()).unwrap_or(0);
        Self { last: Mutex::new(persisted.max(now)), state_file: state_file.to_path_buf() }
    }

    /// The next sequencer, 16 upper-case hex digits.
    pub(crate) fn next(&self) -> String {
        let value = {
            let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            *last = last.saturating_add(1);
            *last
        };
        let text = format!("{value:016X}");
        if let Err(err) = std::fs::write(&self.state_file, &text) {
            tracing::warn!(error = %err, file = %self.state_file.display(), "cannot persist S3 event sequencer");
        }
        text
    }
}

/// Sends [`ObjectCreated`] for the buckets that are to be notified.
pub(crate) struct Notifier {
    buckets: HashSet<String>,
    sender: UnboundedSender<ObjectCreated>,
    sequencer: Sequencer,
}

/// What a successful write produced, before it becomes an event.
pub(crate) struct Created<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub size: u64,
    pub etag: String,
    pub version_id: Option<String>,
    pub reason: &'static str,
}

impl Notifier {
    pub(crate) fn new(buckets: &[String], sender: UnboundedSender<ObjectCreated>, sequencer: Sequencer) -> Self {
        Self { buckets: buckets.iter().cloned().collect(), sender, sequencer }
    }

    pub(crate) fn notifies(&self, bucket: &str) -> bool {
        self.buckets.contains(bucket)
    }

    /// Emits the event if the bucket is notified; a closed receiver is only logged.
    pub(crate) fn object_created(&self, created: Created<'_>) {
        if !self.notifies(created.bucket) {
            return;
        }
        let event = ObjectCreated {
            bucket: created.bucket.to_owned(),
            key: created.key.to_owned(),
            size: created.size,
            etag: created.etag.trim_matches('"').to_owned(),
            sequencer: self.sequencer.next(),
            version_id: created.version_id,
            reason: created.reason.to_owned(),
            time: Utc::now(),
        };
        tracing::debug!(bucket = %event.bucket, key = %event.key, reason = %event.reason, "object created");
        if self.sender.send(event).is_err() {
            tracing::warn!("object-created event dropped: receiver closed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequencer_increases_and_survives_restart() {
        let dir = std::env::temp_dir().join(format!("s3e-seq-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("sequencer");
        std::fs::write(&file, "FFFFFFFFFFFFFF00").unwrap();
        let seq = Sequencer::open(&file);
        let a = seq.next();
        let b = seq.next();
        assert_eq!(a, "FFFFFFFFFFFFFF01");
        assert!(b > a);
        drop(seq);
        let again = Sequencer::open(&file);
        assert!(again.next() > b);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
