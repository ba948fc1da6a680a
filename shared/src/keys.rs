//! Every partition key, sort key and due-index key Canopy writes is built here, and nowhere else.
//!
//! Layout (one table per region): `pk = T#<tenant>`; `sk` names the item kind (`TENANT`, `SITE#…`);
//! the sparse due index has `duePk = DUE#<kind>` and `dueSk = <unix secs, 12 digits>#<pk>#<sk>` so
//! a range query on `dueSk` returns what fell due, oldest first, across tenants.

use crate::tenant_key::TenantKey;

pub const TENANT_PREFIX: &str = "T#";
/// The tenant's install record.
pub const TENANT_RECORD: &str = "TENANT";

/// Exact usage counters (sites, themes, custom domains, spaces), updated in the same transaction
/// as the writes that change them.
pub const COUNTERS: &str = "COUNTERS";

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
/// Deleted items wait here, under their original sort key, until restored or purged.
pub const TRASH_PREFIX: &str = "TRASH#";

pub fn trash(original_sk: &str) -> String {
    format!("{TRASH_PREFIX}{original_sk}")
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
}
