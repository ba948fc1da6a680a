//! The Forge keys adapter (port `ports::keys::ForgeKeys`): public keys of Forge Invocation Tokens by `kid`, over
//! the Forge JWKS (default `https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json`).
//!
//! The adapter caches the whole key set. A `kid` not in it refreshes the set, at most once per
//! [`MIN_REFRESH_INTERVAL_SECS`]: a flood of made-up kids costs Atlassian one request per interval,
//! and a key Atlassian has just started using is picked up on first sight. Only RSA keys for
//! signatures are kept, so no key from the set can verify an HMAC token.
//!
//! The fetch runs outside the lock on the set: a token whose key is cached is verified at once
//! while a fetch is in flight (which may take the outbound client's whole timeout). Fetches are
//! single-flight: misses that arrive during one wait for its result instead of sending their own.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};

use async_trait::async_trait;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;

use super::http::read_bounded;
use crate::kernel::clock::Clock;
use crate::kernel::error::{Error, Result};
use crate::ports::keys::{ForgeKeys, MAX_FORGE_KID_LEN};

/// Fewest seconds between two fetches of the key set (failed fetches count too).
pub const MIN_REFRESH_INTERVAL_SECS: i64 = 30;
/// A set older than this is fetched again before use, so a key Atlassian withdrew stops verifying
/// within the hour. If that fetch fails, the old set keeps serving (a warning is logged).
pub const MAX_KEY_SET_AGE_SECS: i64 = 3600;
/// Atlassian's set is a few KB.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Keys kept from one set; Atlassian publishes a handful.
pub const MAX_KEYS: usize = 32;

const DEPENDENCY: &str = "forge-jwks";

#[derive(Default)]
struct CachedSet {
    keys: HashMap<String, Arc<DecodingKey>>,
    /// Unix seconds of the last successful fetch.
    fetched_at: Option<i64>,
    /// Unix seconds of the last fetch, successful or not.
    attempted_at: Option<i64>,
    /// Why the last fetch failed, while no later one succeeded.
    failure: Option<String>,
}

pub struct HttpForgeKeys {
    url: String,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
    /// What is known; held only to read or update it, never across a fetch.
    set: std::sync::Mutex<CachedSet>,
    /// Held by the one fetch in flight, so concurrent misses wait for its result instead of each
    /// sending one. Lookups of cached keys never take it.
    flight: Mutex<()>,
}

/// What a lookup does: answer from the set, or fetch it.
enum Plan {
    Answer(Result<Option<Arc<DecodingKey>>>),
    Fetch,
}

impl CachedSet {
    fn plan(&self, kid: &str, now: i64) -> Plan {
        let fresh = self.fetched_at.is_some_and(|at| now - at < MAX_KEY_SET_AGE_SECS);
        if fresh && let Some(key) = self.keys.get(kid) {
            return Plan::Answer(Ok(Some(key.clone())));
        }
        let may_fetch = self.attempted_at.is_none_or(|at| now - at >= MIN_REFRESH_INTERVAL_SECS);
        if may_fetch {
            return Plan::Fetch;
        }
        Plan::Answer(match (self.keys.get(kid), &self.failure) {
            (Some(key), _) => Ok(Some(key.clone())),
            (None, Some(cause)) => Err(Error::unavailable(DEPENDENCY, format!("{cause} (waiting to retry)"))),
            (None, None) => Ok(None),
        })
    }
}

impl HttpForgeKeys {
    /// `client` is the process's outbound client (`install_keys::http_client()`).
    pub fn new(url: &str, client: reqwest::Client, clock: Arc<dyn Clock>) -> Self {
        Self { url: url.to_owned(), client, clock, set: Default::default(), flight: Mutex::default() }
    }

    fn set(&self) -> std::sync::MutexGuard<'_, CachedSet> {
        // The set is replaced whole under the lock: a panic elsewhere cannot leave it half-written.
        self.set.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<DecodingKey>>, String> {
        let response = self.client.get(&self.url).send().await.map_err(|e| e.without_url().to_string())?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("status {status}"));
        }
        let body = read_bounded(response, MAX_JWKS_BYTES).await?;
        let keys = parse_jwks(&body)?;
        if keys.is_empty() {
            return Err("no RSA signing key in the set".into());
        }
        Ok(keys)
    }
}

