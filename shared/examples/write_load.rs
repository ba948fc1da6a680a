//! Load client for the write benchmark of `scripts/bench`: a closed loop of `PUT`s over many
//! tenants, with the same one-line `BENCH {json}` summary as `bench/tokens.lua` (wrk) so that
//! `bench/measure.py` measures both alike.
//!
//!   write_load --url http://127.0.0.1:PORT --pairs FILE --target canopy|ace
//!              [--connections 32] [--threads 1] [--duration 20]
//!
//! `--pairs`: one `<path> <write token> <read token>` line per tenant (`bench/setup.py tokens
//! --workload write`). Each connection owns a disjoint set of tenants (tenant i belongs to
//! connection i mod C), so it alone writes them and always knows their current version:
//! - first (not timed) it reads each of its tenants' documents once: Canopy's navigation with its
//!   `ETag`, the peer's whole site config;
//! - then, until the duration is over, it sends the next tenant's document back with one label
//!   changed (so every write is a real change): Canopy `PUT` with `If-Match: <ETag>` (a 412 would
//!   mean a lost version and is counted, then the document is read again), the peer a plain `PUT`;
//!   Canopy's answer carries the new `ETag`;
//! - finally (not timed) it reads every tenant back and counts each one whose stored document is
//!   not the last one it wrote.
//!
//! Every answer other than 2xx is counted by status, the first one with its body; transport
//! errors are counted as socket errors. Latency is per request, send to end of answer, closed
//! loop (one request in flight per connection), percentiles by nearest rank.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Barrier;

const USAGE: &str =
    "write_load --url URL --pairs FILE --target canopy|ace [--connections C] [--threads T] [--duration S]";

#[derive(Clone, Copy, PartialEq)]
enum Target {
    /// `PUT /api/sites/{id}/navigation` with `If-Match`; the body is `{"items": [...]}`.
    Canopy,
    /// `PUT /site-config`, the whole document, unconditionally.
    Ace,
}

impl Target {
    /// The label every write changes, as a JSON pointer into the body.
    fn changed_label(self) -> &'static str {
        match self {
            Target::Canopy => "/items/0/label",
            Target::Ace => "/navigation/0/label",
        }
    }
}

struct Args {
    url: String,
    pairs: String,
    target: Target,
    connections: usize,
    threads: usize,
    duration: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut url, mut pairs, mut target) = (None, None, None);
    let (mut connections, mut threads, mut duration) = (32, 1, 20);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| v.parse::<u64>().ok().filter(|n| *n > 0).ok_or(format!("{flag}: a whole number > 0"));
        match flag.as_str() {
            "--url" => url = Some(value()?.trim_end_matches('/').to_owned()),
            "--pairs" => pairs = Some(value()?),
            "--target" => {
                target = Some(match value()?.as_str() {
                    "canopy" => Target::Canopy,
                    "ace" => Target::Ace,
                    other => return Err(format!("--target canopy|ace, not {other}")),
                })
            }
            "--connections" => connections = number(value()?)? as usize,
            "--threads" => threads = number(value()?)? as usize,
            "--duration" => duration = number(value()?)?,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}; {USAGE}")),
        }
    }
    Ok(Args {
        url: url.ok_or("--url is required")?,
        pairs: pairs.ok_or("--pairs is required")?,
        target: target.ok_or("--target is required")?,
        connections,
        threads,
        duration: Duration::from_secs(duration),
    })
}

struct Tenant {
    path: String,
    write_token: String,
    read_token: String,
    /// The body sent back (Canopy: `{"items"}`; the peer: the whole document).
    body: Value,
    etag: Option<String>,
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    response_bytes: u64,
    request_bytes: u64,
    by_status: BTreeMap<u16, u64>,
    first_error: Option<String>,
    connect_errors: u64,
    read_errors: u64,
    timeouts: u64,
    verify_failures: u64,
}

impl Tally {
    fn transport(&mut self, error: &reqwest::Error) {
        if error.is_connect() {
            self.connect_errors += 1;
        } else if error.is_timeout() {
            self.timeouts += 1;
        } else {
            self.read_errors += 1;
        }
        self.first_error.get_or_insert_with(|| format!("transport: {error}"));
    }

