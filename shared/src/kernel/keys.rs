//! Every partition key, sort key and due-index key Canopy writes is built here, and nowhere else.
//!
//! Layout (one table per region): `pk = T#<tenant>`; `sk` names the item kind (`TENANT`, `SITE#…`);
//! the sparse due index has `duePk = DUE#<kind>` and `dueSk = <unix secs, 12 digits>#<pk>#<sk>` so
//! a range query on `dueSk` returns what fell due, oldest first, across tenants.

use crate::kernel::tenant_key::TenantKey;

pub const TENANT_PREFIX: &str = "T#";
/// The tenant's install record.
pub const TENANT_RECORD: &str = "TENANT";

/// Exact usage counters (sites, themes, custom domains, spaces), updated in the same transaction
/// as the writes that change them: the home item, which alone counts the sites; the rest are
/// spread over [`counters_shard`]s, and the prefix `COUNTERS` lists them all
/// (`content::counters`).
pub const COUNTERS: &str = "COUNTERS";
pub fn counters_shard(n: u32) -> String {
    format!("{COUNTERS}#{n:02}")
}

/// A site and everything a browser needs to render it share the prefix `SITE#<siteId>`, so the
/// site config is one Query. Site ids are fixed-length ULIDs, so one site's prefix never matches
/// another's.
pub fn site(site_id: &str) -> String {
    format!("SITE#{site_id}")
}
pub fn site_navigation(site_id: &str) -> String {
    format!("SITE#{site_id}#NAV")
}
pub fn site_announcements(site_id: &str) -> String {
    format!("SITE#{site_id}#ANN#")
}
pub fn site_promoted_searches(site_id: &str) -> String {
    format!("SITE#{site_id}#SEARCH#")
}
/// Copies of the theme and home layout a site uses, kept in step by every write to either side,
/// so the site config read needs no second call.
pub fn site_theme_snapshot(site_id: &str) -> String {
    format!("SITE#{site_id}#USES#THEME")
}
pub fn site_home_snapshot(site_id: &str) -> String {
    format!("SITE#{site_id}#USES#HOME")
}
/// One small listing copy per site: listing sites must not read every site's children.
pub const SITE_LISTING_PREFIX: &str = "SITELIST#";
pub fn site_listing(site_id: &str) -> String {
    format!("{SITE_LISTING_PREFIX}{site_id}")
}
pub const LAYOUT_PREFIX: &str = "LAYOUT#";
pub const THEME_PREFIX: &str = "THEME#";
pub const REPORT_PREFIX: &str = "REPORT#";
pub const PAGE_PREFIX: &str = "PAGE#";
pub const MEDIA_PREFIX: &str = "MEDIA#";
/// Every object of a tenant lives under this prefix of the region's bucket.
pub fn media_prefix(tenant: &TenantKey) -> String {
    format!("tenants/{tenant}/")
}

/// Where a media item's presigned PUT writes (generated here, never taken from the client). The
/// URL stays valid for minutes after `complete` checked the bytes, so nothing is served from here.
pub fn media_upload_object(tenant: &TenantKey, media_id: &str) -> String {
    format!("tenants/{tenant}/uploads/{media_id}")
}

/// The objects of one media item: the copies `complete` made of its upload (see
/// [`media_pinned_object`]); deleting the item deletes this prefix.
pub fn media_objects(tenant: &TenantKey, media_id: &str) -> String {
    format!("tenants/{tenant}/pinned/{media_id}/")
}

/// The copy of an upload that `complete` checked and the item serves: no URL can write it. One
/// key per completion attempt (`copy_id`), so two concurrent completions never share a copy.
pub fn media_pinned_object(tenant: &TenantKey, media_id: &str, copy_id: &str) -> String {
    format!("{}{copy_id}", media_objects(tenant, media_id))
}

/// A completed upload whose URL may still be valid: the retention sweep deletes what the URL
/// may have written after the check (`MEDIA_UPLOAD_DUE_KIND`).
pub const UPLOAD_SWEEP_PREFIX: &str = "UPLOADSWEEP#";
pub fn upload_sweep(media_id: &str) -> String {
    format!("{UPLOAD_SWEEP_PREFIX}{media_id}")
}

/// Deletion receipts of purged tenants, in the operator partition.
pub const RECEIPT_PREFIX: &str = "RECEIPT#";

/// Deleted items wait here, under their original sort key, until restored or purged.
pub const TRASH_PREFIX: &str = "TRASH#";

pub fn trash(original_sk: &str) -> String {
    format!("{TRASH_PREFIX}{original_sk}")
}

