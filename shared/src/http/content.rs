//! The content function's routes under `/api`: sites and what belongs to them, the tenant's
//! library (themes, layouts, reports), page metadata, the trash, and the one-query site config.
//! Reads are open to every user of the tenant; writes need a site administrator.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::auth::AuthContext;
use super::body::JsonBody;
use super::extract::{Admin, IfMatch, PageView, Paging, item_response};
use crate::content::library::{LAYOUTS, Library, REPORTS, THEMES};
use crate::content::model::ContentModel;
use crate::content::model::navigation::Navigation;
use crate::content::model::page_metadata::PageMetadata;
use crate::content::model::site::Site;
use crate::content::site_items::{ANNOUNCEMENTS, PROMOTED_SEARCHES, SiteCollection};
use crate::content::{pages, portability, site_config, site_items, sites, trash};
use crate::error::Result;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/sites", get(list_sites).post(create_site))
        .route("/api/sites/{site_id}", get(read_site).put(update_site).delete(delete_site))
        .route("/api/sites/{site_id}/config", get(read_site_config))
        .route("/api/sites/{site_id}/navigation", get(read_navigation).put(put_navigation).delete(delete_navigation))
        .route("/api/sites/{site_id}/announcements", get(list_announcements).post(create_announcement))
        .route(
            "/api/sites/{site_id}/announcements/{id}",
            get(read_announcement).put(update_announcement).delete(delete_announcement),
        )
        .route("/api/sites/{site_id}/promoted-searches", get(list_searches).post(create_search))
        .route("/api/sites/{site_id}/promoted-searches/{id}", get(read_search).put(update_search).delete(delete_search))
        .route("/api/themes", get(list_library::<crate::content::model::theme::Theme>).post(create_theme))
        .route("/api/themes/{id}", get(read_theme).put(update_theme).delete(delete_theme))
        .route("/api/layouts", get(list_layouts).post(create_layout))
        .route("/api/layouts/{id}", get(read_layout).put(update_layout).delete(delete_layout))
        .route("/api/reports", get(list_reports).post(create_report))
        .route("/api/reports/{id}", get(read_report).put(update_report).delete(delete_report))
        .route("/api/pages", get(list_pages))
        .route("/api/pages/{page_id}/metadata", get(read_page).put(put_page).delete(delete_page))
        .route("/api/trash", get(list_trash))
        .route("/api/trash/{id}/restore", post(restore_trash))
        .route("/api/export", get(export))
        .layer(DefaultBodyLimit::max(MAX_CONTENT_BODY_BYTES))
        .route("/api/import", post(import).layer(DefaultBodyLimit::max(portability::MAX_IMPORT_BYTES)))
}

/// Content bodies: the largest document (256 KiB) with room for JSON escaping.
pub const MAX_CONTENT_BODY_BYTES: usize = 512 * 1024;

fn page<T: serde::Serialize>(page: crate::store::Page<T>) -> Response {
    axum::Json(PageView::from(page)).into_response()
}

// Sites.

async fn list_sites(State(state): State<AppState>, auth: AuthContext, paging: Paging) -> Result<Response> {
    Ok(page(sites::list(&state, &auth.tenant, paging.limit, paging.cursor.as_deref()).await?))
}

async fn create_site(
    State(state): State<AppState>,
    Admin(editor): Admin,
    JsonBody(site): JsonBody<Site>,
) -> Result<Response> {
    Ok(item_response(StatusCode::CREATED, &sites::create(&state, &editor, site).await?))
}

async fn read_site(State(state): State<AppState>, auth: AuthContext, Path(id): Path<String>) -> Result<Response> {
    Ok(item_response(StatusCode::OK, &sites::read(&state, &auth.tenant, &id).await?))
}

async fn update_site(
    State(state): State<AppState>,
    Admin(editor): Admin,
    Path(id): Path<String>,
    IfMatch(if_match): IfMatch,
    JsonBody(site): JsonBody<Site>,
) -> Result<Response> {
    Ok(item_response(StatusCode::OK, &sites::update(&state, &editor, &id, if_match, site).await?))
}

async fn delete_site(
    State(state): State<AppState>,
    Admin(editor): Admin,
    Path(id): Path<String>,
    IfMatch(if_match): IfMatch,
) -> Result<StatusCode> {
    sites::delete(&state, &editor, &id, if_match).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Any user of the tenant; `ETag` + `304` on `If-None-Match`, cacheable privately but always
/// revalidated (announcements start and end by the clock).
async fn read_site_config(
    State(state): State<AppState>,
    auth: AuthContext,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let site_config::RenderedConfig { json, etag } =
        site_config::read(&state, &auth.tenant, &id, auth.account_id.is_some()).await?;
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim().trim_start_matches("W/") == etag));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], json).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    Ok(response)
}

// Navigation.

async fn read_navigation(
    State(state): State<AppState>,
    auth: AuthContext,
    Path(site_id): Path<String>,
) -> Result<Response> {
    Ok(item_response(StatusCode::OK, &site_items::read_navigation(&state, &auth.tenant, &site_id).await?))
}

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

async fn delete_navigation(
    State(state): State<AppState>,
    Admin(editor): Admin,
    Path(site_id): Path<String>,
    IfMatch(if_match): IfMatch,
) -> Result<StatusCode> {
    site_items::delete_navigation(&state, &editor, &site_id, if_match).await?;
    Ok(StatusCode::NO_CONTENT)
}

// Announcements and promoted searches: one set of handlers per collection.

