//! Authentication for HTTP routes, under either scheme, into one [`AuthContext`]:
//! - Connect: `Authorization: JWT …` or `?jwt=`; finds the token, computes the request's qsh,
//!   loads the tenant named by `iss`, verifies HS256 with its shared secret.
//! - Forge Remote: `Authorization: Bearer <FIT>`; verifies the FIT (`forge::fit`) and finds the
//!   tenant its `cloudId` maps to (`forge::cloud_index`).
//!
//! Every failure answers the same 401 body; the reason is logged.

use std::sync::Arc;

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{Method, Uri, header};

use crate::adapters::admins::ProductAccess;
use crate::adapters::product::forge::ForgeAccess;
use crate::domain::connect::jwt::{self, ConnectClaims, QshRule, TokenKind};
use crate::domain::connect::qsh::query_string_hash;
use crate::domain::forge::fit::{self, FitExpectation, Invocation};
use crate::domain::forge::{SYSTEM_TOKEN_HEADER, SystemToken};
use crate::domain::tenants::cache::Read;
use crate::domain::tenants::cloud_index;
use crate::domain::tenants::{Tenant, TenantState};
use crate::kernel::error::{Error, Result};
use crate::kernel::tenant_key::TenantKey;
use crate::state::AppState;

/// A verified caller: the tenant, the acting user (if any) and how the token was bound.
#[derive(Debug, Clone)]
pub struct AuthContext {
    pub tenant: TenantKey,
    pub account_id: Option<String>,
    pub kind: TokenKind,
    /// The tenant's install record, as loaded to verify the token.
    pub install: Arc<Tenant>,
    /// Set when the caller came with a FIT (`kind` is `ForgeInvocation`).
    pub forge: Option<Arc<ForgeCaller>>,
}

/// What a FIT caller brought: the verified invocation, and the app system token of this request
/// (`x-forge-oauth-system`) when Atlassian sent one.
#[derive(Debug)]
pub struct ForgeCaller {
    pub invocation: Invocation,
    pub access: Option<ForgeAccess>,
}

impl AuthContext {
    /// How this request's product calls go: as the Forge app with the request's system token for
    /// a FIT caller; as the Connect app otherwise, and for a FIT caller without a system token on
    /// a tenant that has a Connect install.
    pub fn product_access(&self) -> Result<ProductAccess<'_>> {
        match self.forge.as_deref() {
            None => Ok(ProductAccess::Connect),
            Some(ForgeCaller { access: Some(access), .. }) => Ok(ProductAccess::Forge(access)),
            Some(_) if self.install.has_connect_install() => Ok(ProductAccess::Connect),
            Some(_) => Err(Error::unavailable(
                "product",
                "a Forge-only tenant's request came without an app system token (enable appSystemToken in the manifest)",
            )),
        }
    }
}

/// The request line as Atlassian signed it: the original URI, before any router nesting.
pub struct SignedRequest<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a axum::http::HeaderMap,
}

impl<'a> SignedRequest<'a> {
    pub fn from_parts(parts: &'a Parts) -> Self {
        let uri = parts.extensions.get::<OriginalUri>().map_or(&parts.uri, |o| &o.0);
        Self { method: &parts.method, uri, headers: &parts.headers }
    }

    /// The token from `?jwt=` or `Authorization: JWT …`; both at once is refused as ambiguous.
    pub fn token(&self) -> Result<String> {
        let from_query = self
            .uri
            .query()
            .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "jwt").map(|(_, v)| v.into_owned()));
        let from_header = match self.headers.get(header::AUTHORIZATION) {
            None => None,
            Some(value) => {
                let value = value.to_str().map_err(|_| Error::unauthenticated("Authorization header is not ASCII"))?;
                let token = value
                    .strip_prefix("JWT ")
                    .ok_or_else(|| Error::unauthenticated("Authorization scheme is not JWT"))?;
                Some(token.trim().to_owned())
            }
        };
        match (from_query, from_header) {
            (Some(_), Some(_)) => Err(Error::unauthenticated("token in both query and header")),
            (Some(t), None) | (None, Some(t)) => Ok(t),
            (None, None) => Err(Error::unauthenticated("no token")),
        }
    }

    /// The FIT of `Authorization: Bearer …`, if that is the scheme; with a `?jwt=` as well the
    /// request is ambiguous and refused.
    pub fn bearer(&self) -> Result<Option<String>> {
        let Some(token) = self
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return Ok(None);
        };
        let query_token =
            self.uri.query().is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "jwt"));
        if query_token {
            return Err(Error::unauthenticated("a FIT and a query token at once"));
        }
        Ok(Some(token.trim().to_owned()))
    }

    pub fn qsh(&self, state: &AppState) -> String {
        query_string_hash(
            self.method.as_str(),
            self.uri.path(),
            self.uri.query().unwrap_or(""),
            state.config.base_path(),
        )
    }
}