/// Feedback, newest first: `FEEDBACK#<inverted submission ms, 15 digits>#<ulid>`. The store
/// queries in ascending order, so the time is stored as `FEEDBACK_TIME_MAX - ms` (ULID times are
/// 48-bit milliseconds, so the inversion is fixed-width and exact). The inverted time is
/// recomputed from the ULID's own time, so the id alone addresses the item.
pub const FEEDBACK_PREFIX: &str = "FEEDBACK#";
pub const FEEDBACK_TIME_MAX: i64 = (1 << 48) - 1;
pub fn feedback(id: &str, submitted_millis: i64) -> String {
    format!("{FEEDBACK_PREFIX}{:015}#{id}", FEEDBACK_TIME_MAX - submitted_millis.clamp(0, FEEDBACK_TIME_MAX))
}

/// A logged-in user of the tenant: only the accountId (in the key) and what Canopy keeps for them.
pub const USER_PREFIX: &str = "USER#";
pub fn user(account_id: &str) -> String {
    format!("{USER_PREFIX}{account_id}")
}

/// One pointer per feedback item a user left their accountId on, so erasing an account finds
/// every item without scanning the tenant's feedback: `CONTACT#<accountId>#<feedbackId>`.
pub fn contacts_of(account_id: &str) -> String {
    format!("CONTACT#{account_id}#")
}
pub fn contact(account_id: &str, feedback_id: &str) -> String {
    format!("CONTACT#{account_id}#{feedback_id}")
}

/// One pointer per item that names an account as its last editor or deleter, so erasing a closed
/// account follows its pointers instead of scanning the tenant: `EDITOR#<accountId>#<sk>`.
pub const EDITOR_PREFIX: &str = "EDITOR#";
pub fn edits_of(account_id: &str) -> String {
    format!("{EDITOR_PREFIX}{account_id}#")
}
pub fn edit(account_id: &str, sk: &str) -> String {
    format!("{EDITOR_PREFIX}{account_id}#{sk}")
}

/// What Canopy last heard from the product about one page or space it may point at
/// (`content::product_events`): `PRODUCT#PAGE#<pageId>`, `PRODUCT#SPACE#<spaceKey>`.
pub const PRODUCT_PREFIX: &str = "PRODUCT#";
pub fn product_page(page_id: &str) -> String {
    format!("{PRODUCT_PREFIX}PAGE#{page_id}")
}
pub fn product_space(space_key: &str) -> String {
    format!("{PRODUCT_PREFIX}SPACE#{space_key}")
}

/// A fixed-window rate-limit counter: `RATE#<action>#<caller>#<window secs>#<window start secs>`.
/// `caller` is `user#<accountId>` or `anonymous`, so the two can never share a counter.
pub fn rate_window(action: &str, caller: &str, window_secs: i64, window_start: i64) -> String {
    format!("{RATE_PREFIX}{action}#{caller}#{window_secs}#{window_start}")
}
pub const RATE_PREFIX: &str = "RATE#";

/// The tenant's residency migration: its state machine (`residency`), in the region it runs from.
pub const RESIDENCY: &str = "RESIDENCY";
/// Present while the tenant is read-only for a move: every tenant write is conditional on its
/// absence (`residency::fence`).
pub const RESIDENCY_FREEZE: &str = "RESIDENCY#FREEZE";

/// The tenant's personal-data reporting state (cursor, cycle, next due date).
pub const PRIVACY_REPORT: &str = "PRIVACY#REPORT";

/// The operator partition: cross-tenant figures (usage snapshots) under a tenant key no Connect
/// clientKey can take. `TenantKey` accepts `_`, Atlassian's clientKeys never start with it, an
/// install naming a reserved key is refused (`InstallPayload::validate_for_install`), and so a
/// token whose `iss` names one finds no install record and gets the uniform 401.
pub const OPERATOR_TENANT: &str = "_operator";
pub fn operator_tenant() -> TenantKey {
    TenantKey::from_verified(OPERATOR_TENANT).unwrap_or_else(|| unreachable!("the operator key is a valid key"))
}
/// Keys starting with `_` belong to Canopy itself, never to a tenant.
pub fn is_reserved_tenant(key: &str) -> bool {
    key.starts_with('_')
}

/// The cloudId → tenant index (`forge::cloud_index`): one item `CLOUD#<cloudId>` per site, in a
/// reserved partition, naming the tenant that answers for the site.
pub const CLOUD_INDEX_TENANT: &str = "_cloud";
pub fn cloud_index_tenant() -> TenantKey {
    TenantKey::from_verified(CLOUD_INDEX_TENANT).unwrap_or_else(|| unreachable!("the index key is a valid key"))
}
pub fn cloud_index(cloud_id: &str) -> String {
    format!("CLOUD#{cloud_id}")
}

