//! Stored data follows the product: when Confluence trashes, removes or restores a page, or
//! removes a space, Canopy hears it (Connect webhooks, Forge triggers; `http::product_events`)
//! and brings what it stores in line.
//!
//! - The page's metadata goes to Canopy's trash (cause `page_trashed` / `page_removed`), so a
//!   restore in Confluence brings it back with its content; after 30 days the trash purge takes it.
//! - Navigation is the admin's tree and is never rewritten: a marker per page or space
//!   (`PRODUCT#PAGE#<id>`, `PRODUCT#SPACE#<key>`) records what the product last said, and
//!   [`broken_navigation`] answers which entries point at something gone.
//! - Idempotent and order-proof: each marker keeps the time of the event it records; an event
//!   older than the marker (a retry, a replay, a removal arriving after the restore that
//!   followed it) changes nothing, and the same event twice changes nothing the second time.
//! - Personal spaces (`~<accountId>`) get no marker: their key is an accountId, which Canopy
//!   keeps only where the privacy job can erase it.

use serde::{Deserialize, Serialize};

use super::model::navigation::{NavTarget, Navigation};
use super::model::page_metadata::PageMetadata;
use super::model::{ContentModel, bounds};
use super::site_items;
use crate::domain::data::Data;
use crate::domain::records::{self, Editor, TrashEntry};
use crate::kernel::clock::rfc3339;
use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{Body, Condition, Item, Write, retry_conflicts};

/// A marker saying a page is current again outlives any retry of the events before it by far;
/// then it expires (a marker saying a page or space is gone stays while the tenant does).
const CURRENT_MARKER_SECS: i64 = 30 * 86_400;

/// One product event, as Canopy understands it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductEvent {
    PageTrashed { page_id: String },
    PageRemoved { page_id: String },
    PageRestored { page_id: String },
    SpaceRemoved { space_key: String },
}

impl ProductEvent {
    /// The event's name as Connect's webhooks name it (also the trash `cause`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::PageTrashed { .. } => "page_trashed",
            Self::PageRemoved { .. } => "page_removed",
            Self::PageRestored { .. } => "page_restored",
            Self::SpaceRemoved { .. } => "space_removed",
        }
    }

    /// Checks the id or key the product sent; a bad one is a 422 that changes nothing.
    pub fn validate(&self) -> Result<()> {
        match self {
            Self::PageTrashed { page_id } | Self::PageRemoved { page_id } | Self::PageRestored { page_id } => {
                bounds::page_id("page.id", page_id)
            }
            Self::SpaceRemoved { space_key } => bounds::space_key("space.key", space_key),
        }
    }

    fn marker_sk(&self) -> Option<String> {
        match self {
            Self::PageTrashed { page_id } | Self::PageRemoved { page_id } | Self::PageRestored { page_id } => {
                Some(keys::product_page(page_id))
            }
            Self::SpaceRemoved { space_key } if space_key.starts_with('~') => None,
            Self::SpaceRemoved { space_key } => Some(keys::product_space(space_key)),
        }
    }

    fn state(&self) -> TargetState {
        match self {
            Self::PageTrashed { .. } => TargetState::Trashed,
            Self::PageRemoved { .. } | Self::SpaceRemoved { .. } => TargetState::Removed,
            Self::PageRestored { .. } => TargetState::Current,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum TargetState {
    Current,
    Trashed,
    Removed,
}

/// What a marker holds: the state the product last reported and when (the event's time).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Marker {
    state: TargetState,
    event: String,
    at_millis: i64,
}

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// The same event was applied before.
    Unchanged,
    /// A later event was applied before: this one is out of date.
    Stale,
    /// Nothing Canopy keeps can refer to it (a personal space).
    Ignored,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Unchanged => "unchanged",
            Self::Stale => "stale",
            Self::Ignored => "ignored",
        }
    }
}

/// Applies `event`, which happened at `at_millis` (the product's time when it sends one).
pub async fn apply(ctx: &Data, tenant: &TenantKey, event: &ProductEvent, at_millis: i64) -> Result<Outcome> {
    event.validate()?;
    let Some(marker_sk) = event.marker_sk() else { return Ok(Outcome::Ignored) };
    retry_conflicts(|| async {
        let now_secs = ctx.clock.now_secs();
        let existing = ctx.store.get(tenant, &marker_sk, now_secs).await?;
        let previous = existing.as_ref().map(marker_of).transpose()?;
        if let Some(previous) = &previous {
            if previous.at_millis > at_millis {
                return Ok(Outcome::Stale);
            }
            if previous.at_millis == at_millis && previous.state == event.state() {
                return Ok(Outcome::Unchanged);
            }
        }
        let marker = Marker { state: event.state(), event: event.name().to_owned(), at_millis };
        let now_millis = ctx.clock.now_millis();
        let expires_at = (marker.state == TargetState::Current).then_some(now_secs + CURRENT_MARKER_SECS);
        let item = Item {
            tenant: tenant.clone(),
            sk: marker_sk.clone(),
            version: existing.as_ref().map_or(1, |i| i.version + 1),
            updated_at: now_millis,
            updated_by: None,
            due: None,
            expires_at,
            body: Body::of(&marker)?,
        };
        let condition = existing.as_ref().map_or(Condition::Absent, |i| Condition::Version(i.version));
        let mut writes = vec![Write::Put { item, condition }];
        match event {
            ProductEvent::PageTrashed { page_id } | ProductEvent::PageRemoved { page_id } => {
                writes.extend(trash_metadata(ctx, tenant, page_id, event.name()).await?);
            }
            ProductEvent::PageRestored { page_id } => writes.extend(restore_metadata(ctx, tenant, page_id).await?),
            ProductEvent::SpaceRemoved { .. } => {}
        }
        records::commit(ctx, writes).await?;
        Ok(Outcome::Applied)
    })
    .await
}

