//! Tenant secrets at rest: Canopy seals every Connect shared secret before it reaches the item
//! store, so read access to the table alone reveals none (envelope encryption).
//!
//! Each secret gets a fresh 256-bit data key; the secret is sealed with it (XChaCha20-Poly1305,
//! the tenant's clientKey as associated data, so an envelope copied onto another tenant does not
//! open), and the data key is wrapped by a master key through the [`MasterKey`] port: KMS on AWS
//! ([`kms::KmsMasterKey`]), a keyring file in local mode ([`local::LocalKeyring`]). The envelope
//! records which master key wrapped it, so rotation keeps every older envelope readable.
//!
//! Unwrapped data keys are cached per process for [`DATA_KEY_CACHE_SECS`]: every request verifies
//! a token with the tenant's secret, and a KMS call per request would add its latency and cost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};

use crate::kernel::error::{Error, Result};

/// The envelope format this code writes; older formats stay readable as they are added.
pub const ENVELOPE_VERSION: u8 = 1;
/// Data keys and master keys are 256-bit.
pub const KEY_LEN: usize = 32;
/// XChaCha20 nonces are 192-bit: random nonces never realistically repeat.
pub const NONCE_LEN: usize = 24;
/// How long an unwrapped data key is reused before the master key is asked again.
pub const DATA_KEY_CACHE_SECS: u64 = 300;
/// Unwrapped data keys kept per process (one per tenant seen); a full cache starts over.
pub const MAX_CACHED_DATA_KEYS: usize = 10_000;

/// A data key: its plaintext (only in memory) and the same key wrapped by the master key `key_id`.
pub struct DataKey {
    pub key_id: String,
    pub plaintext: [u8; KEY_LEN],
    pub wrapped: Vec<u8>,
}

/// The port to a master key: it makes and unwraps data keys, and never sees a secret.
/// `context` (the tenant) is bound to the wrapped key: unwrapping under another context fails.
#[async_trait]
pub trait MasterKey: Send + Sync {
    /// A fresh data key wrapped by the current master key.
    async fn generate_data_key(&self, context: &str) -> Result<DataKey>;
    /// The plaintext of a data key wrapped by `key_id` (the current key or an older one).
    async fn unwrap_data_key(&self, key_id: &str, wrapped: &[u8], context: &str) -> Result<[u8; KEY_LEN]>;
}

/// A sealed secret as stored (in the install record's `sealedSecret`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Envelope {
    pub v: u8,
    /// The master key that wrapped `data_key`: `local:<id>` or a KMS key ARN.
    pub key_id: String,
    /// The wrapped data key, base64.
    pub data_key: String,
    /// base64 of the nonce, the sealed secret and its tag.
    pub sealed: String,
}

/// Unwrapped data keys by wrapped key, with when they were unwrapped.
type DataKeyCache = HashMap<String, ([u8; KEY_LEN], Instant)>;

/// Seals and opens secrets with any [`MasterKey`]; cheap to clone.
#[derive(Clone)]
pub struct SecretSealer {
    master: Arc<dyn MasterKey>,
    cache: Arc<Mutex<DataKeyCache>>,
}

/// One refusal for every envelope that does not open (tampered, another tenant's, unknown key):
/// a 500 whose cause is logged, never sent.
pub(crate) fn refused(context: &str, why: &str) -> Error {
    Error::internal(format!("the sealed secret of {context} does not open: {why}"))
}

impl SecretSealer {
    pub fn new(master: Arc<dyn MasterKey>) -> Self {
        Self { master, cache: Arc::default() }
    }

    /// Seals `secret` for the tenant `context` under a fresh data key.
    pub async fn seal(&self, context: &str, secret: &str) -> Result<Envelope> {
        let data_key = self.master.generate_data_key(context).await?;
        let sealed = seal_bytes(&data_key.plaintext, secret.as_bytes(), context.as_bytes())?;
        let envelope = Envelope {
            v: ENVELOPE_VERSION,
            key_id: data_key.key_id,
            data_key: B64.encode(&data_key.wrapped),
            sealed: B64.encode(sealed),
        };
        self.remember(&envelope, data_key.plaintext);
        Ok(envelope)
    }

    /// Opens an envelope sealed for `context`; anything altered, or sealed for another tenant,
    /// is refused.
    pub async fn open(&self, context: &str, envelope: &Envelope) -> Result<String> {
        if envelope.v != ENVELOPE_VERSION {
            return Err(refused(context, "unknown envelope version"));
        }
        let wrapped = B64.decode(&envelope.data_key).map_err(|_| refused(context, "dataKey is not base64"))?;
        let sealed = B64.decode(&envelope.sealed).map_err(|_| refused(context, "sealed is not base64"))?;
        let data_key = match self.cached(envelope) {
            Some(key) => key,
            None => {
                let key = self.master.unwrap_data_key(&envelope.key_id, &wrapped, context).await?;
                self.remember(envelope, key);
                key
            }
        };
        let plaintext = open_bytes(&data_key, &sealed, context.as_bytes())
            .ok_or_else(|| refused(context, "authentication failed"))?;
        String::from_utf8(plaintext).map_err(|_| refused(context, "not UTF-8"))
    }

    /// The cache is keyed by the wrapped key with its master key: a data key unwrapped for one
    /// tenant is useless to another (its secret's associated data is the tenant).
    fn cache_key(envelope: &Envelope) -> String {
        format!("{}\n{}", envelope.key_id, envelope.data_key)
    }

    fn cached(&self, envelope: &Envelope) -> Option<[u8; KEY_LEN]> {
        let cache = self.cache.lock().ok()?;
        let (key, at) = cache.get(&Self::cache_key(envelope))?;
        (at.elapsed() < Duration::from_secs(DATA_KEY_CACHE_SECS)).then_some(*key)
    }

    fn remember(&self, envelope: &Envelope, key: [u8; KEY_LEN]) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_CACHED_DATA_KEYS {
                cache.clear();
            }
            cache.insert(Self::cache_key(envelope), (key, Instant::now()));
        }
    }

    /// How many data keys are cached (for tests of the bound).
    pub fn cached_keys(&self) -> usize {
        self.cache.lock().map(|c| c.len()).unwrap_or(0)
    }
}

/// Seals `plaintext` under a 256-bit `key` with a fresh nonce: `nonce || ciphertext || tag`.
/// The local keyring wraps data keys with it.
pub(crate) fn seal_bytes(key: &[u8; KEY_LEN], plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let sealed = XChaCha20Poly1305::new(key.into())
        .encrypt(&nonce, Payload { msg: plaintext, aad })
        .map_err(|_| Error::internal("sealing failed"))?;
    Ok([&nonce[..], &sealed].concat())
}

/// Opens what [`seal_bytes`] sealed; `None` when anything was altered.
pub(crate) fn open_bytes(key: &[u8; KEY_LEN], sealed: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
    let (nonce, ciphertext) = sealed.split_at_checked(NONCE_LEN)?;
    let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
    XChaCha20Poly1305::new(key.into()).decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad }).ok()
}
