//! Tenant shared secrets at rest (`secrets`): sealed before they reach either store adapter, still
//! verifying tokens, readable across a key rotation, refused cleanly when altered, and records
//! stored in the clear before sealing existed sealed by their next write.

use std::path::Path;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use canopy_shared::TenantKey;
use canopy_shared::adapters::secrets::local::{KEYRING_FILE, LocalKeyring, MAX_KEYRING_KEYS};
use canopy_shared::adapters::store::embedded::EmbeddedItemStore;
use canopy_shared::domain::tenants;
use canopy_shared::kernel::clock::Clock;
use canopy_shared::kernel::keys;
use canopy_shared::ports::secrets::{MAX_CACHED_DATA_KEYS, SecretSealer};
use canopy_shared::ports::store::{Condition, Item, Write};
use serde_json::{Value, json};
use support::app::*;

const CLIENT: &str = "574f8bdd-8dc4-35d3-9558-7bcea4e41de6";
const OTHER: &str = "0b8c1e52-other-tenant";
const SECRET: &str = "a-connect-shared-secret-7f3a9c";

async fn install(app: &TestApp, client: &str, secret: &str) {
    let token = sign_install(&install_claims(client, "/lifecycle/installed", app.now_secs()));
    let (status, _, body) =
        app.send(post("/lifecycle/installed", Some(&token), &install_payload(client, secret))).await;
    assert_eq!(status, 204, "{body}");
}

async fn tenant_answer(app: &TestApp, client: &str, secret: &str) -> (u16, Value) {
    let (status, _, body) = app.send(get("/api/tenant", Some(&context_token(client, secret, app.now_secs())))).await;
    (status, body)
}

fn key(client: &str) -> TenantKey {
    TenantKey::from_verified(client).expect("key")
}

async fn stored_body(app: &TestApp, client: &str) -> Value {
    app.state
        .store
        .get(&key(client), keys::TENANT_RECORD, app.now_secs())
        .await
        .expect("get")
        .expect("record")
        .body
        .to_value()
        .unwrap()
}

/// Replaces the stored install record's body as is (an attacker with table write access, or a
/// record written before sealing existed).
async fn overwrite_record(app: &TestApp, client: &str, body: Value) {
    let now = app.now_secs();
    let item = app.state.store.get(&key(client), keys::TENANT_RECORD, now).await.expect("get");
    let (version, due) = item.map(|i| (i.version, i.due)).unwrap_or((0, None));
    let condition = if version == 0 { Condition::Absent } else { Condition::Version(version) };
    let item = Item {
        tenant: key(client),
        sk: keys::TENANT_RECORD.into(),
        version: version + 1,
        updated_at: app.clock.now_millis(),
        updated_by: None,
        due,
        expires_at: None,
        body: body.into(),
    };
    app.state.store.transact(vec![Write::Put { item, condition }], now).await.expect("overwrite");
}

fn swap_sealer(app: &mut TestApp, sealer: SecretSealer) {
    app.state.stack.data.secrets = sealer;
    let routes = canopy_shared::http::lifecycle::routes().merge(canopy_shared::http::content::routes());
    app.router = canopy_shared::http::finish(routes, app.state.clone());
}

