//! docs/DATA.md states how long every kind of data is kept. These figures are read here from
//! `template.yaml` and from the code's constants, and the page must state each one exactly, with
//! no row the test does not know (a row nobody checks would drift).

use std::collections::BTreeMap;

use canopy_shared::domain::media::PENDING_TTL_SECS;
use canopy_shared::domain::records::TRASH_DAYS;
use canopy_shared::domain::residency::ROLLBACK_WINDOW_SECS;
use canopy_shared::kernel::config::{DEFAULT_LIVENESS_GRACE_DAYS, DEFAULT_PURGE_AFTER_DAYS};

const DAY: i64 = 86_400;
/// DynamoDB's point-in-time recovery window when the template names none.
const PITR_DEFAULT_DAYS: i64 = 35;

/// Every value of `key: <number>` in the template.
fn numbers(template: &str, key: &str) -> Vec<i64> {
    template
        .lines()
        .filter_map(|l| l.trim().strip_prefix(&format!("{key}: ")))
        .map(|v| v.trim().parse().unwrap_or_else(|_| panic!("{key}: {v} is not a number")))
        .collect()
}

/// The one value of `key` (all occurrences agree), or `default` when the template sets none.
fn setting(template: &str, key: &str, default: i64) -> i64 {
    let values = numbers(template, key);
    let first = values.first().copied().unwrap_or(default);
    assert!(values.iter().all(|v| *v == first), "{key} differs across the template: {values:?}");
    first
}

/// A `CANOPY_*` variable the template sets (Globals), or the code's default.
fn environment(template: &str, variable: &str, default: i64) -> i64 {
    template
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{variable}: ")))
        .map_or(default, |v| v.trim().trim_matches(['"', '\'']).parse().expect("a number of days"))
}

fn expected_figures(template: &str) -> BTreeMap<&'static str, i64> {
    assert!(template.contains("PointInTimeRecoveryEnabled: true"), "the table keeps point-in-time recovery");
    let purge = environment(template, "CANOPY_PURGE_AFTER_DAYS", i64::from(DEFAULT_PURGE_AFTER_DAYS));
    let noncurrent = setting(template, "NoncurrentDays", 0);
    let pitr = setting(template, "RecoveryPeriodInDays", PITR_DEFAULT_DAYS);
    let backups = setting(template, "DeleteAfterDays", 0);
    assert!(noncurrent > 0 && backups > 0, "the template sets both");
    BTreeMap::from([
        ("a tenant's items and media after Atlassian's `uninstalled`", purge),
        (
            "a site that denies the app access before it counts as uninstalled",
            environment(template, "CANOPY_LIVENESS_GRACE_DAYS", DEFAULT_LIVENESS_GRACE_DAYS),
        ),
        ("an item in the trash", TRASH_DAYS),
        ("an upload never completed", PENDING_TTL_SECS / DAY),
        ("the source copy after a move to the other region (rollback window)", ROLLBACK_WINDOW_SECS / DAY),
        ("a deleted or replaced media object's old version (S3 versioning)", noncurrent),
        ("point-in-time recovery of the table", pitr),
        ("daily table backups (AWS Backup)", backups),
        ("function logs, with the IP addresses they hold", setting(template, "RetentionInDays", 0)),
        ("last media copy of a purged tenant, counted from uninstall", purge + noncurrent),
        ("last table copy of a purged tenant, counted from uninstall", purge + pitr.max(backups)),
    ])
}

/// The rows of the table under `## How long`: label → days.
fn stated_figures(page: &str) -> BTreeMap<String, i64> {
    let section = page.split("\n## How long\n").nth(1).expect("docs/DATA.md has a 'How long' section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---") && !l.starts_with("| what "))
        .map(|row| {
            let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
            let days = cells
                .get(1)
                .and_then(|c| c.strip_suffix(" days").or_else(|| c.strip_suffix(" day")))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("row {row:?}: the second cell must read '<N> days' (or '1 day')"));
            (cells[0].to_owned(), days)
        })
        .collect()
}

#[test]
fn the_retention_figures_match_the_template_and_the_code() {
    let expected = expected_figures(&support::repo::read("template.yaml"));
    let stated = stated_figures(&support::repo::read("docs/DATA.md"));
    for (what, days) in &expected {
        assert_eq!(stated.get(*what), Some(days), "docs/DATA.md, 'How long': {what}");
    }
    let unknown: Vec<&String> = stated.keys().filter(|k| !expected.contains_key(k.as_str())).collect();
    assert!(unknown.is_empty(), "rows of docs/DATA.md no test checks: {unknown:?}");
    let plain =
        format!("gone {} days after uninstall", expected["last table copy of a purged tenant, counted from uninstall"]);
    assert!(support::repo::read("docs/DATA.md").contains(&plain), "the plain figure is stated: {plain}");
}

#[test]
fn a_changed_figure_is_caught() {
    let template = support::repo::read("template.yaml").replace("DeleteAfterDays: 35", "DeleteAfterDays: 90");
    let expected = expected_figures(&template);
    let stated = stated_figures(&support::repo::read("docs/DATA.md"));
    let key = "last table copy of a purged tenant, counted from uninstall";
    assert_ne!(stated.get(key), expected.get(key), "longer backups must show in the page");
    assert_eq!(expected[key], 120);
}
