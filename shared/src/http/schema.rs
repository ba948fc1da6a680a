//! The OpenAPI types the route modules share: the error body, paging, path and header
//! parameters, and the item envelope. Schemas only: nothing here is built at run time.

use utoipa::{IntoParams, ToSchema};

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
