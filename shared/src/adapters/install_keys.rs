//! The install-keys adapter (port `ports::keys::InstallKeys`): public keys of Atlassian's signed installs, by `kid`, over the HTTP
//! adapter over the install-keys service (default `https://connect-install-keys.atlassian.com`).
//!
//! Keys are immutable per `kid`, so verified keys are cached for the life of the process.
//! A `kid` the service does not know is remembered as unknown for [`UNKNOWN_KID_CACHE_SECS`] only
//! (Atlassian may publish a key after we first asked), and the process asks the service at most
//! [`MAX_FETCHES_PER_MINUTE`] times a minute: a flood of made-up kids costs Atlassian a few
//! requests and this process nothing more. Past that budget an unknown kid answers 503 with
//! `Retry-After` (a genuine install is retried by Atlassian), a cached key keeps verifying.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use jsonwebtoken::DecodingKey;

use crate::kernel::clock::Clock;
use crate::kernel::error::{Error, Result};
use crate::ports::keys::InstallKeys;

/// A PEM public key is under 1 KB; anything much larger is not a key.
pub const MAX_KEY_BYTES: usize = 16 * 1024;
/// Cached keys; Atlassian rotates rarely, so this bounds memory against kid floods, not churn.
pub const MAX_CACHED_KEYS: usize = 256;
/// How long a kid the service answered 4xx for is not asked about again.
pub const UNKNOWN_KID_CACHE_SECS: i64 = 60;
/// Kids remembered as unknown; a flood of distinct ones clears the list (the fetch budget still holds).
pub const MAX_UNKNOWN_KIDS: usize = 1024;
/// Requests to the install-keys service per process and minute (failed ones count). Installs are
/// rare: a handful of distinct new kids a minute is already far above Atlassian's rotation.
pub const MAX_FETCHES_PER_MINUTE: u32 = 10;

#[derive(Default)]
struct Known {
    keys: HashMap<String, Arc<DecodingKey>>,
    /// kid → unix seconds until which it is answered unknown without asking.
    unknown: HashMap<String, i64>,
    /// The current minute (unix seconds of its start) and the fetches spent in it.
    minute: i64,
    fetches: u32,
}

pub struct HttpInstallKeys {
    base_url: String,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
    known: Mutex<Known>,
}

enum Lookup {
    Key(Arc<DecodingKey>),
    Unknown,
    Fetch,
    OverBudget(i64),
}

impl HttpInstallKeys {
    pub fn new(base_url: &str, client: reqwest::Client, clock: Arc<dyn Clock>) -> Self {
        Self { base_url: base_url.trim_end_matches('/').to_owned(), client, clock, known: Mutex::default() }
    }

    /// What the process knows. Every change to it is one insert or clear, so a thread that
    /// panicked holding the lock left it whole: a poisoned lock is used as it is, never bypassed
    /// (which would fetch without the budget).
    fn known(&self) -> MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What the process knows of `kid` now, spending one fetch of the budget when it must ask.
    fn lookup(&self, kid: &str) -> Lookup {
        let now = self.clock.now_secs();
        let mut known = self.known();
        if let Some(key) = known.keys.get(kid) {
            return Lookup::Key(key.clone());
        }
        if known.unknown.get(kid).is_some_and(|until| now < *until) {
            return Lookup::Unknown;
        }
        let minute = now - now.rem_euclid(60);
        if known.minute != minute {
            known.minute = minute;
            known.fetches = 0;
        }
        if known.fetches >= MAX_FETCHES_PER_MINUTE {
            return Lookup::OverBudget((minute + 60 - now).max(1));
        }
        known.fetches += 1;
        Lookup::Fetch
    }

    fn remember_unknown(&self, kid: &str) {
        let until = self.clock.now_secs().saturating_add(UNKNOWN_KID_CACHE_SECS);
        let mut known = self.known();
        if known.unknown.len() >= MAX_UNKNOWN_KIDS {
            known.unknown.clear();
        }
        known.unknown.insert(kid.to_owned(), until);
    }

