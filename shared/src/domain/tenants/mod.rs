//! Tenants: the install record of each Connect client and its lifecycle transitions
//! (installed, uninstalled, enabled, disabled), all idempotent because Atlassian retries.

pub mod cache;
pub mod cloud_index;
pub mod model;

pub use model::{InstallPayload, MAX_HISTORY, Tenant, TenantState, TenantSummary, Transition};

use crate::domain::data::{Data, Stack};
use crate::kernel::clock::rfc3339;
use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::secrets::Envelope;
use crate::ports::store::{Body, Condition, Due, Item, Write, retry_conflicts};

/// The install record with its shared secret opened.
pub async fn load(state: &Data, tenant: &TenantKey) -> Result<Option<(Tenant, u64)>> {
    let Some((record, version)) = load_sealed(state, tenant).await? else { return Ok(None) };
    Ok(Some((opened(state, tenant, record).await?, version)))
}

/// A record as stored with its secret opened.
async fn opened(state: &Data, tenant: &TenantKey, mut record: Tenant) -> Result<Tenant> {
    if let Some(envelope) = &record.sealed_secret {
        record.shared_secret = state.secrets.open(tenant.as_str(), envelope).await?;
    }
    Ok(record)
}

/// The install record as stored, its secret left sealed: for readers that never use it (the
/// usage job), which then need no access to the master key.
pub async fn load_sealed(state: &Data, tenant: &TenantKey) -> Result<Option<(Tenant, u64)>> {
    let now = state.clock.now_secs();
    let Some(item) = state.store.get(tenant, keys::TENANT_RECORD, now).await? else {
        return Ok(None);
    };
    let record: Tenant = item.body.decode().map_err(|e| Error::internal(format!("tenant record: {e}")))?;
    Ok(Some((record, item.version)))
}

/// `record` as it may be stored: its secret sealed (now, if it is new or was stored in the clear
/// before sealing existed) and the clear copy dropped.
async fn sealed(state: &Data, key: &TenantKey, record: &Tenant) -> Result<Tenant> {
    let mut stored = record.clone();
    if !stored.shared_secret.is_empty() {
        if stored.sealed_secret.is_none() {
            stored.sealed_secret = Some(state.secrets.seal(key.as_str(), &stored.shared_secret).await?);
        }
        stored.shared_secret.clear();
    }
    Ok(stored)
}

pub(crate) fn push_history(tenant: &mut Tenant, event: &str, at: &str) {
    tenant.history.push(Transition { event: event.into(), at: at.into() });
    let excess = tenant.history.len().saturating_sub(MAX_HISTORY);
    tenant.history.drain(..excess);
}

/// The write of `record` over the version read; `due` puts it on the purge queue, and without
/// one the record is on the registry. The record is written as given: [`save`] seals its secret,
/// other callers pass a record read as stored.
pub(crate) fn record_write(
    state: &Stack,
    key: &TenantKey,
    record: &Tenant,
    condition: Condition,
    due: Option<Due>,
) -> Result<Write> {
    let version = match condition {
        Condition::Version(v) => v + 1,
        _ => 1,
    };
    let body = Body::of(record)?;
    let item = Item {
        tenant: key.clone(),
        sk: keys::TENANT_RECORD.into(),
        version,
        updated_at: state.clock.now_millis(),
        updated_by: None,
        due: due.or_else(|| Some(Due { kind: keys::REGISTRY_DUE_KIND.into(), at: 0 })),
        expires_at: None,
        body,
    };
    Ok(Write::Put { item, condition })
}

/// Writes `record` over the version read, with `extra` writes (the cloudId index) in the same
/// transaction.
pub(crate) async fn save(
    state: &Stack,
    key: &TenantKey,
    record: &Tenant,
    condition: Condition,
    due: Option<Due>,
    extra: Vec<Write>,
) -> Result<()> {
    let stored = sealed(state, key, record).await?;
    let mut writes = vec![record_write(state, key, &stored, condition, due)?];
    writes.extend(extra);
    state.store.transact(writes, state.clock.now_secs()).await
}

