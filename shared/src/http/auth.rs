//! Connect authentication for HTTP routes: finds the token, computes the request's qsh, loads the
//! tenant named by `iss`, verifies, and hands handlers an [`AuthContext`].
//!
//! Every failure answers the same 401 body; the reason is logged.

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{Method, Uri, header};

use crate::connect::jwt::{self, ConnectClaims, QshRule, TokenKind};
use crate::connect::qsh::query_string_hash;
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::tenant_key::TenantKey;
use crate::tenants::{self, Tenant, TenantState};

/// A verified caller: the tenant, the acting user (if any) and how the token was bound.
#[derive(Debug, Clone)]
pub struct AuthContext {
    pub tenant: TenantKey,
    pub account_id: Option<String>,
    pub kind: TokenKind,
    /// The tenant's install record, as loaded to verify the token.
    pub install: std::sync::Arc<Tenant>,
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

    pub fn qsh(&self, state: &AppState) -> String {
        query_string_hash(
            self.method.as_str(),
            self.uri.path(),
            self.uri.query().unwrap_or(""),
            state.config.base_path(),
        )
    }
}

/// Verifies an HS256 token against the shared secret of the tenant named by its `iss`.
/// Unknown and uninstalled tenants are indistinguishable from a bad signature.
pub async fn verify_tenant_token(
    state: &AppState,
    request: &SignedRequest<'_>,
    browser_route: bool,
) -> Result<(TenantKey, Tenant, ConnectClaims, TokenKind)> {
    let token = request.token()?;
    let issuer = jwt::unverified_issuer(&token)?;
    let key =
        TenantKey::from_verified(&issuer).ok_or_else(|| Error::unauthenticated("iss is not a valid clientKey"))?;
    let (tenant, _) = tenants::load(state, &key).await?.ok_or_else(|| Error::unauthenticated("unknown iss"))?;
    if tenant.state == TenantState::Uninstalled {
        return Err(Error::unauthenticated("tenant is uninstalled"));
    }
    let qsh = request.qsh(state);
    let rule = if browser_route { QshRule::ContextOrRequest(&qsh) } else { QshRule::Request(&qsh) };
    let (claims, kind) = jwt::verify_hs256(&token, &tenant.shared_secret, rule, Some(state.clock.now_secs()))?;
    Ok((key, tenant, claims, kind))
}

/// Extractor for browser-facing API routes: context tokens (or request-bound ones) of an
/// active tenant. A disabled tenant gets 403.
impl FromRequestParts<AppState> for AuthContext {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let request = SignedRequest::from_parts(parts);
        let (tenant, record, claims, kind) = verify_tenant_token(state, &request, true).await?;
        if record.state == TenantState::Disabled {
            return Err(Error::forbidden("tenant_disabled", "The app is disabled for this site."));
        }
        tracing::Span::current().record("tenant", tracing::field::display(&tenant));
        Ok(Self {
            tenant,
            account_id: claims.sub.filter(|s| !s.is_empty()),
            kind,
            install: std::sync::Arc::new(record),
        })
    }
}