    fn remember(&self, kid: &str, key: Arc<DecodingKey>) {
        let mut known = self.known();
        if known.keys.len() >= MAX_CACHED_KEYS {
            known.keys.clear();
        }
        known.unknown.remove(kid);
        known.keys.insert(kid.to_owned(), key);
    }
}

#[async_trait]
impl InstallKeys for HttpInstallKeys {
    async fn public_key(&self, kid: &str) -> Result<Option<Arc<DecodingKey>>> {
        match self.lookup(kid) {
            Lookup::Key(key) => return Ok(Some(key)),
            Lookup::Unknown => return Ok(None),
            Lookup::OverBudget(retry_after_secs) => {
                tracing::warn!("install-keys fetch budget spent for this minute");
                return Err(Error::Unavailable {
                    dependency: "install-keys",
                    cause: format!("more than {MAX_FETCHES_PER_MINUTE} key fetches this minute"),
                    retry_after_secs: retry_after_secs as u64,
                });
            }
            Lookup::Fetch => {}
        }
        let url = format!("{}/{kid}", self.base_url);
        let response = self.client.get(&url).send().await.map_err(|e| Error::unavailable("install-keys", e))?;
        let status = response.status();
        if status.is_client_error() {
            self.remember_unknown(kid);
            return Ok(None);
        }
        if !status.is_success() {
            return Err(Error::unavailable("install-keys", format!("status {status}")));
        }
        if response.content_length().is_some_and(|len| len > MAX_KEY_BYTES as u64) {
            return Err(Error::unavailable("install-keys", "oversized key response"));
        }
        let body = response.bytes().await.map_err(|e| Error::unavailable("install-keys", e))?;
        if body.len() > MAX_KEY_BYTES {
            return Err(Error::unavailable("install-keys", "oversized key response"));
        }
        let key = DecodingKey::from_rsa_pem(&body)
            .map_err(|e| Error::unavailable("install-keys", format!("not an RSA PEM key: {e}")))?;
        let key = Arc::new(key);
        self.remember(kid, key.clone());
        Ok(Some(key))
    }
}

/// Keys known in advance (tests, and `events/` fixtures signed with the committed dev key).
#[derive(Default)]
pub struct StaticInstallKeys {
    keys: HashMap<String, Arc<DecodingKey>>,
}

impl StaticInstallKeys {
    pub fn with_pem(mut self, kid: &str, public_pem: &[u8]) -> Result<Self> {
        let key = DecodingKey::from_rsa_pem(public_pem).map_err(Error::internal)?;
        self.keys.insert(kid.to_owned(), Arc::new(key));
        Ok(self)
    }
}

#[async_trait]
impl InstallKeys for StaticInstallKeys {
    async fn public_key(&self, kid: &str) -> Result<Option<Arc<DecodingKey>>> {
        Ok(self.keys.get(kid).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::clock::ManualClock;

    #[test]
    fn a_poisoned_lock_still_spends_the_fetch_budget() {
        let keys = Arc::new(HttpInstallKeys::new(
            "http://127.0.0.1:9",
            reqwest::Client::new(),
            Arc::new(ManualClock::at_millis(1_768_435_200_000)),
        ));
        let holder = keys.clone();
        let poisoned = std::thread::spawn(move || {
            let _known = holder.known.lock().unwrap();
            panic!("a thread dies holding the lock");
        })
        .join();
        assert!(poisoned.is_err() && keys.known.is_poisoned());
        for i in 0..MAX_FETCHES_PER_MINUTE {
            assert!(matches!(keys.lookup(&format!("kid-{i}")), Lookup::Fetch));
        }
        assert!(matches!(keys.lookup("one-more"), Lookup::OverBudget(_)), "the budget holds");
    }
}
