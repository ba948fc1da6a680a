//! Feedback: any user of a tenant rates or comments on a site or a page; the tenant's admins list
//! it (newest first, filtered by site or page), export it and delete it (to the trash).
//!
//! Each item is `FEEDBACK#<inverted ms>#<ulid>` (see `keys::feedback`): one ascending query lists
//! the newest first. The submitter's accountId is stored only when they chose to be contactable,
//! and then with a `CONTACT#<accountId>#<id>` pointer, so erasing a closed account reaches every
//! item it is on (including trashed ones) without scanning the tenant's feedback.
//!
//! Submissions are rate limited per (tenant, user), anonymous callers sharing one bucket per
//! tenant and each anonymous source (client IP) having its own, smaller one beside it, so one
//! visitor cannot spend a tenant's anonymous budget: see [`USER_WINDOWS`], [`ANONYMOUS_WINDOWS`]
//! and [`SOURCE_WINDOWS`]. The counters are charged in the same transaction as the item, so a
//! refused submission costs nothing and writes nothing.

pub mod model;

use serde::Serialize;
use serde_json::{Value, json};

pub use model::{Feedback, FeedbackView, Submission};

use crate::domain::content::sites;
use crate::domain::data::Data;
use crate::domain::rate_limit::{self, Caller, Limit, Window};
use crate::domain::records::{Editor, TrashEntry, check_if_match, not_found, trash_writes};
use crate::domain::users;
use crate::kernel::clock::rfc3339;
use crate::kernel::error::{Error, Result};
use crate::kernel::ids;
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{Body, Condition, Item, MAX_PAGE_SIZE, Page, PageRequest, Write, retry_conflicts};

/// Trash `kind` of deleted feedback.
pub const FEEDBACK_KIND: &str = "feedback";
/// A signed-in user: 10 a minute stops a stuck button or a script, 100 a day is more than anyone
/// honestly writes.
pub const USER_WINDOWS: [Window; 2] = [Window { secs: 60, max: 10 }, Window { secs: 86_400, max: 100 }];
/// Every anonymous visitor of a tenant together (public sites): more room, still a ceiling.
pub const ANONYMOUS_WINDOWS: [Window; 2] = [Window { secs: 60, max: 30 }, Window { secs: 86_400, max: 300 }];
/// One anonymous source (client IP) of a tenant: a sixth of the tenant's anonymous minute and day,
/// so it takes six sources to spend them.
pub const SOURCE_WINDOWS: [Window; 2] = [Window { secs: 60, max: 5 }, Window { secs: 86_400, max: 50 }];
const USER_LIMIT: Limit = Limit { action: "feedback", windows: &USER_WINDOWS };
const ANONYMOUS_LIMIT: Limit = Limit { action: "feedback", windows: &ANONYMOUS_WINDOWS };
const SOURCE_LIMIT: Limit = Limit { action: "feedback", windows: &SOURCE_WINDOWS };
/// A filtered listing examines at most this many items per page; a page can therefore come back
/// short (even empty) with a `nextCursor`, and the client follows it.
pub const MAX_SCANNED_PER_PAGE: usize = 1000;
/// Items per export document: with texts at their bound a page stays well under Lambda's 6 MB.
pub const EXPORT_PAGE_ITEMS: u32 = 500;
/// Format name and version of the export document.
pub const EXPORT_FORMAT: &str = "canopy-feedback-export";
pub const EXPORT_SCHEMA_VERSION: u32 = 1;

fn no_such_feedback() -> Error {
    not_found(FEEDBACK_KIND)
}

/// The sort key of a feedback id; ids that are not ULIDs address nothing.
fn sort_key(id: &str) -> Option<String> {
    model::ulid_millis(id).map(|millis| keys::feedback(id, millis))
}

fn id_of(sk: &str) -> &str {
    sk.rsplit('#').next().unwrap_or_default()
}

fn decode(item: &Item) -> Result<Feedback> {
    item.body.decode().map_err(|e| Error::internal(format!("feedback {}: {e}", item.sk)))
}

fn view(item: &Item) -> Result<FeedbackView> {
    Ok(FeedbackView::new(id_of(&item.sk), decode(item)?))
}

