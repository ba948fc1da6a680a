//! The OpenAPI document of the HTTP API. Every route is declared once, on its handler
//! (`#[utoipa::path]`), and registered with `routes!`: the router and the document come from that
//! one declaration, so a route cannot exist undocumented (`tests/integration/openapi.rs` also refuses
//! any `.route(` that bypasses it).
//!
//! What every operation shares is added here rather than repeated on each handler: the error
//! answers (one body shape, `ErrorBody`) and who may call it (`security`), both by route family.

use crate::http::router::ApiRouter;
use utoipa::PartialSchema;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, Ref, RefOr};

use super::ops::OperatorAccess;
use super::schema::{ErrorBody, ErrorDetail};

/// Where the local server serves the document.
pub const DOCUMENT_PATH: &str = "/openapi.json";

/// The error statuses any operation may answer besides its own, by family. Every one of them has
/// the `ErrorBody` shape; 500 too (a bug, never with its cause).
const COMMON_ERRORS: &[(u16, &str)] = &[
    (400, "Malformed request: bad JSON, query string or header."),
    (404, "Unknown here: a missing id and another tenant's id answer alike."),
    (413, "The body is larger than this route accepts."),
    (415, "The body is not JSON."),
    (422, "Well-formed but invalid content (the code names the problem)."),
    (500, "A bug; the cause is logged, never sent."),
    (503, "A dependency is unavailable; retry after `Retry-After`."),
];
const TENANT_ERRORS: &[(u16, &str)] = &[
    (401, "Authentication failed (always the same body)."),
    (403, "Authenticated, not allowed: a disabled tenant, a non-admin on an admin route, an anonymous caller."),
    (409, "The write conflicts with the current state."),
    (412, "`If-Match` names a version that is no longer current."),
    (421, "The tenant lives in another region: send the call again to `error.baseUrl`."),
    (428, "`PUT`/`DELETE` needs `If-Match`."),
    (429, "Rate limited; retry after `Retry-After`."),
];
const OPERATOR_ERRORS: &[(u16, &str)] = &[(403, "Not an IAM-signed operator request (on AWS).")];

/// Who may call a route, by path; documented as the operation's `security`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// No authentication: the descriptor, the document, the local server's dev routes.
    Anyone,
    /// A user of a tenant: a context JWT (header or `?jwt=`), a request-bound JWT, or a FIT.
    TenantUser,
    /// Atlassian's RS256 signed install (`installed`, `uninstalled`).
    SignedInstall,
    /// An HS256 JWT with the tenant's secret, bound to this request (`enabled`, `disabled`, realm
    /// migrations, product webhooks).
    RequestBound,
    /// A Forge Invocation Token (Forge lifecycle and product events).
    ForgeEvent,
    /// Canopy's operators: IAM-signed on AWS (open on the local server).
    Operator,
}

/// Who may call `path`.
pub fn caller_of(path: &str) -> Caller {
    use crate::domain::connect::descriptor::{DARE_MIGRATION_PATH, INSTALLED_PATH, UNINSTALLED_PATH};
    if path == INSTALLED_PATH || path == UNINSTALLED_PATH {
        Caller::SignedInstall
    } else if path.starts_with("/lifecycle/") || path.starts_with(DARE_MIGRATION_PATH) || path.starts_with("/webhooks/")
    {
        Caller::RequestBound
    } else if path.starts_with("/forge/") {
        Caller::ForgeEvent
    } else if path.starts_with("/ops/") {
        Caller::Operator
    } else if path.starts_with("/api/") {
        Caller::TenantUser
    } else {
        Caller::Anyone
    }
}

/// Every route of the product (what the Lambda functions serve), one router, one document.
pub fn product_routes(access: OperatorAccess) -> ApiRouter {
    super::lifecycle::routes()
        .merge(super::content::routes())
        .merge(super::media::routes())
        .merge(super::feedback::routes())
        .merge(super::residency::routes())
        .merge(super::ops::routes(access))
        .merge(super::console::routes())
}

