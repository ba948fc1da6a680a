//! Data residency: moving a tenant's partition and media from one region to another with a
//! read-only window of seconds, rolling it back (with the changes made since) for 7 days, and
//! Atlassian's realm-migration hooks (`dare.rs`) driving the same engine.
//!
//! The migration is a state machine stored as `RESIDENCY` in the tenant's partition of the region
//! it runs from (on the `residency` due index while in flight, so [`resume_all`] finishes what a
//! crash interrupted). Every step is idempotent:
//!
//! 1. `copying`: [`copy_pass`] makes the target partition equal to the source (puts what differs,
//!    deletes what the source no longer has — sort keys, versions, due entries preserved) and
//!    copies the objects of the media records it put. The tenant stays fully usable; passes
//!    repeat while they still find much to copy.
//! 2. `read-only`: [`freeze`] sets `read_only` on the install record (the auth extractor answers
//!    writes 503 `tenant_read_only` + `Retry-After`; reads go on) and puts the fence marker, so
//!    no write of anyone lands after it ([`fence`]); then [`finish_copy`] copies what changed
//!    since, and verifies item counts and a SHA-256 over (sort key, version, body) on both sides.
//! 3. `switched`: the install record names the new region in both regions; the old region answers
//!    421 with the new one's base URL. The source copy stays, untouched, due for the retention
//!    sweep (`crate::kernel::keys::MIGRATED_SOURCE_DUE_KIND`) 7 days later. A rollback within those 7 days
//!    is the same migration in reverse, so it carries every change made since; the passes find
//!    only what changed, so it is quick.
//!
//! Realm migrations (`dare`) stop at `ready` (copied, verified, still read-only) until Atlassian
//! commits (switch) or rolls back (the source thaws, the copy is purged).

pub mod dare;
pub mod fence;
pub mod restore;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::connect::jwt::{Audience, ConnectClaims};
use crate::domain::data::{Data, Stack};
use crate::domain::regions::{Region, install_region};
use crate::domain::tenants::{self, Tenant};
use crate::kernel::clock::rfc3339;
use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::kernel::keys::MIGRATED_SOURCE_DUE_KIND;
use crate::kernel::keys::PURGE;
use crate::kernel::keys::REGISTRY_DUE_KIND;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::media::{ObjectInfo, ObjectKey};
use crate::ports::store::{Condition, Due, Item, MAX_PAGE_SIZE, PageRequest, Write, retry_conflicts};

/// How long the source copy is kept (read-only, unreachable but for rollback) after a switch.
pub const ROLLBACK_WINDOW_SECS: i64 = 7 * 86_400;
/// `Retry-After` of a write refused during the read-only phase.
pub const READ_ONLY_RETRY_AFTER_SECS: u64 = 5;
/// Copy passes before the freeze continue while a pass still put more than this many items, up
/// to [`MAX_COPY_PASSES`]: the read-only phase then only copies the last few changes.
pub const QUIET_PASS_ITEMS: u64 = 50;
pub const MAX_COPY_PASSES: u32 = 3;
/// Item writes per copy transaction (≤ 100; 25 keeps a transaction of 350 KB items under 4 MB
/// would need 11, so puts are also cut by size at [`COPY_BATCH_BYTES`]).
const COPY_BATCH: usize = 25;
const COPY_BATCH_BYTES: usize = 3 * 1024 * 1024;
/// Copy transactions in flight at once.
const COPY_CONCURRENCY: usize = 8;

/// Items the engine writes itself, never copied by a pass.
fn is_engine_item(sk: &str) -> bool {
    sk == keys::TENANT_RECORD || sk == keys::RESIDENCY || sk == keys::RESIDENCY_FREEZE || sk == PURGE
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Asked for by a tenant admin.
    Migration,
    /// Back to the region a migration left, within its 7 days.
    Rollback,
    /// Atlassian's realm migration (`dare-migration` hooks).
    Dare,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// A realm migration Atlassian scheduled; nothing copied yet.
    Scheduled,
    Copying,
    ReadOnly,
    /// A realm migration copied and verified, waiting for Atlassian's commit (still read-only).
    Ready,
    Switched,
    /// A realm migration Atlassian rolled back before its commit.
    Cancelled,
    Failed,
}

