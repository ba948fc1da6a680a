//! The cross-tenant matrix: two tenants with the same content shapes. For EVERY operation of the
//! OpenAPI document that names tenant data by id (a new route with an id fails here until it is
//! in the matrix), tenant A's site admin sends tenant B's ids and ids that never existed: the
//! answers must be identical (status and body, the id itself aside), so a foreign id leaks not
//! even its existence; ids carried in bodies and queries likewise. Afterwards B's data is
//! exactly as before (its exports, media, feedback and trash). On both store adapters, with
//! Connect JWTs and with Forge Invocation Tokens.

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::{Value, json};
use support::app::*;
use support::world::{Opened, Scheme, Store};

const A: &str = "tenant-alpha";
const B: &str = "tenant-bravo";
const SECRETS: [(&str, &str); 2] = [(A, "secret-alpha"), (B, "secret-bravo")];
/// Ids that no tenant has: the same shapes as real ones.
const MISSING_ULID: &str = "01JB7ZZZZZZZZZZZZZZZZZZZZZ";
const MISSING_PAGE: &str = "99999";

struct World {
    app: TestApp,
    scheme: Scheme,
    _dir: Option<tempfile::TempDir>,
}

/// One tenant's ids of each kind of data.
#[derive(Debug, Clone)]
struct Shapes {
    site: String,
    announcement: String,
    search: String,
    theme: String,
    layout: String,
    report: String,
    page: String,
    media: String,
    feedback: String,
    trash: String,
}

impl Shapes {
    fn missing() -> Self {
        let id = MISSING_ULID.to_owned();
        Self {
            site: id.clone(),
            announcement: id.clone(),
            search: id.clone(),
            theme: id.clone(),
            layout: id.clone(),
            report: id.clone(),
            page: MISSING_PAGE.into(),
            media: id.clone(),
            feedback: id.clone(),
            trash: id,
        }
    }

    fn all(&self) -> [&String; 10] {
        [
            &self.site,
            &self.announcement,
            &self.search,
            &self.theme,
            &self.layout,
            &self.report,
            &self.page,
            &self.media,
            &self.feedback,
            &self.trash,
        ]
    }
}

async fn world(store: Store, scheme: Scheme) -> World {
    let Opened { store, dir } = store.open().await;
    let app = TestApp::with_store(store).with_every_route();
    for (client, secret) in SECRETS {
        app.install(client, secret).await;
    }
    World { app, scheme, _dir: dir }
}

fn site(name: &str) -> Value {
    json!({"name": name, "spaces": ["DOC"], "visibility": "public"})
}
fn theme() -> Value {
    json!({"name": "Brand", "colors": {"primary": "#0052CC", "background": "#FFFFFF", "text": "#172B4D"}, "fonts": {"body": "Inter, sans-serif"}})
}
fn layout() -> Value {
    json!({"title": "Home", "sections": [{"id": "s1", "columns": [{"width": 12, "blocks": [{"type": "text", "markup": "Hi"}]}]}]})
}
fn report() -> Value {
    json!({"name": "Open bugs", "jql": "type = Bug", "columns": ["summary"]})
}
fn announcement() -> Value {
    json!({"title": "Hello", "body": "Read this", "severity": "info", "audience": "everyone", "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2026-12-31T00:00:00Z", "dismissible": true})
}
fn search() -> Value {
    json!({"keywords": ["vpn"], "targets": [{"title": "VPN", "target": {"type": "url", "url": "https://example.com/vpn"}}]})
}
fn navigation() -> Value {
    json!({"items": [{"id": "n1", "label": "Docs", "target": {"type": "space", "spaceKey": "DOC"}}]})
}

impl World {
    fn admin(&self, client: &str) -> String {
        let secret = SECRETS.iter().find(|(c, _)| *c == client).expect("tenant").1;
        authorization(&self.scheme.token(client, secret, Some(ADMIN_ACCOUNT), self.app.now_secs()))
    }

