//! Export and import of a tenant's content as one versioned JSON document.
//!
//! Export is everything Canopy stores for the tenant in readable sections (the install record
//! without its secret, counters, media records and the trash included for completeness). Import
//! restores the content sections into a tenant by id (create or replace; what the document does
//! not name is left alone), after validating the whole document: an invalid document writes
//! nothing. `dryRun` reports what would change.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::counters::{self, Counters};
use super::model::ContentModel;
use super::model::announcement::Announcement;
use super::model::bounds::is_page_id;
use super::model::layout::Layout;
use super::model::navigation::Navigation;
use super::model::page_metadata::PageMetadata;
use super::model::promoted_search::PromotedSearch;
use super::model::report::ReportConfig;
use super::model::site::Site;
use super::model::theme::Theme;
use super::site_items::{ANNOUNCEMENTS, PROMOTED_SEARCHES};
use super::sites::{self, MAX_SITES_PER_TENANT, Uses};
use crate::domain::data::Data;
use crate::domain::rate_limit::{self, Caller, Limit, Window};
use crate::domain::records::{Editor, check_media_exist};
use crate::domain::tenants;
use crate::kernel::clock::rfc3339;
use crate::kernel::error::{Error, Result};
use crate::kernel::ids::is_ulid;
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{Body, Condition, Item, MAX_PAGE_SIZE, PageRequest, Write};

pub const FORMAT: &str = "canopy-export";
/// Bumped when a section changes shape; imports of newer documents are refused.
pub const SCHEMA_VERSION: u32 = 1;
/// Import bodies may be larger than other requests: a tenant's whole content.
pub const MAX_IMPORT_BYTES: usize = 8 * 1024 * 1024;
/// Exports of one tenant (every admin together): each reads the whole tenant, so a flood of them
/// would spend the table's read capacity that every tenant shares. A real export is occasional.
pub const EXPORT_WINDOWS: [Window; 2] = [Window { secs: 60, max: 10 }, Window { secs: 3600, max: 60 }];
/// Imports (dry runs included) of one tenant: each validates and may write a whole tenant.
pub const IMPORT_WINDOWS: [Window; 2] = [Window { secs: 60, max: 10 }, Window { secs: 3600, max: 60 }];
const EXPORT_LIMIT: Limit = Limit { action: "export", windows: &EXPORT_WINDOWS };
const IMPORT_LIMIT: Limit = Limit { action: "import", windows: &IMPORT_WINDOWS };
/// Writes per import transaction (DynamoDB allows 100; each put is up to 350 KB and a
/// transaction may carry 4 MB).
const IMPORT_BATCH: usize = 10;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Entry<M> {
    pub id: String,
    pub data: M,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SiteEntry<M> {
    pub site_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub data: M,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportDocument {
    pub format: String,
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exported_at: Option<String>,
    /// Informational on import (the target tenant is the caller's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counters: Option<Value>,
    #[serde(default)]
    pub sites: Vec<Entry<Site>>,
    #[serde(default)]
    pub navigations: Vec<SiteEntry<Navigation>>,
    #[serde(default)]
    pub announcements: Vec<SiteEntry<Announcement>>,
    #[serde(default)]
    pub promoted_searches: Vec<SiteEntry<PromotedSearch>>,
    #[serde(default)]
    pub themes: Vec<Entry<Theme>>,
    #[serde(default)]
    pub layouts: Vec<Entry<Layout>>,
    #[serde(default)]
    pub reports: Vec<Entry<ReportConfig>>,
    #[serde(default)]
    pub page_metadata: Vec<Entry<PageMetadata>>,
    /// Export only: media objects live in the region's bucket and are not re-created by import.
    #[serde(default)]
    pub media: Vec<Value>,
    /// Export only.
    #[serde(default)]
    pub trash: Vec<Value>,
    /// Export only: anything else stored for the tenant, verbatim, so the export is complete.
    #[serde(default)]
    pub other: Vec<Value>,
}

fn decode<M: DeserializeOwned>(item: &Item) -> Result<M> {
    item.body.decode().map_err(|e| Error::internal(format!("stored {}: {e}", item.sk)))
}

fn raw(item: &Item) -> Value {
    json!({"key": item.sk, "version": item.version, "updatedAt": rfc3339(item.updated_at), "body": item.body})
}

/// Every item of the tenant's partition, in sort-key order.
async fn all_items(ctx: &Data, tenant: &TenantKey) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    let mut after = None;
    loop {
        let page =
            ctx.store.query(tenant, "", PageRequest { limit: MAX_PAGE_SIZE, after }, ctx.clock.now_secs()).await?;
        items.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(items),
        }
    }
}