impl Phase {
    pub fn in_flight(self) -> bool {
        matches!(self, Self::Scheduled | Self::Copying | Self::ReadOnly | Self::Ready)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Items of the source partition at the last pass.
    pub items_total: u64,
    /// Items put into the target over all passes.
    pub items_copied: u64,
    /// Items deleted from the target because the source no longer had them.
    pub items_deleted: u64,
    pub objects_copied: u64,
    pub passes: u32,
}

/// What Atlassian's `schedule` hook said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DarePlan {
    pub location: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
}

/// The stored state machine (`RESIDENCY`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Migration {
    pub id: String,
    pub kind: Kind,
    pub from: String,
    pub to: String,
    pub phase: Phase,
    pub requested_at: String,
    pub progress: Progress,
    /// Unix ms the read-only phase began, and how long it lasted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_since_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_ms: Option<i64>,
    /// Items and SHA-256 verified equal on both sides before the switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<Verified>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switched_at: Option<String>,
    /// Unix seconds until which a rollback is possible (the source copy is kept until then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_until_secs: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dare: Option<DarePlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verified {
    pub items: u64,
    pub sha256: String,
}

/// `GET /api/residency`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResidencyView {
    pub region: String,
    pub regions: Vec<String>,
    pub migration: Option<Migration>,
    /// RFC 3339 end of the rollback window, while a rollback is possible.
    pub rollback_until: Option<String>,
}

/// 503 `tenant_read_only` for a write during the read-only phase.
pub fn read_only_error() -> Error {
    Error::ReadOnly { retry_after_secs: READ_ONLY_RETRY_AFTER_SECS }
}

/// The region a new install is homed in (see `regions::install_region`). A stack only stores the
/// tenants it is home for: an install that names another region here is homed here (and logged),
/// since its data is here.
pub fn region_of_install(state: &Stack, claims: &ConnectClaims) -> String {
    let audiences: Vec<&str> = match &claims.aud {
        Some(Audience::One(a)) => vec![a.as_str()],
        Some(Audience::Many(list)) => list.iter().map(String::as_str).collect(),
        None => Vec::new(),
    };
    let config = &state.config;
    let region = install_region(&config.regions, &config.region_base_urls, &audiences, &config.base_url);
    if region != config.home_region {
        tracing::warn!(%region, home = %config.home_region, "an install for another region reached this stack; homed here");
        return config.home_region.clone();
    }
    region
}

fn encode(migration: &Migration) -> Result<serde_json::Value> {
    serde_json::to_value(migration).map_err(Error::internal)
}

async fn load_in(region: &Region, tenant: &TenantKey, now: i64) -> Result<Option<(Migration, u64)>> {
    let Some(item) = region.store.get(tenant, keys::RESIDENCY, now).await? else { return Ok(None) };
    let migration = serde_json::from_value(item.body).map_err(|e| Error::internal(format!("residency: {e}")))?;
    Ok(Some((migration, item.version)))
}

async fn load_tenant_in(region: &Region, tenant: &TenantKey, now: i64) -> Result<Option<(Tenant, Item)>> {
    let Some(item) = region.store.get(tenant, keys::TENANT_RECORD, now).await? else { return Ok(None) };
    let record = serde_json::from_value(item.body.clone()).map_err(|e| Error::internal(format!("tenant: {e}")))?;
    Ok(Some((record, item)))
}

fn home(state: &Stack) -> Result<&Region> {
    state.regions.get(state.regions.home()).ok_or_else(|| Error::internal("the home region has no adapters"))
}

fn residency_item(state: &Stack, tenant: &TenantKey, migration: &Migration, version: u64) -> Result<Item> {
    Ok(Item {
        tenant: tenant.clone(),
        sk: keys::RESIDENCY.into(),
        version,
        updated_at: state.clock.now_millis(),
        updated_by: None,
        due: migration.phase.in_flight().then(|| Due { kind: keys::RESIDENCY_DUE_KIND.into(), at: 0 }),
        expires_at: None,
        body: encode(migration)?,
    })
}

fn residency_write(
    state: &Stack,
    tenant: &TenantKey,
    migration: &Migration,
    read_version: Option<u64>,
) -> Result<Write> {
    let (version, condition) = match read_version {
        Some(v) => (v + 1, Condition::Version(v)),
        None => (1, Condition::Absent),
    };
    Ok(Write::Put { item: residency_item(state, tenant, migration, version)?, condition })
}