macro_rules! site_collection_handlers {
    ($collection:expr, $model:ty, $list:ident, $create:ident, $read:ident, $update:ident, $delete:ident) => {
        async fn $list(
            State(state): State<AppState>,
            auth: AuthContext,
            Path(site_id): Path<String>,
            paging: Paging,
        ) -> Result<Response> {
            let collection: &SiteCollection<$model> = &$collection;
            Ok(page(collection.list(&state, &auth.tenant, &site_id, paging.limit, paging.cursor.as_deref()).await?))
        }

        async fn $create(
            State(state): State<AppState>,
            Admin(editor): Admin,
            Path(site_id): Path<String>,
            JsonBody(data): JsonBody<$model>,
        ) -> Result<Response> {
            Ok(item_response(StatusCode::CREATED, &$collection.create(&state, &editor, &site_id, data).await?))
        }

        async fn $read(
            State(state): State<AppState>,
            auth: AuthContext,
            Path((site_id, id)): Path<(String, String)>,
        ) -> Result<Response> {
            Ok(item_response(StatusCode::OK, &$collection.read(&state, &auth.tenant, &site_id, &id).await?))
        }

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
    crate::content::model::announcement::Announcement,
    list_announcements,
    create_announcement,
    read_announcement,
    update_announcement,
    delete_announcement
);
site_collection_handlers!(
    PROMOTED_SEARCHES,
    crate::content::model::promoted_search::PromotedSearch,
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
    Ok(page(<Library<M> as LibraryOf>::get().list(&state, &auth.tenant, paging.limit, paging.cursor.as_deref()).await?))
}

/// Maps a model type to its library constant, so one generic handler serves each kind.
pub trait LibraryOf: Sized {
    fn get() -> &'static Self;
}

macro_rules! library_handlers {
    ($library:ident, $model:ty, $create:ident, $read:ident, $update:ident, $delete:ident) => {
        impl LibraryOf for Library<$model> {
            fn get() -> &'static Self {
                &$library
            }
        }

        async fn $create(
            State(state): State<AppState>,
            Admin(editor): Admin,
            JsonBody(data): JsonBody<$model>,
        ) -> Result<Response> {
            Ok(item_response(StatusCode::CREATED, &$library.create(&state, &editor, data).await?))
        }

        async fn $read(State(state): State<AppState>, auth: AuthContext, Path(id): Path<String>) -> Result<Response> {
            Ok(item_response(StatusCode::OK, &$library.read(&state, &auth.tenant, &id).await?))
        }

        async fn $update(
            State(state): State<AppState>,
            Admin(editor): Admin,
            Path(id): Path<String>,
            IfMatch(if_match): IfMatch,
            JsonBody(data): JsonBody<$model>,
        ) -> Result<Response> {
            Ok(item_response(StatusCode::OK, &$library.update(&state, &editor, &id, if_match, data).await?))
        }

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

library_handlers!(THEMES, crate::content::model::theme::Theme, create_theme, read_theme, update_theme, delete_theme);
library_handlers!(
    LAYOUTS,
    crate::content::model::layout::Layout,
    create_layout,
    read_layout,
    update_layout,
    delete_layout
);
library_handlers!(
    REPORTS,
    crate::content::model::report::ReportConfig,
    create_report,
    read_report,
    update_report,
    delete_report
);

async fn list_layouts(state: State<AppState>, auth: AuthContext, paging: Paging) -> Result<Response> {
    list_library::<crate::content::model::layout::Layout>(state, auth, paging).await
}

async fn list_reports(state: State<AppState>, auth: AuthContext, paging: Paging) -> Result<Response> {
    list_library::<crate::content::model::report::ReportConfig>(state, auth, paging).await
}

// Page metadata.

async fn list_pages(State(state): State<AppState>, auth: AuthContext, paging: Paging) -> Result<Response> {
    Ok(page(pages::list(&state, &auth.tenant, paging.limit, paging.cursor.as_deref()).await?))
}

async fn read_page(State(state): State<AppState>, auth: AuthContext, Path(page_id): Path<String>) -> Result<Response> {
    Ok(item_response(StatusCode::OK, &pages::read(&state, &auth.tenant, &page_id).await?))
}

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

async fn list_trash(State(state): State<AppState>, Admin(editor): Admin, paging: Paging) -> Result<Response> {
    Ok(page(trash::list(&state, &editor.tenant, paging.limit, paging.cursor.as_deref()).await?))
}

async fn restore_trash(
    State(state): State<AppState>,
    Admin(editor): Admin,
    Path(id): Path<String>,
) -> Result<Response> {
    let original = trash::restore(&state, &editor, &id).await?;
    Ok((StatusCode::OK, axum::Json(json!({"restored": original}))).into_response())
}

// Export and import.

async fn export(State(state): State<AppState>, Admin(editor): Admin) -> Result<Response> {
    let document = portability::export(&state, &editor.tenant).await?;
    let mut response = axum::Json(document).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"canopy-export.json\""));
    Ok(response)
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ImportQuery {
    #[serde(default)]
    dry_run: bool,
}

async fn import(
    State(state): State<AppState>,
    Admin(editor): Admin,
    query: std::result::Result<Query<ImportQuery>, axum::extract::rejection::QueryRejection>,
    JsonBody(document): JsonBody<portability::ExportDocument>,
) -> Result<Response> {
    let Query(query) = query.map_err(|e| crate::Error::bad_request("bad_query", format!("Bad query string: {e}")))?;
    let report = portability::import(&state, &editor, &document, query.dry_run).await?;
    Ok(axum::Json(report).into_response())
}