/// Verifies an HS256 token against the shared secret of the tenant named by its `iss`, then lets
/// `admit` refuse the tenant. Unknown and uninstalled tenants are indistinguishable from a bad
/// signature. A read may take the record from memory ([`crate::domain::tenants::cache`]), a write
/// never ([`read_for`]); a refusal is decided on the stored record, so the cache can let a read
/// through on a record up to its bound old but never refuse a request on it.
pub async fn verify_tenant_token(
    state: &AppState,
    request: &SignedRequest<'_>,
    browser_route: bool,
    admit: impl Fn(&Tenant) -> Result<()>,
) -> Result<(TenantKey, Arc<Tenant>, ConnectClaims, TokenKind)> {
    let token = request.token()?;
    let unverified = jwt::Unverified::read(&token)?;
    let key = TenantKey::from_verified(unverified.issuer())
        .ok_or_else(|| Error::unauthenticated("iss is not a valid clientKey"))?;
    let qsh = request.qsh(state);
    let now = state.clock.now_secs();
    let verify = |tenant: &Tenant| {
        if tenant.state == TenantState::Uninstalled {
            return Err(Error::unauthenticated("tenant is uninstalled"));
        }
        if !tenant.has_connect_install() {
            return Err(Error::unauthenticated("a Connect token for a Forge-only tenant"));
        }
        let rule = if browser_route { QshRule::ContextOrRequest(&qsh) } else { QshRule::Request(&qsh) };
        let kind = unverified.verify_hs256(&token, &tenant.shared_secret, rule, Some(now))?;
        admit(tenant)?;
        Ok(kind)
    };
    let unknown = || Error::unauthenticated("unknown iss");
    let loaded = state.tenants.load(state, &key, read_for(request.method)).await?.ok_or_else(unknown)?;
    let (record, kind) = match verify(&loaded.record) {
        Err(_) if loaded.from_cache => {
            let stored = state.tenants.load(state, &key, Read::Store).await?.ok_or_else(unknown)?;
            let verified = verify(&stored.record)?;
            (stored.record, verified)
        }
        verified => (loaded.record, verified?),
    };
    Ok((key, record, unverified.into_verified(), kind))
}

/// Verifies a FIT, finds the tenant its `cloudId` maps to and lets `admit` refuse it. Forge auth
/// is off without `CANOPY_FORGE_APP_ID`. A site no tenant answers for, or an uninstalled tenant,
/// is indistinguishable from a bad token; an unreachable JWKS is 503. A refusal is decided on
/// the stored record, as for Connect tokens.
pub async fn verify_forge_token(
    state: &AppState,
    token: &str,
    method: &Method,
    admit: impl Fn(&Tenant) -> Result<()>,
) -> Result<(TenantKey, Arc<Tenant>, Invocation)> {
    let audience = state
        .config
        .forge_app_ari
        .as_deref()
        .ok_or_else(|| Error::unauthenticated("a FIT, but Forge auth is off (CANOPY_FORGE_APP_ID is not set)"))?;
    let expect = FitExpectation { audience, environment: &state.config.forge_environment, now: state.clock.now_secs() };
    let invocation = fit::verify(token, state.forge.keys.as_ref(), &expect).await?;
    let check = |tenant: &Tenant| {
        if tenant.state == TenantState::Uninstalled {
            return Err(Error::unauthenticated("tenant is uninstalled"));
        }
        admit(tenant)
    };
    let resolve =
        |read| cloud_index::resolve(state, &state.forge.cloud_index, &state.tenants, &invocation.cloud_id, read);
    let unknown = || Error::unauthenticated("no tenant answers for the FIT's cloudId");
    let (key, loaded) = resolve(read_for(method)).await?.ok_or_else(unknown)?;
    let (key, record) = match check(&loaded.record) {
        Err(_) if loaded.from_cache => {
            let (key, stored) = resolve(Read::Store).await?.ok_or_else(unknown)?;
            check(&stored.record)?;
            (key, stored.record)
        }
        checked => {
            checked?;
            (key, loaded.record)
        }
    };
    Ok((key, record, invocation))
}

/// Reads may take the tenant record from memory; a write is always authenticated on the stored
/// record, so a write never lands on what a stale record allowed (a tenant switched to another
/// region, uninstalled or disabled by another instance).
fn read_for(method: &Method) -> Read {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) { Read::Cache } else { Read::Store }
}

/// What a browser-facing route needs of the tenant besides a valid token: homed in this region
/// (else answered there), writable unless the request only reads (a residency switch's short
/// read-only phase: writes wait, reads go on), and enabled (403).
fn admit_browser_request(state: &AppState, method: &Method) -> impl Fn(&Tenant) -> Result<()> {
    move |tenant: &Tenant| {
        if tenant.region != state.config.home_region {
            return Err(state.regions.wrong_region(&tenant.region));
        }
        if tenant.read_only && !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return Err(crate::domain::residency::read_only_error());
        }
        if tenant.state == TenantState::Disabled {
            return Err(Error::forbidden("tenant_disabled", "The app is disabled for this site."));
        }
        Ok(())
    }
}

/// Extractor for browser-facing API routes: context tokens (or request-bound ones) of an
/// active tenant, or a FIT. A disabled tenant gets 403.
impl FromRequestParts<AppState> for AuthContext {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let request = SignedRequest::from_parts(parts);
        let admit = admit_browser_request(state, &parts.method);
        let context = match request.bearer()? {
            Some(token) => {
                let (tenant, install, invocation) = verify_forge_token(state, &token, &parts.method, &admit).await?;
                let system_token = parts.headers.get(SYSTEM_TOKEN_HEADER).and_then(|v| v.to_str().ok());
                let access = system_token
                    .and_then(SystemToken::new)
                    .map(|system_token| ForgeAccess { cloud_id: invocation.cloud_id.clone(), system_token });
                Self {
                    tenant,
                    account_id: invocation.account_id.clone(),
                    kind: TokenKind::ForgeInvocation,
                    install,
                    forge: Some(Arc::new(ForgeCaller { invocation, access })),
                }
            }
            None => {
                let (tenant, install, claims, kind) = verify_tenant_token(state, &request, true, &admit).await?;
                Self { tenant, account_id: claims.sub.filter(|s| !s.is_empty()), kind, install, forge: None }
            }
        };
        tracing::Span::current().record("tenant", tracing::field::display(&context.tenant));
        Ok(context)
    }
}