fn tenant_item(state: &Stack, tenant: &TenantKey, record: &Tenant, version: u64, due: Option<Due>) -> Result<Item> {
    Ok(Item {
        tenant: tenant.clone(),
        sk: keys::TENANT_RECORD.into(),
        version,
        updated_at: state.clock.now_millis(),
        updated_by: None,
        due,
        expires_at: None,
        body: serde_json::to_value(record).map_err(Error::internal)?,
    })
}

/// This stack acting on `region`'s table and bucket (every stack reaches every region): for
/// lifecycle events Atlassian sends to the region a tenant left, and for the local two-region
/// server.
pub fn acting_in(state: &Stack, region: &str) -> Result<Stack> {
    let target = state.regions.require(region)?.clone();
    let mut config = (*state.config).clone();
    config.home_region = region.to_owned();
    Ok(Stack {
        data: Data { store: target.store, ..state.data.clone() },
        config: std::sync::Arc::new(config),
        media: target.media,
        regions: state.regions.rehomed(region)?,
    })
}

/// The state whose store holds the tenant's live data: this one, or, for a tenant that moved
/// away (its record here names another region), that region's. Atlassian keeps sending lifecycle
/// events to the base URL it installed through; they must change the live record, not the copy
/// left behind for the rollback window.
pub async fn home_state(state: &Stack, tenant: &TenantKey) -> Result<Stack> {
    let now = state.clock.now_secs();
    match load_tenant_in(home(state)?, tenant, now).await? {
        Some((record, _)) if record.region != state.regions.home() && state.regions.get(&record.region).is_some() => {
            tracing::info!(tenant = %tenant, region = %record.region, "lifecycle event for a tenant homed elsewhere");
            acting_in(state, &record.region)
        }
        _ => Ok(state.clone()),
    }
}

/// An upload URL issued before the tenant moved here points at the bucket it left (URLs live 5
/// minutes; the pending record moved with the data). While the source is kept (the rollback
/// window), `complete` finds the object there and copies it over; answers what is now stored
/// here, or `None` when nothing was uploaded anywhere.
pub async fn fetch_moved_upload(state: &Stack, tenant: &TenantKey, key: &ObjectKey) -> Result<Option<ObjectInfo>> {
    let now = state.clock.now_secs();
    let Some((m, _)) = load_in(home(state)?, tenant, now).await? else { return Ok(None) };
    let moved_here = m.phase == Phase::Switched && m.to == state.regions.home();
    if !moved_here || m.rollback_until_secs.is_none_or(|until| now >= until) {
        return Ok(None);
    }
    let from = state.regions.require(&m.from)?;
    let Some((bytes, content_type)) = from.media.get_object(key).await? else { return Ok(None) };
    let here = home(state)?;
    here.media.put_object(key, bytes, content_type.as_deref()).await?;
    tracing::info!(tenant = %tenant, from = %m.from, "an upload sent to the region the tenant left was copied over");
    here.media.head(key).await
}

/// `GET /api/residency`: where the tenant lives, the last migration, and the rollback window.
pub async fn view(state: &Stack, tenant: &TenantKey) -> Result<ResidencyView> {
    let now = state.clock.now_secs();
    let migration = load_in(home(state)?, tenant, now).await?.map(|(m, _)| m);
    let rollback_until = migration
        .as_ref()
        .filter(|m| m.phase == Phase::Switched && m.to == state.regions.home())
        .and_then(|m| m.rollback_until_secs)
        .filter(|until| *until > now)
        .map(|until| rfc3339(until * 1000));
    Ok(ResidencyView {
        region: state.regions.home().to_owned(),
        regions: state.regions.names(),
        migration,
        rollback_until,
    })
}

