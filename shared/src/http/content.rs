//! The content function's routes under `/api`: sites and what belongs to them, the tenant's
//! library (themes, layouts, reports), page metadata, the trash, and the one-query site config.
//! A site and what hangs under it are read by whoever may see the site (`http::access`); the
//! library is read by every user of the tenant; writes need a site administrator.

use crate::http::router::ApiRouter;
use crate::routes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::access::{Viewer, site_for};
use super::auth::AuthContext;
use super::body::JsonBody;
use super::extract::{Admin, IfMatch, PageView, Paging, QueryParams, item_response, seen_response};
use super::schema::{IfMatchHeader, Item, ItemPage, ItemParam, PageSchema, PagingParams, SiteConfigSchema, SiteParam};
use crate::domain::access::View;
use crate::domain::content::library::{LAYOUTS, Library, REPORTS, THEMES};
use crate::domain::content::model::ContentModel;
use crate::domain::content::model::navigation::Navigation;
use crate::domain::content::model::page_metadata::PageMetadata;
use crate::domain::content::model::site::Site;
use crate::domain::content::site_items::{ANNOUNCEMENTS, PROMOTED_SEARCHES, SiteCollection};
use crate::domain::content::{pages, portability, product_events, site_config, site_items, sites, trash};
use crate::domain::records::{Stored, not_found};
use crate::kernel::error::Result;
use crate::state::AppState;

pub fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_sites, create_site))
        .routes(routes!(read_site, update_site, delete_site))
        .routes(routes!(read_site_config))
        .routes(routes!(read_navigation, put_navigation, delete_navigation))
        .routes(routes!(broken_navigation))
        .routes(routes!(list_announcements, create_announcement))
        .routes(routes!(read_announcement, update_announcement, delete_announcement))
        .routes(routes!(list_searches, create_search))
        .routes(routes!(read_search, update_search, delete_search))
        .routes(routes!(list_themes, create_theme))
        .routes(routes!(read_theme, update_theme, delete_theme))
        .routes(routes!(list_layouts, create_layout))
        .routes(routes!(read_layout, update_layout, delete_layout))
        .routes(routes!(list_reports, create_report))
        .routes(routes!(read_report, update_report, delete_report))
        .routes(routes!(list_pages))
        .routes(routes!(read_page, put_page, delete_page))
        .routes(routes!(read_site_page))
        .routes(routes!(list_trash))
        .routes(routes!(restore_trash))
        .routes(routes!(export))
        .layer(DefaultBodyLimit::max(MAX_CONTENT_BODY_BYTES))
        .routes(routes!(import).map_router(|route| route.layer(DefaultBodyLimit::max(portability::MAX_IMPORT_BYTES))))
}

/// Content bodies: the largest document (256 KiB) with room for JSON escaping.
pub const MAX_CONTENT_BODY_BYTES: usize = 512 * 1024;

fn page<T: serde::Serialize>(page: crate::ports::store::Page<T>) -> Response {
    axum::Json(PageView::from(page)).into_response()
}

/// A page of items as `view` sees them (`domain::access::Seen`), leaving out those a visitor is
/// not shown; the cursor still moves past them, so a page may hold fewer than `limit`.
fn seen_page<M: ContentModel>(mut listed: crate::ports::store::Page<Stored<M>>, view: View, now_secs: i64) -> Response {
    listed.items.retain(|item| view.shows(&item.data, now_secs));
    let items = listed.items.iter().map(|item| view.sees(item)).collect();
    axum::Json(PageView { items, next_cursor: listed.next }).into_response()
}

// Sites.

#[utoipa::path(get, path = "/api/sites", tag = "content", params(PagingParams), responses((status = 200, body = ItemPage<Site>)))]
async fn list_sites(State(state): State<AppState>, auth: AuthContext, paging: Paging) -> Result<Response> {
    let mut listed = sites::list(&state, &auth.tenant, paging.limit, paging.cursor.as_deref()).await?;
    let mut viewer = Viewer::new(&state, &auth);
    let view = match viewer.admin_view().await {
        Some(admin) => admin,
        None => {
            // The cursor still moves past the sites left out: a page may hold fewer than `limit`.
            let mut seen = Vec::with_capacity(listed.items.len());
            for site in listed.items {
                if viewer.lists(&site.data).await {
                    seen.push(site);
                }
            }
            listed.items = seen;
            viewer.visitor()
        }
    };
    Ok(seen_page(listed, view, state.clock.now_secs()))
}