    fn bad_status(&mut self, status: u16, body: &[u8]) {
        *self.by_status.entry(status).or_default() += 1;
        self.first_error
            .get_or_insert_with(|| format!("{status} {}", String::from_utf8_lossy(&body[..body.len().min(200)])));
    }

    fn add(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        self.response_bytes += other.response_bytes;
        self.request_bytes += other.request_bytes;
        for (status, n) in other.by_status {
            *self.by_status.entry(status).or_default() += n;
        }
        self.first_error = self.first_error.take().or(other.first_error);
        self.connect_errors += other.connect_errors;
        self.read_errors += other.read_errors;
        self.timeouts += other.timeouts;
        self.verify_failures += other.verify_failures;
    }
}

fn read_pairs(path: &str) -> Result<Vec<(String, String, String)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| match line.split_whitespace().collect::<Vec<_>>()[..] {
            [route, write, read] => Ok((route.to_owned(), write.to_owned(), read.to_owned())),
            _ => Err(format!("{path}: expected `<path> <write token> <read token>`, got {line:?}")),
        })
        .collect()
}

/// Reads a tenant's current document: the body to send back, and Canopy's `ETag`.
async fn read_document(
    http: &reqwest::Client,
    url: &str,
    target: Target,
    tenant: &Tenant,
) -> Result<(Value, Option<String>), String> {
    let failed = |e: reqwest::Error| format!("GET {}: {e}", tenant.path);
    let response = http
        .get(format!("{url}{}", tenant.path))
        .header("authorization", format!("JWT {}", tenant.read_token))
        .send()
        .await
        .map_err(failed)?;
    let status = response.status();
    let etag = response.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let doc: Value = response.json().await.map_err(failed)?;
    if !status.is_success() {
        return Err(format!("GET {} answered {status}: {doc}", tenant.path));
    }
    Ok(match target {
        Target::Canopy => (json!({"items": doc["items"]}), Some(etag.ok_or(format!("GET {}: no ETag", tenant.path))?)),
        Target::Ace => (doc, None),
    })
}

