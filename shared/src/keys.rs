//! Every partition key, sort key and due-index key Canopy writes is built here, and nowhere else.
//!
//! Layout (one table per region): `pk = T#<tenant>`; `sk` names the item kind (`TENANT`, `SITE#…`);
//! the sparse due index has `duePk = DUE#<kind>` and `dueSk = <unix secs, 12 digits>#<pk>#<sk>` so
//! a range query on `dueSk` returns what fell due, oldest first, across tenants.

use crate::tenant_key::TenantKey;

pub const TENANT_PREFIX: &str = "T#";
/// The tenant's install record.
pub const TENANT_RECORD: &str = "TENANT";

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
