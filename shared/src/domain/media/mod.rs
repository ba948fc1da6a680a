//! Media: images uploaded for layouts, themes, logos, favicons and app icons. The browser uploads
//! straight to the region's bucket with a presigned PUT; Canopy records the item, checks the
//! upload on completion (size, type, first bytes), serves it through short-lived presigned GETs
//! with a forced safe type, and deletes object and record together.
//!
//! What was checked is what is served: the upload URL stays valid for minutes after completion,
//! so `complete` copies the upload to a key no URL can write and checks and serves that copy
//! (the bucket's version ids were the other way; they would pin a version that a later PUT
//! turns noncurrent, and the bucket's lifecycle expires noncurrent versions after 7 days). The
//! upload object is deleted, and again by the retention sweep once its URL has expired.
//!
//! SVG is refused: it can carry script, and no response header makes every consumer render it
//! inertly. Uploads are raster formats recognised by their first bytes (`sniff.rs`).

pub mod sniff;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::content::library::{LAYOUTS, THEMES};
use crate::domain::content::model::ContentModel;
use crate::domain::content::pages;
use crate::domain::data::Stack;
use crate::domain::rate_limit::{self, Caller, Limit, Window};
use crate::domain::records::{Editor, Stored, check_if_match, not_found};
use crate::kernel::clock::rfc3339;
use crate::kernel::error::{Error, Result};
use crate::kernel::ids;
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::media::{DownloadHeaders, ObjectKey, PresignedUpload};
use crate::ports::store::{Body, Condition, Due, Item, MAX_PAGE_SIZE, Page, PageRequest, Write, retry_conflicts};

/// Upload URLs are for a browser about to send the bytes: a short life limits replay.
pub const UPLOAD_URL_TTL: Duration = Duration::from_secs(300);
pub const DOWNLOAD_URL_TTL: Duration = Duration::from_secs(300);
pub const PENDING_TTL_SECS: i64 = 86_400;
/// Per-tenant quota, counting pending uploads at their declared size.
pub const MAX_TENANT_MEDIA_BYTES: u64 = 1024 * 1024 * 1024;
pub const MAX_TENANT_MEDIA_ITEMS: u64 = 5_000;
/// Pending uploads a tenant may hold at once: reservations cannot be used to exhaust the quota.
pub const MAX_PENDING_UPLOADS: u64 = 50;
pub const MAX_FILE_NAME_CHARS: usize = 255;
/// Scans of where a media item is used (every delete reads every theme, layout and page of the
/// tenant): per tenant, generous for an admin tidying up, a ceiling for a script.
pub const USAGE_SCAN_WINDOWS: [Window; 2] = [Window { secs: 60, max: 30 }, Window { secs: 3600, max: 300 }];
const USAGE_SCAN_LIMIT: Limit = Limit { action: "media-usage-scan", windows: &USAGE_SCAN_WINDOWS };

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Purpose {
    LayoutImage,
    ThemeImage,
    Logo,
    Favicon,
    AppIcon,
}

impl Purpose {
    /// Allowed content types and the largest size, per purpose.
    pub fn rules(self) -> (&'static [&'static str], u64) {
        const PHOTO: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];
        match self {
            Self::LayoutImage | Self::ThemeImage => (PHOTO, 5 * 1024 * 1024),
            Self::Logo => (&["image/png", "image/jpeg", "image/webp"], 1024 * 1024),
            Self::Favicon => (&["image/png", "image/x-icon"], 256 * 1024),
            Self::AppIcon => (&["image/png"], 512 * 1024),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaState {
    Pending,
    Ready,
}

/// The stored record (`MEDIA#<id>`); the object key is Canopy's, never the client's: the upload
/// key while pending, the checked copy once ready.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaRecord {
    pub purpose: Purpose,
    pub content_type: String,
    pub size: u64,
    pub state: MediaState,
    pub object_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UploadRequest {
    pub purpose: Purpose,
    pub content_type: String,
    pub size: u64,
    #[serde(default)]
    pub file_name: Option<String>,
}

/// A media item as the API returns it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaView {
    pub id: String,
    pub version: u64,
    pub purpose: Purpose,
    pub content_type: String,
    pub size: u64,
    pub state: MediaState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadTicket {
    pub media: MediaView,
    pub upload: PresignedUpload,
}

/// Bytes and items held against the quota (`MEDIA_USAGE`), moved in the same transaction as the
/// records they count.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Usage {
    bytes: u64,
    items: u64,
    pending: u64,
}