/// Marks `record` uninstalled now and answers its purge entry for the due index.
pub(crate) fn mark_uninstalled(state: &Stack, record: &mut Tenant) -> Due {
    let purge_at = state.clock.now_secs() + i64::from(state.config.purge_after_days) * 86_400;
    let now = rfc3339(state.clock.now_millis());
    record.state = TenantState::Uninstalled;
    record.uninstalled_at = Some(now.clone());
    record.purge_after = Some(rfc3339(purge_at * 1000));
    push_history(record, "uninstalled", &now);
    Due { kind: keys::PURGE_DUE_KIND.into(), at: purge_at }
}

/// `installed` after a verified signed install: creates the tenant, or updates it (new secret,
/// new baseUrl), and cancels a pending purge when it comes back within the purge window.
pub async fn install(state: &Stack, key: &TenantKey, payload: &InstallPayload) -> Result<Tenant> {
    install_in(state, key, payload, &state.config.home_region, None).await
}

/// [`install`] of a tenant that, if new, is homed in `region` (`regions::install_region`: which
/// regional base URL Atlassian installed it through). An existing tenant keeps its region.
/// `stored` is the record as the caller just read it from `state`'s store, sealed, with its
/// version (`Some(None)`: none there; `residency::home_of` reads it to find the tenant's home):
/// the first attempt starts from it instead of reading it again, and a retry reads it afresh.
pub async fn install_in(
    state: &Stack,
    key: &TenantKey,
    payload: &InstallPayload,
    region: &str,
    stored: Option<Option<(Tenant, u64)>>,
) -> Result<Tenant> {
    let secret = payload.validate_for_install()?.to_owned();
    // Canopy calls this URL signed as the app: only a site the configured hosts trust.
    state.config.product_hosts.check(&payload.base_url)?;
    // The stored record, the new secret sealed and the payload's cloudId claim do not depend on
    // each other: they are asked for together. The seal is made once for every attempt; a
    // re-install whose secret is unchanged leaves it unused (one data key; installs are rare).
    let sealing = tokio::sync::OnceCell::new();
    let first_read = std::sync::Mutex::new(stored);
    retry_conflicts(|| async {
        let known = first_read.lock().ok().and_then(|mut first| first.take());
        let existing = async {
            match known {
                Some(Some((record, version))) => Ok(Some((opened(state, key, record).await?, version))),
                Some(None) => Ok(None),
                None => load(state, key).await,
            }
        };
        let now = rfc3339(state.clock.now_millis());
        let seal = sealing.get_or_try_init(|| seal_new(state, key, &secret));
        let payload_claim = async {
            match &payload.cloud_id {
                Some(cloud_id) => cloud_index::claim_writes(state, key, &payload.base_url, cloud_id).await.map(Some),
                None => Ok(None),
            }
        };
        let (existing, sealed_new, payload_claim) = tokio::try_join!(existing, seal, payload_claim)?;
        let (mut record, condition) = match existing {
            None => {
                let record = Tenant {
                    client_key: key.to_string(),
                    product_type: payload.product_type.clone(),
                    base_url: payload.base_url.clone(),
                    display_url: None,
                    shared_secret: secret.clone(),
                    sealed_secret: None,
                    cloud_id: None,
                    installation_id: None,
                    state: TenantState::Installed,
                    region: region.to_owned(),
                    first_installed_at: now.clone(),
                    installed_at: now.clone(),
                    uninstalled_at: None,
                    purge_after: None,
                    history: Vec::new(),
                    read_only: false,
                };
                (record, Condition::Absent)
            }
            Some((record, version)) => (record, Condition::Version(version)),
        };
        let was_uninstalled = record.state == TenantState::Uninstalled;
        record.product_type = payload.product_type.clone();
        record.base_url = payload.base_url.clone();
        record.display_url = payload.display_url.clone();
        if record.shared_secret != secret || record.sealed_secret.is_none() {
            record.set_shared_secret(secret.clone());
            record.sealed_secret = sealed_new.clone();
        }
        if payload.cloud_id.is_some() {
            record.cloud_id = payload.cloud_id.clone();
        }
        if payload.installation_id.is_some() {
            record.installation_id = payload.installation_id.clone();
        }
        record.installed_at = now.clone();
        if was_uninstalled {
            record.state = TenantState::Installed;
            record.uninstalled_at = None;
            record.purge_after = None;
        }
        push_history(&mut record, if was_uninstalled { "reinstalled" } else { "installed" }, &now);
        // The newest install of a site answers for its cloudId, when it is that site (cloud_index).
        let mut claim = match (payload_claim, &record.cloud_id) {
            (Some(claim), _) => claim,
            (None, Some(cloud_id)) => cloud_index::claim_writes(state, key, &record.base_url, cloud_id).await?,
            (None, None) => Vec::new(),
        };
        if was_uninstalled {
            // A purge under way (retention::purge) finishes first: Atlassian retries the install
            // after it, onto a fresh tenant. The check makes this write fail if one starts now.
            let marker = crate::kernel::keys::PURGE;
            if state.store.get(key, marker, state.clock.now_secs()).await?.is_some() {
                return Err(Error::Unavailable {
                    dependency: "purge",
                    cause: "the tenant's data is being deleted".into(),
                    retry_after_secs: 30,
                });
            }
            claim.push(Write::Check { tenant: key.clone(), sk: marker.into(), condition: Condition::Absent });
        }
        save(state, key, &record, condition, None, claim).await?;
        if was_uninstalled {
            tracing::info!(tenant = %key, "re-install cancelled the pending purge");
        }
        Ok(record)
    })
    .await
}

