//! The media function through its router, with real uploads: to the local adapter's signed URLs
//! and to s3s-fs through the S3 adapter. Upload ticket → PUT → complete → GET, and every kind of
//! bad input.

use canopy_shared::TenantKey;
use serde_json::{Value, json};
use support::app::*;
use support::media::{PNG, Served, put as put_object};
use support::world::{Media, Scheme};

const T: &str = "media-tenant";
const OTHER: &str = "media-other";

struct World {
    app: TestApp,
    scheme: Scheme,
    _served: Served,
}

async fn world(media: Media, scheme: Scheme) -> World {
    let served = media.serve().await;
    let app = TestApp::with_media(served.store.clone());
    for client in [T, OTHER] {
        app.install(client, &format!("secret-{client}")).await;
    }
    World { app, scheme, _served: served }
}

impl World {
    fn token(&self, client: &str, account: &str) -> String {
        self.scheme.token(client, &format!("secret-{client}"), Some(account), self.app.now_secs())
    }

    fn admin(&self, client: &str) -> String {
        self.token(client, ADMIN_ACCOUNT)
    }

    fn user(&self, client: &str) -> String {
        self.token(client, USER_ACCOUNT)
    }

    async fn ticket(&self, body: &Value) -> (u16, Value) {
        let (status, _, body) = self.app.send(post("/api/media/uploads", Some(&self.admin(T)), body)).await;
        (status, body)
    }

    async fn complete(&self, client: &str, id: &str) -> (u16, Value) {
        let (status, _, body) =
            self.app.send(post(&format!("/api/media/{id}/complete"), Some(&self.admin(client)), &json!({}))).await;
        (status, body)
    }

    /// Ticket, upload and completion of a PNG logo; answers the media id.
    async fn uploaded_logo(&self) -> String {
        let (status, ticket) =
            self.ticket(&json!({"purpose": "logo", "contentType": "image/png", "size": PNG.len()})).await;
        assert_eq!(status, 201, "{ticket}");
        assert_eq!(put_object(&ticket["upload"], PNG.to_vec(), None).await, 200);
        let id = ticket["media"]["id"].as_str().expect("id").to_owned();
        let (status, body) = self.complete(T, &id).await;
        assert_eq!(status, 200, "{body}");
        id
    }
}

fn theme_with_logo(media_id: &str) -> Value {
    json!({"name": "Brand", "colors": {"primary": "#0052CC", "background": "#FFFFFF", "text": "#172B4D"}, "fonts": {"body": "Inter"}, "header": {"logoMediaId": media_id}})
}

mod scenarios {
    use super::*;

    pub async fn upload_complete_read_and_download(w: World) {
        let (status, ticket) = w
            .ticket(&json!({"purpose": "logo", "contentType": "image/png", "size": PNG.len(), "fileName": "logo.png"}))
            .await;
        assert_eq!(status, 201, "{ticket}");
        assert_eq!(ticket["media"]["state"], "pending");
        let url = ticket["upload"]["url"].as_str().expect("url");
        assert!(url.contains(&format!("tenants/{T}/uploads/")), "the key is Canopy's: {url}");
        assert_eq!(put_object(&ticket["upload"], PNG.to_vec(), None).await, 200);
        let id = ticket["media"]["id"].as_str().expect("id");
        let (status, body) = w.complete(T, id).await;
        assert_eq!((status, body["state"].as_str()), (200, Some("ready")), "{body}");

        let (status, _, media) = w.app.send(get(&format!("/api/media/{id}"), Some(&w.user(T)))).await;
        assert_eq!(status, 200);
        let download = reqwest::get(media["url"].as_str().expect("download url")).await.expect("GET");
        assert_eq!(download.status(), 200);
        assert_eq!(download.headers()["content-type"], "image/png");
        assert!(download.headers()["content-disposition"].to_str().expect("ascii").starts_with("inline"));
        assert_eq!(download.bytes().await.expect("bytes").to_vec(), PNG.to_vec());

        let (_, _, listed) = w.app.send(get("/api/media?purpose=logo", Some(&w.user(T)))).await;
        assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
        let (_, _, none) = w.app.send(get("/api/media?purpose=favicon", Some(&w.user(T)))).await;
        assert_eq!(none["items"], json!([]));
        let (status, _, _) = w.app.send(get(&format!("/api/media/{id}"), Some(&w.user(OTHER)))).await;
        assert_eq!(status, 404, "another tenant's id is unknown");
    }