fn view(id: &str, version: u64, record: &MediaRecord, url: Option<String>) -> MediaView {
    MediaView {
        id: id.to_owned(),
        version,
        purpose: record.purpose,
        content_type: record.content_type.clone(),
        size: record.size,
        state: record.state,
        file_name: record.file_name.clone(),
        created_at: rfc3339(record.created_at),
        url,
    }
}

fn media_sk(id: &str) -> String {
    format!("{}{id}", keys::MEDIA_PREFIX)
}

fn decode(item: &Item) -> Result<MediaRecord> {
    item.body.decode().map_err(|e| Error::internal(format!("media record: {e}")))
}

async fn read_usage(state: &Stack, tenant: &TenantKey) -> Result<(Usage, Option<u64>)> {
    match state.store.get(tenant, keys::MEDIA_USAGE, state.clock.now_secs()).await? {
        None => Ok((Usage::default(), None)),
        Some(item) => Ok((item.body.decode().map_err(Error::internal)?, Some(item.version))),
    }
}

fn usage_write(tenant: &TenantKey, usage: Usage, version: Option<u64>, now_millis: i64) -> Result<Write> {
    let item = Item {
        tenant: tenant.clone(),
        sk: keys::MEDIA_USAGE.into(),
        version: version.map_or(1, |v| v + 1),
        updated_at: now_millis,
        updated_by: None,
        due: None,
        expires_at: None,
        body: Body::of(&usage)?,
    };
    Ok(Write::Put { item, condition: version.map_or(Condition::Absent, Condition::Version) })
}

fn check_request(request: &UploadRequest) -> Result<()> {
    let (types, max) = request.purpose.rules();
    if !types.contains(&request.content_type.as_str()) {
        return Err(Error::UnsupportedMediaType {
            message: format!(
                "contentType: {:?} is not allowed for this purpose; allowed: {}.",
                request.content_type,
                types.join(", ")
            ),
        });
    }
    if request.size == 0 || request.size > max {
        return Err(Error::too_large(format!("size: {} bytes; this purpose allows 1 to {max} bytes.", request.size)));
    }
    if let Some(name) = &request.file_name {
        let bad = name.is_empty()
            || name.chars().count() > MAX_FILE_NAME_CHARS
            || name.contains(['/', '\\'])
            || name.contains("..")
            || name.chars().any(char::is_control);
        if bad {
            return Err(Error::invalid(
                "invalid_field",
                format!(
                    "fileName: 1 to {MAX_FILE_NAME_CHARS} characters, no path separators, `..` or control characters."
                ),
            ));
        }
    }
    Ok(())
}

/// Records a pending upload and answers the presigned PUT the browser must use.
pub async fn create_upload(state: &Stack, editor: &Editor, request: UploadRequest) -> Result<UploadTicket> {
    check_request(&request)?;
    let now = state.clock.now_millis();
    let id = ids::new_ulid(now)?;
    let key = ObjectKey::upload(&editor.tenant, &id);
    let record = MediaRecord {
        purpose: request.purpose,
        content_type: request.content_type.clone(),
        size: request.size,
        state: MediaState::Pending,
        object_key: key.as_str().to_owned(),
        file_name: request.file_name.clone(),
        created_at: now,
        completed_at: None,
    };
    retry_conflicts(|| async {
        let (usage, version) = read_usage(state, &editor.tenant).await?;
        if usage.pending >= MAX_PENDING_UPLOADS {
            return Err(Error::RateLimited { retry_after_secs: 60 });
        }
        if usage.items >= MAX_TENANT_MEDIA_ITEMS {
            return Err(Error::too_large(format!("quota: a tenant may keep {MAX_TENANT_MEDIA_ITEMS} media items.")));
        }
        if usage.bytes + request.size > MAX_TENANT_MEDIA_BYTES {
            return Err(Error::too_large(format!(
                "quota: a tenant may keep {MAX_TENANT_MEDIA_BYTES} bytes of media; {} are used.",
                usage.bytes
            )));
        }
        let next = Usage { bytes: usage.bytes + request.size, items: usage.items + 1, pending: usage.pending + 1 };
        let item = Item {
            tenant: editor.tenant.clone(),
            sk: media_sk(&id),
            version: 1,
            updated_at: now,
            updated_by: editor.account_id.clone(),
            due: Some(Due { kind: keys::MEDIA_PENDING_DUE_KIND.into(), at: now.div_euclid(1000) + PENDING_TTL_SECS }),
            expires_at: None,
            body: Body::of(&record)?,
        };
        let writes =
            vec![Write::Put { item, condition: Condition::Absent }, usage_write(&editor.tenant, next, version, now)?];
        crate::domain::records::commit(&state.data, writes).await
    })
    .await?;
    let upload = state.media.presign_upload(&key, &request.content_type, request.size, UPLOAD_URL_TTL).await?;
    Ok(UploadTicket { media: view(&id, 1, &record, None), upload })
}