    async fn call(&self, client: &str, method: Method, uri: &str, body: Option<&Value>) -> (u16, Value) {
        let mut builder =
            Request::builder().method(method.clone()).uri(uri).header("authorization", self.admin(client));
        if matches!(method, Method::PUT | Method::DELETE) {
            builder = builder.header("if-match", "\"1\"");
        }
        let body = match body {
            Some(body) => {
                builder = builder.header("content-type", "application/json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        let (status, _, body) = self.app.send(builder.body(body).expect("request")).await;
        (status, body)
    }

    async fn created(&self, client: &str, uri: &str, body: Value) -> Value {
        let (status, answer) = self.call(client, Method::POST, uri, Some(&body)).await;
        assert_eq!(status, 201, "{client} {uri}: {answer}");
        answer
    }

    /// The same content in each tenant; only the ids (and the page id chosen) differ.
    async fn populate(&self, client: &str, page: &str) -> Shapes {
        let id = |v: &Value| v["id"].as_str().expect("id").to_owned();
        let theme = id(&self.created(client, "/api/themes", theme()).await);
        let layout = id(&self.created(client, "/api/layouts", layout()).await);
        let report = id(&self.created(client, "/api/reports", report()).await);
        let mut site_body = site("Docs");
        site_body["themeId"] = json!(theme);
        site_body["homeLayoutId"] = json!(layout);
        let site = id(&self.created(client, "/api/sites", site_body).await);
        let put = Request::put(format!("/api/sites/{site}/navigation"))
            .header("authorization", self.admin(client))
            .header("content-type", "application/json")
            .body(Body::from(navigation().to_string()))
            .expect("request");
        assert_eq!(self.app.send(put).await.0, 201);
        let announcement = id(&self.created(client, &format!("/api/sites/{site}/announcements"), announcement()).await);
        let search = id(&self.created(client, &format!("/api/sites/{site}/promoted-searches"), search()).await);
        let upload = json!({"purpose": "logo", "contentType": "image/png", "size": 1024});
        let media = self.created(client, "/api/media/uploads", upload).await["media"]["id"]
            .as_str()
            .expect("media id")
            .to_owned();
        let put = Request::put(format!("/api/pages/{page}/metadata"))
            .header("authorization", self.admin(client))
            .header("content-type", "application/json")
            .body(Body::from(json!({"description": "About"}).to_string()))
            .expect("request");
        assert_eq!(self.app.send(put).await.0, 201);
        let feedback = id(&self.created(client, "/api/feedback", json!({"siteId": site, "rating": 4})).await);
        let doomed = id(&self.created(client, "/api/themes", self::theme()).await);
        let (status, _) = self.call(client, Method::DELETE, &format!("/api/themes/{doomed}"), None).await;
        assert_eq!(status, 204);
        let (_, trash) = self.call(client, Method::GET, "/api/trash", None).await;
        let trash = trash["items"][0]["id"].as_str().expect("trash entry").to_owned();
        Shapes { site, announcement, search, theme, layout, report, page: page.into(), media, feedback, trash }
    }

    /// Everything B could lose or have changed: its exports, media, feedback and trash.
    async fn snapshot(&self, client: &str) -> Value {
        let mut snapshot = json!({});
        for uri in ["/api/export", "/api/feedback/export", "/api/media", "/api/trash", "/api/tenant"] {
            let (status, body) = self.call(client, Method::GET, uri, None).await;
            assert_eq!(status, 200, "{uri}: {body}");
            snapshot[uri] = body;
        }
        snapshot
    }
}

/// The template with `ids` filled in; `None` for a template that names no tenant data. A new
/// route with a path parameter fails here until its ids are added.
fn fill(template: &str, ids: &Shapes) -> Option<String> {
    let id = if template.starts_with("/api/sites/{site_id}/announcements/") {
        &ids.announcement
    } else if template.starts_with("/api/sites/{site_id}/promoted-searches/") {
        &ids.search
    } else if template.starts_with("/api/themes/") {
        &ids.theme
    } else if template.starts_with("/api/layouts/") {
        &ids.layout
    } else if template.starts_with("/api/reports/") {
        &ids.report
    } else if template.starts_with("/api/trash/") {
        &ids.trash
    } else if template.starts_with("/api/media/") {
        &ids.media
    } else if template.starts_with("/api/feedback/") {
        &ids.feedback
    } else {
        &String::new()
    };
    let filled = template.replace("{site_id}", &ids.site).replace("{page_id}", &ids.page).replace("{id}", id);
    if filled == template {
        return None;
    }
    assert!(
        !filled.contains('{') && !filled.contains("//") && !filled.ends_with('/'),
        "{template}: a path parameter the cross-tenant matrix does not know; add its ids"
    );
    Some(filled)
}

/// Operations whose path parameters are not tenant data.
fn names_no_tenant_data(template: &str) -> bool {
    template.starts_with("/ops/") || template.starts_with("/lifecycle/dare-migration/")
}

/// A valid body for a write, so the request gets past validation to the lookup.
fn body_for(method: &Method, template: &str) -> Option<Value> {
    if *method == Method::GET || *method == Method::DELETE {
        return None;
    }
    Some(match template {
        "/api/sites/{site_id}" => site("Renamed"),
        "/api/sites/{site_id}/navigation" => navigation(),
        t if t.starts_with("/api/sites/{site_id}/announcements") => announcement(),
        t if t.starts_with("/api/sites/{site_id}/promoted-searches") => search(),
        "/api/themes/{id}" => theme(),
        "/api/layouts/{id}" => layout(),
        "/api/reports/{id}" => report(),
        "/api/pages/{page_id}/metadata" => json!({"description": "Changed"}),
        _ => json!({}),
    })
}

/// A request body naming one of a tenant's ids.
type BodyNaming = Box<dyn Fn(&Shapes) -> Value>;

/// The answer with the requested ids replaced, so a foreign id and a missing one compare equal
/// exactly when nothing else differs.
fn normalized(body: &Value, ids: &Shapes) -> String {
    let mut text = body.to_string();
    for id in ids.all() {
        text = text.replace(id.as_str(), "<id>");
    }
    text
}

mod scenarios {
    use super::*;

    pub async fn foreign_ids_answer_exactly_like_missing_ones_and_change_nothing(w: World) {
        let _mine = w.populate(A, "11111").await;
        let theirs = w.populate(B, "22222").await;
        let missing = Shapes::missing();
        let before = w.snapshot(B).await;

        let mut compared = Vec::new();
        for (method, template, _) in documented_operations() {
            if names_no_tenant_data(&template) {
                continue;
            }
            let (Some(foreign), Some(absent)) = (fill(&template, &theirs), fill(&template, &missing)) else {
                continue;
            };
            let body = body_for(&method, &template);
            let (missing_status, missing_body) = w.call(A, method.clone(), &absent, body.as_ref()).await;
            let (foreign_status, foreign_body) = w.call(A, method.clone(), &foreign, body.as_ref()).await;
            assert_eq!(
                (foreign_status, normalized(&foreign_body, &theirs)),
                (missing_status, normalized(&missing_body, &missing)),
                "{method} {template}: B's id answers unlike a missing one"
            );
            assert!(foreign_status >= 400, "{method} {foreign}: A reached B's data: {foreign_status} {foreign_body}");
            compared.push(format!("{method} {template}"));
        }
        assert!(compared.len() >= 30, "the matrix covers every operation with an id: {compared:#?}");

        // Ids carried in bodies and queries.
        let references: Vec<(Method, String, BodyNaming)> = vec![
            (Method::POST, "/api/feedback".into(), Box::new(|s: &Shapes| json!({"siteId": s.site, "rating": 3}))),
            (
                Method::POST,
                "/api/sites".into(),
                Box::new(|s: &Shapes| json!({"name": "T", "visibility": "public", "themeId": s.theme})),
            ),
            (
                Method::POST,
                "/api/sites".into(),
                Box::new(|s: &Shapes| json!({"name": "L", "visibility": "public", "homeLayoutId": s.layout})),
            ),
            (
                Method::PUT,
                "/api/pages/11111/metadata".into(),
                Box::new(|s: &Shapes| json!({"featuredImageMediaId": s.media})),
            ),
        ];
        for (method, uri, body) in &references {
            let (missing_status, missing_body) = w.call(A, method.clone(), uri, Some(&body(&missing))).await;
            let (foreign_status, foreign_body) = w.call(A, method.clone(), uri, Some(&body(&theirs))).await;
            assert_eq!(
                (foreign_status, normalized(&foreign_body, &theirs)),
                (missing_status, normalized(&missing_body, &missing)),
                "{method} {uri} naming B's data in its body"
            );
            assert!(foreign_status >= 400, "{method} {uri}: accepted B's id: {foreign_body}");
        }
        for query in ["siteId={}", "pageId={}"] {
            let ask = |ids: &Shapes| {
                format!(
                    "/api/feedback?{}",
                    query.replace("{}", if query.starts_with("site") { &ids.site } else { &ids.page })
                )
            };
            let (missing_status, missing_body) = w.call(A, Method::GET, &ask(&missing), None).await;
            let (foreign_status, foreign_body) = w.call(A, Method::GET, &ask(&theirs), None).await;
            assert_eq!(
                (foreign_status, normalized(&foreign_body, &theirs)),
                (missing_status, normalized(&missing_body, &missing)),
                "feedback filtered by B's {query}"
            );
        }

        assert_eq!(w.snapshot(B).await, before, "B's data changed");
    }
}

support::scenarios!(
    worlds: [
        embedded(support::world::Store::Embedded, support::world::Scheme::Connect),
        embedded_forge(support::world::Store::Embedded, support::world::Scheme::Forge),
        dynamo(support::world::Store::Dynamo, support::world::Scheme::Connect),
    ],
    cases: [foreign_ids_answer_exactly_like_missing_ones_and_change_nothing]
);