#[utoipa::path(post, path = "/api/sites", tag = "content", request_body = Site, responses((status = 201, body = Item<Site>)))]
async fn create_site(
    State(state): State<AppState>,
    Admin(editor): Admin,
    JsonBody(site): JsonBody<Site>,
) -> Result<Response> {
    Ok(item_response(StatusCode::CREATED, &sites::create(&state, &editor, site).await?))
}

#[utoipa::path(get, path = "/api/sites/{site_id}", tag = "content", params(SiteParam), responses((status = 200, body = Item<Site>)))]
async fn read_site(State(state): State<AppState>, auth: AuthContext, Path(id): Path<String>) -> Result<Response> {
    let (site, view) = site_for(&state, &auth, &id).await?;
    Ok(seen_response(&site, view))
}

#[utoipa::path(put, path = "/api/sites/{site_id}", tag = "content", params(SiteParam, IfMatchHeader), request_body = Site, responses((status = 200, body = Item<Site>)))]
async fn update_site(
    State(state): State<AppState>,
    Admin(editor): Admin,
    Path(id): Path<String>,
    IfMatch(if_match): IfMatch,
    JsonBody(site): JsonBody<Site>,
) -> Result<Response> {
    Ok(item_response(StatusCode::OK, &sites::update(&state, &editor, &id, if_match, site).await?))
}

#[utoipa::path(delete, path = "/api/sites/{site_id}", tag = "content", params(SiteParam, IfMatchHeader), responses((status = 204)))]
async fn delete_site(
    State(state): State<AppState>,
    Admin(editor): Admin,
    Path(id): Path<String>,
    IfMatch(if_match): IfMatch,
) -> Result<StatusCode> {
    sites::delete(&state, &editor, &id, if_match).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whoever may see the site, as they see it (`SiteConfig`); `ETag` + `304` on `If-None-Match`,
/// cacheable privately but always revalidated (announcements start and end by the clock).
#[utoipa::path(get, path = "/api/sites/{site_id}/config", tag = "content", params(SiteParam), responses((status = 200, body = SiteConfigSchema), (status = 304, description = "Unchanged since `If-None-Match`.")))]
async fn read_site_config(
    State(state): State<AppState>,
    auth: AuthContext,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let read = site_config::load(&state, &state.configs, &auth.tenant, &id).await?;
    let view = Viewer::new(&state, &auth).view(&read.site().data).await?;
    let rendered = read.render(view)?;
    let etag = rendered.etag.as_str();
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim().trim_start_matches("W/") == etag));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], rendered.json.clone()).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    Ok(response)
}

// Navigation.

#[utoipa::path(get, path = "/api/sites/{site_id}/navigation", tag = "content", params(SiteParam), responses((status = 200, body = Item<Navigation>)))]
async fn read_navigation(
    State(state): State<AppState>,
    auth: AuthContext,
    Path(site_id): Path<String>,
) -> Result<Response> {
    let (_, view) = site_for(&state, &auth, &site_id).await?;
    Ok(seen_response(&site_items::read_navigation(&state, &auth.tenant, &site_id).await?, view))
}

#[utoipa::path(put, path = "/api/sites/{site_id}/navigation", tag = "content", params(SiteParam, IfMatchHeader), request_body = Navigation, responses((status = 200, body = Item<Navigation>), (status = 201, body = Item<Navigation>)))]
async fn put_navigation(
    State(state): State<AppState>,
    Admin(editor): Admin,
    Path(site_id): Path<String>,
    IfMatch(if_match): IfMatch,
    JsonBody(nav): JsonBody<Navigation>,
) -> Result<Response> {
    let status = if if_match.is_some() { StatusCode::OK } else { StatusCode::CREATED };
    Ok(item_response(status, &site_items::put_navigation(&state, &editor, &site_id, if_match, nav).await?))
}

#[utoipa::path(delete, path = "/api/sites/{site_id}/navigation", tag = "content", params(SiteParam, IfMatchHeader), responses((status = 204)))]
async fn delete_navigation(
    State(state): State<AppState>,
    Admin(editor): Admin,
    Path(site_id): Path<String>,
    IfMatch(if_match): IfMatch,
) -> Result<StatusCode> {
    site_items::delete_navigation(&state, &editor, &site_id, if_match).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The entries of the site's navigation whose page or space the product reported gone
/// (trashed or removed); for site administrators, who repair the tree.
#[utoipa::path(get, path = "/api/sites/{site_id}/navigation/broken", tag = "content", params(SiteParam), responses((status = 200, body = BrokenNavigation)))]
async fn broken_navigation(
    State(state): State<AppState>,
    Admin(editor): Admin,
    Path(site_id): Path<String>,
) -> Result<axum::Json<BrokenNavigation>> {
    let items = product_events::broken_navigation(&state, &editor.tenant, &site_id).await?;
    Ok(axum::Json(BrokenNavigation { items }))
}

/// The answer of `GET /api/sites/{site_id}/navigation/broken`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct BrokenNavigation {
    pub items: Vec<product_events::BrokenEntry>,
}