/// The tenant's content as one document; limited per tenant ([`EXPORT_WINDOWS`], 429 past it).
pub async fn export(ctx: &Data, tenant: &TenantKey) -> Result<ExportDocument> {
    rate_limit::spend(ctx, tenant, &EXPORT_LIMIT, Caller::Tenant).await?;
    let mut doc = ExportDocument {
        format: FORMAT.into(),
        schema_version: SCHEMA_VERSION,
        exported_at: Some(rfc3339(ctx.clock.now_millis())),
        tenant: None,
        counters: None,
        sites: Vec::new(),
        navigations: Vec::new(),
        announcements: Vec::new(),
        promoted_searches: Vec::new(),
        themes: Vec::new(),
        layouts: Vec::new(),
        reports: Vec::new(),
        page_metadata: Vec::new(),
        media: Vec::new(),
        trash: Vec::new(),
        other: Vec::new(),
    };
    for item in all_items(ctx, tenant).await? {
        let sk = item.sk.as_str();
        let strip = |prefix: &str| sk.strip_prefix(prefix).map(str::to_owned);
        if sk == keys::TENANT_RECORD {
            let record: tenants::Tenant = decode(&item)?;
            doc.tenant = Some(json!({
                "clientKey": record.client_key, "productType": record.product_type, "baseUrl": record.base_url,
                "displayUrl": record.display_url, "cloudId": record.cloud_id, "state": record.state,
                "region": record.region, "firstInstalledAt": record.first_installed_at, "history": record.history,
            }));
        } else if sk.starts_with(keys::COUNTERS) {
            // Spread over several items (`counters`): the document holds their sum.
            let so_far: Counters = doc
                .counters
                .take()
                .map(serde_json::from_value)
                .transpose()
                .map_err(Error::internal)?
                .unwrap_or_default();
            doc.counters = Some(serde_json::to_value(so_far.plus(decode(&item)?)).map_err(Error::internal)?);
        } else if let Some(rest) = strip("SITE#") {
            match rest.split_once('#') {
                None => doc.sites.push(Entry { id: rest, data: decode(&item)? }),
                Some((site_id, "NAV")) => {
                    doc.navigations.push(SiteEntry { site_id: site_id.into(), id: None, data: decode(&item)? })
                }
                Some((site_id, child)) => {
                    if let Some(id) = child.strip_prefix("ANN#") {
                        doc.announcements.push(SiteEntry {
                            site_id: site_id.into(),
                            id: Some(id.into()),
                            data: decode(&item)?,
                        });
                    } else if let Some(id) = child.strip_prefix("SEARCH#") {
                        doc.promoted_searches.push(SiteEntry {
                            site_id: site_id.into(),
                            id: Some(id.into()),
                            data: decode(&item)?,
                        });
                    }
                    // Theme/layout snapshots are derived data: import rebuilds them.
                }
            }
        } else if let Some(id) = strip(keys::THEME_PREFIX) {
            doc.themes.push(Entry { id, data: decode(&item)? });
        } else if let Some(id) = strip(keys::LAYOUT_PREFIX) {
            doc.layouts.push(Entry { id, data: decode(&item)? });
        } else if let Some(id) = strip(keys::REPORT_PREFIX) {
            doc.reports.push(Entry { id, data: decode(&item)? });
        } else if let Some(id) = strip(keys::PAGE_PREFIX) {
            doc.page_metadata.push(Entry { id, data: decode(&item)? });
        } else if sk.starts_with(keys::MEDIA_PREFIX) {
            doc.media.push(raw(&item));
        } else if sk.starts_with(keys::TRASH_PREFIX) {
            doc.trash.push(raw(&item));
        } else if sk.starts_with(keys::SITE_LISTING_PREFIX)
            || sk.starts_with(keys::EDITOR_PREFIX)
            || sk.starts_with(keys::UPLOAD_SWEEP_PREFIX)
        {
            // Listing copies and editor pointers index the items above; import rebuilds both
            // from what it writes. Upload sweep markers are the retention sweep's bookkeeping.
        } else if sk.starts_with(keys::RATE_PREFIX) {
            // Rate-limit counters are the flood guard's own bookkeeping (an export charges one),
            // gone within a day: not the tenant's data.
        } else {
            doc.other.push(raw(&item));
        }
    }
    Ok(doc)
}

