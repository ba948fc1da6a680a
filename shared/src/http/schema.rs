//! The OpenAPI types the route modules share: the error body, paging, path and header
//! parameters, and the item envelope. Schemas only: nothing here is built at run time.

use utoipa::{IntoParams, ToSchema};

use crate::domain::content::model::announcement::Announcement;
use crate::domain::content::model::layout::Layout;
use crate::domain::content::model::navigation::Navigation;
use crate::domain::content::model::promoted_search::PromotedSearch;
use crate::domain::content::model::site::Site;
use crate::domain::content::model::theme::Theme;

/// Every error Canopy answers: `{"error": {"code", "message", …}}`; some codes add fields
/// (`wrong_region`: `region`, `baseUrl`; `in_use`: `usedBy`).
#[derive(ToSchema)]
#[allow(dead_code)] // a schema only: errors are built by `Error::into_response`.
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorDetail {
    /// snake_case, stable: what a client branches on.
    code: String,
    /// For people; never the logged cause of a 401 or 5xx.
    message: String,
}

/// `?limit=1..200&cursor=<nextCursor>` on every list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PagingParams {
    /// 1 to 200; 50 when absent.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
}

/// A site of the caller's tenant.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct SiteParam {
    site_id: String,
}

/// An item's id.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct ItemParam {
    id: String,
}

/// `If-Match: "<version>"`, the item's `ETag`: required by updates and deletes of existing items
/// (428 without), 412 when stale.
#[derive(IntoParams)]
#[into_params(parameter_in = Header, names("If-Match"))]
#[allow(dead_code)]
pub struct IfMatchHeader(Option<String>);

/// A page of a list: `{"items": [...], "nextCursor": "…" | null}`.
#[derive(ToSchema)]
#[schema(as = Page)]
#[allow(dead_code)]
pub struct PageSchema {
    items: Vec<serde_json::Value>,
    next_cursor: Option<String>,
}

/// A content item as every item route answers it (`Stored` in `content::records`): the model's
/// fields plus its identity and version; the `ETag` header is `"<version>"`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Item<M> {
    id: String,
    version: u64,
    /// RFC 3339.
    updated_at: String,
    /// The accountId of the last writer.
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_by: Option<String>,
    #[serde(flatten)]
    data: M,
}

/// A page of content items.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ItemPage<M> {
    items: Vec<Item<M>>,
    next_cursor: Option<String>,
}

/// `GET /api/sites/{site_id}/config`: everything a site page is drawn from, read at once: the
/// announcements and promoted searches live now (announcements for the caller's audience). A
/// visitor's answer leaves out `updatedBy`, every `version` and the site's `restrictedToGroups`.
#[derive(ToSchema)]
#[schema(as = SiteConfig)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct SiteConfigSchema {
    site: ConfigItem<Site>,
    /// The site's theme as copied when the site named it; null without one.
    theme: Option<ConfigSnapshot<Theme>>,
    /// The site's home layout as copied when the site named it; null without one.
    home_layout: Option<ConfigSnapshot<Layout>>,
    /// null until the site has navigation.
    navigation: Option<Navigation>,
    announcements: Vec<ConfigItem<Announcement>>,
    promoted_searches: Vec<ConfigItem<PromotedSearch>>,
}

/// An item inside the site config.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ConfigItem<M> {
    id: String,
    /// Administrators only.
    version: Option<u64>,
    /// RFC 3339.
    updated_at: String,
    /// The accountId of the last writer: administrators only.
    updated_by: Option<String>,
    #[serde(flatten)]
    data: M,
}

/// A theme or layout as the site copied it.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ConfigSnapshot<M> {
    /// The theme's or layout's id.
    id: String,
    /// The version copied: administrators only.
    version: Option<u64>,
    #[serde(flatten)]
    data: M,
}