/// Signed install tokens seen within their lifetime (`connect::install_replay`): one item
/// `INSTALL_TOKEN#<sha256 of the token, hex>` per token in a reserved partition, holding the hash
/// of the body it came with and expiring with the token.
pub const INSTALL_TOKENS_TENANT: &str = "_install_tokens";
pub fn install_tokens_tenant() -> TenantKey {
    TenantKey::from_verified(INSTALL_TOKENS_TENANT).unwrap_or_else(|| unreachable!("the tokens key is a valid key"))
}
pub fn install_token(token_sha256_hex: &str) -> String {
    format!("INSTALL_TOKEN#{token_sha256_hex}")
}

/// Tenants of sites that only ever came through Forge are `forge:<cloudId>`; Connect clientKeys
/// with this prefix are refused at install, so the two never collide.
pub const FORGE_ONLY_PREFIX: &str = "forge:";
pub fn forge_only_tenant(cloud_id: &str) -> Option<TenantKey> {
    TenantKey::from_verified(&format!("{FORGE_ONLY_PREFIX}{cloud_id}"))
}

/// A daily usage snapshot in the operator partition: the totals under `USAGE#<yyyy-mm-dd>`, the
/// per-tenant figures in chunks `USAGE_TENANTS#<yyyy-mm-dd>#<chunk, 4 digits>`.
pub const USAGE_DAY_PREFIX: &str = "USAGE#";
pub fn usage_day(date: &str) -> String {
    format!("{USAGE_DAY_PREFIX}{date}")
}
pub fn usage_tenants(date: &str, chunk: usize) -> String {
    format!("USAGE_TENANTS#{date}#{chunk:04}")
}
pub fn usage_tenants_of(date: &str) -> String {
    format!("USAGE_TENANTS#{date}#")
}

pub fn partition_key(tenant: &TenantKey) -> String {
    format!("{TENANT_PREFIX}{tenant}")
}

/// Reverses [`partition_key`] for keys read back from the table (cross-tenant jobs only).
pub fn tenant_of_partition(pk: &str) -> Option<TenantKey> {
    pk.strip_prefix(TENANT_PREFIX).and_then(TenantKey::from_verified)
}

pub fn due_partition(kind: &str) -> String {
    format!("DUE#{kind}")
}

pub fn due_sort_key(at_unix_secs: i64, tenant: &TenantKey, sk: &str) -> String {
    format!("{:012}#{}#{}", at_unix_secs.max(0), partition_key(tenant), sk)
}

/// Splits a due sort key into (due time, tenant, item sort key).
pub fn parse_due_sort_key(due_sk: &str) -> Option<(i64, TenantKey, String)> {
    let (at, rest) = due_sk.split_once('#')?;
    let rest = rest.strip_prefix(TENANT_PREFIX)?;
    let (tenant, sk) = rest.split_once('#')?;
    Some((at.parse().ok()?, TenantKey::from_verified(tenant)?, sk.to_owned()))
}

/// The first due sort key strictly after every key due at or before `unix_secs`.
pub fn due_upper_bound(unix_secs: i64) -> String {
    format!("{:012}$", unix_secs.max(0))
}

// Per-tenant singletons the jobs keep, and the kinds of the due index.

/// The purge marker in the tenant's partition.
pub const PURGE: &str = "PURGE";

/// The site-liveness state the retention sweep keeps per tenant (`retention::liveness`).
pub const LIVENESS: &str = "LIVENESS";

/// Due-index kind the residency function gives a migrated tenant's source copy.
pub const MIGRATED_SOURCE_DUE_KIND: &str = "migrated-source";

/// Due-index kind of uploads never completed; the retention sweep removes them after a day.
pub const MEDIA_PENDING_DUE_KIND: &str = "media-pending";

/// Due-index kind of upload URLs still valid when their media was completed: once they expire,
/// the retention sweep deletes their object (`UPLOADSWEEP#<id>`).
pub const MEDIA_UPLOAD_DUE_KIND: &str = "media-upload";

/// The tenant's media usage totals (bytes, objects), kept in step with every upload and delete.
pub const MEDIA_USAGE: &str = "MEDIA_USAGE";

/// Due-index kind of trash entries.
pub const TRASH_DUE_KIND: &str = "trash";

/// Due-index kind of tenants waiting to be purged after uninstall.
pub const PURGE_DUE_KIND: &str = "purge";

/// Due-index kind of the tenant registry: every record not waiting for its purge sits here at
/// time 0 (always due), so `store.due(REGISTRY_DUE_KIND, now, …)` lists the installed tenants
/// (the usage snapshot reads it). An item has one due entry: uninstalling moves the record from
/// the registry to the purge queue, re-installing moves it back.
pub const REGISTRY_DUE_KIND: &str = "registry";

/// Due-index kind of migrations in flight (always due: `resume_all` drives them to the end).
pub const RESIDENCY_DUE_KIND: &str = "residency";

