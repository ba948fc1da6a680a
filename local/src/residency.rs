//! `canopy-local residency-status [--tenant KEY] [--server URL] [--watch]`: where a tenant lives
//! and how its migration goes, asked of a running local server (its embedded store belongs to
//! that process, so this speaks HTTP: a dev token, then `GET /api/residency`). A tenant that
//! moved answers 421 naming its new region's base URL, which the command follows. `--watch`
//! prints a line at every change until no copy or read-only phase is under way.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// How often `--watch` asks.
const WATCH_INTERVAL: Duration = Duration::from_millis(250);
/// How long `--watch` waits for a migration at most.
const WATCH_LIMIT: Duration = Duration::from_secs(30 * 60);
/// 421 redirections followed (one move; a second would be a loop).
const MAX_HOPS: usize = 2;

pub async fn run(tenant: &str, server: &str, watch: bool) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut last = String::new();
    loop {
        let view = fetch(&client, server, tenant).await?;
        let line = describe(tenant, &view);
        if line != last {
            println!("{line}");
            last = line;
        }
        let phase = view["migration"]["phase"].as_str().unwrap_or_default();
        // The switch writes the target's record first, then the source's: asked in between, the
        // source still answers for the tenant with the phase already `switched`.
        let switching = phase == "switched" && view["region"] != view["migration"]["to"];
        if !watch || !(matches!(phase, "copying" | "read-only") || switching) {
            return Ok(());
        }
        if started.elapsed() > WATCH_LIMIT {
            bail!("the migration is still {phase} after {} s", WATCH_LIMIT.as_secs());
        }
        tokio::time::sleep(WATCH_INTERVAL).await;
    }
}

/// `GET /api/residency` for the tenant, following a 421 to the region it lives in.
async fn fetch(client: &reqwest::Client, server: &str, tenant: &str) -> anyhow::Result<Value> {
    let mut server = server.to_owned();
    for _ in 0..=MAX_HOPS {
        let token: Value = client
            .post(format!("{server}/dev/token"))
            .json(&json!({"clientKey": tenant}))
            .send()
            .await
            .with_context(|| format!("is the local server running at {server}?"))?
            .json()
            .await?;
        let jwt = token["contextJwt"].as_str().with_context(|| format!("{server}/dev/token: {token}"))?;
        let response =
            client.get(format!("{server}/api/residency")).header("authorization", format!("JWT {jwt}")).send().await?;
        let status = response.status().as_u16();
        let body: Value = response.json().await?;
        match (status, body["error"]["baseUrl"].as_str()) {
            (200, _) => return Ok(body),
            (421, Some(home)) if !home.is_empty() => server = home.trim_end_matches('/').to_owned(),
            _ => bail!("{server}/api/residency answered {status}: {body}"),
        }
    }
    bail!("more than {MAX_HOPS} regions answered 421 for {tenant}")
}

fn describe(tenant: &str, view: &Value) -> String {
    let region = view["region"].as_str().unwrap_or("?");
    let m = &view["migration"];
    if m.is_null() {
        return format!("{tenant}: region {region}, no migration");
    }
    let p = &m["progress"];
    let mut line = format!(
        "{tenant}: region {region}, {} {}→{} {}: pass {}, {}/{} items copied, {} deleted, {} objects",
        m["kind"].as_str().unwrap_or("?"),
        m["from"].as_str().unwrap_or("?"),
        m["to"].as_str().unwrap_or("?"),
        m["phase"].as_str().unwrap_or("?"),
        p["passes"],
        p["itemsCopied"],
        p["itemsTotal"],
        p["itemsDeleted"],
        p["objectsCopied"],
    );
    if let Some(ms) = m["readOnlyMs"].as_i64() {
        line.push_str(&format!(", read-only {ms} ms"));
    }
    if let Some(items) = m["verified"]["items"].as_u64() {
        line.push_str(&format!(", verified {items} items"));
    }
    if let Some(until) = view["rollbackUntil"].as_str() {
        line.push_str(&format!(", rollback until {until}"));
    }
    line
}