    pub async fn bytes_put_after_completion_are_never_served(w: World) {
        let (status, ticket) =
            w.ticket(&json!({"purpose": "logo", "contentType": "image/png", "size": PNG.len()})).await;
        assert_eq!(status, 201, "{ticket}");
        assert_eq!(put_object(&ticket["upload"], PNG.to_vec(), None).await, 200);
        let id = ticket["media"]["id"].as_str().expect("id");
        let (status, body) = w.complete(T, id).await;
        assert_eq!(status, 200, "{body}");

        // The upload URL is valid for minutes more: the bucket takes other bytes of the signed
        // type and length (here not even an image).
        let other = b"<script>alert(1)</script>".iter().copied().cycle().take(PNG.len()).collect::<Vec<u8>>();
        assert_eq!(put_object(&ticket["upload"], other, None).await, 200, "the URL is still valid");
        let (status, _, media) = w.app.send(get(&format!("/api/media/{id}"), Some(&w.user(T)))).await;
        assert_eq!(status, 200, "{media}");
        let download = reqwest::get(media["url"].as_str().expect("download url")).await.expect("GET");
        assert_eq!(download.status(), 200);
        assert_eq!(download.bytes().await.expect("bytes").to_vec(), PNG.to_vec(), "the checked bytes");
        let (status, body) = w.complete(T, id).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("already_completed")), "{body}");
    }

    pub async fn upload_requests_are_checked(w: World) {
        let cases = [
            (json!({"purpose": "banner", "contentType": "image/png", "size": 10}), 422),
            (json!({"purpose": "logo", "contentType": "image/svg+xml", "size": 10}), 415),
            (json!({"purpose": "logo", "contentType": "text/html", "size": 10}), 415),
            (json!({"purpose": "favicon", "contentType": "image/png", "size": 256 * 1024 + 1}), 413),
            (json!({"purpose": "logo", "contentType": "image/png", "size": 0}), 413),
            (json!({"purpose": "logo", "contentType": "image/png", "size": -5}), 422),
            (json!({"purpose": "logo", "contentType": "image/png", "size": 10, "fileName": "../../etc/passwd"}), 422),
            (json!({"purpose": "logo", "contentType": "image/png", "size": 10, "fileName": "a\\b.png"}), 422),
            (json!({"purpose": "logo", "contentType": "image/png", "size": 10, "key": "tenants/x/evil"}), 422),
        ];
        for (body, expected) in cases {
            let (status, answer) = w.ticket(&body).await;
            assert_eq!(status, expected, "{body} → {answer}");
        }
        let (status, _) =
            w.ticket(&json!({"purpose": "favicon", "contentType": "image/png", "size": 256 * 1024})).await;
        assert_eq!(status, 201, "exactly at the limit");
        let (status, _, body) = w
            .app
            .send(post(
                "/api/media/uploads",
                Some(&w.user(T)),
                &json!({"purpose": "logo", "contentType": "image/png", "size": 10}),
            ))
            .await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("not_admin")));
    }

    pub async fn completion_checks_what_was_uploaded(w: World) {
        let (_, never) = w.ticket(&json!({"purpose": "logo", "contentType": "image/png", "size": PNG.len()})).await;
        let never_id = never["media"]["id"].as_str().expect("id");
        let (status, body) = w.complete(T, never_id).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("not_uploaded")));
        let (status, _) = w.complete(OTHER, never_id).await;
        assert_eq!(status, 404, "another tenant cannot complete it");

        // A script with a PNG content type and the declared length: S3 accepts the bytes, the
        // completion refuses them and removes the object.
        let script = b"<script>alert(document.cookie)</script>".to_vec();
        let (_, disguised) =
            w.ticket(&json!({"purpose": "logo", "contentType": "image/png", "size": script.len()})).await;
        assert_eq!(put_object(&disguised["upload"], script, None).await, 200);
        let id = disguised["media"]["id"].as_str().expect("id");
        let (status, body) = w.complete(T, id).await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("upload_mismatch")), "{body}");
        let (status, _, _) = w.app.send(get(&format!("/api/media/{id}"), Some(&w.user(T)))).await;
        assert_eq!(status, 404, "record and object removed");

        let done = w.uploaded_logo().await;
        let (status, body) = w.complete(T, &done).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("already_completed")));
    }

    pub async fn media_in_use_needs_force_to_delete(w: World) {
        let id = w.uploaded_logo().await;
        let (status, _, theme) = w.app.send(post("/api/themes", Some(&w.admin(T)), &theme_with_logo(&id))).await;
        assert_eq!(status, 201, "a theme may use a completed logo: {theme}");
        let (status, _, body) = w.app.send(delete(&format!("/api/media/{id}"), &w.admin(T), Some("\"2\""))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("in_use")));
        assert!(body["error"]["message"].as_str().expect("message").contains("theme Brand"));
        let (status, _, _) =
            w.app.send(delete(&format!("/api/media/{id}?force=true"), &w.admin(T), Some("\"2\""))).await;
        assert_eq!(status, 204);
        assert_eq!(w.app.send(get(&format!("/api/media/{id}"), Some(&w.user(T)))).await.0, 404);
    }

    /// Deleting media scans every theme, layout and page for its uses: per tenant, limited.
    pub async fn media_usage_scans_are_limited_per_tenant(w: World) {
        use canopy_shared::domain::media::USAGE_SCAN_WINDOWS;
        let id = w.uploaded_logo().await;
        let (status, _, _) = w.app.send(post("/api/themes", Some(&w.admin(T)), &theme_with_logo(&id))).await;
        assert_eq!(status, 201);
        let scan = || w.app.send(delete(&format!("/api/media/{id}"), &w.admin(T), Some("\"2\"")));
        for i in 0..USAGE_SCAN_WINDOWS[0].max {
            let (status, _, body) = scan().await;
            assert_eq!((status, body["error"]["code"].as_str()), (409, Some("in_use")), "scan {i}");
        }
        let (status, headers, body) = scan().await;
        assert_eq!((status, body["error"]["code"].as_str()), (429, Some("rate_limited")), "one over the minute");
        assert!(headers.contains_key("retry-after"));
        assert_eq!(w.app.send(get(&format!("/api/media/{id}"), Some(&w.user(T)))).await.0, 200, "nothing deleted");
        w.app.clock.advance_secs(60);
        assert_eq!(scan().await.0, 409, "a new minute scans again");
    }

    pub async fn pending_or_foreign_media_cannot_be_referenced(w: World) {
        let (_, pending) = w.ticket(&json!({"purpose": "logo", "contentType": "image/png", "size": PNG.len()})).await;
        let pending_id = pending["media"]["id"].as_str().expect("id");
        let (status, _, body) = w.app.send(post("/api/themes", Some(&w.admin(T)), &theme_with_logo(pending_id))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("unknown_media")));
        let id = w.uploaded_logo().await;
        let (status, _, body) = w.app.send(post("/api/themes", Some(&w.admin(OTHER)), &theme_with_logo(&id))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("unknown_media")), "another tenant's media");
    }

    pub async fn quotas_are_enforced(w: World) {
        use canopy_shared::ports::store::{Condition, Item, Write};
        let tenant = TenantKey::from_verified(T).expect("key");
        let usage = |body: Value| Item {
            tenant: tenant.clone(),
            sk: "MEDIA_USAGE".into(),
            version: 1,
            updated_at: 0,
            updated_by: None,
            due: None,
            expires_at: None,
            body: body.into(),
        };
        let nearly_full = usage(
            json!({"bytes": canopy_shared::domain::media::MAX_TENANT_MEDIA_BYTES - 100, "items": 3, "pending": 0}),
        );
        w.app
            .state
            .store
            .transact(vec![Write::Put { item: nearly_full, condition: Condition::None }], w.app.now_secs())
            .await
            .expect("seed");
        let (status, body) = w.ticket(&json!({"purpose": "logo", "contentType": "image/png", "size": 101})).await;
        assert_eq!(status, 413, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .expect("message")
                .contains(&canopy_shared::domain::media::MAX_TENANT_MEDIA_BYTES.to_string())
        );
        let (status, _) = w.ticket(&json!({"purpose": "logo", "contentType": "image/png", "size": 100})).await;
        assert_eq!(status, 201, "exactly up to the quota");

        let pending =
            usage(json!({"bytes": 0, "items": 0, "pending": canopy_shared::domain::media::MAX_PENDING_UPLOADS}));
        w.app
            .state
            .store
            .transact(vec![Write::Put { item: pending, condition: Condition::None }], w.app.now_secs())
            .await
            .expect("seed");
        let (status, _, body) = w
            .app
            .send(post(
                "/api/media/uploads",
                Some(&w.admin(T)),
                &json!({"purpose": "logo", "contentType": "image/png", "size": 10}),
            ))
            .await;
        assert_eq!((status, body["error"]["code"].as_str()), (429, Some("rate_limited")), "too many pending uploads");
    }
}

support::scenarios!(media and schemes: [
    upload_complete_read_and_download,
    bytes_put_after_completion_are_never_served,
    upload_requests_are_checked,
    completion_checks_what_was_uploaded,
    media_in_use_needs_force_to_delete,
    media_usage_scans_are_limited_per_tenant,
    pending_or_foreign_media_cannot_be_referenced,
    quotas_are_enforced,
]);
