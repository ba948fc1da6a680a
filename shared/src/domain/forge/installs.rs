//! Forge lifecycle events (`avi:forge:installed:app`, `avi:forge:upgraded:app`, and an uninstall
//! event should Atlassian deliver one), handled like their Connect counterparts. Forge retries an
//! event up to four times, so each is idempotent: a repeat changes nothing.
//!
//! - `installed`/`upgraded` for a site a tenant answers for (usually a Connect tenant): link it,
//!   recording the installation id; an uninstalled tenant comes back and its purge is cancelled,
//!   as a Connect re-install would.
//! - `installed` for a site no tenant answers for: a Forge-only tenant `forge:<cloudId>` with no
//!   shared secret (Connect tokens never reach it), claiming the site in the cloudId index.
//! - `upgraded` or uninstall for an unknown site: 404 `unknown_site`, nothing written.
//! - uninstall: the same purge scheduling as Connect's (`tenants::uninstall`).

use serde::Deserialize;

use super::fit::Invocation;
use crate::domain::data::Stack;
use crate::domain::tenants::cloud_index;
use crate::domain::tenants::{self, Tenant, TenantState};
use crate::kernel::clock::rfc3339;
use crate::kernel::error::{Error, Result};
use crate::kernel::ids::is_plausible_cloud_id;
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{Condition, retry_conflicts};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForgeEvent {
    Installed,
    Upgraded,
    Uninstalled,
}

impl ForgeEvent {
    pub fn name(self) -> &'static str {
        match self {
            Self::Installed => "avi:forge:installed:app",
            Self::Upgraded => "avi:forge:upgraded:app",
            Self::Uninstalled => "avi:forge:uninstalled:app",
        }
    }

    fn history(self) -> &'static str {
        match self {
            Self::Installed => "forge_installed",
            Self::Upgraded => "forge_upgraded",
            Self::Uninstalled => "forge_uninstalled",
        }
    }
}

/// The event body fields Canopy reads; the rest is ignored. The body is not signed: only its
/// site is checked against the token's, and only the token's values are kept.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventPayload {
    /// The installation ARI.
    #[serde(default)]
    pub id: Option<String>,
    /// The site ARI, `ari:cloud:<product>::site/<cloudId>`.
    #[serde(default)]
    pub context: Option<String>,
    #[serde(default)]
    pub event_type: Option<String>,
}

/// What an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Linked,
    Unchanged,
    Uninstalled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Linked => "linked",
            Self::Unchanged => "unchanged",
            Self::Uninstalled => "uninstalled",
        }
    }
}

/// `ari:cloud:confluence::site/<cloudId>` → (`confluence`, cloudId).
pub fn parse_site_ari(ari: &str) -> Option<(&str, &str)> {
    let rest = ari.strip_prefix("ari:cloud:")?;
    let (product, cloud_id) = rest.split_once("::site/")?;
    let product = match product {
        "confluence" | "jira" => product,
        _ => return None,
    };
    is_plausible_cloud_id(cloud_id).then_some((product, cloud_id))
}

