//! Signed installs are used once. A signed-install token is remembered for its lifetime, with the
//! hash of the body it came with, in the shared item store (`keys::install_token`, a reserved
//! partition, the item expiring with the token): the check holds across every Lambda instance
//! and process sharing the table.
//!
//! - The same token with the same body is Atlassian delivering again (a retry after a timeout):
//!   accepted, and the lifecycle handlers are idempotent.
//! - The same token with another body is a replay by whoever saw the token: 409
//!   `install_token_reused`, nothing else is read or written.
//!
//! The token is claimed once it is verified (signature, `aud`, `qsh`, lifetime) and before its
//! body is read, so a token whose first use was refused (a bad body, a dependency down) can come
//! again only with that same body. A use is one conditional put; only when a claim is already
//! there is it read, for its body hash: so concurrent first uses race on the put, and the loser
//! reads the winner's. It is claimed in the table of the region it was issued for (its
//! `aud`, [`issuing_region`]), whichever region's endpoint it reaches: every stack reaches every
//! region's table, so another region's endpoint is no way around the check.

use serde_json::json;
use sha2::{Digest, Sha256};

use super::jwt::{Audience, ConnectClaims, LEEWAY_SECS};
use crate::domain::data::{Data, Stack};
use crate::domain::regions::install_region;
use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::ports::store::{Condition, Item, Write, retry_conflicts};

/// The data (store) of the region a verified signed install was issued for: the region whose base
/// URL its `aud` is; this stack's own base URL, or an audience no region claims, is this region.
pub fn issuing_region(state: &Stack, claims: &ConnectClaims) -> Data {
    let Some(aud) = claims.aud.as_ref().and_then(Audience::first) else { return state.data.clone() };
    let config = &state.config;
    if aud.trim_end_matches('/') == config.base_url.trim_end_matches('/') {
        return state.data.clone();
    }
    let region = install_region(&config.regions, &config.region_base_urls, &[aud], &config.base_url);
    match state.regions.get(&region) {
        Some(other) if region != state.regions.home() => Data { store: other.store.clone(), ..state.data.clone() },
        _ => state.data.clone(),
    }
}

/// Records the use of `token` (verified, expiring at `exp`, unix seconds) with `body`, or refuses
/// it when the token was already used with another body.
pub async fn claim(data: &Data, token: &str, exp: i64, body: &[u8]) -> Result<()> {
    let tenant = keys::install_tokens_tenant();
    let sk = item_key(token);
    let body_hash = hex::encode(Sha256::digest(body));
    retry_conflicts(|| async {
        let now = data.clock.now_secs();
        let item = Item {
            tenant: tenant.clone(),
            sk: sk.clone(),
            version: 1,
            updated_at: data.clock.now_millis(),
            updated_by: None,
            due: None,
            // The token is refused from `exp + LEEWAY_SECS` on (`jwt::check_expiry`): so is the item.
            expires_at: Some(exp.saturating_add(LEEWAY_SECS as i64)),
            body: json!({ "body": body_hash }).into(),
        };
        // A first use is the common case: one conditional put claims it. The claim is read only
        // when one is already there (a retry by Atlassian, or a replay).
        match data.store.transact(vec![Write::Put { item, condition: Condition::Absent }], now).await {
            Err(Error::WriteConflict) => {}
            claimed => return claimed,
        }
        match data.store.get(&tenant, &sk, now).await? {
            Some(seen) if seen.body.field::<String>("body").as_deref() == Some(body_hash.as_str()) => Ok(()),
            Some(_) => Err(reused()),
            // The claim in the way expired since: claim again.
            None => Err(Error::WriteConflict),
        }
    })
    .await
}

/// The sort key that remembers `token` (in `keys::install_tokens_tenant()`): its SHA-256, so the
/// store never holds a usable token.
pub fn item_key(token: &str) -> String {
    keys::install_token(&hex::encode(Sha256::digest(token.as_bytes())))
}

fn reused() -> Error {
    Error::conflict(
        "install_token_reused",
        "This signed install token was already used with another body; Atlassian signs each delivery anew.",
    )
}
