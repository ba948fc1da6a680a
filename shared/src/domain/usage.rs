//! Usage statistics, per customer only: for every installed tenant the exact counters the content
//! writes keep (`content::counters`: sites, themes, custom domains, Confluence spaces), plus
//! totals. No per-user figure of any kind goes in.
//!
//! A daily snapshot is kept in the operator partition (`keys::operator_tenant`): the summary
//! `USAGE#<yyyy-mm-dd>` and the per-tenant figures in chunks of [`TENANTS_PER_CHUNK`]. The
//! summary is written last and only if absent, so a day has one result however often the job
//! runs: a second run answers the first run's summary. Tenants are listed through the tenant
//! registry (`crate::kernel::keys::REGISTRY_DUE_KIND` on the due index): installed tenants only, since an
//! uninstalled one leaves the registry for the purge queue.

use serde::{Deserialize, Serialize};
use time::Date;
use time::macros::format_description;

use crate::domain::content::counters::{self, Counters};
use crate::domain::data::Data;
use crate::domain::tenants::{self, TenantState};
use crate::kernel::clock::rfc3339;
use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::ports::store::{Body, Condition, Item, Page, PageRequest, Write};

/// Tenants per chunk item: ~150 bytes each keeps a chunk far under the store's item bound.
pub const TENANTS_PER_CHUNK: usize = 1000;
/// Registry entries read per index query.
const REGISTRY_PAGE: u32 = 1000;

/// One tenant's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantUsage {
    pub client_key: String,
    pub product_type: String,
    pub state: TenantState,
    #[serde(flatten)]
    pub counters: Counters,
}

/// A day's totals (`USAGE#<date>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaySummary {
    pub date: String,
    pub taken_at: String,
    pub tenants: u64,
    pub totals: Counters,
    /// How many `USAGE_TENANTS` chunks belong to this snapshot.
    pub chunks: usize,
}

/// A day's snapshot with every tenant's figures.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DayUsage {
    #[serde(flatten)]
    pub summary: DaySummary,
    pub per_tenant: Vec<TenantUsage>,
}

/// What a snapshot run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotReport {
    #[serde(flatten)]
    pub summary: DaySummary,
    /// `false`: the day was already taken and this run changed nothing.
    pub written: bool,
}

/// `yyyy-mm-dd`, the only date form the keys and routes use.
pub fn format_date(date: Date) -> String {
    date.format(format_description!("[year]-[month]-[day]")).unwrap_or_default()
}

pub fn parse_date(text: &str) -> Result<Date> {
    Date::parse(text, format_description!("[year]-[month]-[day]"))
        .map_err(|_| Error::not_found("unknown_day", "No usage snapshot for that day (dates are yyyy-mm-dd)."))
}

/// The UTC day of a unix time.
pub fn day_of(unix_secs: i64) -> Result<Date> {
    time::OffsetDateTime::from_unix_timestamp(unix_secs).map(|t| t.date()).map_err(Error::internal)
}

async fn read_summary(ctx: &Data, date: &str) -> Result<Option<DaySummary>> {
    let item = ctx.store.get(&keys::operator_tenant(), &keys::usage_day(date), ctx.clock.now_secs()).await?;
    item.map(|item| item.body.decode().map_err(|e| Error::internal(format!("usage summary: {e}")))).transpose()
}

