//! The routers every host builds from the handlers' declarations, and their OpenAPI document,
//! built only for the hosts that serve it.
//!
//! Every route is declared once, on its handler (`#[utoipa::path]`), and registered with
//! [`routes!`](crate::routes): the router and the document come from that one declaration.
//! `utoipa_axum`'s own `routes!` builds both at once, every operation and schema included; that
//! took about 3 ms of CPU of the content function's cold start (a fifth of it), and no Lambda
//! function serves the document. Here the router is built from each handler's path and methods
//! alone, and the document only by [`ApiRouter::split_for_parts`] and [`ApiRouter::into_openapi`]
//! (the local server and the tests), from the same declarations.

use std::collections::BTreeSet;
use std::convert::Infallible;

use axum::Router;
use axum::extract::Request;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, Route};
use tower::{Layer, Service};
use utoipa::openapi::path::Paths;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{Components, OpenApi, OpenApiBuilder, RefOr};

use crate::state::AppState;

/// The document's part of one `routes!`: its operations and the schemas they name.
pub type DocumentPart = (Vec<(String, RefOr<Schema>)>, Paths);

/// One `routes!`: handlers served at their declared path(s), and how to document them.
pub struct Routes {
    paths: BTreeSet<String>,
    router: MethodRouter<AppState>,
    document: fn() -> DocumentPart,
}

impl Routes {
    /// Made by [`routes!`](crate::routes).
    pub fn new(paths: BTreeSet<String>, router: MethodRouter<AppState>, document: fn() -> DocumentPart) -> Self {
        Self { paths, router, document }
    }

    /// These routes with a change to their method router (a layer of their own).
    pub fn map_router(self, change: impl FnOnce(MethodRouter<AppState>) -> MethodRouter<AppState>) -> Self {
        Self { router: change(self.router), ..self }
    }
}

/// Registers handlers declared with `#[utoipa::path]` (in scope by name) at their paths; the
/// document is built from the same handlers when a host asks for it.
#[macro_export]
macro_rules! routes {
    ($($handler:ident),+ $(,)?) => {{
        use ::utoipa_axum::PathItemExt as _;
        let mut paths = ::std::collections::BTreeSet::new();
        let mut router = ::axum::routing::MethodRouter::new();
        $(::utoipa_axum::paste! {
            paths.insert(<[<__path_ $handler>] as ::utoipa::Path>::path());
            for method in <[<__path_ $handler>] as ::utoipa::Path>::methods() {
                router = router.on(method.to_method_filter(), $handler);
            }
        })+
        $crate::http::router::Routes::new(paths, router, || {
            let (schemas, paths, _): (_, _, ::axum::routing::MethodRouter<$crate::state::AppState>) =
                ::utoipa_axum::routes!($($handler),+);
            (schemas, paths)
        })
    }};
}

/// A router of documented routes (in place of `utoipa_axum`'s `OpenApiRouter`, which builds the
/// document as it goes).
#[derive(Default)]
pub struct ApiRouter {
    router: Router<AppState>,
    documents: Vec<fn() -> DocumentPart>,
}

impl ApiRouter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn routes(mut self, routes: Routes) -> Self {
        for path in &routes.paths {
            let path = if path.is_empty() { "/" } else { path };
            self.router = self.router.route(path, routes.router.clone());
        }
        self.documents.push(routes.document);
        self
    }

    pub fn merge(mut self, other: ApiRouter) -> Self {
        self.router = self.router.merge(other.router);
        self.documents.extend(other.documents);
        self
    }

    /// [`Router::layer`]: over the routes registered so far.
    pub fn layer<L>(self, layer: L) -> Self
    where
        L: Layer<Route> + Clone + Send + Sync + 'static,
        L::Service: Service<Request> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as Service<Request>>::Error: Into<Infallible> + 'static,
        <L::Service as Service<Request>>::Future: Send + 'static,
    {
        Self { router: self.router.layer(layer), ..self }
    }

    /// [`Router::route_layer`]: over the routes registered so far, only when one matched.
    pub fn route_layer<L>(self, layer: L) -> Self
    where
        L: Layer<Route> + Clone + Send + Sync + 'static,
        L::Service: Service<Request> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request>>::Response: IntoResponse + 'static,
        <L::Service as Service<Request>>::Error: Into<Infallible> + 'static,
        <L::Service as Service<Request>>::Future: Send + 'static,
    {
        Self { router: self.router.route_layer(layer), ..self }
    }

    /// The router alone: the document is never built.
    pub fn into_router(self) -> Router<AppState> {
        self.router
    }

    /// The document alone.
    pub fn into_openapi(self) -> OpenApi {
        self.split_for_parts().1
    }

    /// The router and its document, the operations of a path merged as `utoipa_axum` merges them.
    pub fn split_for_parts(self) -> (Router<AppState>, OpenApi) {
        let mut document = OpenApiBuilder::new().build();
        let components = document.components.get_or_insert_with(Components::new);
        for part in self.documents {
            let (schemas, paths) = part();
            for (path, item) in paths.paths {
                match document.paths.paths.get_mut(&path) {
                    Some(existing) => existing.merge_operations(item),
                    None => {
                        document.paths.paths.insert(path, item);
                    }
                }
            }
            components.schemas.extend(schemas);
        }
        (self.router, document)
    }
}

/// A finished router wrapped in its layers (`http::finish_router`), served as one `Router`: every
/// request reaches it as the fallback of an empty router, which adds no route of its own.
pub fn serving<S>(layered: S) -> Router
where
    S: Service<Request, Error = Infallible> + Clone + Send + Sync + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    Router::new().fallback_service(layered)
}

#[cfg(test)]
mod tests {
    use super::ApiRouter;

    #[utoipa::path(get, path = "/things/{id}", params(("id" = String, Path)), responses((status = 200)))]
    async fn read_thing() {}

    #[utoipa::path(post, path = "/things/{id}", params(("id" = String, Path)), responses((status = 201)))]
    async fn replace_thing() {}

    #[utoipa::path(get, path = "/others", responses((status = 200)))]
    async fn list_others() {}

    /// What the router serves is checked against the document on the product's routes
    /// (`tests/integration/openapi.rs`); here, that the document merges what `routes!` declared.
    #[test]
    fn the_document_has_every_declared_operation_once() {
        let api = ApiRouter::new()
            .routes(routes!(read_thing, replace_thing))
            .merge(ApiRouter::new().routes(routes!(list_others)));
        let document = api.into_openapi();
        let declared: Vec<(&str, Vec<&str>)> = document
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [("GET", item.get.is_some()), ("POST", item.post.is_some()), ("PUT", item.put.is_some())];
                (path.as_str(), methods.into_iter().filter(|(_, on)| *on).map(|(method, _)| method).collect())
            })
            .collect();
        assert_eq!(declared, vec![("/others", vec!["GET"]), ("/things/{id}", vec!["GET", "POST"])]);
    }
}