/// Starts moving the tenant (homed here) to `to`: records the migration, in phase `copying`
/// (`scheduled` for a realm migration, which waits for Atlassian's `start`).
pub async fn request(
    state: &Stack,
    tenant: &TenantKey,
    to: &str,
    kind: Kind,
    dare: Option<DarePlan>,
) -> Result<Migration> {
    let from = state.regions.home().to_owned();
    state.regions.require(to)?;
    if to == from {
        return Err(Error::invalid("same_region", format!("The tenant already lives in region {to}.")));
    }
    retry_conflicts(|| async {
        let now = state.clock.now_secs();
        let existing = load_in(home(state)?, tenant, now).await?;
        if let Some((m, _)) = &existing
            && m.phase.in_flight()
            && !(kind == Kind::Dare && m.kind == Kind::Dare && m.phase == Phase::Scheduled)
        {
            return Err(Error::conflict(
                "migration_in_progress",
                format!("A move to region {} is already under way ({:?}).", m.to, m.phase),
            ));
        }
        let migration = Migration {
            id: crate::kernel::ids::new_ulid(state.clock.now_millis())?,
            kind,
            from: from.clone(),
            to: to.to_owned(),
            phase: if kind == Kind::Dare { Phase::Scheduled } else { Phase::Copying },
            requested_at: rfc3339(state.clock.now_millis()),
            progress: Progress::default(),
            read_only_since_ms: None,
            read_only_ms: None,
            verified: None,
            switched_at: None,
            rollback_until_secs: None,
            dare: dare.clone(),
            message: None,
        };
        let write = residency_write(state, tenant, &migration, existing.map(|(_, v)| v))?;
        state.store.transact(vec![write], now).await?;
        tracing::info!(tenant = %tenant, to = %to, ?kind, "residency migration requested");
        Ok(migration)
    })
    .await
}

/// `POST /api/residency/rollback`: back to the region the last migration left, with every change
/// made since, while its 7 days last.
pub async fn request_rollback(state: &Stack, tenant: &TenantKey) -> Result<Migration> {
    let now = state.clock.now_secs();
    let last = load_in(home(state)?, tenant, now).await?.map(|(m, _)| m);
    let Some(last) = last.filter(|m| m.phase == Phase::Switched && m.to == state.regions.home()) else {
        return Err(Error::conflict("nothing_to_roll_back", "No migration into this region can be rolled back."));
    };
    let until = last.rollback_until_secs.unwrap_or(0);
    if now >= until {
        return Err(Error::conflict(
            "rollback_window_closed",
            format!(
                "The 7-day rollback window closed at {}; the copy in region {} was deleted. Start a new migration to move the data there again.",
                rfc3339(until * 1000),
                last.from
            ),
        ));
    }
    request(state, tenant, &last.from, Kind::Rollback, None).await
}

/// Atlassian's `start`: a scheduled realm migration begins copying.
pub async fn start_scheduled(state: &Stack, tenant: &TenantKey) -> Result<Migration> {
    retry_conflicts(|| async {
        let now = state.clock.now_secs();
        let (mut m, version) = load_in(home(state)?, tenant, now).await?.ok_or_else(not_scheduled)?;
        match (m.kind, m.phase) {
            (Kind::Dare, Phase::Scheduled) => {}
            (Kind::Dare, phase) if phase.in_flight() || phase == Phase::Switched => return Ok(m),
            _ => return Err(not_scheduled()),
        }
        m.phase = Phase::Copying;
        state.store.transact(vec![residency_write(state, tenant, &m, Some(version))?], now).await?;
        Ok(m)
    })
    .await
}

fn not_scheduled() -> Error {
    Error::conflict("not_scheduled", "No realm migration is scheduled for this site.")
}

/// Drives the tenant's migration as far as it goes without outside input: to `switched` (or
/// `ready` for a realm migration). Safe to run again after a crash at any point.
pub async fn drive(state: &Stack, tenant: &TenantKey) -> Result<Migration> {
    loop {
        let now = state.clock.now_secs();
        let (m, _) = load_in(home(state)?, tenant, now).await?.ok_or_else(|| Error::internal("no migration"))?;
        match m.phase {
            Phase::Copying => {
                let mut last = m.progress.items_copied;
                for _ in m.progress.passes..MAX_COPY_PASSES {
                    let after = copy_pass(state, tenant).await?;
                    let put = after.progress.items_copied - last;
                    last = after.progress.items_copied;
                    if put <= QUIET_PASS_ITEMS {
                        break;
                    }
                }
                freeze(state, tenant).await?;
            }
            Phase::ReadOnly => {
                finish_copy(state, tenant).await?;
            }
            _ => return Ok(m),
        }
    }
}

/// Runs [`drive`] in the background when the process drives migrations itself; failures are
/// logged and stay resumable ([`resume_all`]).
pub fn spawn_drive(state: &Stack, tenant: &TenantKey) {
    if !state.regions.settings().auto_drive {
        return;
    }
    let (state, tenant) = (state.clone(), tenant.clone());
    tokio::spawn(async move {
        if let Err(error) = drive(&state, &tenant).await {
            tracing::error!(tenant = %tenant, %error, "residency migration stopped; it resumes on the next run");
        }
    });
}