/// What an import did (or, in a dry run, would do), per section.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    pub dry_run: bool,
    pub created: BTreeMap<&'static str, usize>,
    pub updated: BTreeMap<&'static str, usize>,
    pub unchanged: BTreeMap<&'static str, usize>,
}

/// One validated item of the document, ready to write.
struct Planned {
    section: &'static str,
    sk: String,
    body: Body,
}

/// Equal as JSON, key order aside: bodies stored before the store kept JSON text have their keys
/// sorted, the model writes them in field order.
fn same_json(stored: &Body, planned: &Body) -> Result<bool> {
    Ok(stored == planned || stored.to_value()? == planned.to_value()?)
}

fn invalid_entry(section: &str, index: usize, problem: impl std::fmt::Display) -> Error {
    Error::invalid("invalid_import", format!("{section}[{index}]: {problem}"))
}

fn plan_entry<M: ContentModel>(
    section: &'static str,
    index: usize,
    sk: String,
    data: &M,
    plan: &mut Vec<Planned>,
) -> Result<()> {
    data.validate().map_err(|e| invalid_entry(section, index, e))?;
    plan.push(Planned { section, sk, body: Body::of(data)? });
    Ok(())
}

fn check_ulid(section: &str, index: usize, id: &str) -> Result<()> {
    if is_ulid(id) { Ok(()) } else { Err(invalid_entry(section, index, format!("id {id:?} is not a Canopy id"))) }
}