fn keyring_sealer(path: &Path) -> SecretSealer {
    SecretSealer::new(Arc::new(LocalKeyring::open_or_create(path).expect("keyring")))
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn the_embedded_store_file_never_holds_the_secret_and_tokens_still_verify() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("canopy.redb");
    let app = TestApp::with_store(Arc::new(EmbeddedItemStore::open(&file).expect("store")));
    install(&app, CLIENT, SECRET).await;

    let bytes = std::fs::read(&file).expect("store file");
    assert!(contains(&bytes, CLIENT), "the scan sees the record's clear fields (control)");
    assert!(!contains(&bytes, SECRET), "the secret is in the store file in the clear");
    let body = stored_body(&app, CLIENT).await;
    assert!(body.get("sharedSecret").is_none(), "{body}");
    assert!(body["sealedSecret"]["keyId"].as_str().is_some_and(|k| k.starts_with("local:")), "{body}");

    let (status, body) = tenant_answer(&app, CLIENT, SECRET).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(tenants::load(&app.state, &key(CLIENT)).await.expect("load").expect("tenant").0.shared_secret, SECRET);
    let (status, _) = tenant_answer(&app, CLIENT, "a-guessed-secret").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_dynamodb_item_never_holds_the_secret_and_tokens_still_verify() {
    let client = support::dynamo::isolated_client();
    let store = canopy_shared::adapters::store::dynamo::DynamoItemStore::new(client.clone(), "canopy-test");
    store.create_table().await.expect("table");
    let app = TestApp::with_store(Arc::new(store));
    install(&app, CLIENT, SECRET).await;

    // The raw item, every attribute, as anyone with dynamodb:GetItem on the table reads it.
    let raw = client
        .get_item()
        .table_name("canopy-test")
        .key("pk", AttributeValue::S(format!("T#{CLIENT}")))
        .key("sk", AttributeValue::S(keys::TENANT_RECORD.into()))
        .send()
        .await
        .expect("raw get")
        .item
        .expect("item");
    let text = format!("{raw:?}");
    assert!(text.contains(CLIENT), "the raw item holds the record (control)");
    assert!(!text.contains(SECRET), "the secret is in the item in the clear: {text}");
    assert!(text.contains("sealedSecret"));

    let (status, body) = tenant_answer(&app, CLIENT, SECRET).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_rotated_keyring_keeps_older_tenants_working_and_seals_with_the_new_key() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join(KEYRING_FILE);
    let mut app = TestApp::new();
    swap_sealer(&mut app, keyring_sealer(&path));
    install(&app, CLIENT, SECRET).await;
    assert_eq!(stored_body(&app, CLIENT).await["sealedSecret"]["keyId"], "local:1");

    assert_eq!(LocalKeyring::rotate(&path).expect("rotate"), "local:2");
    // A new process (fresh data-key cache) with the rotated keyring.
    swap_sealer(&mut app, keyring_sealer(&path));
    let (status, body) = tenant_answer(&app, CLIENT, SECRET).await;
    assert_eq!(status, 200, "an envelope of the older key still opens: {body}");

    install(&app, OTHER, "second-secret").await;
    assert_eq!(stored_body(&app, OTHER).await["sealedSecret"]["keyId"], "local:2");
    assert_eq!(stored_body(&app, CLIENT).await["sealedSecret"]["keyId"], "local:1", "no re-seal needed");
    assert_eq!(tenant_answer(&app, OTHER, "second-secret").await.0, 200);

    // Another keyring (a lost or replaced key file) opens nothing: a clean 500, no panic.
    let elsewhere = tempfile::tempdir().expect("dir");
    swap_sealer(&mut app, keyring_sealer(&elsewhere.path().join(KEYRING_FILE)));
    let (status, body) = tenant_answer(&app, CLIENT, SECRET).await;
    assert_eq!((status, body["error"]["code"].as_str()), (500, Some("internal")), "{body}");
}

#[tokio::test]
async fn an_altered_or_moved_envelope_is_refused_with_a_clean_error_and_changes_nothing() {
    let app = TestApp::new();
    install(&app, CLIENT, SECRET).await;
    install(&app, OTHER, "other-secret").await;
    let original = stored_body(&app, CLIENT).await;

    // One character of the sealed secret changed.
    let mut tampered = original.clone();
    let sealed = tampered["sealedSecret"]["sealed"].as_str().expect("sealed").to_owned();
    let flipped = if sealed.starts_with('A') { "B" } else { "A" };
    tampered["sealedSecret"]["sealed"] = json!(format!("{flipped}{}", &sealed[1..]));
    overwrite_record(&app, CLIENT, tampered.clone()).await;
    let (status, body) = tenant_answer(&app, CLIENT, SECRET).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"], json!({"code": "internal", "message": "Canopy met an internal error."}));
    let enable = request_token(CLIENT, SECRET, "POST", "/lifecycle/enabled", app.now_secs());
    let (status, _, _) = app.send(post("/lifecycle/enabled", Some(&enable), &install_payload(CLIENT, SECRET))).await;
    assert_eq!(status, 500);
    assert_eq!(stored_body(&app, CLIENT).await, tampered, "a refused envelope changes nothing");

    // A wrapped data key altered, and an envelope that is not base64.
    for (field, value) in [("dataKey", "AAAA"), ("sealed", "not base64!")] {
        let mut bad = original.clone();
        bad["sealedSecret"][field] = json!(value);
        overwrite_record(&app, CLIENT, bad).await;
        assert_eq!(tenant_answer(&app, CLIENT, SECRET).await.0, 500, "{field}");
    }

    // Another tenant's envelope copied onto this record does not open: it is bound to its tenant.
    let mut moved = original.clone();
    moved["sealedSecret"] = stored_body(&app, OTHER).await["sealedSecret"].clone();
    overwrite_record(&app, CLIENT, moved).await;
    assert_eq!(tenant_answer(&app, CLIENT, "other-secret").await.0, 500);

    overwrite_record(&app, CLIENT, original).await;
    assert_eq!(tenant_answer(&app, CLIENT, SECRET).await.0, 200, "the untouched envelope opens");
}

#[tokio::test]
async fn a_record_stored_in_the_clear_keeps_working_and_its_next_write_seals_it() {
    let app = TestApp::new();
    install(&app, CLIENT, SECRET).await;
    // As the code before sealing wrote it.
    let mut legacy = stored_body(&app, CLIENT).await;
    legacy.as_object_mut().expect("object").remove("sealedSecret");
    legacy["sharedSecret"] = json!(SECRET);
    overwrite_record(&app, CLIENT, legacy).await;
    assert_eq!(tenant_answer(&app, CLIENT, SECRET).await.0, 200);

    let token = request_token(CLIENT, SECRET, "POST", "/lifecycle/enabled", app.now_secs());
    assert_eq!(app.send(post("/lifecycle/enabled", Some(&token), &install_payload(CLIENT, SECRET))).await.0, 204);
    let body = stored_body(&app, CLIENT).await;
    assert!(body.get("sharedSecret").is_none(), "the write sealed it: {body}");
    assert!(body["sealedSecret"].is_object(), "{body}");
    assert_eq!(tenant_answer(&app, CLIENT, SECRET).await.0, 200);
}

#[tokio::test]
async fn the_keyring_file_is_private_created_once_and_bounded() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join(KEYRING_FILE);
    let first = LocalKeyring::open_or_create(&path).expect("created");
    let written = std::fs::read(&path).expect("file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
    }
    assert_eq!(first.current_key_id(), "local:1");
    LocalKeyring::open_or_create(&path).expect("reopened");
    assert_eq!(std::fs::read(&path).expect("file"), written, "a second start keeps the key");

    for n in 2..=MAX_KEYRING_KEYS {
        assert_eq!(LocalKeyring::rotate(&path).expect("rotate"), format!("local:{n}"));
    }
    let refused = LocalKeyring::rotate(&path).expect_err("over the bound");
    assert_eq!(refused.code(), "keyring_full");
    assert_eq!(
        LocalKeyring::open_or_create(&path).expect("reopened").current_key_id(),
        format!("local:{MAX_KEYRING_KEYS}")
    );

    std::fs::write(&path, b"{\"keys\": []}").expect("emptied");
    assert!(LocalKeyring::open_or_create(&path).is_err(), "an empty keyring is refused, not replaced");
}