/// Drives every migration in flight from this region (after a restart; the scheduled job).
pub async fn resume_all(state: &Stack) -> Result<u64> {
    let mut driven = 0;
    let mut after = None;
    loop {
        let page = state
            .store
            .due(keys::RESIDENCY_DUE_KIND, state.clock.now_secs(), PageRequest { limit: MAX_PAGE_SIZE, after })
            .await?;
        for entry in page.items {
            drive(state, &entry.tenant).await?;
            driven += 1;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(driven),
        }
    }
}

/// Every item of the tenant in a region but the engine's own, by sort key.
async fn snapshot(region: &Region, tenant: &TenantKey, now: i64) -> Result<BTreeMap<String, Item>> {
    let mut items = BTreeMap::new();
    let mut after = None;
    loop {
        let page = region.store.query(tenant, "", PageRequest { limit: MAX_PAGE_SIZE, after }, now).await?;
        for item in page.items {
            if !is_engine_item(&item.sk) {
                items.insert(item.sk.clone(), item);
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(items),
        }
    }
}

/// Items and SHA-256 over (sort key, version, body) in sort-key order.
fn digest(items: &BTreeMap<String, Item>) -> Verified {
    let mut hash = Sha256::new();
    for (sk, item) in items {
        hash.update(sk.as_bytes());
        hash.update([0]);
        hash.update(item.version.to_be_bytes());
        hash.update(serde_json::to_vec(&item.body).unwrap_or_default());
        hash.update([0]);
    }
    Verified { items: items.len() as u64, sha256: hex::encode(hash.finalize()) }
}

#[derive(Debug, Default)]
pub(crate) struct Synced {
    /// The source as this pass read it.
    pub(crate) source: BTreeMap<String, Item>,
    pub(crate) total: u64,
    pub(crate) put: u64,
    pub(crate) deleted: u64,
    pub(crate) objects: u64,
}

/// Makes the target partition equal to the source (the engine's own items aside) and copies the
/// objects of media records it put; deletes objects of media records the source lost. Also the
/// single-tenant restore (`restore`).
pub(crate) async fn sync(from: &Region, to: &Region, tenant: &TenantKey, now: i64) -> Result<Synced> {
    let (source, target) = tokio::try_join!(snapshot(from, tenant, now), snapshot(to, tenant, now))?;
    let puts: Vec<Item> =
        source.iter().filter(|(sk, item)| target.get(*sk) != Some(*item)).map(|(_, item)| item.clone()).collect();
    let deletes: Vec<(TenantKey, String)> =
        target.keys().filter(|sk| !source.contains_key(*sk)).map(|sk| (tenant.clone(), sk.clone())).collect();
    let mut synced = Synced {
        source: BTreeMap::new(),
        total: source.len() as u64,
        put: puts.len() as u64,
        deleted: deletes.len() as u64,
        objects: 0,
    };

    let media_of = |sk: &str| sk.strip_prefix(keys::MEDIA_PREFIX).map(|id| ObjectKey::media(tenant, id));
    let objects: Vec<ObjectKey> = puts.iter().filter_map(|item| media_of(&item.sk)).collect();
    let gone_objects: Vec<ObjectKey> = deletes.iter().filter_map(|(_, sk)| media_of(sk)).collect();

    // Objects first: a media record in the target always has its object there.
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in objects.chunks(objects.len().div_ceil(COPY_CONCURRENCY).max(1)) {
        let (from, to, chunk) = (from.media.clone(), to.media.clone(), chunk.to_vec());
        tasks.spawn(async move {
            let mut copied = 0u64;
            for key in chunk {
                let Some((bytes, content_type)) = from.get_object(&key).await? else { continue };
                let present = to.head(&key).await?;
                if present.is_some_and(|info| info.length == bytes.len() as u64) {
                    continue;
                }
                to.put_object(&key, bytes, content_type.as_deref()).await?;
                copied += 1;
            }
            Ok::<_, Error>(copied)
        });
    }
    while let Some(done) = tasks.join_next().await {
        synced.objects += done.map_err(Error::internal)??;
    }

    let mut batches: Vec<Vec<Write>> = Vec::new();
    let mut current: Vec<Write> = Vec::new();
    let mut bytes = 0;
    for item in puts {
        let size = serde_json::to_vec(&item.body).map_err(Error::internal)?.len() + item.sk.len() + 200;
        if current.len() == COPY_BATCH || (bytes + size > COPY_BATCH_BYTES && !current.is_empty()) {
            batches.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(Write::Put { item, condition: Condition::None });
    }
    if !current.is_empty() {
        batches.push(current);
    }
    let store = to.store.clone();
    let mut pending = batches.into_iter();
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        while tasks.len() < COPY_CONCURRENCY {
            let Some(batch) = pending.next() else { break };
            let store = store.clone();
            tasks.spawn(async move { store.transact(batch, now).await });
        }
        match tasks.join_next().await {
            Some(done) => done.map_err(Error::internal)??,
            None => break,
        }
    }
    for chunk in deletes.chunks(crate::ports::store::MAX_BATCH_DELETES) {
        to.store.delete_batch(chunk).await?;
    }
    for key in gone_objects {
        to.media.delete(&key).await?;
    }
    synced.source = source;
    Ok(synced)
}

fn regions_of<'a>(state: &'a Stack, m: &Migration) -> Result<(&'a Region, &'a Region)> {
    Ok((state.regions.require(&m.from)?, state.regions.require(&m.to)?))
}