/// Stores a submission of the caller (`account_id` from the verified token; `None` anonymous,
/// then also limited per `source`, the client IP). A site must exist in the caller's tenant:
/// another tenant's site is the same 404 as a missing one.
pub async fn submit(
    ctx: &Data,
    tenant: &TenantKey,
    account_id: Option<&str>,
    source: Option<&str>,
    submission: Submission,
) -> Result<FeedbackView> {
    let account = users::storable(account_id);
    let now = ctx.clock.now_millis();
    let feedback = submission.validate(account, now)?;
    let id = ids::new_ulid(now)?;
    let sk = keys::feedback(&id, now);
    let (limit, caller) = match account {
        Some(account_id) => (USER_LIMIT, Caller::User(account_id)),
        None => (ANONYMOUS_LIMIT, Caller::Anonymous),
    };
    let body = Body::of(&feedback)?;
    retry_conflicts(|| async {
        let mut writes = Vec::new();
        if let Some(site_id) = &feedback.site_id {
            let site = sites::read_item(ctx, tenant, site_id).await?;
            writes.push(Write::Check {
                tenant: tenant.clone(),
                sk: site.sk,
                condition: Condition::Version(site.version),
            });
        }
        if account.is_none() {
            writes.extend(rate_limit::charge(ctx, tenant, &SOURCE_LIMIT, Caller::Source(source), now).await?);
        }
        writes.extend(rate_limit::charge(ctx, tenant, &limit, caller, now).await?);
        let item = Item {
            tenant: tenant.clone(),
            sk: sk.clone(),
            version: 1,
            updated_at: now,
            // Never the submitter: their accountId is stored only as a chosen contact.
            updated_by: None,
            due: None,
            expires_at: None,
            body: body.clone(),
        };
        writes.push(Write::Put { item, condition: Condition::Absent });
        if let Some(contact) = &feedback.contact {
            let pointer = Item {
                tenant: tenant.clone(),
                sk: keys::contact(contact, &id),
                version: 1,
                updated_at: now,
                updated_by: None,
                due: None,
                expires_at: None,
                body: json!({"feedbackId": id}).into(),
            };
            writes.push(Write::Put { item: pointer, condition: Condition::None });
        }
        ctx.store.transact(writes, ctx.clock.now_secs()).await
    })
    .await
    .map_err(rate_limit::exhausted_on_conflict)?;
    Ok(FeedbackView::new(&id, feedback))
}

pub async fn read(ctx: &Data, tenant: &TenantKey, id: &str) -> Result<FeedbackView> {
    let sk = sort_key(id).ok_or_else(no_such_feedback)?;
    let item = ctx.store.get(tenant, &sk, ctx.clock.now_secs()).await?.ok_or_else(no_such_feedback)?;
    view(&item)
}

/// What a listing keeps: everything, or the feedback about one site or one page.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub site_id: Option<String>,
    pub page_id: Option<String>,
}

impl Filter {
    fn matches(&self, feedback: &Feedback) -> bool {
        self.site_id.as_ref().is_none_or(|s| feedback.site_id.as_ref() == Some(s))
            && self.page_id.as_ref().is_none_or(|p| feedback.page_id.as_ref() == Some(p))
    }
}

/// Newest first. The cursor is the id of the last item examined; a filtered page examines at most
/// [`MAX_SCANNED_PER_PAGE`] items.
pub async fn list(
    ctx: &Data,
    tenant: &TenantKey,
    filter: &Filter,
    limit: u32,
    cursor: Option<&str>,
) -> Result<Page<FeedbackView>> {
    let bad_cursor = || Error::bad_request("bad_cursor", "Unknown cursor.");
    let mut after = match cursor {
        Some(cursor) => Some(sort_key(cursor).ok_or_else(bad_cursor)?),
        None => None,
    };
    let now = ctx.clock.now_secs();
    let mut items = Vec::new();
    let mut scanned = 0;
    let filtered = filter.site_id.is_some() || filter.page_id.is_some();
    loop {
        // A filtered page reads its whole scan budget at once rather than `limit` at a time.
        let page_size = if filtered { (MAX_SCANNED_PER_PAGE - scanned) as u32 } else { limit };
        let request = PageRequest { limit: page_size.clamp(1, MAX_PAGE_SIZE), after: after.clone() };
        let page = ctx.store.query(tenant, keys::FEEDBACK_PREFIX, request, now).await?;
        let mut more = page.next.is_some();
        let count = page.items.len();
        for (index, item) in page.items.into_iter().enumerate() {
            scanned += 1;
            after = Some(item.sk.clone());
            let feedback = decode(&item)?;
            if filter.matches(&feedback) {
                items.push(FeedbackView::new(id_of(&item.sk), feedback));
            }
            if items.len() == limit as usize || scanned >= MAX_SCANNED_PER_PAGE {
                more |= index + 1 < count;
                let next = more.then(|| after.as_deref().map(|sk| id_of(sk).to_owned())).flatten();
                return Ok(Page { items, next });
            }
        }
        if !more {
            return Ok(Page { items, next: None });
        }
    }
}

/// One page of the export document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportDocument {
    pub format: &'static str,
    pub schema_version: u32,
    pub exported_at: String,
    pub items: Vec<FeedbackView>,
    pub next_cursor: Option<String>,
}

/// Every feedback item, newest first, [`EXPORT_PAGE_ITEMS`] per document.
pub async fn export(ctx: &Data, tenant: &TenantKey, cursor: Option<&str>) -> Result<ExportDocument> {
    let page = list(ctx, tenant, &Filter::default(), EXPORT_PAGE_ITEMS, cursor).await?;
    Ok(ExportDocument {
        format: EXPORT_FORMAT,
        schema_version: EXPORT_SCHEMA_VERSION,
        exported_at: rfc3339(ctx.clock.now_millis()),
        items: page.items,
        next_cursor: page.next,
    })
}

