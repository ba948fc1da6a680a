//! Exact per-tenant counters the usage statistics read (sites, themes, custom domains, Confluence
//! spaces added to sites). They change only inside the transaction of the write that changes
//! what they count, so they never drift.

use serde::{Deserialize, Serialize};

use crate::domain::data::Data;
use crate::domain::records::Editor;
use crate::kernel::error::{Error, Result};
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;
use crate::ports::store::{Condition, Item, Write};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    pub sites: i64,
    pub themes: i64,
    pub custom_domains: i64,
    pub spaces: i64,
}

impl Counters {
    pub fn plus(self, delta: Counters) -> Counters {
        Counters {
            sites: self.sites + delta.sites,
            themes: self.themes + delta.themes,
            custom_domains: self.custom_domains + delta.custom_domains,
            spaces: self.spaces + delta.spaces,
        }
    }

    pub fn minus(self, delta: Counters) -> Counters {
        self.plus(Counters {
            sites: -delta.sites,
            themes: -delta.themes,
            custom_domains: -delta.custom_domains,
            spaces: -delta.spaces,
        })
    }

    pub fn is_zero(&self) -> bool {
        *self == Counters::default()
    }
}

/// The counters and the version they were read at (`None`: never written).
pub async fn read(ctx: &Data, tenant: &TenantKey) -> Result<(Counters, Option<u64>)> {
    match ctx.store.get(tenant, keys::COUNTERS, ctx.clock.now_secs()).await? {
        None => Ok((Counters::default(), None)),
        Some(item) => {
            let counters = serde_json::from_value(item.body).map_err(|e| Error::internal(format!("counters: {e}")))?;
            Ok((counters, Some(item.version)))
        }
    }
}

/// The write that moves the counters from what was read to `current + delta`, conditional on
/// nobody else having moved them meanwhile.
pub fn apply(
    editor: &Editor,
    current: Counters,
    version: Option<u64>,
    delta: Counters,
    now_millis: i64,
) -> Result<Write> {
    let next = current.plus(delta);
    let item = Item {
        tenant: editor.tenant.clone(),
        sk: keys::COUNTERS.into(),
        version: version.map_or(1, |v| v + 1),
        updated_at: now_millis,
        updated_by: None,
        due: None,
        expires_at: None,
        body: serde_json::to_value(next).map_err(Error::internal)?,
    };
    let condition = version.map_or(Condition::Absent, Condition::Version);
    Ok(Write::Put { item, condition })
}