async fn read_item(state: &Stack, tenant: &TenantKey, id: &str) -> Result<(Item, MediaRecord)> {
    if !ids::is_ulid(id) {
        return Err(not_found("media"));
    }
    let item =
        state.store.get(tenant, &media_sk(id), state.clock.now_secs()).await?.ok_or_else(|| not_found("media"))?;
    let record = decode(&item)?;
    Ok((item, record))
}

/// Removes the record (and what it held against the quota) in one transaction.
fn removal_writes(
    tenant: &TenantKey,
    item: &Item,
    record: &MediaRecord,
    usage: Usage,
    version: Option<u64>,
    now: i64,
) -> Result<Vec<Write>> {
    let pending = u64::from(record.state == MediaState::Pending);
    let next = Usage {
        bytes: usage.bytes.saturating_sub(record.size),
        items: usage.items.saturating_sub(1),
        pending: usage.pending.saturating_sub(pending),
    };
    let mut writes = vec![
        Write::Delete { tenant: tenant.clone(), sk: item.sk.clone(), condition: Condition::Version(item.version) },
        usage_write(tenant, next, version, now)?,
    ];
    writes.extend(crate::domain::privacy::editors::unindex(item)?);
    Ok(writes)
}

/// Checks what was uploaded; a mismatch deletes object and record and says why. What is checked
/// and then served is a copy of the upload that no URL can write.
pub async fn complete(state: &Stack, editor: &Editor, id: &str) -> Result<MediaView> {
    let (item, record) = read_item(state, &editor.tenant, id).await?;
    if record.state == MediaState::Ready {
        return Err(Error::conflict("already_completed", "This upload was already completed."));
    }
    let upload = ObjectKey(record.object_key.clone());
    let now = state.clock.now_millis();
    let pinned = ObjectKey::pinned(&editor.tenant, id, &ids::new_ulid(now)?);
    let mut copied = state.media.copy(&upload, &pinned).await?;
    if !copied && crate::domain::residency::fetch_moved_upload(state, &editor.tenant, &upload).await?.is_some() {
        copied = state.media.copy(&upload, &pinned).await?;
    }
    if !copied {
        return Err(Error::conflict("not_uploaded", "Nothing was uploaded to this media's URL yet."));
    }
    if let Some(problem) = check_object(state, &record, &pinned).await? {
        state.media.delete(&pinned).await?;
        state.media.delete(&upload).await?;
        retry_conflicts(|| async {
            let (usage, version) = read_usage(state, &editor.tenant).await?;
            let writes = removal_writes(&editor.tenant, &item, &record, usage, version, now)?;
            crate::domain::records::commit(&state.data, writes).await
        })
        .await
        .map_err(completed_concurrently)?;
        return Err(Error::invalid("upload_mismatch", format!("The upload was removed: {problem}.")));
    }
    let ready = MediaRecord {
        state: MediaState::Ready,
        object_key: pinned.as_str().to_owned(),
        completed_at: Some(now),
        ..record.clone()
    };
    let committed = retry_conflicts(|| async {
        let (usage, version) = read_usage(state, &editor.tenant).await?;
        let next = Usage { pending: usage.pending.saturating_sub(1), ..usage };
        let updated = Item {
            version: item.version + 1,
            updated_at: now,
            updated_by: editor.account_id.clone(),
            due: None,
            body: Body::of(&ready)?,
            ..item.clone()
        };
        let writes = vec![
            Write::Put { item: updated, condition: Condition::Version(item.version) },
            usage_write(&editor.tenant, next, version, now)?,
            upload_sweep_write(&editor.tenant, id, &upload, now)?,
        ];
        crate::domain::records::commit(&state.data, writes).await
    })
    .await
    .map_err(completed_concurrently);
    if let Err(error) = committed {
        // Another completion won: its own copy is the one served.
        state.media.delete(&pinned).await?;
        return Err(error);
    }
    if let Err(error) = state.media.delete(&upload).await {
        tracing::warn!(tenant = %editor.tenant, %error, "upload object left for the retention sweep");
    }
    Ok(view(id, item.version + 1, &ready, None))
}

fn completed_concurrently(error: Error) -> Error {
    match error {
        Error::WriteConflict => Error::conflict("already_completed", "This upload was completed concurrently."),
        other => other,
    }
}