/// Moves an item to the trash (restorable through `/api/trash` like content). Feedback is never
/// edited, so `If-Match` is optional; when given it must match.
pub async fn delete(ctx: &Data, editor: &Editor, id: &str, if_match: Option<u64>) -> Result<()> {
    let sk = sort_key(id).ok_or_else(no_such_feedback)?;
    retry_conflicts(|| async {
        let item = ctx.store.get(&editor.tenant, &sk, ctx.clock.now_secs()).await?.ok_or_else(no_such_feedback)?;
        if if_match.is_some() {
            check_if_match(if_match, item.version)?;
        }
        let writes = trash_writes(editor, FEEDBACK_KIND, &item, ctx.clock.now_millis())?;
        ctx.store.transact(writes, ctx.clock.now_secs()).await
    })
    .await
}

/// Removes `account_id` as the contact of every feedback item it is on, live or in the trash, and
/// the pointers that led there. Answers how many items were changed.
pub async fn erase_contact(ctx: &Data, tenant: &TenantKey, account_id: &str) -> Result<u32> {
    let prefix = keys::contacts_of(account_id);
    let mut erased = 0;
    loop {
        let request = PageRequest { limit: 100, after: None };
        let page = ctx.store.query(tenant, &prefix, request, ctx.clock.now_secs()).await?;
        if page.items.is_empty() {
            return Ok(erased);
        }
        for pointer in page.items {
            let feedback_id = pointer.sk[prefix.len()..].to_owned();
            erased += erase_one_contact(ctx, tenant, account_id, &feedback_id, &pointer).await?;
        }
    }
}

/// One pointer: the item (and its trashed copy) lose the contact, the pointer goes, together.
async fn erase_one_contact(
    ctx: &Data,
    tenant: &TenantKey,
    account_id: &str,
    feedback_id: &str,
    pointer: &Item,
) -> Result<u32> {
    retry_conflicts(|| async {
        let now_secs = ctx.clock.now_secs();
        let mut writes =
            vec![Write::Delete { tenant: tenant.clone(), sk: pointer.sk.clone(), condition: Condition::None }];
        if let Some(sk) = sort_key(feedback_id) {
            for sk in [keys::trash(&sk), sk] {
                let Some(mut item) = ctx.store.get(tenant, &sk, now_secs).await? else { continue };
                if scrub(&mut item, account_id)? {
                    let condition = Condition::Version(item.version);
                    item.version += 1;
                    item.updated_at = ctx.clock.now_millis();
                    writes.push(Write::Put { item, condition });
                }
            }
        }
        let changed = writes.len() as u32 - 1;
        ctx.store.transact(writes, now_secs).await?;
        Ok(changed)
    })
    .await
}

/// Drops `contact` from a feedback item or from the feedback inside a trash entry.
fn scrub(item: &mut Item, account_id: &str) -> Result<bool> {
    if item.sk.starts_with(keys::TRASH_PREFIX) {
        let mut entry = item.body.decode::<TrashEntry>().map_err(Error::internal)?;
        let Some(body) = without_contact(&entry.body, account_id)? else { return Ok(false) };
        entry.body = body;
        item.body = Body::of(&entry)?;
    } else {
        let Some(body) = without_contact(&item.body, account_id)? else { return Ok(false) };
        item.body = body;
    }
    Ok(true)
}

/// The feedback body without its `contact`, when that is `account_id`.
fn without_contact(body: &Body, account_id: &str) -> Result<Option<Body>> {
    let Value::Object(mut fields) = body.to_value()? else { return Ok(None) };
    if fields.get("contact").and_then(Value::as_str) != Some(account_id) {
        return Ok(None);
    }
    fields.remove("contact");
    Body::of(&fields).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_come_from_the_id_alone_and_back() {
        let id = ids::new_ulid(1_768_435_200_000).unwrap();
        let sk = sort_key(&id).unwrap();
        assert_eq!(sk, keys::feedback(&id, 1_768_435_200_000));
        assert_eq!(id_of(&sk), id);
        assert_eq!(sort_key("1234"), None);
    }

    #[test]
    fn filters_match_site_page_or_both() {
        let feedback = Feedback {
            site_id: Some("S".into()),
            page_id: Some("1".into()),
            rating: Some(3),
            text: None,
            submitted_at: 0,
            contact: None,
        };
        assert!(Filter::default().matches(&feedback));
        assert!(Filter { site_id: Some("S".into()), page_id: None }.matches(&feedback));
        assert!(Filter { site_id: Some("S".into()), page_id: Some("1".into()) }.matches(&feedback));
        assert!(!Filter { site_id: None, page_id: Some("2".into()) }.matches(&feedback));
    }
}
