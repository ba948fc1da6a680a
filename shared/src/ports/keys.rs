//! Key sources: the public keys that verify Atlassian's tokens, by `kid`. Adapters fetch them
//! over HTTP (`adapters::install_keys`, `adapters::forge_keys`) or hold them (tests, local).

use std::sync::Arc;

use async_trait::async_trait;
use jsonwebtoken::DecodingKey;

use crate::kernel::error::Result;

/// Longest Forge `kid` looked up (Forge's are `forge/invocation-token/wf-<uuid>`, under 80 characters).
pub const MAX_FORGE_KID_LEN: usize = 256;

/// Atlassian's signed-install keys (the install-keys service).
#[async_trait]
pub trait InstallKeys: Send + Sync {
    /// `Ok(None)` when the service does not know the kid; `Err(Unavailable)` when it is down.
    async fn public_key(&self, kid: &str) -> Result<Option<Arc<DecodingKey>>>;
}

/// The Forge Invocation Token keys (the Forge JWKS).
#[async_trait]
pub trait ForgeKeys: Send + Sync {
    /// `Ok(None)` when the set does not have the kid; `Err(Unavailable)` when the set cannot be
    /// fetched and the kid is not cached.
    async fn key(&self, kid: &str) -> Result<Option<Arc<DecodingKey>>>;
}
