//! Benchmark: admin writes to ONE tenant from 1, 4 and 16 concurrent writers on DynamoDB Local,
//! with the conflicts and retries each write cost. Run by `scripts/bench-writes`, which starts
//! DynamoDB Local and passes its endpoint.
//!
//!   write_contention [--writers 1,4,16] [--duration 10] [--warmup 2] [--workloads counted,uncounted]
//!
//! The writers call the content use cases themselves (what the content function's handlers call
//! after authentication), on the store the product uses: DynamoDB behind the residency fence. Each
//! writer owns one site of the tenant, so the writers never race for the item they edit; what
//! they share is what every write of the tenant touches:
//! - `counted`: `PUT` of the writer's site, adding or removing a space, so each write moves the
//!   tenant's usage counters (the writes that do: sites, themes, custom domains, spaces);
//! - `uncounted`: `PUT` of the writer's site navigation, which moves no counter: the same tenant
//!   and fence, without the counters.
//!
//! A counting decorator on the store (outside the fence, so it sees what `retry_conflicts` sees)
//! counts the transactions sent and those answered `write_conflict` (a version condition lost to
//! another writer); the DynamoDB adapter counts the sends it repeated itself because another
//! transaction was in flight on one of the items (`TransactionConflict`). A write that lost all
//! of `WRITE_ATTEMPTS` is a failure (the API answers it 409 `write_conflict`). After each counted
//! run the counters are checked against the sites they count.

#[allow(dead_code)] // the seeding and media helpers are the other benchmarks'
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use canopy_shared::TenantKey;
use canopy_shared::domain::content::counters;
use canopy_shared::domain::content::model::{Navigation, Site};
use canopy_shared::domain::content::{site_items, sites};
use canopy_shared::domain::data::Data;
use canopy_shared::domain::records::Editor;
use canopy_shared::domain::residency::fence::FencedStore;
use canopy_shared::kernel::clock::SystemClock;
use canopy_shared::kernel::error::{Error, Result};
use canopy_shared::ports::store::{DueEntry, Item, ItemStore, Page, PageRequest, Write};
use serde_json::json;

const USAGE: &str =
    "write_contention [--writers 1,4,16] [--duration SECS] [--warmup SECS] [--workloads counted,uncounted]";

/// Counts what the use cases' transactions came to; everything else passes through.
struct CountingStore {
    inner: Arc<dyn ItemStore>,
    transactions: AtomicU64,
    conflicts: AtomicU64,
}

#[async_trait]
impl ItemStore for CountingStore {
    async fn get(&self, tenant: &TenantKey, sk: &str, now: i64) -> Result<Option<Item>> {
        self.inner.get(tenant, sk, now).await
    }

    async fn query(&self, tenant: &TenantKey, prefix: &str, page: PageRequest, now: i64) -> Result<Page<Item>> {
        self.inner.query(tenant, prefix, page, now).await
    }