/// Takes the target's install record (a copy left by an earlier move, waiting for its purge) off
/// every due index so no sweep deletes what is being copied; refuses while a purge runs there.
async fn claim_target(state: &Stack, to: &Region, tenant: &TenantKey) -> Result<()> {
    let now = state.clock.now_secs();
    if to.store.get(tenant, PURGE, now).await?.is_some() {
        return Err(Error::Unavailable {
            dependency: "residency",
            cause: "the tenant's old copy in the target region is being deleted".into(),
            retry_after_secs: 60,
        });
    }
    let Some((_, item)) = load_tenant_in(to, tenant, now).await? else { return Ok(()) };
    if item.due.is_none() {
        return Ok(());
    }
    let claimed = Item { version: item.version + 1, due: None, updated_at: state.clock.now_millis(), ..item.clone() };
    let writes = vec![
        Write::Put { item: claimed, condition: Condition::Version(item.version) },
        Write::Check { tenant: tenant.clone(), sk: PURGE.into(), condition: Condition::Absent },
    ];
    to.store.transact(writes, now).await
}

/// One copy pass of a migration in `copying` (the tenant stays usable meanwhile).
pub async fn copy_pass(state: &Stack, tenant: &TenantKey) -> Result<Migration> {
    let now = state.clock.now_secs();
    let (m, _) = load_in(home(state)?, tenant, now).await?.ok_or_else(|| Error::internal("no migration"))?;
    if m.phase != Phase::Copying {
        return Ok(m);
    }
    let (from, to) = regions_of(state, &m)?;
    if m.progress.passes == 0 {
        claim_target(state, to, tenant).await?;
    }
    let synced = sync(from, to, tenant, now).await?;
    update(state, tenant, |m| {
        m.progress.passes += 1;
        m.progress.items_total = synced.total;
        m.progress.items_copied += synced.put;
        m.progress.items_deleted += synced.deleted;
        m.progress.objects_copied += synced.objects;
        tracing::info!(tenant = %tenant, pass = m.progress.passes, put = synced.put, deleted = synced.deleted, objects = synced.objects, "residency copy pass");
        Ok(())
    })
    .await
}

/// Re-reads the migration and saves `change` over it.
async fn update(state: &Stack, tenant: &TenantKey, change: impl Fn(&mut Migration) -> Result<()>) -> Result<Migration> {
    retry_conflicts(|| async {
        let now = state.clock.now_secs();
        let (mut m, version) =
            load_in(home(state)?, tenant, now).await?.ok_or_else(|| Error::internal("no migration"))?;
        change(&mut m)?;
        state.store.transact(vec![residency_write(state, tenant, &m, Some(version))?], now).await?;
        Ok(m)
    })
    .await
}

/// `copying` → `read-only`: one transaction marks the install record read-only and the migration.
pub async fn freeze(state: &Stack, tenant: &TenantKey) -> Result<Migration> {
    set_read_only(state, tenant, true, |m| {
        if m.phase == Phase::Copying {
            m.phase = Phase::ReadOnly;
            m.read_only_since_ms = Some(state.clock.now_millis());
        }
    })
    .await
}

