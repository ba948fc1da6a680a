//! Site access on the HTTP side: asks the directories what `domain::access` needs to decide
//! whether this caller sees a site, and with which [`View`].
//!
//! A signed-in caller is first asked about as an administrator (cached, like every admin
//! check). When that question fails, a `public` or `licensed` site is still answered, as to a
//! visitor: a product outage never closes them. A `restricted` site needs the caller's groups;
//! when the product cannot say, the read answers 503 with `Retry-After` and the site stays shut.

use crate::domain::access::{self, Membership, Needs, View};
use crate::domain::content::model::site::{Site, Visibility};
use crate::domain::content::sites;
use crate::domain::records::Stored;
use crate::http::auth::AuthContext;
use crate::kernel::error::Result;
use crate::state::AppState;

/// One caller's standing in its tenant, asked of the product at most once per request.
pub struct Viewer<'a> {
    state: &'a AppState,
    auth: &'a AuthContext,
    admin: Option<Result<bool>>,
    membership: Option<Result<std::sync::Arc<Membership>>>,
}

/// A remembered answer again; an error keeps its status and `Retry-After`.
fn replay<T: Clone>(answer: &Result<T>) -> Result<T> {
    use crate::kernel::error::Error;
    match answer {
        Ok(value) => Ok(value.clone()),
        Err(Error::Unavailable { dependency, cause, retry_after_secs }) => {
            Err(Error::Unavailable { dependency, cause: cause.clone(), retry_after_secs: *retry_after_secs })
        }
        Err(Error::Internal(cause)) => Err(Error::Internal(cause.clone())),
        Err(other) => Err(Error::unavailable("product", other)),
    }
}

impl<'a> Viewer<'a> {
    pub fn new(state: &'a AppState, auth: &'a AuthContext) -> Self {
        Self { state, auth, admin: None, membership: None }
    }

    async fn is_admin(&mut self) -> Result<bool> {
        if self.admin.is_none() {
            let answer = match self.auth.account_id.as_deref() {
                None => Ok(false),
                Some(account) => match self.auth.product_access() {
                    Ok(access) => self.state.admins.is_admin_via(&self.auth.install, account, access).await,
                    Err(error) => Err(error),
                },
            };
            self.admin = Some(answer);
        }
        replay(self.admin.as_ref().expect("set above"))
    }

    async fn membership(&mut self) -> Result<std::sync::Arc<Membership>> {
        if self.membership.is_none() {
            let answer = match self.auth.account_id.as_deref() {
                None => Ok(std::sync::Arc::default()),
                Some(account) => match self.auth.product_access() {
                    Ok(access) => self.state.groups.groups_of_via(&self.auth.install, account, access).await,
                    Err(error) => Err(error),
                },
            };
            self.membership = Some(answer);
        }
        replay(self.membership.as_ref().expect("set above"))
    }

    /// The view of everything for an administrator, `None` for anyone else (or when the admin
    /// question failed: the caller is then treated as a visitor wherever that decides).
    pub async fn admin_view(&mut self) -> Option<View> {
        match self.is_admin().await {
            Ok(true) => Some(View::Admin),
            Ok(false) => None,
            Err(error) => {
                tracing::warn!(%error, "the admin check failed; the caller is answered as a visitor");
                None
            }
        }
    }

    pub fn visitor(&self) -> View {
        View::Visitor { signed_in: self.auth.account_id.is_some() }
    }

    /// How this caller sees the tenant's library (themes, layouts, reports): whole records for
    /// an administrator, a visitor's view for anyone else (and when the admin question fails).
    pub async fn library_view(&mut self) -> View {
        match self.admin_view().await {
            Some(admin) => admin,
            None => self.visitor(),
        }
    }

    /// How this caller sees `site`; a site it may not see is [`access::hidden`].
    pub async fn view(&mut self, site: &Site) -> Result<View> {
        if self.auth.account_id.is_some() {
            match self.is_admin().await {
                Ok(true) => return Ok(View::Admin),
                Ok(false) => {}
                Err(error) if site.visibility == Visibility::Restricted => {
                    // Not known to be an admin: a member still gets in; anyone else waits.
                    return match self.membership().await {
                        Ok(groups) if groups.opens(site) => Ok(self.visitor()),
                        Ok(_) | Err(_) => Err(error),
                    };
                }
                Err(error) => tracing::warn!(%error, "the admin check failed; the caller is answered as a visitor"),
            }
        }
        match access::needs(site.visibility, self.auth.account_id.is_some()) {
            Needs::Visible => Ok(self.visitor()),
            Needs::Hidden => Err(access::hidden()),
            Needs::Membership if self.membership().await?.opens(site) => Ok(self.visitor()),
            Needs::Membership => Err(access::hidden()),
        }
    }

    /// Whether this caller sees `site` in a listing: like [`Self::view`], except that a
    /// `restricted` site the product cannot vouch for right now is left out of the page rather
    /// than failing the whole list (its own reads answer 503).
    pub async fn lists(&mut self, site: &Site) -> bool {
        match self.view(site).await {
            Ok(_) => true,
            Err(error) => {
                if error.status() != axum::http::StatusCode::NOT_FOUND {
                    tracing::warn!(%error, "a restricted site is left out of a listing: membership unknown");
                }
                false
            }
        }
    }
}

/// The site `site_id` of the caller's tenant and how the caller sees it; a hidden site is the
/// same 404 as a missing one.
pub async fn site_for(state: &AppState, auth: &AuthContext, site_id: &str) -> Result<(Stored<Site>, View)> {
    let site = sites::read(state, &auth.tenant, site_id).await?;
    let view = Viewer::new(state, auth).view(&site.data).await?;
    Ok((site, view))
}
