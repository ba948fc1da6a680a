//! Stored content items: the model body plus id, version and who changed it when; reading,
//! listing, and the building blocks of every content write (versioned puts, trash moves,
//! media reference checks).

use serde::Serialize;

use crate::domain::content::model::ContentModel;
use crate::domain::data::Data;
use crate::kernel::clock::rfc3339;
use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{Body, Condition, Due, Item, Page, PageRequest, Write};

/// Deleted items stay restorable this long; then the retention sweep purges them.
pub const TRASH_DAYS: i64 = 30;
/// Default and largest page of a listing.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_LIST_PAGE_SIZE: u32 = 200;

/// Who is writing: the tenant and the acting admin's accountId.
#[derive(Debug, Clone)]
pub struct Editor {
    pub tenant: TenantKey,
    pub account_id: Option<String>,
}

/// A content item as the API returns it: the model's fields plus its identity and version.
#[derive(Debug, Clone)]
pub struct Stored<M> {
    pub id: String,
    pub version: u64,
    pub updated_at: i64,
    pub updated_by: Option<String>,
    pub data: M,
}

impl<M: Serialize> Serialize for Stored<M> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct View<'a, M> {
            id: &'a str,
            version: u64,
            updated_at: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            updated_by: Option<&'a str>,
            #[serde(flatten)]
            data: &'a M,
        }
        View {
            id: &self.id,
            version: self.version,
            updated_at: rfc3339(self.updated_at),
            updated_by: self.updated_by.as_deref(),
            data: &self.data,
        }
        .serialize(serializer)
    }
}