/// Every installed tenant's figures now, in clientKey order.
pub async fn current(ctx: &Data) -> Result<Vec<TenantUsage>> {
    let now = ctx.clock.now_secs();
    let mut usage = Vec::new();
    let mut after = None;
    loop {
        let request = PageRequest { limit: REGISTRY_PAGE, after };
        let page = ctx.store.due(crate::kernel::keys::REGISTRY_DUE_KIND, now, request).await?;
        for entry in page.items.iter().filter(|e| e.sk == keys::TENANT_RECORD) {
            // The index lags the table: trust the record. Its counters are read beside it.
            let (record, counters) = tokio::try_join!(
                tenants::load_sealed(ctx, &entry.tenant),
                counters::read(ctx.store.as_ref(), &entry.tenant, now)
            )?;
            let Some((tenant, _)) = record else { continue };
            if tenant.state == TenantState::Uninstalled {
                continue;
            }
            usage.push(TenantUsage {
                client_key: tenant.client_key,
                product_type: tenant.product_type,
                state: tenant.state,
                counters,
            });
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    usage.sort_by(|a, b| a.client_key.cmp(&b.client_key));
    Ok(usage)
}

fn operator_item(sk: String, body: Body, now_millis: i64) -> Item {
    Item {
        tenant: keys::operator_tenant(),
        sk,
        version: 1,
        updated_at: now_millis,
        updated_by: None,
        due: None,
        expires_at: None,
        body,
    }
}

/// Takes the snapshot of `date` unless it exists (then answers it, `written: false`).
pub async fn snapshot(ctx: &Data, date: Date) -> Result<SnapshotReport> {
    let date = format_date(date);
    // The day's summary is looked for while the tenants are read: a day filed already (a second
    // run, rare with one schedule a day) costs a registry read for nothing, a first run one round
    // trip less.
    let (filed, usage) = tokio::join!(read_summary(ctx, &date), current(ctx));
    if let Some(summary) = filed? {
        return Ok(SnapshotReport { summary, written: false });
    }
    let usage = usage?;
    let totals = usage.iter().fold(Counters::default(), |sum, tenant| sum.plus(tenant.counters));
    let now = ctx.clock.now_millis();
    let chunks: Vec<&[TenantUsage]> = usage.chunks(TENANTS_PER_CHUNK).collect();
    // Chunks first, the summary last: a summary always finds its chunks.
    for (index, chunk) in chunks.iter().enumerate() {
        let item = operator_item(keys::usage_tenants(&date, index), Body::of(chunk)?, now);
        ctx.store.transact(vec![Write::Put { item, condition: Condition::None }], ctx.clock.now_secs()).await?;
    }
    let summary = DaySummary {
        date: date.clone(),
        taken_at: rfc3339(now),
        tenants: usage.len() as u64,
        totals,
        chunks: chunks.len(),
    };
    let item = operator_item(keys::usage_day(&date), Body::of(&summary)?, now);
    match ctx.store.transact(vec![Write::Put { item, condition: Condition::Absent }], ctx.clock.now_secs()).await {
        Ok(()) => Ok(SnapshotReport { summary, written: true }),
        // A concurrent run filed the day first: its result is the day's.
        Err(Error::WriteConflict) => {
            let summary = read_summary(ctx, &date).await?.ok_or_else(|| Error::internal("usage summary vanished"))?;
            Ok(SnapshotReport { summary, written: false })
        }
        Err(other) => Err(other),
    }
}

/// The day summaries in date order; the cursor is the last date of the previous page.
pub async fn list_days(ctx: &Data, limit: u32, cursor: Option<&str>) -> Result<Page<DaySummary>> {
    let after = match cursor {
        Some(date) => {
            let date = parse_date(date).map_err(|_| Error::bad_request("bad_cursor", "Unknown cursor."))?;
            Some(keys::usage_day(&format_date(date)))
        }
        None => None,
    };
    let op = keys::operator_tenant();
    let page = ctx.store.query(&op, keys::USAGE_DAY_PREFIX, PageRequest { limit, after }, ctx.clock.now_secs()).await?;
    let items = page
        .items
        .into_iter()
        .map(|item| item.body.decode().map_err(|e| Error::internal(format!("usage summary: {e}"))))
        .collect::<Result<Vec<DaySummary>>>()?;
    let next = page.next.map(|sk| sk[keys::USAGE_DAY_PREFIX.len()..].to_owned());
    Ok(Page { items, next })
}

/// One day's snapshot with every tenant's figures.
pub async fn day(ctx: &Data, date: &str) -> Result<DayUsage> {
    let date = format_date(parse_date(date)?);
    let unknown = || Error::not_found("unknown_day", "No usage snapshot for that day.");
    let summary = read_summary(ctx, &date).await?.ok_or_else(unknown)?;
    let op = keys::operator_tenant();
    let mut per_tenant = Vec::with_capacity(summary.tenants as usize);
    for index in 0..summary.chunks {
        let item = ctx.store.get(&op, &keys::usage_tenants(&date, index), ctx.clock.now_secs()).await?;
        let item = item.ok_or_else(|| Error::internal(format!("usage chunk {index} of {date} is missing")))?;
        let chunk: Vec<TenantUsage> = item.body.decode().map_err(|e| Error::internal(format!("usage chunk: {e}")))?;
        per_tenant.extend(chunk);
    }
    Ok(DayUsage { summary, per_tenant })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_yyyy_mm_dd_in_utc() {
        let day = day_of(1_768_435_200 + 86_399).unwrap();
        assert_eq!(format_date(day), "2026-01-15");
        assert_eq!(parse_date("2026-01-15").unwrap(), day);
        for bad in ["2026-1-15", "2026-02-30", "15.01.2026", "", "2026-01-15T00:00:00Z"] {
            assert_eq!(parse_date(bad).unwrap_err().code(), "unknown_day", "{bad}");
        }
    }
}