/// The fence marker's write: put when freezing, deleted when thawing.
fn freeze_marker(state: &Stack, tenant: &TenantKey, frozen: bool, migration: &Migration) -> Write {
    if !frozen {
        return Write::Delete { tenant: tenant.clone(), sk: keys::RESIDENCY_FREEZE.into(), condition: Condition::None };
    }
    let item = Item {
        tenant: tenant.clone(),
        sk: keys::RESIDENCY_FREEZE.into(),
        version: 1,
        updated_at: state.clock.now_millis(),
        updated_by: None,
        due: None,
        expires_at: None,
        body: serde_json::json!({ "migration": migration.id }),
    };
    Write::Put { item, condition: Condition::None }
}

/// Writes the install record's `read_only`, the fence marker and the migration's `change` in one
/// transaction.
async fn set_read_only(
    state: &Stack,
    tenant: &TenantKey,
    read_only: bool,
    change: impl Fn(&mut Migration),
) -> Result<Migration> {
    retry_conflicts(|| async {
        let now = state.clock.now_secs();
        let (mut m, version) =
            load_in(home(state)?, tenant, now).await?.ok_or_else(|| Error::internal("no migration"))?;
        let (mut record, item) =
            load_tenant_in(home(state)?, tenant, now).await?.ok_or_else(tenants::unknown_tenant)?;
        change(&mut m);
        record.read_only = read_only;
        let record_item = tenant_item(state, tenant, &record, item.version + 1, item.due.clone())?;
        let writes = vec![
            Write::Put { item: record_item, condition: Condition::Version(item.version) },
            residency_write(state, tenant, &m, Some(version))?,
            freeze_marker(state, tenant, read_only, &m),
        ];
        state.store.transact(writes, now).await?;
        Ok(m)
    })
    .await
}

/// `read-only` → (`ready` for a realm migration, else) `switched`: copies what changed since the
/// last pass (the fence lets no write land after the freeze), verifies both sides, switches.
pub async fn finish_copy(state: &Stack, tenant: &TenantKey) -> Result<Migration> {
    let now = state.clock.now_secs();
    let (m, _) = load_in(home(state)?, tenant, now).await?.ok_or_else(|| Error::internal("no migration"))?;
    if m.phase != Phase::ReadOnly {
        return Ok(m);
    }
    let (from, to) = regions_of(state, &m)?;
    // A crash after the target took over (its record written) but before the source followed:
    // the target may have changed since, so nothing is copied again; only the source follows.
    if let Some((there, _)) = load_in(to, tenant, now).await?
        && there.id == m.id
        && there.phase == Phase::Switched
    {
        return switch_source(state, tenant, &there).await;
    }
    let synced = sync(from, to, tenant, now).await?;
    // The source is read-only: the snapshot this pass read is its state; the target is read back.
    let target = snapshot(to, tenant, now).await?;
    let (source_sum, target_sum) = (digest(&synced.source), digest(&target));
    if source_sum != target_sum {
        // Only a write that bypassed the fence could cause this: refuse to switch; the next run
        // copies again.
        return Err(Error::unavailable(
            "residency",
            format!("verification differs: {} vs {} items", source_sum.items, target_sum.items),
        ));
    }
    let m = update(state, tenant, |m| {
        m.progress.passes += 1;
        m.progress.items_total = synced.total;
        m.progress.items_copied += synced.put;
        m.progress.items_deleted += synced.deleted;
        m.progress.objects_copied += synced.objects;
        m.verified = Some(source_sum.clone());
        if m.kind == Kind::Dare {
            m.phase = Phase::Ready;
        }
        Ok(())
    })
    .await?;
    if m.kind == Kind::Dare {
        return Ok(m);
    }
    switch(state, tenant).await
}

