//! The install record and the install payload as types: what a tenant is, with the checks of
//! what Atlassian sends, and no operation on the store (those are `tenants`).

use serde::{Deserialize, Serialize};

use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::ports::secrets::Envelope;

/// Lifecycle events kept on the record, newest last.
pub const MAX_HISTORY: usize = 50;
/// Bounds on the install payload's free-form strings.
const MAX_URL_LEN: usize = 512;
const MAX_SECRET_LEN: usize = 256;
const MAX_ID_LEN: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantState {
    Installed,
    Enabled,
    Disabled,
    Uninstalled,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Transition {
    pub event: String,
    pub at: String,
}

/// The stored install record (`sk = TENANT`). `Debug` redacts the shared secret.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub client_key: String,
    pub product_type: String,
    pub base_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_url: Option<String>,
    /// The Connect shared secret in the clear: filled by [`load`], never stored by [`save`]. Only
    /// records written before secrets were sealed hold it (`sharedSecret`); their next write
    /// seals it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub shared_secret: String,
    /// The shared secret as stored: sealed for this tenant (`secrets`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_secret: Option<Envelope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation_id: Option<String>,
    pub state: TenantState,
    pub region: String,
    pub first_installed_at: String,
    pub installed_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uninstalled_at: Option<String>,
    /// When the retention sweep may delete everything of this tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_after: Option<String>,
    #[serde(default)]
    pub history: Vec<Transition>,
    /// Set during a residency switch's short read-only phase: writes answer 503 + `Retry-After`,
    /// reads keep working (enforced once, in the auth extractor).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

/// The `installed` payload fields Canopy keeps (CONNECT.md §2); others are ignored. `Debug`
/// redacts the shared secret.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallPayload {
    pub client_key: String,
    #[serde(default)]
    pub shared_secret: Option<String>,
    pub base_url: String,
    #[serde(default)]
    pub display_url: Option<String>,
    pub product_type: String,
    #[serde(default)]
    pub cloud_id: Option<String>,
    #[serde(default)]
    pub installation_id: Option<String>,
    #[serde(default)]
    pub event_type: Option<String>,
}

/// What a tenant's API callers may know about the install (no secret).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantSummary {
    pub client_key: String,
    pub product_type: String,
    pub base_url: String,
    pub display_url: Option<String>,
    pub state: TenantState,
    pub region: String,
    pub installed_at: String,
}

impl Tenant {
    /// Whether a Connect install created or refreshed this tenant. Forge-only tenants
    /// (`forge:<cloudId>`) have no shared secret: Connect tokens and app tokens never apply to them.
    pub fn has_connect_install(&self) -> bool {
        !self.shared_secret.is_empty() || self.sealed_secret.is_some()
    }

    /// Replaces the shared secret; the next [`save`] seals it.
    pub fn set_shared_secret(&mut self, secret: String) {
        self.shared_secret = secret;
        self.sealed_secret = None;
    }
}

/// What `Debug` shows of a secret: whether there is one, never its value.
fn redacted(secret: &str) -> &'static str {
    if secret.is_empty() { "" } else { "<redacted>" }
}

impl std::fmt::Debug for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Exhaustive on purpose: a new field fails to compile here until it is shown or hidden.
        let Self {
            client_key,
            product_type,
            base_url,
            display_url,
            shared_secret,
            sealed_secret,
            cloud_id,
            installation_id,
            state,
            region,
            first_installed_at,
            installed_at,
            uninstalled_at,
            purge_after,
            history,
            read_only,
        } = self;
        f.debug_struct("Tenant")
            .field("client_key", client_key)
            .field("product_type", product_type)
            .field("base_url", base_url)
            .field("display_url", display_url)
            .field("shared_secret", &redacted(shared_secret))
            .field("sealed_secret", &sealed_secret.as_ref().map(|e| &e.key_id))
            .field("cloud_id", cloud_id)
            .field("installation_id", installation_id)
            .field("state", state)
            .field("region", region)
            .field("first_installed_at", first_installed_at)
            .field("installed_at", installed_at)
            .field("uninstalled_at", uninstalled_at)
            .field("purge_after", purge_after)
            .field("history", history)
            .field("read_only", read_only)
            .finish()
    }
}

impl std::fmt::Debug for InstallPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            client_key,
            shared_secret,
            base_url,
            display_url,
            product_type,
            cloud_id,
            installation_id,
            event_type,
        } = self;
        f.debug_struct("InstallPayload")
            .field("client_key", client_key)
            .field("shared_secret", &shared_secret.as_deref().map(redacted))
            .field("base_url", base_url)
            .field("display_url", display_url)
            .field("product_type", product_type)
            .field("cloud_id", cloud_id)
            .field("installation_id", installation_id)
            .field("event_type", event_type)
            .finish()
    }
}

impl From<&Tenant> for TenantSummary {
    fn from(t: &Tenant) -> Self {
        Self {
            client_key: t.client_key.clone(),
            product_type: t.product_type.clone(),
            base_url: t.base_url.clone(),
            display_url: t.display_url.clone(),
            state: t.state,
            region: t.region.clone(),
            installed_at: t.installed_at.clone(),
        }
    }
}

impl InstallPayload {
    /// Checks the payload for an `installed` event; answers the secret it carries.
    pub fn validate_for_install(&self) -> Result<&str> {
        let secret = self
            .shared_secret
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::invalid("missing_field", "The install payload has no sharedSecret."))?;
        if secret.len() > MAX_SECRET_LEN {
            return Err(Error::invalid("invalid_field", "sharedSecret is longer than 256 characters."));
        }
        if let Some(event) = &self.event_type
            && event != "installed"
        {
            return Err(Error::invalid("invalid_field", "eventType is not installed."));
        }
        // `_…` partitions belong to Canopy (the cloudId index, the operator's figures) and
        // `forge:…` to Forge-only tenants: a Connect install must never own either.
        if keys::is_reserved_tenant(&self.client_key) || self.client_key.starts_with(keys::FORGE_ONLY_PREFIX) {
            return Err(Error::invalid("reserved_client_key", "This clientKey is reserved."));
        }
        self.validate_common()?;
        Ok(secret)
    }

    pub fn validate_common(&self) -> Result<()> {
        let is_http_url = |u: &str| (u.starts_with("https://") || u.starts_with("http://")) && u.len() <= MAX_URL_LEN;
        if !is_http_url(&self.base_url) {
            return Err(Error::invalid("invalid_field", "baseUrl must be an http(s) URL of at most 512 characters."));
        }
        if self.display_url.as_deref().is_some_and(|u| !is_http_url(u)) {
            return Err(Error::invalid(
                "invalid_field",
                "displayUrl must be an http(s) URL of at most 512 characters.",
            ));
        }
        if !matches!(self.product_type.as_str(), "confluence" | "jira") {
            return Err(Error::invalid("invalid_field", "productType must be confluence or jira."));
        }
        let ids = [&self.cloud_id, &self.installation_id];
        if ids.iter().any(|id| id.as_deref().is_some_and(|v| v.len() > MAX_ID_LEN)) {
            return Err(Error::invalid("invalid_field", "cloudId and installationId are at most 256 characters."));
        }
        if self.cloud_id.as_deref().is_some_and(|c| !crate::kernel::ids::is_plausible_cloud_id(c)) {
            return Err(Error::invalid("invalid_field", "cloudId must be a cloud id ([A-Za-z0-9-], at most 64)."));
        }
        Ok(())
    }
}
