//! Atlassian's personal-data reporting API for Connect apps (CONNECT.md §7):
//! `POST {baseUrl}/rest/atlassian-connect/latest/report-accounts` with the app JWT.
//!
//! `ProductClient::post_json` cannot serve here: it reads a 204 as an unreadable answer, does not
//! expose `Cycle-Period`, and bounds `Retry-After` to a minute for interactive callers. This client
//! signs with the same `product::app_token` over the process's outbound client and answers an
//! [`Answer`] the job acts on; it never fails, and nothing it answers on failure is mistaken for
//! "erase". Logs and reasons never hold accountIds.

use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use crate::adapters::product::connect::{MAX_PRODUCT_RESPONSE_BYTES, app_token, trusted_base_url};
use crate::domain::tenants::Tenant;
use crate::kernel::clock::{Clock, SystemClock};
use crate::kernel::product_url::ProductHosts;

pub const REPORT_ACCOUNTS_PATH: &str = "/rest/atlassian-connect/latest/report-accounts";
/// Atlassian's limit on accounts per call.
pub const MAX_ACCOUNTS_PER_REPORT: usize = 90;
/// `Cycle-Period` is honoured within these bounds: polling more often than daily gains nothing,
/// and a month is the longest Canopy lets its stored accountIds go unreported.
pub const MIN_CYCLE_SECS: i64 = 86_400;
pub const MAX_CYCLE_SECS: i64 = 30 * 86_400;
/// `Retry-After` of a 429: a minute when absent or unreadable, at most a day.
pub const DEFAULT_RETRY_AFTER_SECS: i64 = 60;
pub const MAX_RETRY_AFTER_SECS: i64 = 86_400;

/// One account as reported: its id and when Canopy last stored data about it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReportedAccount {
    pub account_id: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AccountStatus {
    pub account_id: String,
    /// `closed` (erase) or `updated` (refresh); anything else is logged and ignored.
    pub status: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// 204: nothing to do for these accounts.
    NothingToDo { cycle_secs: Option<i64> },
    /// 200 with `{"accounts": [...]}`.
    Accounts { accounts: Vec<AccountStatus>, cycle_secs: Option<i64> },
    /// 429: stop this tenant and come back after the delay.
    RateLimited { retry_after_secs: i64 },
    /// Anything else (5xx, 4xx, a refused token, garbage, unreachable): try again later.
    Failed { reason: String },
}

#[derive(Deserialize)]
struct Body {
    accounts: Vec<AccountStatus>,
}

#[derive(Serialize)]
struct Request<'a> {
    accounts: &'a [ReportedAccount],
}

/// The report-accounts client, built once per process.
#[derive(Clone)]
pub struct ReportAccountsClient {
    app_key: String,
    hosts: ProductHosts,
    client: reqwest::Client,
}

impl ReportAccountsClient {
    /// `client` is the process's outbound client (`install_keys::http_client()`: timeouts, no redirects).
    pub fn new(app_key: impl Into<String>, hosts: ProductHosts, client: reqwest::Client) -> Self {
        Self { app_key: app_key.into(), hosts, client }
    }

