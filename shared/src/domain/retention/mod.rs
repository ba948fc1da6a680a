//! The retention sweep: one scheduled, resumable job that keeps every data-lifecycle promise.
//!
//! - tenants 30 days after uninstall (or after their site stopped answering): every item and
//!   every media object, then a personal-data-free receipt (`purge.rs`);
//! - source copies of migrated tenants after the 7-day rollback window (same purge, another
//!   due kind, for the residency function to schedule);
//! - trash entries after 30 days, uploads never completed after a day;
//! - expired records (rate-limit windows) on stores without TTL.
//!
//! The due index is the cursor: work leaves it only when done, so a run that stops at its time
//! budget (Lambda's limit) is continued by the next. Every deletion is idempotent or
//! conditional, so two sweeps at once delete nothing twice and never fail on what is gone.

pub mod liveness;
pub mod on_request;
pub mod purge;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::domain::data::Stack;
use crate::domain::media;
use crate::kernel::error::Result;
use crate::kernel::keys;
use crate::kernel::keys::PURGE_DUE_KIND;
use crate::kernel::keys::TRASH_DUE_KIND;
use crate::ports::store::{Condition, DueEntry, PageRequest, Write};

/// Due entries read per page.
const DUE_PAGE: u32 = 1000;

/// What a run did, and whether work is left for the next one.
#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    pub tenants_purged: u64,
    pub sources_purged: u64,
    pub items_deleted: u64,
    pub objects_deleted: u64,
    pub trash_purged: u64,
    pub pending_uploads_removed: u64,
    /// Objects of upload URLs that expired after their media was completed (`media::sweep_upload`).
    pub upload_objects_swept: u64,
    pub expired_records_removed: u64,
    /// True when the time budget ran out with due work left.
    pub more: bool,
}

/// The wall-clock budget of one run (Lambda's timeout less a margin).
#[derive(Debug, Clone)]
pub struct Budget {
    deadline: Instant,
    /// Tests stop a run after a number of steps, to show it resumes.
    steps_left: Option<Arc<AtomicU64>>,
}

impl Budget {
    pub fn new(limit: Duration) -> Self {
        Self { deadline: Instant::now() + limit, steps_left: None }
    }

    /// A budget that runs out after `steps` checks (each batch or item is one).
    pub fn steps(steps: u64) -> Self {
        Self { deadline: Instant::now() + Duration::from_secs(3600), steps_left: Some(Arc::new(AtomicU64::new(steps))) }
    }

    pub fn exhausted(&self) -> bool {
        if Instant::now() >= self.deadline {
            return true;
        }
        self.steps_left
            .as_ref()
            .is_some_and(|left| left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_err())
    }
}

/// Runs every kind of due work until done or out of budget; `progress` sees the running totals.
pub async fn sweep(state: &Stack, budget: &Budget, progress: &mut dyn FnMut(&SweepReport)) -> Result<SweepReport> {
    let mut report = SweepReport::default();
    let now = state.clock.now_secs();
    // The five due lists are read together: a cold start waits for one round trip instead of
    // five in a row. An item a purge removed before its turn is found missing by its step and
    // skipped, as when a restore or a completion got there first.
    let (uninstalled, migrated, trash, pending, uploads) = tokio::try_join!(
        due_entries(state, PURGE_DUE_KIND, now),
        due_entries(state, keys::MIGRATED_SOURCE_DUE_KIND, now),
        due_entries(state, TRASH_DUE_KIND, now),
        due_entries(state, keys::MEDIA_PENDING_DUE_KIND, now),
        due_entries(state, keys::MEDIA_UPLOAD_DUE_KIND, now),
    )?;
    for (entries, reason) in [(uninstalled, purge::Reason::Uninstalled), (migrated, purge::Reason::MigratedAway)] {
        for entry in entries {
            if budget.exhausted() {
                report.more = true;
                return Ok(report);
            }
            match purge::purge_tenant(state, &entry.tenant, reason, budget, &mut report).await? {
                purge::Outcome::Purged(_) if reason == purge::Reason::MigratedAway => report.sources_purged += 1,
                purge::Outcome::Purged(_) => report.tenants_purged += 1,
                purge::Outcome::OutOfTime => {
                    report.more = true;
                    return Ok(report);
                }
                purge::Outcome::Skipped => {}
            }
            progress(&report);
        }
    }
    for (entries, step) in
        [(trash, ItemStep::Trash), (pending, ItemStep::PendingUpload), (uploads, ItemStep::UploadSweep)]
    {
        for entry in entries {
            if budget.exhausted() {
                report.more = true;
                return Ok(report);
            }
            *step.total(&mut report) += u64::from(step.run(state, &entry).await?);
            progress(&report);
        }
    }
    report.expired_records_removed += state.store.purge_expired(now).await?;
    progress(&report);
    Ok(report)
}

/// The due work done one item at a time, each step answering whether it removed something.
#[derive(Clone, Copy)]
enum ItemStep {
    Trash,
    PendingUpload,
    UploadSweep,
}

impl ItemStep {
    async fn run(self, state: &Stack, entry: &DueEntry) -> Result<bool> {
        match self {
            Self::Trash => purge_trash_entry(state, entry).await,
            Self::PendingUpload => media::expire_pending(state, &entry.tenant, &entry.sk).await,
            Self::UploadSweep => media::sweep_upload(state, &entry.tenant, &entry.sk).await,
        }
    }

    /// The report's running total of this kind of step.
    fn total(self, report: &mut SweepReport) -> &mut u64 {
        match self {
            Self::Trash => &mut report.trash_purged,
            Self::PendingUpload => &mut report.pending_uploads_removed,
            Self::UploadSweep => &mut report.upload_objects_swept,
        }
    }
}

/// Everything of `kind` due now (entries are small; what a run leaves stays due for the next).
async fn due_entries(state: &Stack, kind: &str, now: i64) -> Result<Vec<DueEntry>> {
    let mut entries = Vec::new();
    let mut after = None;
    loop {
        let page = state.store.due(kind, now, PageRequest { limit: DUE_PAGE, after }).await?;
        entries.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(entries),
        }
    }
}

/// Deletes a trash entry whose 30 days are over; a restore that got there first wins.
async fn purge_trash_entry(state: &Stack, entry: &DueEntry) -> Result<bool> {
    let Some(item) = state.store.get(&entry.tenant, &entry.sk, state.clock.now_secs()).await? else { return Ok(false) };
    let delete = Write::Delete {
        tenant: entry.tenant.clone(),
        sk: entry.sk.clone(),
        condition: Condition::Version(item.version),
    };
    let mut writes = vec![delete];
    writes.extend(crate::domain::privacy::editors::unindex(&item)?);
    match state.store.transact(writes, state.clock.now_secs()).await {
        Ok(()) => Ok(true),
        Err(crate::Error::WriteConflict) => Ok(false),
        Err(other) => Err(other),
    }
}