fn marker_of(item: &Item) -> Result<Marker> {
    item.body.decode().map_err(|e| Error::internal(format!("product marker: {e}")))
}

/// The page's metadata to the trash, if Canopy holds any (the product is the remover: no editor).
async fn trash_metadata(ctx: &Data, tenant: &TenantKey, page_id: &str, cause: &str) -> Result<Vec<Write>> {
    let sk = format!("{}{page_id}", keys::PAGE_PREFIX);
    let Some(item) = ctx.store.get(tenant, &sk, ctx.clock.now_secs()).await? else { return Ok(Vec::new()) };
    let remover = Editor { tenant: tenant.clone(), account_id: None };
    records::trash_writes_for(&remover, PageMetadata::KIND, &item, ctx.clock.now_millis(), Some(cause))
}

/// The page's metadata back from the trash, if the product put it there (metadata an admin
/// deleted stays deleted) and nothing was written at its key since.
async fn restore_metadata(ctx: &Data, tenant: &TenantKey, page_id: &str) -> Result<Vec<Write>> {
    let sk = format!("{}{page_id}", keys::PAGE_PREFIX);
    let now_secs = ctx.clock.now_secs();
    let Some(trash) = ctx.store.get(tenant, &keys::trash(&sk), now_secs).await? else { return Ok(Vec::new()) };
    let entry: TrashEntry = trash.body.decode().map_err(Error::internal)?;
    if entry.cause.is_none() || ctx.store.get(tenant, &sk, now_secs).await?.is_some() {
        return Ok(Vec::new());
    }
    let restored = Item {
        tenant: tenant.clone(),
        sk,
        version: entry.version + 1,
        updated_at: ctx.clock.now_millis(),
        updated_by: None,
        due: None,
        expires_at: None,
        body: entry.body,
    };
    Ok(vec![
        Write::Delete { tenant: tenant.clone(), sk: trash.sk.clone(), condition: Condition::Version(trash.version) },
        Write::Put { item: restored, condition: Condition::Absent },
    ])
}

/// A navigation entry whose target the product reported gone.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrokenEntry {
    /// The entry's id in the tree.
    pub id: String,
    pub label: String,
    #[schema(value_type = Object)]
    pub target: NavTarget,
    /// `page_trashed`, `page_removed` or `space_removed`.
    pub reason: String,
    /// When the product reported it (RFC 3339).
    pub since: String,
}

/// The entries of the site's navigation whose page or space is gone, in tree order (none when
/// the site has no navigation). One read per distinct target; a tree holds at most 300 items.
pub async fn broken_navigation(ctx: &Data, tenant: &TenantKey, site_id: &str) -> Result<Vec<BrokenEntry>> {
    let nav: Navigation = match site_items::read_navigation(ctx, tenant, site_id).await {
        Ok(stored) => stored.data,
        Err(Error::NotFound { .. }) => {
            // The site must exist; a site without navigation has nothing broken.
            super::sites::read_item(ctx, tenant, site_id).await?;
            return Ok(Vec::new());
        }
        Err(other) => return Err(other),
    };
    let mut known: std::collections::HashMap<String, Option<Marker>> = std::collections::HashMap::new();
    let mut broken = Vec::new();
    for entry in nav.iter() {
        let sk = match &entry.target {
            NavTarget::Page { page_id } => keys::product_page(page_id),
            NavTarget::Space { space_key } if !space_key.starts_with('~') => keys::product_space(space_key),
            _ => continue,
        };
        if !known.contains_key(&sk) {
            let marker = ctx.store.get(tenant, &sk, ctx.clock.now_secs()).await?.as_ref().map(marker_of).transpose()?;
            known.insert(sk.clone(), marker);
        }
        if let Some(Some(marker)) = known.get(&sk)
            && marker.state != TargetState::Current
        {
            broken.push(BrokenEntry {
                id: entry.id.clone(),
                label: entry.label.clone(),
                target: entry.target.clone(),
                reason: marker.event.clone(),
                since: rfc3339(marker.at_millis),
            });
        }
    }
    Ok(broken)
}