// Announcements and promoted searches: one set of handlers per collection.

macro_rules! site_collection_handlers {
    ($collection:expr, $model:ty, $list_path:literal, $item_path:literal, $list:ident, $create:ident, $read:ident, $update:ident, $delete:ident) => {
        #[utoipa::path(get, path = $list_path, tag = "content", params(SiteParam, PagingParams), responses((status = 200, body = ItemPage<$model>)))]
        async fn $list(
            State(state): State<AppState>,
            auth: AuthContext,
            Path(site_id): Path<String>,
            paging: Paging,
        ) -> Result<Response> {
            let collection: &SiteCollection<$model> = &$collection;
            let (_, view) = site_for(&state, &auth, &site_id).await?;
            let listed = collection.list(&state, &auth.tenant, &site_id, paging.limit, paging.cursor.as_deref()).await?;
            Ok(seen_page(listed, view, state.clock.now_secs()))
        }

        #[utoipa::path(post, path = $list_path, tag = "content", params(SiteParam), request_body = $model, responses((status = 201, body = Item<$model>)))]
        async fn $create(
            State(state): State<AppState>,
            Admin(editor): Admin,
            Path(site_id): Path<String>,
            JsonBody(data): JsonBody<$model>,
        ) -> Result<Response> {
            Ok(item_response(StatusCode::CREATED, &$collection.create(&state, &editor, &site_id, data).await?))
        }

        #[utoipa::path(get, path = $item_path, tag = "content", params(SiteParam, ItemParam), responses((status = 200, body = Item<$model>)))]
        async fn $read(
            State(state): State<AppState>,
            auth: AuthContext,
            Path((site_id, id)): Path<(String, String)>,
        ) -> Result<Response> {
            let (_, view) = site_for(&state, &auth, &site_id).await?;
            let item = $collection.read(&state, &auth.tenant, &site_id, &id).await?;
            if !view.shows(&item.data, state.clock.now_secs()) {
                // Not live for this visitor: exactly an item that does not exist.
                return Err(not_found(<$model as ContentModel>::KIND));
            }
            Ok(seen_response(&item, view))
        }

        #[utoipa::path(put, path = $item_path, tag = "content", params(SiteParam, ItemParam, IfMatchHeader), request_body = $model, responses((status = 200, body = Item<$model>)))]
        async fn $update(
            State(state): State<AppState>,
            Admin(editor): Admin,
            Path((site_id, id)): Path<(String, String)>,
            IfMatch(if_match): IfMatch,
            JsonBody(data): JsonBody<$model>,
        ) -> Result<Response> {
            Ok(item_response(
                StatusCode::OK,
                &$collection.update(&state, &editor, &site_id, &id, if_match, data).await?,
            ))
        }

        #[utoipa::path(delete, path = $item_path, tag = "content", params(SiteParam, ItemParam, IfMatchHeader), responses((status = 204)))]
        async fn $delete(
            State(state): State<AppState>,
            Admin(editor): Admin,
            Path((site_id, id)): Path<(String, String)>,
            IfMatch(if_match): IfMatch,
        ) -> Result<StatusCode> {
            $collection.delete(&state, &editor, &site_id, &id, if_match).await?;
            Ok(StatusCode::NO_CONTENT)
        }
    };
}

site_collection_handlers!(
    ANNOUNCEMENTS,
    crate::domain::content::model::announcement::Announcement,
    "/api/sites/{site_id}/announcements",
    "/api/sites/{site_id}/announcements/{id}",
    list_announcements,
    create_announcement,
    read_announcement,
    update_announcement,
    delete_announcement
);
site_collection_handlers!(
    PROMOTED_SEARCHES,
    crate::domain::content::model::promoted_search::PromotedSearch,
    "/api/sites/{site_id}/promoted-searches",
    "/api/sites/{site_id}/promoted-searches/{id}",
    list_searches,
    create_search,
    read_search,
    update_search,
    delete_search
);