/// What is wrong with the object against the record's declared size and type, if anything.
async fn check_object(state: &Stack, record: &MediaRecord, key: &ObjectKey) -> Result<Option<String>> {
    let Some(info) = state.media.head(key).await? else {
        return Err(Error::unavailable("media", "the copy of the upload vanished before its check"));
    };
    if info.length != record.size {
        return Ok(Some(format!("the upload is {} bytes, {} were declared", info.length, record.size)));
    }
    if info.content_type.as_deref() != Some(record.content_type.as_str()) {
        return Ok(Some(format!(
            "the upload's type is {:?}, {:?} was declared",
            info.content_type, record.content_type
        )));
    }
    let head = state.media.first_bytes(key, sniff::SNIFF_BYTES).await?;
    if sniff::sniffed_type(&head) != Some(record.content_type.as_str()) {
        return Ok(Some(format!("the bytes are not a {} image", record.content_type)));
    }
    Ok(None)
}

/// The marker that has the retention sweep delete the upload object once its URL expired: a
/// PUT after completion recreates it, and nothing else would ever remove it.
fn upload_sweep_write(tenant: &TenantKey, id: &str, upload: &ObjectKey, now_millis: i64) -> Result<Write> {
    let url_expired_at = now_millis.div_euclid(1000) + UPLOAD_URL_TTL.as_secs() as i64;
    let item = Item {
        tenant: tenant.clone(),
        sk: keys::upload_sweep(id),
        version: 1,
        updated_at: now_millis,
        updated_by: None,
        due: Some(Due { kind: keys::MEDIA_UPLOAD_DUE_KIND.into(), at: url_expired_at }),
        expires_at: None,
        body: serde_json::json!({ "objectKey": upload.as_str() }).into(),
    };
    Ok(Write::Put { item, condition: Condition::None })
}

/// Deletes what an upload URL wrote after its media was completed, now that the URL expired,
/// then the marker. Answers whether the marker was there.
pub async fn sweep_upload(state: &Stack, tenant: &TenantKey, sk: &str) -> Result<bool> {
    let Some(item) = state.store.get(tenant, sk, state.clock.now_secs()).await? else { return Ok(false) };
    let key = item
        .body
        .field::<String>("objectKey")
        .and_then(|key| ObjectKey::recorded(tenant, &key))
        .ok_or_else(|| Error::internal(format!("upload sweep marker {sk} names no object of its tenant")))?;
    state.media.delete(&key).await?;
    let delete =
        Write::Delete { tenant: tenant.clone(), sk: sk.to_owned(), condition: Condition::Version(item.version) };
    match state.store.transact(vec![delete], state.clock.now_secs()).await {
        Ok(()) | Err(Error::WriteConflict) => Ok(true),
        Err(other) => Err(other),
    }
}

/// The object a media record points at (the residency copy moves it with the record).
pub fn object_of(item: &Item) -> Option<ObjectKey> {
    item.sk.strip_prefix(keys::MEDIA_PREFIX)?;
    ObjectKey::recorded(&item.tenant, &item.body.field::<String>("objectKey")?)
}

fn extension(content_type: &str) -> &'static str {
    match content_type {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "image/x-icon" => "ico",
        _ => "bin",
    }
}

/// A ready item with a short-lived download URL that forces its checked type.
pub async fn read(state: &Stack, tenant: &TenantKey, id: &str) -> Result<MediaView> {
    let (item, record) = read_item(state, tenant, id).await?;
    if record.state != MediaState::Ready {
        return Ok(view(id, item.version, &record, None));
    }
    let headers = DownloadHeaders {
        content_type: record.content_type.clone(),
        content_disposition: format!("inline; filename=\"{id}.{}\"", extension(&record.content_type)),
    };
    let url = state.media.presign_download(&ObjectKey(record.object_key.clone()), &headers, DOWNLOAD_URL_TTL).await?;
    Ok(view(id, item.version, &record, Some(url)))
}

pub async fn list(
    state: &Stack,
    tenant: &TenantKey,
    purpose: Option<Purpose>,
    limit: u32,
    cursor: Option<&str>,
) -> Result<Page<MediaView>> {
    let after = cursor.map(media_sk);
    let page =
        state.store.query(tenant, keys::MEDIA_PREFIX, PageRequest { limit, after }, state.clock.now_secs()).await?;
    let mut items = Vec::new();
    for item in &page.items {
        let record = decode(item)?;
        if purpose.is_none_or(|p| p == record.purpose) {
            items.push(view(&item.sk[keys::MEDIA_PREFIX.len()..], item.version, &record, None));
        }
    }
    Ok(Page { items, next: page.next.map(|sk| sk[keys::MEDIA_PREFIX.len()..].to_owned()) })
}

