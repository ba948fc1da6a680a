//! Outbound HTTP: the one client of a process, and bounded reads of answers.

use std::time::Duration;

use crate::kernel::error::{Error, Result};

/// Whole-request limit of outbound calls (Atlassian answers in well under a second).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// One HTTP client for outbound calls, built once per process.
pub fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .connect_timeout(Duration::from_secs(2))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(Error::internal)
}

/// Reads a response body up to `max` bytes; `Err` names the cause for the log.
pub async fn read_bounded(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    if response.content_length().is_some_and(|len| len > max as u64) {
        return Err(format!("answer larger than {max} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.without_url().to_string())? {
        if body.len() + chunk.len() > max {
            return Err(format!("answer larger than {max} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