#[tokio::test]
async fn the_data_key_cache_stays_within_its_bound() {
    let sealer = SecretSealer::new(Arc::new(LocalKeyring::in_memory()));
    let mut last = None;
    for n in 0..=MAX_CACHED_DATA_KEYS {
        last = Some(sealer.seal("tenant", &format!("secret-{n}")).await.expect("seal"));
    }
    assert!(sealer.cached_keys() <= MAX_CACHED_DATA_KEYS, "{} cached", sealer.cached_keys());
    let last = last.expect("sealed");
    assert_eq!(sealer.open("tenant", &last).await.expect("open"), format!("secret-{MAX_CACHED_DATA_KEYS}"));
    assert!(sealer.open("another-tenant", &last).await.is_err(), "bound to its tenant even when cached");
}

/// `Debug` of every type that carries the shared secret (the install record, the install payload,
/// an authenticated caller with its Forge system token) shows that there is one, never its value:
/// a `{:?}` in a log line or a panic message cannot leak it.
#[tokio::test]
async fn debug_output_never_shows_a_secret() {
    use canopy_shared::adapters::product::forge::ForgeAccess;
    use canopy_shared::domain::connect::jwt::TokenKind;
    use canopy_shared::domain::forge::SystemToken;
    use canopy_shared::domain::forge::fit::Invocation;
    use canopy_shared::domain::tenants::InstallPayload;
    use canopy_shared::http::auth::{AuthContext, ForgeCaller};

    const SYSTEM_TOKEN: &str = "eyJ.system-token-of-this-request.sig";
    let app = TestApp::new();
    install(&app, CLIENT, SECRET).await;
    let (tenant, _) = tenants::load(&app.state, &key(CLIENT)).await.expect("load").expect("installed");
    assert_eq!(tenant.shared_secret, SECRET, "the loaded record holds the opened secret");
    let payload: InstallPayload = serde_json::from_value(install_payload(CLIENT, SECRET)).expect("payload");
    let forge = ForgeCaller {
        invocation: Invocation {
            cloud_id: cloud_of(CLIENT),
            installation_id: None,
            account_id: Some(ADMIN_ACCOUNT.into()),
            module_key: None,
            site_url: None,
        },
        access: Some(ForgeAccess {
            cloud_id: cloud_of(CLIENT),
            system_token: SystemToken::new(SYSTEM_TOKEN).expect("token"),
        }),
    };
    let caller = AuthContext {
        tenant: key(CLIENT),
        account_id: Some(ADMIN_ACCOUNT.into()),
        kind: TokenKind::ForgeInvocation,
        install: Arc::new(tenant.clone()),
        forge: Some(Arc::new(forge)),
    };
    for (what, shown) in [
        ("Tenant", format!("{tenant:?}")),
        ("Tenant, pretty", format!("{tenant:#?}")),
        ("InstallPayload", format!("{payload:?}")),
        ("AuthContext", format!("{caller:?}")),
    ] {
        assert!(!shown.contains(SECRET), "{what} shows the shared secret: {shown}");
        assert!(!shown.contains(SYSTEM_TOKEN), "{what} shows the system token: {shown}");
        assert!(shown.contains(CLIENT), "{what} still shows what it is about: {shown}");
    }
    assert!(format!("{payload:?}").contains("shared_secret: Some(\"<redacted>\")"));
}