/// One keep-alive connection's closed loop; answers its tally and when its timed loop ran. It
/// waits at `ready` once its tenants are read, even when reading failed (no one waits forever).
async fn connection(
    args: Arc<Args>,
    mut tenants: Vec<Tenant>,
    ready: Arc<Barrier>,
) -> Result<(Tally, Instant, Instant), String> {
    // One client per connection with at most one idle connection: requests are sequential here,
    // so every request of this loop reuses the same keep-alive connection.
    let mut prepared = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string());
    if let Ok(http) = &prepared {
        for tenant in &mut tenants {
            match read_document(http, &args.url, args.target, tenant).await {
                Ok(doc) => (tenant.body, tenant.etag) = doc,
                Err(message) => {
                    prepared = Err(message);
                    break;
                }
            }
        }
    }
    ready.wait().await;
    let http = prepared?;

    let mut tally = Tally::default();
    let start = Instant::now();
    let deadline = start + args.duration;
    let (owned, mut next, mut counter) = (tenants.len(), 0, 0u64);
    while Instant::now() < deadline {
        let tenant = &mut tenants[next];
        next = (next + 1) % owned;
        counter += 1;
        let mut body = tenant.body.clone();
        if let Some(Value::String(label)) = body.pointer_mut(args.target.changed_label()) {
            *label = format!("Home {counter:09}");
        }
        let bytes = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
        tally.request_bytes += bytes.len() as u64;
        let mut request = http
            .put(format!("{}{}", args.url, tenant.path))
            .header("authorization", format!("JWT {}", tenant.write_token))
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(bytes);
        if let Some(etag) = &tenant.etag {
            request = request.header("if-match", etag);
        }
        let sent = Instant::now();
        let outcome = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let etag = response.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
                response.bytes().await.map(|answer| (status, etag, answer))
            }
            Err(error) => Err(error),
        };
        tally.latencies_us.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
        match outcome {
            Ok((status, etag, answer)) => {
                tally.response_bytes += answer.len() as u64;
                if (200..300).contains(&status) {
                    tenant.body = body;
                    if args.target == Target::Canopy {
                        tenant.etag = Some(etag.ok_or(format!("PUT {} answered no ETag", tenant.path))?);
                    }
                } else {
                    tally.bad_status(status, &answer);
                    if status == 412 {
                        (tenant.body, tenant.etag) = read_document(&http, &args.url, args.target, tenant).await?;
                    }
                }
            }
            Err(error) => tally.transport(&error),
        }
    }
    let end = Instant::now();

    for tenant in &tenants {
        let (stored, _) = read_document(&http, &args.url, args.target, tenant).await?;
        if stored != tenant.body {
            tally.verify_failures += 1;
            tally
                .first_error
                .get_or_insert_with(|| format!("{} holds another document than last written", tenant.path));
        }
    }
    Ok((tally, start, end))
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summary(all: Tally, measured: Duration) -> Value {
    let mut lat = all.latencies_us;
    lat.sort_unstable();
    let n = lat.len().max(1) as f64;
    let mean = lat.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let stdev = (lat.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n).sqrt();
    let non2xx: u64 = all.by_status.values().sum();
    let by_status: BTreeMap<String, u64> = all.by_status.iter().map(|(s, n)| (s.to_string(), *n)).collect();
    let transport = all.connect_errors + all.read_errors + all.timeouts;
    json!({
        "requests": lat.len(),
        "responses": lat.len() as u64 - transport,
        "durationUs": measured.as_micros() as u64,
        "bytes": all.response_bytes,
        "requestBodyBytes": all.request_bytes,
        // Named as in tokens.lua; here: every answer outside 2xx, plus documents found changed.
        "non200": non2xx + all.verify_failures,
        "non200ByStatus": if by_status.is_empty() { json!([]) } else { json!([by_status]) },
        "verifyFailures": all.verify_failures,
        "firstError": all.first_error.unwrap_or_default(),
        "socketErrors": {"connect": all.connect_errors, "read": all.read_errors, "write": 0, "timeout": all.timeouts, "status": 0},
        "latencyUs": {
            "mean": (mean * 10.0).round() / 10.0,
            "stdev": (stdev * 10.0).round() / 10.0,
            "min": lat.first().copied().unwrap_or(0),
            "p50": percentile(&lat, 50.0),
            "p75": percentile(&lat, 75.0),
            "p90": percentile(&lat, 90.0),
            "p99": percentile(&lat, 99.0),
            "p999": percentile(&lat, 99.9),
            "max": lat.last().copied().unwrap_or(0),
        },
    })
}

async fn run(args: Arc<Args>) -> Result<Value, String> {
    let pairs = read_pairs(&args.pairs)?;
    if pairs.len() < args.connections {
        return Err(format!("{} tenants for {} connections: each connection needs one", pairs.len(), args.connections));
    }
    let mut owned: Vec<Vec<Tenant>> = (0..args.connections).map(|_| Vec::new()).collect();
    for (i, (path, write_token, read_token)) in pairs.into_iter().enumerate() {
        owned[i % args.connections].push(Tenant { path, write_token, read_token, body: Value::Null, etag: None });
    }
    let ready = Arc::new(Barrier::new(args.connections));
    let tasks: Vec<_> =
        owned.into_iter().map(|tenants| tokio::spawn(connection(args.clone(), tenants, ready.clone()))).collect();
    let (mut all, mut first, mut last) = (Tally::default(), None::<Instant>, None::<Instant>);
    for task in tasks {
        let (tally, start, end) = task.await.map_err(|e| e.to_string())??;
        all.add(tally);
        first = Some(first.map_or(start, |f| f.min(start)));
        last = Some(last.map_or(end, |l| l.max(end)));
    }
    let measured = first.zip(last).map_or(Duration::ZERO, |(first, last)| last - first);
    Ok(summary(all, measured))
}

fn main() {
    let args = match parse_args() {
        Ok(args) => Arc::new(args),
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads).enable_all().build().expect("runtime");
    match runtime.block_on(run(args)) {
        Ok(bench) => println!("BENCH {bench}"),
        Err(message) => {
            eprintln!("write_load: {message}");
            std::process::exit(1);
        }
    }
}