#[async_trait]
impl ForgeKeys for HttpForgeKeys {
    async fn key(&self, kid: &str) -> Result<Option<Arc<DecodingKey>>> {
        if let Plan::Answer(answer) = self.set().plan(kid, self.clock.now_secs()) {
            return answer;
        }
        let _flight = self.flight.lock().await;
        // A fetch that finished while this lookup waited has answered it, or spent the interval.
        let now = self.clock.now_secs();
        {
            let mut set = self.set();
            if let Plan::Answer(answer) = set.plan(kid, now) {
                return answer;
            }
            set.attempted_at = Some(now);
        }
        let fetched = self.fetch().await;
        let mut set = self.set();
        match fetched {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), "Forge JWKS fetched");
                set.keys = keys;
                set.fetched_at = Some(now);
                set.failure = None;
                Ok(set.keys.get(kid).cloned())
            }
            Err(cause) => {
                tracing::warn!(error = %cause, "Forge JWKS fetch failed");
                set.failure = Some(cause.clone());
                match set.keys.get(kid) {
                    Some(stale) => Ok(Some(stale.clone())),
                    None => Err(Error::unavailable(DEPENDENCY, cause)),
                }
            }
        }
    }
}

/// The RSA signature keys of a JWKS document, by kid. Keys of other types, of another use or
/// algorithm, without a kid, or that do not parse are skipped, not fatal: Atlassian may add
/// kinds we do not use.
pub fn parse_jwks(body: &[u8]) -> Result<HashMap<String, Arc<DecodingKey>>, String> {
    #[derive(Deserialize)]
    struct Set {
        keys: Vec<Value>,
    }
    let set: Set = serde_json::from_slice(body).map_err(|e| format!("not a JWKS document: {e}"))?;
    let mut keys = HashMap::new();
    for value in set.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else { continue };
        if keys.len() >= MAX_KEYS {
            break;
        }
        let Some(kid) = jwk.common.key_id.clone().filter(|k| !k.is_empty() && k.len() <= MAX_FORGE_KID_LEN) else {
            continue;
        };
        let rsa = matches!(jwk.algorithm, AlgorithmParameters::RSA(_));
        let for_signing = jwk.common.public_key_use.as_ref().is_none_or(|u| *u == PublicKeyUse::Signature);
        let rs256 = jwk.common.key_algorithm.is_none_or(|a| a == KeyAlgorithm::RS256);
        if !(rsa && for_signing && rs256) {
            continue;
        }
        if let Ok(key) = DecodingKey::from_jwk(&jwk) {
            keys.insert(kid, Arc::new(key));
        }
    }
    Ok(keys)
}

/// A key set known in advance (tests, and the committed dev key set).
#[derive(Default)]
pub struct StaticForgeKeys {
    keys: HashMap<String, Arc<DecodingKey>>,
}

impl StaticForgeKeys {
    pub fn from_jwks(body: &[u8]) -> Result<Self> {
        let keys = parse_jwks(body).map_err(Error::internal)?;
        Ok(Self { keys })
    }
}

#[async_trait]
impl ForgeKeys for StaticForgeKeys {
    async fn key(&self, kid: &str) -> Result<Option<Arc<DecodingKey>>> {
        Ok(self.keys.get(kid).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV_JWKS: &[u8] = include_bytes!("../../../dev/forge-jwks.json");

    #[test]
    fn only_rsa_signature_keys_with_a_kid_are_kept() {
        let dev: Value = serde_json::from_slice(DEV_JWKS).unwrap();
        let rsa = dev["keys"][0].clone();
        let mut no_kid = rsa.clone();
        no_kid.as_object_mut().unwrap().remove("kid");
        let mut for_encryption = rsa.clone();
        for_encryption["use"] = "enc".into();
        for_encryption["kid"] = "enc".into();
        let mut other_alg = rsa.clone();
        other_alg["alg"] = "RS512".into();
        other_alg["kid"] = "rs512".into();
        let hmac = serde_json::json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"});
        let junk = serde_json::json!({"kty": "nonsense", "kid": "junk"});
        let body = serde_json::json!({"keys": [rsa, no_kid, for_encryption, other_alg, hmac, junk]});
        let keys = parse_jwks(body.to_string().as_bytes()).unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), vec!["forge/invocation-token/canopy-dev"]);
        assert!(parse_jwks(b"{}").is_err());
        assert!(parse_jwks(b"[]").is_err());
    }

    #[test]
    fn a_set_keeps_at_most_max_keys() {
        let dev: Value = serde_json::from_slice(DEV_JWKS).unwrap();
        let many: Vec<Value> = (0..MAX_KEYS + 5)
            .map(|i| {
                let mut key = dev["keys"][0].clone();
                key["kid"] = format!("k{i}").into();
                key
            })
            .collect();
        let keys = parse_jwks(serde_json::json!({"keys": many}).to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), MAX_KEYS);
    }
}