    async fn transact(&self, writes: Vec<Write>, now: i64) -> Result<()> {
        self.transactions.fetch_add(1, Ordering::Relaxed);
        let result = self.inner.transact(writes, now).await;
        if matches!(result, Err(Error::WriteConflict)) {
            self.conflicts.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    async fn due(&self, kind: &str, now: i64, page: PageRequest) -> Result<Page<DueEntry>> {
        self.inner.due(kind, now, page).await
    }

    async fn delete_batch(&self, keys: &[(TenantKey, String)]) -> Result<()> {
        self.inner.delete_batch(keys).await
    }

    async fn purge_expired(&self, now: i64) -> Result<u64> {
        self.inner.purge_expired(now).await
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Workload {
    Counted,
    Uncounted,
}

struct Args {
    writers: Vec<usize>,
    duration: Duration,
    warmup: Duration,
    workloads: Vec<Workload>,
}

fn parse_args() -> std::result::Result<Args, String> {
    let mut args = Args {
        writers: vec![1, 4, 16],
        duration: Duration::from_secs(10),
        warmup: Duration::from_secs(2),
        workloads: vec![Workload::Counted, Workload::Uncounted],
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        let value = argv.next().ok_or(format!("{flag} needs a value; {USAGE}"))?;
        let secs = |v: &str| v.parse::<u64>().map(Duration::from_secs).map_err(|_| format!("{flag}: whole seconds"));
        match flag.as_str() {
            "--writers" => {
                args.writers = value
                    .split(',')
                    .map(|n| n.parse::<usize>().ok().filter(|n| (1..=64).contains(n)))
                    .collect::<Option<_>>()
                    .ok_or("--writers: a comma-separated list of 1 to 64")?
            }
            "--duration" => args.duration = secs(&value)?,
            "--warmup" => args.warmup = secs(&value)?,
            "--workloads" => {
                args.workloads = value
                    .split(',')
                    .map(|w| match w {
                        "counted" => Ok(Workload::Counted),
                        "uncounted" => Ok(Workload::Uncounted),
                        other => Err(format!("--workloads counted,uncounted, not {other}")),
                    })
                    .collect::<std::result::Result<_, _>>()?
            }
            _ => return Err(format!("unknown argument {flag}; {USAGE}")),
        }
    }
    Ok(args)
}

/// What one writer holds: its site and the version of what it edits next.
struct Writer {
    site_id: String,
    version: u64,
    /// Counted: whether the site has the second space now.
    wide: bool,
}

fn site_body(wide: bool) -> Site {
    let spaces = if wide { json!(["DOC", "ENG"]) } else { json!(["DOC"]) };
    serde_json::from_value(json!({"name": "Docs", "spaces": spaces, "visibility": "public"})).expect("site")
}

fn navigation(n: u64) -> Navigation {
    serde_json::from_value(json!({"items": [
        {"id": "n1", "label": format!("Home {n:09}"), "target": {"type": "space", "spaceKey": "DOC"}, "children": []},
        {"id": "n2", "label": "Handbook", "target": {"type": "space", "spaceKey": "HB"}, "children": []},
    ]}))
    .expect("navigation")
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    failed_conflict: u64,
    failed_other: u64,
    first_error: Option<String>,
}

async fn one_write(ctx: &Data, editor: &Editor, workload: Workload, writer: &mut Writer, n: u64) -> Result<u64> {
    match workload {
        Workload::Counted => {
            let next = !writer.wide;
            let stored = sites::update(ctx, editor, &writer.site_id, Some(writer.version), site_body(next)).await?;
            writer.wide = next;
            Ok(stored.version)
        }
        Workload::Uncounted => {
            site_items::put_navigation(ctx, editor, &writer.site_id, Some(writer.version), navigation(n))
                .await
                .map(|stored| stored.version)
        }
    }
}

/// The version of what `writer` edits, read again after a failed write.
async fn reread(ctx: &Data, tenant: &TenantKey, workload: Workload, writer: &Writer) -> Result<u64> {
    Ok(match workload {
        Workload::Counted => sites::read(ctx, tenant, &writer.site_id).await?.version,
        Workload::Uncounted => site_items::read_navigation(ctx, tenant, &writer.site_id).await?.version,
    })
}

async fn writer_loop(
    ctx: Data,
    editor: Editor,
    workload: Workload,
    mut writer: Writer,
    until: Instant,
) -> (Writer, Tally) {
    let mut tally = Tally::default();
    let mut n = 0;
    while Instant::now() < until {
        n += 1;
        let sent = Instant::now();
        match one_write(&ctx, &editor, workload, &mut writer, n).await {
            Ok(version) => {
                tally.latencies_us.push(sent.elapsed().as_micros() as u64);
                writer.version = version;
            }
            Err(error) => {
                if matches!(error, Error::WriteConflict) {
                    tally.failed_conflict += 1;
                } else {
                    tally.failed_other += 1;
                }
                tally.first_error.get_or_insert_with(|| format!("{error:?}"));
                writer.version = reread(&ctx, &editor.tenant, workload, &writer).await.expect("re-read");
            }
        }
    }
    (writer, tally)
}

struct Stores {
    dynamo: Arc<canopy_shared::adapters::store::dynamo::DynamoItemStore>,
    counting: Arc<CountingStore>,
}

impl Stores {
    fn snapshot(&self) -> [u64; 3] {
        [
            self.counting.transactions.load(Ordering::Relaxed),
            self.counting.conflicts.load(Ordering::Relaxed),
            self.dynamo.conflict_retries(),
        ]
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

/// Runs `writers` writers on a fresh tenant for the warm-up, then for the measured duration.
async fn run(stores: &Stores, ctx: &Data, args: &Args, workload: Workload, writers: usize) {
    let tenant = TenantKey::from_verified(&common::unique("contention")).expect("key");
    let editor = Editor { tenant: tenant.clone(), account_id: Some("557058:bench-admin".into()) };
    let mut owned = Vec::new();
    for _ in 0..writers {
        let site = sites::create(ctx, &editor, site_body(false)).await.expect("create site");
        let version = match workload {
            Workload::Counted => site.version,
            Workload::Uncounted => {
                site_items::put_navigation(ctx, &editor, &site.id, None, navigation(0))
                    .await
                    .expect("navigation")
                    .version
            }
        };
        owned.push(Writer { site_id: site.id, version, wide: false });
    }

    let mut measured = None;
    for (phase, length) in [("warm-up", args.warmup), ("measured", args.duration)] {
        let before = stores.snapshot();
        let started = Instant::now();
        let until = started + length;
        let tasks: Vec<_> = owned
            .drain(..)
            .map(|writer| tokio::spawn(writer_loop(ctx.clone(), editor.clone(), workload, writer, until)))
            .collect();
        let mut all = Tally::default();
        for task in tasks {
            let (writer, tally) = task.await.expect("writer");
            owned.push(writer);
            all.latencies_us.extend(tally.latencies_us);
            all.failed_conflict += tally.failed_conflict;
            all.failed_other += tally.failed_other;
            all.first_error = all.first_error.or(tally.first_error);
        }
        let elapsed = started.elapsed();
        let after = stores.snapshot();
        if phase == "measured" {
            measured = Some((all, elapsed, [after[0] - before[0], after[1] - before[1], after[2] - before[2]]));
        }
    }
    let (mut all, elapsed, [transactions, conflicts, in_flight]) = measured.expect("measured phase");

    if workload == Workload::Counted {
        let counted = counters::read(ctx.store.as_ref(), &tenant, ctx.clock.now_secs()).await.expect("counters");
        let spaces: i64 = owned.iter().map(|w| if w.wide { 2 } else { 1 }).sum();
        assert_eq!(
            (counted.sites, counted.spaces),
            (writers as i64, spaces),
            "the counters drifted from the sites they count"
        );
    }

    all.latencies_us.sort_unstable();
    let ok = all.latencies_us.len() as u64;
    let failed = all.failed_conflict + all.failed_other;
    let calls = ok + failed;
    let per_ok = |n: u64| if ok == 0 { f64::NAN } else { n as f64 / ok as f64 };
    println!(
        "| {workload:<9} | {writers:>7} | {:>8.1} | {:>7.1} | {:>8.1} | {:>15.2} | {:>15.2} | {:>17.2} | {:>6} ({:.1} %) |",
        ok as f64 / elapsed.as_secs_f64(),
        percentile(&all.latencies_us, 50.0),
        percentile(&all.latencies_us, 99.0),
        per_ok(conflicts),
        per_ok(transactions.saturating_sub(calls)),
        per_ok(in_flight),
        failed,
        if calls == 0 { 0.0 } else { 100.0 * failed as f64 / calls as f64 },
        workload = format!("{workload:?}").to_lowercase(),
    );
    if let Some(error) = all.first_error.filter(|_| all.failed_other > 0) {
        println!("  {} failures other than write_conflict, the first: {error}", all.failed_other);
    }
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let dynamo = common::dynamo_store().await;
    let counting = Arc::new(CountingStore {
        inner: FencedStore::wrap(dynamo.clone()),
        transactions: AtomicU64::new(0),
        conflicts: AtomicU64::new(0),
    });
    let ctx = Data {
        store: counting.clone(),
        clock: Arc::new(SystemClock),
        secrets: canopy_shared::ports::secrets::SecretSealer::new(Arc::new(
            canopy_shared::adapters::secrets::local::LocalKeyring::in_memory(),
        )),
    };
    let stores = Stores { dynamo, counting };
    println!(
        "{} s measured after {} s of warm-up per row; per write = per successful write",
        args.duration.as_secs(),
        args.warmup.as_secs()
    );
    println!();
    println!(
        "| workload  | writers | writes/s | p50, ms | p99, ms | conflicts/write | retries/write | in-flight resends/write | failed (409) |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for &workload in &args.workloads {
        for &writers in &args.writers {
            run(&stores, &ctx, &args, workload, writers).await;
        }
    }
}