/// Applies a verified event. The site is the token's `cloudId`; a body naming another site is
/// refused (422 `site_mismatch`) before anything is read or written.
pub async fn handle(
    state: &Stack,
    event: ForgeEvent,
    invocation: &Invocation,
    payload: &EventPayload,
) -> Result<(TenantKey, Outcome)> {
    if let Some(kind) = &payload.event_type
        && kind != event.name()
    {
        return Err(Error::invalid("invalid_field", format!("eventType is not {}.", event.name())));
    }
    let product = match payload.context.as_deref() {
        None => None,
        Some(ari) => {
            let (product, cloud_id) = parse_site_ari(ari)
                .ok_or_else(|| Error::invalid("invalid_field", "context is not a Confluence or Jira site ARI."))?;
            if cloud_id != invocation.cloud_id {
                return Err(Error::invalid("site_mismatch", "The event names another site than its invocation token."));
            }
            Some(product)
        }
    };
    let cloud_id = invocation.cloud_id.as_str();
    if event == ForgeEvent::Uninstalled {
        let (key, _, _) = cloud_index::owner(state, cloud_id).await?.ok_or_else(unknown_site)?;
        tenants::uninstall(state, &key).await?;
        return Ok((key, Outcome::Uninstalled));
    }
    retry_conflicts(|| async {
        let now = rfc3339(state.clock.now_millis());
        if let Some((key, mut record, version)) = cloud_index::owner(state, cloud_id).await? {
            let revive = record.state == TenantState::Uninstalled;
            let new_installation =
                invocation.installation_id.is_some() && record.installation_id != invocation.installation_id;
            if !revive && !new_installation {
                return Ok((key, Outcome::Unchanged));
            }
            if new_installation {
                record.installation_id = invocation.installation_id.clone();
            }
            if revive {
                record.state = TenantState::Installed;
                record.uninstalled_at = None;
                record.purge_after = None;
                record.installed_at = now.clone();
            }
            tenants::push_history(&mut record, event.history(), &now);
            tenants::save(state, &key, &record, Condition::Version(version), None, Vec::new()).await?;
            if revive {
                tracing::info!(tenant = %key, "a Forge install cancelled the pending purge");
            }
            return Ok((key, Outcome::Linked));
        }
        if event != ForgeEvent::Installed {
            return Err(unknown_site());
        }
        let product = product
            .ok_or_else(|| Error::invalid("missing_field", "An install for a new site must name it in context."))?;
        let key = keys::forge_only_tenant(cloud_id).ok_or_else(|| Error::internal("cloud id makes no tenant key"))?;
        let (record, condition) = match tenants::load(state, &key).await? {
            // A Forge-only tenant of this site that was superseded or uninstalled comes back.
            Some((mut record, version)) => {
                record.cloud_id = Some(cloud_id.to_owned());
                record.installation_id = invocation.installation_id.clone();
                record.state = TenantState::Installed;
                record.uninstalled_at = None;
                record.purge_after = None;
                record.installed_at = now.clone();
                tenants::push_history(&mut record, event.history(), &now);
                (record, Condition::Version(version))
            }
            None => (forge_only_record(state, &key, product, invocation, &now), Condition::Absent),
        };
        let claim = cloud_index::claim_writes(state, &key, &record.base_url, cloud_id).await?;
        tenants::save(state, &key, &record, condition, None, claim).await?;
        Ok((key, Outcome::Created))
    })
    .await
}

fn forge_only_record(state: &Stack, key: &TenantKey, product: &str, invocation: &Invocation, now: &str) -> Tenant {
    let base_url = match &invocation.site_url {
        Some(site) if product == "confluence" => format!("{}/wiki", site.trim_end_matches('/')),
        Some(site) => site.trim_end_matches('/').to_owned(),
        None => {
            let wiki = if product == "confluence" { "/wiki" } else { "" };
            format!("{}/ex/{product}/{}{wiki}", state.config.forge_api_base_url, invocation.cloud_id)
        }
    };
    let mut record = Tenant {
        client_key: key.to_string(),
        product_type: product.to_owned(),
        base_url,
        display_url: None,
        shared_secret: String::new(),
        sealed_secret: None,
        cloud_id: Some(invocation.cloud_id.clone()),
        installation_id: invocation.installation_id.clone(),
        state: TenantState::Installed,
        region: state.config.home_region.clone(),
        first_installed_at: now.to_owned(),
        installed_at: now.to_owned(),
        uninstalled_at: None,
        purge_after: None,
        history: Vec::new(),
        read_only: false,
    };
    tenants::push_history(&mut record, ForgeEvent::Installed.history(), now);
    record
}

fn unknown_site() -> Error {
    Error::not_found("unknown_site", "No tenant is known for this site.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_aris_name_the_product_and_cloud_id() {
        assert_eq!(parse_site_ari("ari:cloud:confluence::site/4869c4ef-cb0d"), Some(("confluence", "4869c4ef-cb0d")));
        assert_eq!(parse_site_ari("ari:cloud:jira::site/c1"), Some(("jira", "c1")));
        assert_eq!(parse_site_ari("ari:cloud:bitbucket::site/c1"), None);
        assert_eq!(parse_site_ari("ari:cloud:jira::site/c#1"), None);
        assert_eq!(parse_site_ari("ari:cloud:jira::workspace/c1"), None);
        assert_eq!(parse_site_ari("c1"), None);
    }
}
