//! Time as a port, so lifecycle dates (purge after 30 days) are testable without waiting.

use std::sync::atomic::{AtomicI64, Ordering};

pub trait Clock: Send + Sync {
    /// Unix milliseconds.
    fn now_millis(&self) -> i64;

    fn now_secs(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
    }
}

/// The system clock moved by a fixed offset: a rehearsal's way to reach dates (a purge date, a
/// rollback window's end) without waiting. Only `clock_offset_from` decides when one is used.
pub struct OffsetClock {
    pub offset_secs: i64,
}

impl Clock for OffsetClock {
    fn now_millis(&self) -> i64 {
        SystemClock.now_millis().saturating_add(self.offset_secs.saturating_mul(1000))
    }
}

/// The variable a rehearsal sets to move a function's clock (seconds, may be negative).
pub const TEST_CLOCK_OFFSET_VAR: &str = "CANOPY_TEST_CLOCK_OFFSET_SECS";

/// The clock offset a process may run with, from its environment (`var` looks a variable up).
///
/// Honoured only beside a store endpoint on this machine's loopback (`CANOPY_DYNAMODB_ENDPOINT`):
/// a deployed function talks to DynamoDB itself, never to a loopback endpoint, so a deployed stack
/// cannot run with a moved clock; a function given the offset without such an endpoint refuses
/// to start. The template sets neither variable (tests/integration/template.rs).
pub fn clock_offset_from(var: impl Fn(&str) -> Option<String>) -> Result<Option<i64>, String> {
    let Some(value) = var(TEST_CLOCK_OFFSET_VAR).filter(|v| !v.trim().is_empty()) else { return Ok(None) };
    let offset: i64 =
        value.trim().parse().map_err(|_| format!("{TEST_CLOCK_OFFSET_VAR} is not a number of seconds"))?;
    let endpoint = var("CANOPY_DYNAMODB_ENDPOINT").unwrap_or_default();
    let host = endpoint
        .strip_prefix("http://")
        .and_then(|rest| rest.split(['/', '?', '#']).next())
        .map(|authority| authority.rsplit_once(':').map_or(authority, |(host, _)| host))
        .unwrap_or_default();
    if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        return Err(format!("{TEST_CLOCK_OFFSET_VAR} is only for rehearsals against a loopback store endpoint"));
    }
    Ok(Some(offset))
}

/// A clock tests move by hand.
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn at_millis(millis: i64) -> Self {
        Self(AtomicI64::new(millis))
    }

    pub fn advance_secs(&self, secs: i64) {
        self.0.fetch_add(secs * 1000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// RFC 3339 (UTC, milliseconds) for stored and returned dates.
pub fn rfc3339(millis: i64) -> String {
    let nanos = i128::from(millis) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn the_offset_needs_a_loopback_store_endpoint() {
        assert_eq!(clock_offset_from(env(&[])), Ok(None));
        let local = "http://127.0.0.1:8000";
        let offset = [(TEST_CLOCK_OFFSET_VAR, "2678400"), ("CANOPY_DYNAMODB_ENDPOINT", local)];
        assert_eq!(clock_offset_from(env(&offset)), Ok(Some(2_678_400)));
        let localhost = [(TEST_CLOCK_OFFSET_VAR, "-5"), ("CANOPY_DYNAMODB_ENDPOINT", "http://localhost:9/x")];
        assert_eq!(clock_offset_from(env(&localhost)), Ok(Some(-5)));
        for endpoint in
            ["", "https://dynamodb.us-east-1.amazonaws.com", "http://127.0.0.1.evil.example:80", "http://10.0.0.1:8000"]
        {
            let refused = [(TEST_CLOCK_OFFSET_VAR, "60"), ("CANOPY_DYNAMODB_ENDPOINT", endpoint)];
            assert!(clock_offset_from(env(&refused)).is_err(), "{endpoint:?}");
        }
        assert!(
            clock_offset_from(env(&[(TEST_CLOCK_OFFSET_VAR, "soon"), ("CANOPY_DYNAMODB_ENDPOINT", local)])).is_err()
        );
    }

    #[test]
    fn an_offset_clock_runs_ahead_of_the_system_clock() {
        let ahead = OffsetClock { offset_secs: 86_400 }.now_secs() - SystemClock.now_secs();
        assert!((86_399..=86_401).contains(&ahead), "{ahead}");
    }
}