/// `secret` sealed for `key`'s record; `None` for no secret (a Forge install).
async fn seal_new(state: &Stack, key: &TenantKey, secret: &str) -> Result<Option<Envelope>> {
    if secret.is_empty() {
        return Ok(None);
    }
    state.secrets.seal(key.as_str(), secret).await.map(Some)
}

/// `uninstalled` after a verified signed install token: schedules the purge. A repeated
/// uninstall keeps the first purge date, so retries never postpone deletion.
pub async fn uninstall(state: &Stack, key: &TenantKey) -> Result<Tenant> {
    retry_conflicts(|| async {
        let (mut record, version) = load(state, key).await?.ok_or_else(unknown_tenant)?;
        if record.state == TenantState::Uninstalled {
            return Ok(record);
        }
        let due = mark_uninstalled(state, &mut record);
        save(state, key, &record, Condition::Version(version), Some(due), Vec::new()).await?;
        Ok(record)
    })
    .await
}

/// `enabled` / `disabled` (HS256 with the stored secret). An uninstalled tenant must be
/// installed again first.
pub async fn set_enabled(state: &Stack, key: &TenantKey, enabled: bool) -> Result<Tenant> {
    let (target, event) = if enabled { (TenantState::Enabled, "enabled") } else { (TenantState::Disabled, "disabled") };
    retry_conflicts(|| async {
        let (mut record, version) = load(state, key).await?.ok_or_else(unknown_tenant)?;
        if record.state == TenantState::Uninstalled {
            return Err(Error::conflict(
                "tenant_uninstalled",
                "The app is uninstalled for this site; install it again first.",
            ));
        }
        if record.state == target {
            return Ok(record);
        }
        record.state = target;
        push_history(&mut record, event, &rfc3339(state.clock.now_millis()));
        save(state, key, &record, Condition::Version(version), None, Vec::new()).await?;
        Ok(record)
    })
    .await
}

pub fn unknown_tenant() -> Error {
    Error::not_found("unknown_tenant", "No installation is known for this clientKey.")
}