/// Where an item is used: themes, layouts and page metadata that reference it.
pub async fn usages(state: &Stack, tenant: &TenantKey, id: &str) -> Result<Vec<String>> {
    let mut found = referencing(
        id,
        |cursor| async move { THEMES.list(state, tenant, MAX_PAGE_SIZE, cursor.as_deref()).await },
        |theme| format!("theme {}", theme.data.name),
    )
    .await?;
    found.extend(
        referencing(
            id,
            |cursor| async move { LAYOUTS.list(state, tenant, MAX_PAGE_SIZE, cursor.as_deref()).await },
            |layout| format!("layout {}", layout.data.title),
        )
        .await?,
    );
    found.extend(
        referencing(
            id,
            |cursor| async move { pages::list(state, tenant, MAX_PAGE_SIZE, cursor.as_deref()).await },
            |page| format!("page {}", page.id),
        )
        .await?,
    );
    Ok(found)
}

/// Pages through one listing (`list` of a cursor) to its end; `name`s every record that
/// references media `id`.
async fn referencing<M, Fut>(
    id: &str,
    list: impl Fn(Option<String>) -> Fut,
    name: impl Fn(&Stored<M>) -> String,
) -> Result<Vec<String>>
where
    M: ContentModel,
    Fut: Future<Output = Result<Page<Stored<M>>>>,
{
    let mut found = Vec::new();
    let mut cursor = None;
    loop {
        let page = list(cursor.take()).await?;
        found.extend(page.items.iter().filter(|record| record.data.media_ids().contains(&id)).map(&name));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(found),
        }
    }
}

/// Deletes record and object. Media in use needs `force`; the answer names where it is used.
pub async fn delete(state: &Stack, editor: &Editor, id: &str, if_match: Option<u64>, force: bool) -> Result<()> {
    let (item, record) = read_item(state, &editor.tenant, id).await?;
    check_if_match(if_match, item.version)?;
    rate_limit::spend(state, &editor.tenant, &USAGE_SCAN_LIMIT, Caller::Tenant).await?;
    let used = usages(state, &editor.tenant, id).await?;
    if !used.is_empty() && !force {
        return Err(Error::conflict(
            "in_use",
            format!("This media is used by: {}. Delete with force=true to remove it anyway.", used.join(", ")),
        ));
    }
    let now = state.clock.now_millis();
    retry_conflicts(|| async {
        let (usage, version) = read_usage(state, &editor.tenant).await?;
        let writes = removal_writes(&editor.tenant, &item, &record, usage, version, now)?;
        crate::domain::records::commit(&state.data, writes).await
    })
    .await
    .map_err(crate::domain::records::stale_on_conflict)?;
    // The record is gone first, so nothing can reach the object any more; a failed object
    // delete leaves an orphan the tenant-prefix purge removes, never a dangling record. The
    // item's prefix also holds the copy of a completion that failed halfway.
    let deleted = async {
        state.media.delete(&ObjectKey(record.object_key.clone())).await?;
        state.media.delete_prefix(&keys::media_objects(&editor.tenant, id)).await
    };
    if let Err(error) = deleted.await {
        tracing::warn!(tenant = %editor.tenant, %error, "media object left behind");
    }
    Ok(())
}

/// Removes an upload never completed within its day: object (if anything arrived), the copy of
/// a completion that failed halfway, and record. Answers false when the item was completed or
/// removed meanwhile.
pub async fn expire_pending(state: &Stack, tenant: &TenantKey, sk: &str) -> Result<bool> {
    let Some(item) = state.store.get(tenant, sk, state.clock.now_secs()).await? else { return Ok(false) };
    let record = decode(&item)?;
    if record.state != MediaState::Pending {
        return Ok(false);
    }
    // The record goes first, conditional on the pending version read: a completion that got
    // there first keeps its object.
    let removed = retry_conflicts(|| async {
        let (usage, version) = read_usage(state, tenant).await?;
        let current = state.store.get(tenant, sk, state.clock.now_secs()).await?;
        if current.as_ref().map(|i| i.version) != Some(item.version) {
            return Ok(false);
        }
        let writes = removal_writes(tenant, &item, &record, usage, version, state.clock.now_millis())?;
        crate::domain::records::commit(&state.data, writes).await.map(|()| true)
    })
    .await?;
    if removed {
        state.media.delete(&ObjectKey(record.object_key.clone())).await?;
        let id = sk.strip_prefix(keys::MEDIA_PREFIX).unwrap_or(sk);
        state.media.delete_prefix(&keys::media_objects(tenant, id)).await?;
    }
    Ok(removed)
}