/// Checks the whole document and lists what it would write. Nothing is written here.
async fn plan(ctx: &Data, tenant: &TenantKey, doc: &ExportDocument) -> Result<Vec<Planned>> {
    if doc.format != FORMAT {
        return Err(Error::invalid("invalid_import", format!("format must be {FORMAT:?}.")));
    }
    if doc.schema_version > SCHEMA_VERSION || doc.schema_version == 0 {
        return Err(Error::invalid(
            "unsupported_schema",
            format!("schemaVersion {} is not supported; this Canopy reads up to {SCHEMA_VERSION}.", doc.schema_version),
        ));
    }
    let mut plan = Vec::new();
    let mut seen = HashSet::new();
    let mut unique = |section: &str, index: usize, sk: &str| -> Result<()> {
        if seen.insert(sk.to_owned()) { Ok(()) } else { Err(invalid_entry(section, index, "appears twice")) }
    };
    let existing_sites: HashSet<String> = sites::all(ctx, tenant).await?.into_iter().map(|s| s.id).collect();
    let doc_sites: HashSet<&str> = doc.sites.iter().map(|s| s.id.as_str()).collect();
    let total_sites = existing_sites.iter().filter(|id| !doc_sites.contains(id.as_str())).count() + doc_sites.len();
    if total_sites as i64 > MAX_SITES_PER_TENANT {
        return Err(Error::invalid(
            "limit_reached",
            format!("The import would leave {total_sites} sites; the limit is {MAX_SITES_PER_TENANT}."),
        ));
    }
    let theme_ids: HashSet<&str> = doc.themes.iter().map(|t| t.id.as_str()).collect();
    let layout_ids: HashSet<&str> = doc.layouts.iter().map(|l| l.id.as_str()).collect();
    let now = ctx.clock.now_secs();
    for (i, entry) in doc.sites.iter().enumerate() {
        check_ulid("sites", i, &entry.id)?;
        unique("sites", i, &entry.id)?;
        for (uses, ids) in [(Uses::Theme, &theme_ids), (Uses::HomeLayout, &layout_ids)] {
            if let Some(id) = uses.referenced_by(&entry.data)
                && !ids.contains(id)
                && ctx.store.get(tenant, &uses.source_sk(id), now).await?.is_none()
            {
                return Err(invalid_entry(
                    "sites",
                    i,
                    format!("references {id}, which is neither in the document nor stored"),
                ));
            }
        }
        plan_entry("sites", i, keys::site(&entry.id), &entry.data, &mut plan)?;
    }
    let site_known = |id: &str| doc_sites.contains(id) || existing_sites.contains(id);
    for (i, entry) in doc.navigations.iter().enumerate() {
        if !site_known(&entry.site_id) {
            return Err(invalid_entry("navigations", i, format!("site {} does not exist", entry.site_id)));
        }
        let sk = keys::site_navigation(&entry.site_id);
        unique("navigations", i, &sk)?;
        plan_entry("navigations", i, sk, &entry.data, &mut plan)?;
    }
    let mut per_site: HashMap<(&'static str, &str), u32> = HashMap::new();
    for (section, entries, prefix, max) in [
        (
            "announcements",
            &doc.announcements
                .iter()
                .map(|e| (e.site_id.as_str(), e.id.as_deref(), serde_json::to_value(&e.data)))
                .collect::<Vec<_>>(),
            keys::site_announcements as fn(&str) -> String,
            ANNOUNCEMENTS.max_per_site,
        ),
        (
            "promotedSearches",
            &doc.promoted_searches
                .iter()
                .map(|e| (e.site_id.as_str(), e.id.as_deref(), serde_json::to_value(&e.data)))
                .collect::<Vec<_>>(),
            keys::site_promoted_searches,
            PROMOTED_SEARCHES.max_per_site,
        ),
    ] {
        for (i, (site_id, id, _)) in entries.iter().enumerate() {
            if !site_known(site_id) {
                return Err(invalid_entry(section, i, format!("site {site_id} does not exist")));
            }
            let id = id.ok_or_else(|| invalid_entry(section, i, "id is missing"))?;
            check_ulid(section, i, id)?;
            unique(section, i, &format!("{}{id}", prefix(site_id)))?;
            let count = per_site.entry((section, site_id)).or_default();
            *count += 1;
            if *count > max {
                return Err(invalid_entry(section, i, format!("more than {max} for site {site_id}")));
            }
        }
    }
    for (i, e) in doc.announcements.iter().enumerate() {
        let id = e.id.as_deref().unwrap_or_default();
        plan_entry("announcements", i, format!("{}{id}", keys::site_announcements(&e.site_id)), &e.data, &mut plan)?;
    }
    for (i, e) in doc.promoted_searches.iter().enumerate() {
        let id = e.id.as_deref().unwrap_or_default();
        plan_entry(
            "promotedSearches",
            i,
            format!("{}{id}", keys::site_promoted_searches(&e.site_id)),
            &e.data,
            &mut plan,
        )?;
    }
    for (i, e) in doc.themes.iter().enumerate() {
        check_ulid("themes", i, &e.id)?;
        plan_entry("themes", i, format!("{}{}", keys::THEME_PREFIX, e.id), &e.data, &mut plan)?;
    }
    for (i, e) in doc.layouts.iter().enumerate() {
        check_ulid("layouts", i, &e.id)?;
        plan_entry("layouts", i, format!("{}{}", keys::LAYOUT_PREFIX, e.id), &e.data, &mut plan)?;
    }
    for (i, e) in doc.reports.iter().enumerate() {
        check_ulid("reports", i, &e.id)?;
        plan_entry("reports", i, format!("{}{}", keys::REPORT_PREFIX, e.id), &e.data, &mut plan)?;
    }
    for (i, e) in doc.page_metadata.iter().enumerate() {
        if !is_page_id(&e.id) {
            return Err(invalid_entry("pageMetadata", i, format!("{:?} is not a Confluence page id", e.id)));
        }
        plan_entry("pageMetadata", i, format!("{}{}", keys::PAGE_PREFIX, e.id), &e.data, &mut plan)?;
    }
    let mut seen_sk = HashSet::new();
    for planned in &plan {
        if !seen_sk.insert(planned.sk.as_str()) {
            return Err(Error::invalid("invalid_import", format!("{} appears twice", planned.sk)));
        }
    }
    // Media cannot be imported (the objects live in the bucket): references must exist here.
    let media: Vec<String> = media_references(doc);
    check_media_exist(ctx, tenant, &media.iter().map(String::as_str).collect::<Vec<_>>())
        .await
        .map_err(|e| Error::invalid("invalid_import", e.to_string()))?;
    Ok(plan)
}

fn media_references(doc: &ExportDocument) -> Vec<String> {
    let mut ids = Vec::new();
    let mut add = |list: Vec<&str>| ids.extend(list.into_iter().map(str::to_owned));
    doc.themes.iter().for_each(|e| add(e.data.media_ids()));
    doc.layouts.iter().for_each(|e| add(e.data.media_ids()));
    doc.page_metadata.iter().for_each(|e| add(e.data.media_ids()));
    doc.announcements.iter().for_each(|e| add(e.data.media_ids()));
    doc.promoted_searches.iter().for_each(|e| add(e.data.media_ids()));
    ids
}

pub async fn import(ctx: &Data, editor: &Editor, doc: &ExportDocument, dry_run: bool) -> Result<ImportReport> {
    let tenant = &editor.tenant;
    rate_limit::spend(ctx, tenant, &IMPORT_LIMIT, Caller::Tenant).await?;
    let plan = plan(ctx, tenant, doc).await?;
    let mut report = ImportReport { dry_run, ..ImportReport::default() };
    let now_secs = ctx.clock.now_secs();
    let mut writes = Vec::new();
    for planned in plan {
        let existing = ctx.store.get(tenant, &planned.sk, now_secs).await?;
        let (version, condition) = match &existing {
            None => {
                *report.created.entry(planned.section).or_default() += 1;
                (1, Condition::Absent)
            }
            Some(item) if same_json(&item.body, &planned.body)? => {
                *report.unchanged.entry(planned.section).or_default() += 1;
                continue;
            }
            Some(item) => {
                *report.updated.entry(planned.section).or_default() += 1;
                (item.version + 1, Condition::Version(item.version))
            }
        };
        let item = Item {
            tenant: tenant.clone(),
            sk: planned.sk,
            version,
            updated_at: ctx.clock.now_millis(),
            updated_by: editor.account_id.clone(),
            due: None,
            expires_at: None,
            body: planned.body,
        };
        if planned.section == "sites" {
            let listing = Item { sk: keys::site_listing(&item.sk["SITE#".len()..]), ..item.clone() };
            writes.push(vec![Write::Put { item, condition }, Write::Put { item: listing, condition: Condition::None }]);
        } else {
            writes.push(vec![Write::Put { item, condition }]);
        }
    }
    if dry_run {
        return Ok(report);
    }
    // Batches are applied in order; a batch is all-or-nothing, and so is a re-run: every put is
    // conditional on what was read, so an import that failed half-way can simply be repeated.
    let mut batch = Vec::new();
    for group in writes {
        if batch.len() + group.len() > IMPORT_BATCH {
            crate::domain::records::commit(ctx, std::mem::take(&mut batch))
                .await
                .map_err(crate::domain::records::stale_on_conflict)?;
        }
        batch.extend(group);
    }
    if !batch.is_empty() {
        crate::domain::records::commit(ctx, batch).await.map_err(crate::domain::records::stale_on_conflict)?;
    }
    rebuild_derived(ctx, editor).await?;
    Ok(report)
}

/// Snapshots of every site's theme and home layout, and the counters, recomputed from what is
/// stored now.
async fn rebuild_derived(ctx: &Data, editor: &Editor) -> Result<()> {
    let all = sites::all(ctx, &editor.tenant).await?;
    let now = ctx.clock.now_secs();
    let mut totals = Counters::default();
    for site in &all {
        totals = totals.plus(sites::counted(&site.data));
        let mut writes = Vec::new();
        for uses in [Uses::Theme, Uses::HomeLayout] {
            let sk = uses.snapshot_sk(&site.id);
            match uses.referenced_by(&site.data) {
                Some(id) => {
                    let source = ctx
                        .store
                        .get(&editor.tenant, &uses.source_sk(id), now)
                        .await?
                        .ok_or_else(|| Error::internal("import lost a reference"))?;
                    writes.push(Write::Put {
                        item: sites::snapshot_item(editor, &site.id, uses, id, &source, ctx.clock.now_millis())?,
                        condition: Condition::None,
                    });
                }
                None => writes.push(Write::Delete { tenant: editor.tenant.clone(), sk, condition: Condition::None }),
            }
        }
        crate::domain::records::commit(ctx, writes).await?;
    }
    let themes = super::library::THEMES.list(ctx, &editor.tenant, MAX_PAGE_SIZE, None).await?;
    totals.themes = themes.items.len() as i64;
    let writes = counters::set(ctx, editor, totals).await?;
    if !writes.is_empty() {
        crate::domain::records::commit(ctx, writes).await?;
    }
    Ok(())
}