/// Due-index kind of tenants whose report is due.
pub const PRIVACY_REPORT_DUE_KIND: &str = "privacy-report";

/// A purge receipt in the operator partition, newest last:
/// `RECEIPT#<purged at ms, 15 digits>#<first 32 hex digits of the tenant hash>`.
pub fn receipt(purged_at_millis: i64, tenant: &TenantKey) -> String {
    format!("{RECEIPT_PREFIX}{:015}#{}", purged_at_millis.max(0), &tenant_hash(tenant)[..32])
}

/// The SHA-256 of a tenant key, hex: how operator records name a tenant without holding its key.
pub fn tenant_hash(tenant: &TenantKey) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(tenant.as_str().as_bytes()))
}

/// A named lease in the operator partition (`domain::lease`).
pub fn lease(name: &str) -> String {
    format!("LEASE#{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(s: &str) -> TenantKey {
        TenantKey::from_verified(s).unwrap()
    }

    #[test]
    fn partition_keys_round_trip() {
        let t = tenant("jira:1234-5678");
        assert_eq!(partition_key(&t), "T#jira:1234-5678");
        assert_eq!(tenant_of_partition("T#jira:1234-5678"), Some(t));
        assert_eq!(tenant_of_partition("X#abc"), None);
        assert_eq!(tenant_of_partition("T#a#b"), None);
    }

    #[test]
    fn due_sort_keys_order_by_time_and_round_trip() {
        let t = tenant("abc");
        let early = due_sort_key(99, &t, "TENANT");
        let late = due_sort_key(1_000, &t, "SITE#1#NAV");
        assert_eq!(early, "000000000099#T#abc#TENANT");
        assert!(early < late);
        assert_eq!(parse_due_sort_key(&late), Some((1_000, t.clone(), "SITE#1#NAV".into())));
        assert!(late.as_str() < due_upper_bound(1_000).as_str());
        assert!(due_sort_key(1_001, &t, "A").as_str() > due_upper_bound(1_000).as_str());
    }

    #[test]
    fn feedback_keys_sort_newest_first_at_fixed_width() {
        let older = feedback("01AAAAAAAAAAAAAAAAAAAAAAAA", 1_000);
        let newer = feedback("01BBBBBBBBBBBBBBBBBBBBBBBB", 2_000);
        assert!(newer < older);
        assert_eq!(older, "FEEDBACK#281474976709655#01AAAAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(feedback("X", FEEDBACK_TIME_MAX), "FEEDBACK#000000000000000#X");
        assert_eq!(feedback("X", 0).len(), feedback("X", FEEDBACK_TIME_MAX).len());
    }

    #[test]
    fn user_contact_and_rate_keys_do_not_overlap() {
        assert_eq!(user("557058:a"), "USER#557058:a");
        assert!(contact("557058:a", "01F").starts_with(&contacts_of("557058:a")));
        assert!(!contact("557058:ab", "01F").starts_with(&contacts_of("557058:a")));
        assert!(edit("557058:a", "SITE#01F").starts_with(&edits_of("557058:a")));
        assert!(!edit("557058:ab", "SITE#01F").starts_with(&edits_of("557058:a")));
        assert_ne!(rate_window("feedback", "anonymous", 60, 0), rate_window("feedback", "user#anonymous", 60, 0));
    }

    #[test]
    fn the_operator_partition_is_reserved_and_usage_keys_nest_by_day() {
        assert!(is_reserved_tenant(operator_tenant().as_str()));
        assert!(!is_reserved_tenant("574f8bdd-8dc4-35d3-9558-7bcea4e41de6"));
        assert_eq!(usage_day("2026-01-15"), "USAGE#2026-01-15");
        assert!(usage_tenants("2026-01-15", 3).starts_with(&usage_tenants_of("2026-01-15")));
        assert!(!usage_tenants("2026-01-15", 3).starts_with(USAGE_DAY_PREFIX));
    }

    #[test]
    fn the_cloud_index_is_reserved_and_forge_only_tenants_are_valid_keys() {
        assert!(is_reserved_tenant(cloud_index_tenant().as_str()));
        assert_eq!(cloud_index("4869c4ef-cb0d"), "CLOUD#4869c4ef-cb0d");
        let forge_only = forge_only_tenant("4869c4ef-cb0d-4108-8243-8929ac7cc1fa").expect("valid key");
        assert_eq!(forge_only.as_str(), "forge:4869c4ef-cb0d-4108-8243-8929ac7cc1fa");
        assert!(!is_reserved_tenant(forge_only.as_str()));
    }

    #[test]
    fn install_tokens_live_in_a_reserved_partition() {
        assert!(is_reserved_tenant(install_tokens_tenant().as_str()));
        assert_eq!(install_token("ab12"), "INSTALL_TOKEN#ab12");
    }
}