// The library: themes, layouts, reports.

async fn list_library<M: ContentModel>(
    State(state): State<AppState>,
    auth: AuthContext,
    paging: Paging,
) -> Result<Response>
where
    Library<M>: LibraryOf,
{
    let listed =
        <Library<M> as LibraryOf>::get().list(&state, &auth.tenant, paging.limit, paging.cursor.as_deref()).await?;
    let view = Viewer::new(&state, &auth).library_view().await;
    Ok(seen_page(listed, view, state.clock.now_secs()))
}

/// Maps a model type to its library constant, so one generic handler serves each kind.
pub trait LibraryOf: Sized {
    fn get() -> &'static Self;
}

macro_rules! library_handlers {
    ($library:ident, $model:ty, $list_path:literal, $item_path:literal, $list:ident, $create:ident, $read:ident, $update:ident, $delete:ident) => {
        impl LibraryOf for Library<$model> {
            fn get() -> &'static Self {
                &$library
            }
        }

        #[utoipa::path(get, path = $list_path, tag = "content", params(PagingParams), responses((status = 200, body = ItemPage<$model>)))]
        async fn $list(state: State<AppState>, auth: AuthContext, paging: Paging) -> Result<Response> {
            list_library::<$model>(state, auth, paging).await
        }

        #[utoipa::path(post, path = $list_path, tag = "content", request_body = $model, responses((status = 201, body = Item<$model>)))]
        async fn $create(
            State(state): State<AppState>,
            Admin(editor): Admin,
            JsonBody(data): JsonBody<$model>,
        ) -> Result<Response> {
            Ok(item_response(StatusCode::CREATED, &$library.create(&state, &editor, data).await?))
        }

        #[utoipa::path(get, path = $item_path, tag = "content", params(ItemParam), responses((status = 200, body = Item<$model>)))]
        async fn $read(State(state): State<AppState>, auth: AuthContext, Path(id): Path<String>) -> Result<Response> {
            let item = $library.read(&state, &auth.tenant, &id).await?;
            Ok(seen_response(&item, Viewer::new(&state, &auth).library_view().await))
        }

        #[utoipa::path(put, path = $item_path, tag = "content", params(ItemParam, IfMatchHeader), request_body = $model, responses((status = 200, body = Item<$model>)))]
        async fn $update(
            State(state): State<AppState>,
            Admin(editor): Admin,
            Path(id): Path<String>,
            IfMatch(if_match): IfMatch,
            JsonBody(data): JsonBody<$model>,
        ) -> Result<Response> {
            Ok(item_response(StatusCode::OK, &$library.update(&state, &editor, &id, if_match, data).await?))
        }

        #[utoipa::path(delete, path = $item_path, tag = "content", params(ItemParam, IfMatchHeader), responses((status = 204)))]
        async fn $delete(
            State(state): State<AppState>,
            Admin(editor): Admin,
            Path(id): Path<String>,
            IfMatch(if_match): IfMatch,
        ) -> Result<StatusCode> {
            $library.delete(&state, &editor, &id, if_match).await?;
            Ok(StatusCode::NO_CONTENT)
        }
    };
}

library_handlers!(
    THEMES,
    crate::domain::content::model::theme::Theme,
    "/api/themes",
    "/api/themes/{id}",
    list_themes,
    create_theme,
    read_theme,
    update_theme,
    delete_theme
);
library_handlers!(
    LAYOUTS,
    crate::domain::content::model::layout::Layout,
    "/api/layouts",
    "/api/layouts/{id}",
    list_layouts,
    create_layout,
    read_layout,
    update_layout,
    delete_layout
);
library_handlers!(
    REPORTS,
    crate::domain::content::model::report::ReportConfig,
    "/api/reports",
    "/api/reports/{id}",
    list_reports,
    create_report,
    read_report,
    update_report,
    delete_report
);

// Page metadata.

/// Every page's metadata in the tenant, whichever site shows the page: site administrators.
#[utoipa::path(get, path = "/api/pages", tag = "content", params(PagingParams), responses((status = 200, body = ItemPage<PageMetadata>)))]
async fn list_pages(State(state): State<AppState>, Admin(editor): Admin, paging: Paging) -> Result<Response> {
    Ok(page(pages::list(&state, &editor.tenant, paging.limit, paging.cursor.as_deref()).await?))
}