    /// Reports up to [`MAX_ACCOUNTS_PER_REPORT`] accounts stored for `tenant`. The token is dated
    /// by the system clock: Atlassian checks `exp` against its own.
    pub async fn report(&self, tenant: &Tenant, accounts: &[ReportedAccount]) -> Answer {
        if accounts.is_empty() || accounts.len() > MAX_ACCOUNTS_PER_REPORT {
            return Answer::Failed { reason: format!("{} accounts in one report", accounts.len()) };
        }
        let (base_url, endpoint) = match trusted_base_url(&self.hosts, tenant)
            .and_then(|base| base.endpoint(REPORT_ACCOUNTS_PATH).map(|endpoint| (base, endpoint)))
        {
            Ok(pair) => pair,
            Err(e) => return Answer::Failed { reason: e.to_string() },
        };
        let now = SystemClock.now_secs();
        let signed =
            app_token(&self.app_key, &tenant.shared_secret, "POST", base_url.as_str(), REPORT_ACCOUNTS_PATH, now);
        let token = match signed {
            Ok(token) => token,
            Err(e) => return Answer::Failed { reason: format!("cannot sign: {e}") },
        };
        let sent = self
            .client
            .post(endpoint)
            .header(reqwest::header::AUTHORIZATION, format!("JWT {token}"))
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&Request { accounts })
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => return Answer::Failed { reason: format!("unreachable: {}", e.without_url()) },
        };
        let status = response.status();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let cycle_secs = header("cycle-period").as_deref().and_then(parse_cycle_period);
        match status {
            StatusCode::NO_CONTENT => Answer::NothingToDo { cycle_secs },
            StatusCode::OK => match read_body(response).await {
                Ok(body) => Answer::Accounts { accounts: body.accounts, cycle_secs },
                Err(reason) => Answer::Failed { reason },
            },
            StatusCode::TOO_MANY_REQUESTS => Answer::RateLimited {
                retry_after_secs: header("retry-after")
                    .and_then(|v| v.trim().parse::<i64>().ok())
                    .map_or(DEFAULT_RETRY_AFTER_SECS, |secs| secs.clamp(1, MAX_RETRY_AFTER_SECS)),
            },
            other => Answer::Failed { reason: format!("answered {other}") },
        }
    }
}

async fn read_body(mut response: reqwest::Response) -> Result<Body, String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| format!("unreadable answer: {}", e.without_url()))? {
        if bytes.len() + chunk.len() > MAX_PRODUCT_RESPONSE_BYTES {
            return Err("answer larger than 1 MiB".into());
        }
        bytes.extend_from_slice(&chunk);
    }
    // The serde error names a position and a type, never the content (accountIds).
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("answer is not the documented JSON (line {}, column {})", e.line(), e.column()))
}

/// `Cycle-Period` as clients have seen it: `"25 Days"`, `"7 days"`, or a bare integer. A bare
/// integer is read as days when small and as seconds from a day's worth up (`604800`). The result
/// is bounded to [`MIN_CYCLE_SECS`]..=[`MAX_CYCLE_SECS`].
pub fn parse_cycle_period(value: &str) -> Option<i64> {
    let value = value.trim().to_ascii_lowercase();
    let (number, unit) = value.split_once(char::is_whitespace).map_or((value.as_str(), ""), |(n, u)| (n, u.trim()));
    let number: i64 = number.parse().ok().filter(|n| *n > 0)?;
    let secs = match unit {
        "day" | "days" => number.checked_mul(86_400)?,
        "" if number < MIN_CYCLE_SECS => number.checked_mul(86_400)?,
        "" => number,
        _ => return None,
    };
    Some(secs.clamp(MIN_CYCLE_SECS, MAX_CYCLE_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycle_periods_in_every_seen_form_are_bounded() {
        assert_eq!(parse_cycle_period("25 Days"), Some(25 * 86_400));
        assert_eq!(parse_cycle_period("7 days"), Some(7 * 86_400));
        assert_eq!(parse_cycle_period("1 day"), Some(86_400));
        assert_eq!(parse_cycle_period("7"), Some(7 * 86_400));
        assert_eq!(parse_cycle_period("604800"), Some(604_800));
        assert_eq!(parse_cycle_period("90 days"), Some(MAX_CYCLE_SECS));
        assert_eq!(parse_cycle_period("86400"), Some(MIN_CYCLE_SECS));
        assert_eq!(parse_cycle_period("3600 seconds"), None);
        assert_eq!(parse_cycle_period("0"), None);
        assert_eq!(parse_cycle_period("-3"), None);
        assert_eq!(parse_cycle_period("soon"), None);
        assert_eq!(parse_cycle_period("99999999999999999999"), None);
    }
}