impl<M> Stored<M> {
    /// The strong ETag of one item: its version.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

pub fn decode<M: ContentModel>(item: Item, id: &str) -> Result<Stored<M>> {
    let data =
        item.body.decode().map_err(|e| Error::internal(format!("stored {} {id} does not parse: {e}", M::KIND)))?;
    Ok(Stored {
        id: id.to_owned(),
        version: item.version,
        updated_at: item.updated_at,
        updated_by: item.updated_by,
        data,
    })
}

pub fn not_found(kind: &str) -> Error {
    Error::not_found("not_found", format!("No such {kind}."))
}

/// One item by sort key; a foreign or missing id is the same 404.
pub async fn read<M: ContentModel>(ctx: &Data, tenant: &TenantKey, sk: &str, id: &str) -> Result<Stored<M>> {
    let item = ctx.store.get(tenant, sk, ctx.clock.now_secs()).await?.ok_or_else(|| not_found(M::KIND))?;
    decode(item, id)
}

pub async fn read_optional<M: ContentModel>(
    ctx: &Data,
    tenant: &TenantKey,
    sk: &str,
    id: &str,
) -> Result<Option<Stored<M>>> {
    match ctx.store.get(tenant, sk, ctx.clock.now_secs()).await? {
        Some(item) => decode(item, id).map(Some),
        None => Ok(None),
    }
}

/// A page of items under `prefix`; ids are the sort keys without the prefix. The cursor is the
/// last id, so it cannot point outside this tenant's listing.
pub async fn list<M: ContentModel>(
    ctx: &Data,
    tenant: &TenantKey,
    prefix: &str,
    limit: u32,
    cursor: Option<&str>,
) -> Result<Page<Stored<M>>> {
    let after = cursor.map(|c| format!("{prefix}{c}"));
    let page = ctx.store.query(tenant, prefix, PageRequest { limit, after }, ctx.clock.now_secs()).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for item in page.items {
        let id = item.sk[prefix.len()..].to_owned();
        // Children of a listed kind (e.g. `SITE#x#NAV` under `SITE#`) are not part of it.
        if id.contains('#') {
            continue;
        }
        items.push(decode(item, &id)?);
    }
    let next = page.next.map(|sk| sk[prefix.len()..].to_owned());
    Ok(Page { items, next })
}

/// The item that a create or update writes.
pub fn item_for<M: ContentModel>(editor: &Editor, sk: &str, version: u64, data: &M, now_millis: i64) -> Result<Item> {
    Ok(Item {
        tenant: editor.tenant.clone(),
        sk: sk.to_owned(),
        version,
        updated_at: now_millis,
        updated_by: editor.account_id.clone(),
        due: None,
        expires_at: None,
        body: Body::of(&data)?,
    })
}

/// Commits content writes together with the editor pointers of every item they name
/// ([`crate::domain::privacy::editors`]): every write that stores an accountId goes through here.
pub async fn commit(ctx: &Data, mut writes: Vec<Write>) -> Result<()> {
    crate::domain::privacy::editors::index(&mut writes)?;
    ctx.store.transact(writes, ctx.clock.now_secs()).await
}

/// The answer to a write, from the item it puts at `sk`: never read back after the commit, where
/// a failing read would answer an error for a committed write (and a client retrying it would
/// write twice) and a concurrent writer's later version could be returned as this one's.
pub fn written<M: ContentModel>(writes: &[Write], sk: &str, id: &str) -> Result<Stored<M>> {
    let item = writes.iter().find_map(|write| match write {
        Write::Put { item, .. } if item.sk == sk => Some(item.clone()),
        _ => None,
    });
    decode(item.ok_or_else(|| Error::internal(format!("the writes put no {sk}")))?, id)
}

/// `If-Match` on updates and deletes: required, and must name the stored version.
pub fn check_if_match(if_match: Option<u64>, stored_version: u64) -> Result<()> {
    match if_match {
        None => Err(Error::PreconditionRequired {
            message: "Updates and deletes need an If-Match header with the item's ETag.".into(),
        }),
        Some(v) if v == stored_version => Ok(()),
        Some(_) => {
            Err(Error::PreconditionFailed { message: "The item changed since it was read (ETag mismatch).".into() })
        }
    }
}

/// A concurrent writer won between our read and our write: the caller's If-Match is stale now.
pub fn stale_on_conflict(error: Error) -> Error {
    match error {
        Error::WriteConflict => {
            Error::PreconditionFailed { message: "The item changed while it was being written; read it again.".into() }
        }
        other => other,
    }
}

/// What a trash entry keeps: the original item's body and metadata.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrashEntry {
    pub original_sk: String,
    pub kind: String,
    pub deleted_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<String>,
    pub version: u64,
    pub body: Body,
    /// What removed it when it was not an editor: the product event (`page_trashed`, …) that
    /// took the page it described (`content::product_events`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// Deleting moves the item to the trash: the original goes (at its version), a trash entry
/// appears, due for purge after [`TRASH_DAYS`].
pub fn trash_writes(editor: &Editor, kind: &str, item: &Item, now_millis: i64) -> Result<Vec<Write>> {
    trash_writes_for(editor, kind, item, now_millis, None)
}

/// [`trash_writes`], naming the `cause` when the product, not an editor, removed the item.
pub fn trash_writes_for(
    editor: &Editor,
    kind: &str,
    item: &Item,
    now_millis: i64,
    cause: Option<&str>,
) -> Result<Vec<Write>> {
    let entry = TrashEntry {
        cause: cause.map(str::to_owned),
        original_sk: item.sk.clone(),
        kind: kind.to_owned(),
        deleted_at: now_millis,
        deleted_by: editor.account_id.clone(),
        version: item.version,
        body: item.body.clone(),
    };
    let trash_item = Item {
        tenant: editor.tenant.clone(),
        sk: keys::trash(&item.sk),
        version: 1,
        updated_at: now_millis,
        updated_by: editor.account_id.clone(),
        due: Some(Due { kind: keys::TRASH_DUE_KIND.into(), at: now_millis.div_euclid(1000) + TRASH_DAYS * 86_400 }),
        expires_at: None,
        body: Body::of(&entry)?,
    };
    let mut writes = vec![
        Write::Delete {
            tenant: editor.tenant.clone(),
            sk: item.sk.clone(),
            condition: Condition::Version(item.version),
        },
        // A later deletion of the same key replaces the older trash entry.
        Write::Put { item: trash_item, condition: Condition::None },
    ];
    writes.extend(crate::domain::privacy::editors::unindex(item)?);
    Ok(writes)
}

/// Every media id a document references must be a completed upload of this tenant; another
/// tenant's id, or an upload still pending, is indistinguishable from a missing one.
pub async fn check_media_exist(ctx: &Data, tenant: &TenantKey, media_ids: &[&str]) -> Result<()> {
    let now = ctx.clock.now_secs();
    let mut seen = std::collections::HashSet::new();
    for id in media_ids.iter().filter(|id| seen.insert(**id)) {
        let item = ctx.store.get(tenant, &format!("{}{id}", keys::MEDIA_PREFIX), now).await?;
        if item.is_none_or(|i| i.body.field::<String>("state").as_deref() != Some("ready")) {
            return Err(Error::invalid("unknown_media", format!("Media {id} does not exist.")));
        }
    }
    Ok(())
}
