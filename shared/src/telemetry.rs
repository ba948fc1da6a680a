//! Structured JSON logs via `tracing`, set up once by each binary.

use tracing_subscriber::EnvFilter;

/// JSON lines to stdout (CloudWatch on Lambda), filtered by `RUST_LOG` (default `info`).
pub fn init_json() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().json().with_env_filter(filter).with_current_span(true).without_time().try_init();
}

/// Human-readable logs for the local server.
pub fn init_pretty() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}
