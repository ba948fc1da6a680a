//! The migration state machine: request, copy passes, freeze, verify, switch, cancel, and the
//! drivers that resume it after a crash.

use crate::domain::data::Stack;
use crate::domain::regions::Region;
use crate::domain::tenants;
use crate::kernel::clock::rfc3339;
use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::kernel::keys::MIGRATED_SOURCE_DUE_KIND;
use crate::kernel::keys::PURGE;
use crate::kernel::keys::REGISTRY_DUE_KIND;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{Condition, Due, Item, MAX_PAGE_SIZE, PageRequest, Write, retry_conflicts};

use super::copy::{Synced, digest, snapshot, sync};
use super::model::{
    DarePlan, Kind, Migration, Phase, Progress, ROLLBACK_WINDOW_SECS, load_in, load_tenant_in, residency_item,
    residency_write, tenant_item,
};
use super::routing::home;

/// Copy passes before the freeze continue while a pass still put more than this many items, up
/// to [`MAX_COPY_PASSES`]: the read-only phase then only copies the last few changes.
pub const QUIET_PASS_ITEMS: u64 = 50;
pub const MAX_COPY_PASSES: u32 = 3;

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

pub(super) fn not_scheduled() -> Error {
    Error::conflict("not_scheduled", "No realm migration is scheduled for this site.")
}

/// Drives the tenant's migration as far as it goes without outside input: to `switched` (or
/// `ready` for a realm migration). Safe to run again after a crash at any point.
pub async fn drive(state: &Stack, tenant: &TenantKey) -> Result<Migration> {
    loop {
        let now = state.clock.now_secs();
        let (m, _) = current(state, tenant, now).await?;
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

/// Whether any migration or rollback waits to be driven: one look at the due index.
pub async fn any_in_flight(state: &Stack) -> Result<bool> {
    let first = state
        .store
        .due(keys::RESIDENCY_DUE_KIND, state.clock.now_secs(), PageRequest { limit: 1, after: None })
        .await?;
    Ok(!first.items.is_empty())
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

/// The migration this region records for the tenant, and its version; one must exist.
async fn current(state: &Stack, tenant: &TenantKey, now: i64) -> Result<(Migration, u64)> {
    load_in(home(state)?, tenant, now).await?.ok_or_else(|| Error::internal("no migration"))
}

/// Adds a pass's figures to the migration's progress.
fn count_pass(progress: &mut Progress, synced: &Synced) {
    progress.passes += 1;
    progress.items_total = synced.total;
    progress.items_copied += synced.put;
    progress.items_deleted += synced.deleted;
    progress.objects_copied += synced.objects;
}

/// One copy pass of a migration in `copying` (the tenant stays usable meanwhile).
pub async fn copy_pass(state: &Stack, tenant: &TenantKey) -> Result<Migration> {
    let now = state.clock.now_secs();
    let (m, _) = current(state, tenant, now).await?;
    if m.phase != Phase::Copying {
        return Ok(m);
    }
    let (from, to) = regions_of(state, &m)?;
    if m.progress.passes == 0 {
        claim_target(state, to, tenant).await?;
    }
    let synced = sync(from, to, tenant, now).await?;
    update(state, tenant, |m| {
        count_pass(&mut m.progress, &synced);
        tracing::info!(tenant = %tenant, pass = m.progress.passes, put = synced.put, deleted = synced.deleted, objects = synced.objects, "residency copy pass");
        Ok(())
    })
    .await
}

/// Re-reads the migration and saves `change` over it.
async fn update(state: &Stack, tenant: &TenantKey, change: impl Fn(&mut Migration) -> Result<()>) -> Result<Migration> {
    retry_conflicts(|| async {
        let now = state.clock.now_secs();
        let (mut m, version) = current(state, tenant, now).await?;
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
        body: serde_json::json!({ "migration": migration.id }).into(),
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
        let (mut m, version) = current(state, tenant, now).await?;
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
    let (m, _) = current(state, tenant, now).await?;
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
        count_pass(&mut m.progress, &synced);
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
    let (mut m, _) = current(state, tenant, now).await?;
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
    let (m, _) = current(state, tenant, now).await?;
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