/// Completes a router's document: title, security schemes, each operation's security and the
/// error answers of its family.
pub fn complete(mut document: OpenApi) -> OpenApi {
    document.info = InfoBuilder::new()
        .title("Canopy")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Canopy's HTTP API. Generated from the route declarations (`canopy-local openapi`); \
             every error is `ErrorBody`, every 401 has the same body.",
        ))
        .build();
    let mut components = document.components.take().unwrap_or_else(|| ComponentsBuilder::new().build());
    for (name, schema) in [("ErrorBody", ErrorBody::schema()), ("ErrorDetail", ErrorDetail::schema())] {
        components.schemas.insert(name.into(), schema);
    }
    let scheme = |name: &str, description: &str| {
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(name, description)))
    };
    // `?jwt=` (the same token in the query, for links) is described here, not declared as a scheme
    // of its own: generated clients and fuzzers would send both, which Canopy refuses (401).
    components.add_security_scheme(
        "connectJwt",
        scheme("Authorization", "`JWT <token>`: a Connect JWT (HS256, tenant secret); or the token as `?jwt=`."),
    );
    components.add_security_scheme(
        "forgeFit",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some("A Forge Invocation Token (RS256, Forge's JWKS)."))
                .build(),
        ),
    );
    components.add_security_scheme(
        "signedInstall",
        scheme("Authorization", "`JWT <token>`: RS256 signed install (CONNECT.md §3)."),
    );
    components.add_security_scheme("operatorIam", scheme("Authorization", "AWS SigV4 (API Gateway `AWS_IAM`)."));
    document.components = Some(components);

    for (path, item) in document.paths.paths.iter_mut() {
        let caller = caller_of(path);
        for operation in operations(item) {
            decorate(operation, caller);
        }
    }
    merge_flattened_items(document)
}

/// `Item<M>` (and the config's `ConfigItem<M>`, `ConfigSnapshot<M>`) comes out as `allOf: [M, {id, version, …}]`, and `M` says `additionalProperties:
/// false` (its `deny_unknown_fields`): under `allOf` each part would refuse the other's fields, so
/// every item would fail its own schema. The parts are merged into one object instead.
fn merge_flattened_items(mut document: OpenApi) -> OpenApi {
    use utoipa::openapi::schema::{AdditionalProperties, Object, Schema};
    let Some(components) = document.components.as_mut() else { return document };
    for (name, schema) in components.schemas.iter_mut() {
        let RefOr::T(Schema::AllOf(all_of)) = schema else { continue };
        if !["Item_", "ConfigItem_", "ConfigSnapshot_"].iter().any(|prefix| name.starts_with(prefix)) {
            continue;
        }
        let mut merged = Object::new();
        for part in &all_of.items {
            let RefOr::T(Schema::Object(object)) = part else {
                panic!("{name}: a flattened part that is not an inline object");
            };
            merged.properties.extend(object.properties.clone());
            merged.required.extend(object.required.clone());
        }
        merged.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
        *schema = RefOr::T(Schema::Object(merged));
    }
    document
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn decorate(operation: &mut Operation, caller: Caller) {
    let requirement = |names: &[&str]| {
        names.iter().map(|name| SecurityRequirement::new(*name, Vec::<String>::new())).collect::<Vec<_>>()
    };
    let (security, errors): (Vec<SecurityRequirement>, &[(u16, &str)]) = match caller {
        Caller::Anyone => (Vec::new(), &[]),
        Caller::TenantUser => (requirement(&["connectJwt", "forgeFit"]), TENANT_ERRORS),
        Caller::SignedInstall => (requirement(&["signedInstall"]), TENANT_ERRORS),
        Caller::RequestBound => (requirement(&["connectJwt"]), TENANT_ERRORS),
        Caller::ForgeEvent => (requirement(&["forgeFit"]), TENANT_ERRORS),
        Caller::Operator => (requirement(&["operatorIam"]), OPERATOR_ERRORS),
    };
    if !security.is_empty() {
        operation.security = Some(security);
    }
    for (status, description) in COMMON_ERRORS.iter().chain(errors) {
        operation.responses.responses.entry(status.to_string()).or_insert_with(|| error_response(description));
    }
}

fn error_response(description: &str) -> RefOr<Response> {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
    RefOr::T(ResponseBuilder::new().description(description).content("application/json", content).build())
}

/// The document as the committed `docs/openapi.json` holds it: pretty, with a final newline.
pub fn to_pretty_json(document: &OpenApi) -> String {
    let mut text = document.to_pretty_json().expect("an OpenAPI document serializes");
    text.push('\n');
    text
}
