//! `limit`/`continue` paging over watch-cache snapshots.
//!
//! A paged list must be consistent: every page comes from the snapshot the first page was cut
//! from. Snapshots are persistent maps, so keeping one costs little; we keep a bounded number for
//! a bounded time, and a continue token whose snapshot is gone is 410 `Expired`, as upstream
//! answers a token whose revision was compacted.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use bulwark_core::ApiError;
use imbl::OrdMap;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::entry::Entry;

const MAX_SNAPSHOTS: usize = 64;
const SNAPSHOT_LIFETIME: Duration = Duration::from_secs(300);

/// The decoded form of a continue token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContinueToken {
    /// Revision of the snapshot the list is cut from.
    #[serde(rename = "rv")]
    pub revision: i64,
    /// The last key already returned.
    #[serde(rename = "start")]
    pub after_key: String,
    /// The storage prefix the list covers, so a token cannot be replayed against another list.
    #[serde(rename = "prefix")]
    pub prefix: String,
}

impl ContinueToken {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("a token always serialises");
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    pub fn decode(raw: &str) -> Result<Self, ApiError> {
        let invalid = || ApiError::bad_request(format!("continue key is not valid: {raw:?}"));
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(raw.trim_end_matches('='))
            .map_err(|_| invalid())?;
        serde_json::from_slice(&bytes).map_err(|_| invalid())
    }
}

struct Kept {
    storage_prefix: &'static str,
    revision: i64,
    objects: OrdMap<String, Arc<Entry>>,
    kept_at: Instant,
}

/// Snapshots kept for lists that are being paged through.
#[derive(Default)]
pub struct Pages {
    kept: Mutex<VecDeque<Kept>>,
}

impl Pages {
    pub fn keep(
        &self,
        storage_prefix: &'static str,
        revision: i64,
        objects: &OrdMap<String, Arc<Entry>>,
    ) {
        let mut kept = self.kept.lock();
        if kept
            .iter()
            .any(|k| k.storage_prefix == storage_prefix && k.revision == revision)
        {
            return;
        }
        kept.push_back(Kept {
            storage_prefix,
            revision,
            objects: objects.clone(),
            kept_at: Instant::now(),
        });
        while kept.len() > MAX_SNAPSHOTS {
            kept.pop_front();
        }
    }

    pub fn find(&self, storage_prefix: &str, revision: i64) -> Option<OrdMap<String, Arc<Entry>>> {
        let mut kept = self.kept.lock();
        kept.retain(|k| k.kept_at.elapsed() < SNAPSHOT_LIFETIME);
        kept.iter()
            .find(|k| k.storage_prefix == storage_prefix && k.revision == revision)
            .map(|k| k.objects.clone())
    }
}

/// The 410 for a continue token whose snapshot is no longer kept.
pub fn expired_token() -> ApiError {
    ApiError::gone(
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        let token = ContinueToken {
            revision: 42,
            after_key: "/registry/pods/default/a".into(),
            prefix: "/registry/pods/".into(),
        };
        assert_eq!(ContinueToken::decode(&token.encode()).unwrap(), token);
    }

    #[test]
    fn garbage_tokens_are_bad_requests() {
        assert_eq!(ContinueToken::decode("%%%").unwrap_err().code, 400);
        assert_eq!(ContinueToken::decode("aGVsbG8").unwrap_err().code, 400);
    }

    #[test]
    fn snapshots_are_found_by_prefix_and_revision() {
        let pages = Pages::default();
        let mut objects = OrdMap::new();
        let pods = bulwark_core::resource::find("", "v1", "pods").unwrap();
        let entry = Entry::new(pods, serde_json::json!({}), 1);
        objects.insert("k".to_string(), Arc::new(entry));
        pages.keep("/registry/pods/", 7, &objects);
        assert!(pages.find("/registry/pods/", 7).is_some());
        assert!(pages.find("/registry/pods/", 8).is_none());
        assert!(pages.find("/registry/minions/", 7).is_none());
    }
}