/// One page's metadata outside any site: site administrators (visitors read it through a site).
#[utoipa::path(get, path = "/api/pages/{page_id}/metadata", tag = "content", params(("page_id" = String, Path, description = "A Confluence page id.")), responses((status = 200, body = Item<PageMetadata>)))]
async fn read_page(
    State(state): State<AppState>,
    Admin(editor): Admin,
    Path(page_id): Path<String>,
) -> Result<Response> {
    Ok(item_response(StatusCode::OK, &pages::read(&state, &editor.tenant, &page_id).await?))
}

/// One page's metadata as a site shows it: whoever may see the site. Whether the caller may
/// read the page itself stays Confluence's question; the metadata is not the page's content.
#[utoipa::path(get, path = "/api/sites/{site_id}/pages/{page_id}/metadata", tag = "content", params(SiteParam, ("page_id" = String, Path, description = "A Confluence page id.")), responses((status = 200, body = Item<PageMetadata>)))]
async fn read_site_page(
    State(state): State<AppState>,
    auth: AuthContext,
    Path((site_id, page_id)): Path<(String, String)>,
) -> Result<Response> {
    let (_, view) = site_for(&state, &auth, &site_id).await?;
    Ok(seen_response(&pages::read(&state, &auth.tenant, &page_id).await?, view))
}

#[utoipa::path(put, path = "/api/pages/{page_id}/metadata", tag = "content", params(("page_id" = String, Path, description = "A Confluence page id."), IfMatchHeader), request_body = PageMetadata, responses((status = 200, body = Item<PageMetadata>), (status = 201, body = Item<PageMetadata>)))]
async fn put_page(
    State(state): State<AppState>,
    Admin(editor): Admin,
    Path(page_id): Path<String>,
    IfMatch(if_match): IfMatch,
    JsonBody(data): JsonBody<PageMetadata>,
) -> Result<Response> {
    let status = if if_match.is_some() { StatusCode::OK } else { StatusCode::CREATED };
    Ok(item_response(status, &pages::put(&state, &editor, &page_id, if_match, data).await?))
}

#[utoipa::path(delete, path = "/api/pages/{page_id}/metadata", tag = "content", params(("page_id" = String, Path, description = "A Confluence page id."), IfMatchHeader), responses((status = 204)))]
async fn delete_page(
    State(state): State<AppState>,
    Admin(editor): Admin,
    Path(page_id): Path<String>,
    IfMatch(if_match): IfMatch,
) -> Result<StatusCode> {
    pages::delete(&state, &editor, &page_id, if_match).await?;
    Ok(StatusCode::NO_CONTENT)
}

// Trash.

#[utoipa::path(get, path = "/api/trash", tag = "content", params(PagingParams), responses((status = 200, body = PageSchema)))]
async fn list_trash(State(state): State<AppState>, Admin(editor): Admin, paging: Paging) -> Result<Response> {
    Ok(page(trash::list(&state, &editor.tenant, paging.limit, paging.cursor.as_deref()).await?))
}

#[utoipa::path(post, path = "/api/trash/{id}/restore", tag = "content", params(("id" = String, Path, description = "A trash entry.")), responses((status = 200, body = Value)))]
async fn restore_trash(
    State(state): State<AppState>,
    Admin(editor): Admin,
    Path(id): Path<String>,
) -> Result<Response> {
    let original = trash::restore(&state, &editor, &id).await?;
    Ok((StatusCode::OK, axum::Json(json!({"restored": original}))).into_response())
}

// Export and import.

#[utoipa::path(get, path = "/api/export", tag = "content", responses((status = 200, body = Value)))]
async fn export(State(state): State<AppState>, Admin(editor): Admin) -> Result<Response> {
    let document = portability::export(&state, &editor.tenant).await?;
    let mut response = axum::Json(document).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"canopy-export.json\""));
    Ok(response)
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ImportQuery {
    #[serde(default)]
    dry_run: bool,
}

#[utoipa::path(post, path = "/api/import", tag = "content", params(ImportQuery), request_body = Value, responses((status = 200, body = Value)))]
async fn import(
    State(state): State<AppState>,
    Admin(editor): Admin,
    // Taken as a `Result` and answered after the body, so a bad body still wins over a bad query.
    query: std::result::Result<QueryParams<ImportQuery>, crate::Error>,
    JsonBody(document): JsonBody<portability::ExportDocument>,
) -> Result<Response> {
    let QueryParams(query) = query?;
    let report = portability::import(&state, &editor, &document, query.dry_run).await?;
    Ok(axum::Json(report).into_response())
}
