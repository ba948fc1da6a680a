//! The install-keys adapter (port `ports::keys::InstallKeys`): public keys of Atlassian's signed installs, by `kid`, over the HTTP
//! adapter over the install-keys service (default `https://connect-install-keys.atlassian.com`).
//!
//! Keys are immutable per `kid`, so verified keys are cached for the life of the process.
//! Unknown kids are not cached: Atlassian may publish a key after we first asked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use jsonwebtoken::DecodingKey;

use crate::kernel::error::{Error, Result};
use crate::ports::keys::InstallKeys;

/// A PEM public key is under 1 KB; anything much larger is not a key.
pub const MAX_KEY_BYTES: usize = 16 * 1024;
/// Cached keys; Atlassian rotates rarely, so this bounds memory against kid floods, not churn.
pub const MAX_CACHED_KEYS: usize = 256;

pub struct HttpInstallKeys {
    base_url: String,
    client: reqwest::Client,
    cache: Mutex<HashMap<String, Arc<DecodingKey>>>,
}

impl HttpInstallKeys {
    pub fn new(base_url: &str, client: reqwest::Client) -> Self {
        Self { base_url: base_url.trim_end_matches('/').to_owned(), client, cache: Mutex::default() }
    }

    fn cached(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        self.cache.lock().ok()?.get(kid).cloned()
    }

    fn remember(&self, kid: &str, key: Arc<DecodingKey>) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_CACHED_KEYS {
                cache.clear();
            }
            cache.insert(kid.to_owned(), key);
        }
    }
}

#[async_trait]
impl InstallKeys for HttpInstallKeys {
    async fn public_key(&self, kid: &str) -> Result<Option<Arc<DecodingKey>>> {
        if let Some(key) = self.cached(kid) {
            return Ok(Some(key));
        }
        let url = format!("{}/{kid}", self.base_url);
        let response = self.client.get(&url).send().await.map_err(|e| Error::unavailable("install-keys", e))?;
        let status = response.status();
        if status.is_client_error() {
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