/// `read-only`/`ready` → `switched`: the target's install record takes over (registry, writable,
/// its region), then the source's names the target and is due for the sweep in 7 days.
pub async fn switch(state: &Stack, tenant: &TenantKey) -> Result<Migration> {
    let now = state.clock.now_secs();
    let (mut m, _) = load_in(home(state)?, tenant, now).await?.ok_or_else(|| Error::internal("no migration"))?;
    if m.phase == Phase::Switched {
        return Ok(m);
    }
    if !matches!(m.phase, Phase::ReadOnly | Phase::Ready) {
        return Err(Error::conflict("not_ready", "The copy is not complete and verified yet."));
    }
    let (_, to) = regions_of(state, &m)?;
    let (mut record, item) = load_tenant_in(home(state)?, tenant, now).await?.ok_or_else(tenants::unknown_tenant)?;
    let now_ms = state.clock.now_millis();
    m.phase = Phase::Switched;
    m.switched_at = Some(rfc3339(now_ms));
    m.rollback_until_secs = Some(now + ROLLBACK_WINDOW_SECS);
    m.read_only_ms = m.read_only_since_ms.map(|since| now_ms - since);
    record.region = m.to.clone();
    record.read_only = false;
    let target_version = load_in(to, tenant, now).await?.map(|(_, v)| v);
    let target_record =
        tenant_item(state, tenant, &record, item.version + 1, Some(Due { kind: REGISTRY_DUE_KIND.into(), at: 0 }))?;
    let mut there = m.clone();
    there.phase = Phase::Switched;
    let mut writes = vec![
        Write::Put { item: target_record, condition: Condition::None },
        Write::Put {
            item: residency_item(state, tenant, &there, target_version.map_or(1, |v| v + 1))?,
            condition: Condition::None,
        },
    ];
    // The site's Forge index entry, so FITs find the tenant in its new region too.
    if let Some(cloud_id) = &record.cloud_id {
        let index = keys::cloud_index_tenant();
        if let Some(entry) = state.store.get(&index, &keys::cloud_index(cloud_id), now).await? {
            writes.push(Write::Put { item: entry, condition: Condition::None });
        }
    }
    to.store.transact(writes, now).await?;
    switch_source(state, tenant, &m).await
}

/// The source follows a switch: its record names the new region (so this region answers 421)
/// and waits 7 days on the `migrated-source` due index; the migration is recorded here too.
async fn switch_source(state: &Stack, tenant: &TenantKey, switched: &Migration) -> Result<Migration> {
    retry_conflicts(|| async {
        let now = state.clock.now_secs();
        let here = home(state)?;
        let (_, version) = load_in(here, tenant, now).await?.ok_or_else(|| Error::internal("no migration"))?;
        let (mut record, item) = load_tenant_in(here, tenant, now).await?.ok_or_else(tenants::unknown_tenant)?;
        record.region = switched.to.clone();
        record.read_only = false;
        let until = switched.rollback_until_secs.unwrap_or(now + ROLLBACK_WINDOW_SECS);
        let due = Due { kind: MIGRATED_SOURCE_DUE_KIND.into(), at: until };
        let writes = vec![
            Write::Put {
                item: tenant_item(state, tenant, &record, item.version + 1, Some(due))?,
                condition: Condition::Version(item.version),
            },
            residency_write(state, tenant, switched, Some(version))?,
            freeze_marker(state, tenant, false, switched),
        ];
        here.store.transact(writes, now).await?;
        tracing::info!(tenant = %tenant, to = %switched.to, read_only_ms = ?switched.read_only_ms, "residency switched");
        Ok(switched.clone())
    })
    .await
}

/// Abandons a migration before its switch (Atlassian's `rollback`, or an operator): the source
/// thaws and the target's partial copy is handed to the retention sweep.
pub async fn cancel(state: &Stack, tenant: &TenantKey, phase: Phase, message: &str) -> Result<Migration> {
    let now = state.clock.now_secs();
    let (m, _) = load_in(home(state)?, tenant, now).await?.ok_or_else(|| Error::internal("no migration"))?;
    if !m.phase.in_flight() {
        return Ok(m);
    }
    let (_, to) = regions_of(state, &m)?;
    if m.progress.passes > 0 {
        let (mut record, _) = load_tenant_in(home(state)?, tenant, now).await?.ok_or_else(tenants::unknown_tenant)?;
        // The copy is named as homed in the source region, so nothing there answers for it.
        record.read_only = false;
        let version = load_tenant_in(to, tenant, now).await?.map_or(1, |(_, item)| item.version + 1);
        let due = Due { kind: MIGRATED_SOURCE_DUE_KIND.into(), at: now };
        let copy = tenant_item(state, tenant, &record, version, Some(due))?;
        to.store.transact(vec![Write::Put { item: copy, condition: Condition::None }], now).await?;
    }
    let message = message.to_owned();
    set_read_only(state, tenant, false, move |m| {
        m.phase = phase;
        m.message = Some(message.clone());
    })
    .await
}
