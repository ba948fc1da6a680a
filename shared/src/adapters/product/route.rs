//! One way to a tenant's product for one request: the Connect app token to its `baseUrl`, or the
//! Forge app system token of the request through Atlassian's API gateway. The directory adapters
//! (`admins`, `groups`) write each question once, as a path below the product base, and send it
//! along the route the caller's scheme chose.

use serde_json::Value;

use crate::adapters::product::connect::ProductClient;
use crate::adapters::product::forge::{ForgeAccess, ForgeProductClient};
use crate::domain::tenants::Tenant;
use crate::kernel::clock::{Clock, SystemClock};
use crate::kernel::error::{Error, Result};

/// How a request reaches the tenant's product as the app.
#[derive(Debug, Clone, Copy)]
pub enum ProductAccess<'a> {
    /// The Connect app token (HS256 with the tenant's shared secret) to the tenant's `baseUrl`.
    Connect,
    /// The Forge app system token of this request, through Atlassian's API gateway.
    Forge(&'a ForgeAccess),
}

/// One product, reached one way.
pub enum ProductRoute<'a> {
    Connect(&'a ProductClient, &'a Tenant),
    Forge(&'a ForgeProductClient, &'a Tenant, &'a ForgeAccess),
}

impl<'a> ProductRoute<'a> {
    /// The route `access` names. A Forge-only tenant has no Connect app token: signing with an
    /// empty secret would be a token anyone can forge, so that is refused, never sent.
    pub fn choose(
        product: &'a ProductClient,
        forge: Option<&'a ForgeProductClient>,
        tenant: &'a Tenant,
        access: ProductAccess<'a>,
    ) -> Result<Self> {
        match access {
            ProductAccess::Connect if tenant.has_connect_install() => Ok(Self::Connect(product, tenant)),
            ProductAccess::Connect => {
                Err(Error::unavailable("product", "a Forge-only tenant has no Connect app token"))
            }
            ProductAccess::Forge(access) => {
                let forge = forge.ok_or_else(|| Error::internal("no Forge product client configured"))?;
                Ok(Self::Forge(forge, tenant, access))
            }
        }
    }

    /// Tokens are dated by the system clock, not the `Clock` port: the product checks `exp`
    /// against its own wall clock.
    pub async fn get_json(&self, path: &str) -> Result<Option<Value>> {
        match self {
            Self::Connect(client, tenant) => client.get_json(tenant, path, SystemClock.now_secs()).await,
            Self::Forge(client, tenant, access) => client.get_json(&tenant.product_type, access, path).await,
        }
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Option<Value>> {
        match self {
            Self::Connect(client, tenant) => client.post_json(tenant, path, body, SystemClock.now_secs()).await,
            Self::Forge(client, tenant, access) => client.post_json(&tenant.product_type, access, path, body).await,
        }
    }
}
