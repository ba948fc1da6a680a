//! The `MediaStore` contract, unchanged against the local adapter (served on loopback) and the
//! S3 adapter on s3s-fs, a local S3 server that verifies signatures: what the server refuses
//! is refused by the server, not by Canopy.

use std::time::Duration;

use canopy_shared::TenantKey;
use canopy_shared::kernel::keys;
use canopy_shared::ports::media::{DownloadHeaders, ObjectKey};
use serde_json::json;
use support::media::{PNG, Served, put};
use support::world::Media;

const MINUTE: Duration = Duration::from_secs(60);

fn tenant(name: &str) -> TenantKey {
    TenantKey::from_verified(name).expect("key")
}

fn key(name: &str) -> ObjectKey {
    ObjectKey::upload(&tenant("t1"), name)
}

fn ticket(upload: &canopy_shared::ports::media::PresignedUpload) -> serde_json::Value {
    serde_json::to_value(upload).expect("json")
}

async fn world(media: Media) -> Served {
    media.serve().await
}

mod scenarios {
    use super::*;

    pub async fn upload_head_read_download_delete(s: Served) {
        let k = key("A");
        assert_eq!(s.store.head(&k).await.expect("head"), None);
        let upload = s.store.presign_upload(&k, "image/png", PNG.len() as u64, MINUTE).await.expect("presign");
        assert_eq!(upload.method, "PUT");
        assert!(upload.headers.iter().any(|(n, v)| n.eq_ignore_ascii_case("content-type") && v == "image/png"));
        assert_eq!(put(&ticket(&upload), PNG.to_vec(), None).await, 200);
        let info = s.store.head(&k).await.expect("head").expect("uploaded");
        assert_eq!((info.length, info.content_type.as_deref()), (PNG.len() as u64, Some("image/png")));
        assert_eq!(s.store.first_bytes(&k, 8).await.expect("bytes"), PNG[..8].to_vec());

        let headers = DownloadHeaders {
            content_type: "image/png".into(),
            content_disposition: "inline; filename=\"a.png\"".into(),
        };
        let url = s.store.presign_download(&k, &headers, MINUTE).await.expect("presign get");
        let response = reqwest::get(&url).await.expect("GET");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "image/png");
        assert_eq!(response.headers()["content-disposition"], "inline; filename=\"a.png\"");
        assert_eq!(response.bytes().await.expect("body").to_vec(), PNG.to_vec());

        s.store.delete(&k).await.expect("delete");
        assert_eq!(s.store.head(&k).await.expect("head"), None);
        s.store.delete(&k).await.expect("deleting a missing object is fine");
    }

    pub async fn the_server_refuses_what_was_not_signed(s: Served) {
        let k = key("B");
        let upload = ticket(&s.store.presign_upload(&k, "image/png", PNG.len() as u64, MINUTE).await.expect("presign"));
        let mut longer = PNG.to_vec();
        longer.push(0);
        assert_eq!(put(&upload, longer, None).await, 403, "a different length");
        assert_eq!(put(&upload, PNG.to_vec(), Some("text/html")).await, 403, "a different type");
        let mut tampered = upload.clone();
        let url = upload["url"].as_str().expect("url");
        tampered["url"] = json!(url.replace("/tenants/t1/uploads/B", "/tenants/t2/uploads/B"));
        assert_eq!(put(&tampered, PNG.to_vec(), None).await, 403, "another key");
        let mut bad_signature = upload.clone();
        let last = url.chars().last().expect("char");
        bad_signature["url"] = json!(format!("{}{}", &url[..url.len() - 1], if last == '0' { '1' } else { '0' }));
        assert_eq!(put(&bad_signature, PNG.to_vec(), None).await, 403, "a tampered signature");
        assert_eq!(s.store.head(&k).await.expect("head"), None, "nothing was stored");

        let expiring = ticket(
            &s.store.presign_upload(&k, "image/png", PNG.len() as u64, Duration::from_secs(1)).await.expect("presign"),
        );
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_eq!(put(&expiring, PNG.to_vec(), None).await, 403, "an expired URL");
        assert_eq!(s.store.head(&k).await.expect("head"), None);
    }

    pub async fn get_and_put_object_copy_an_object_whole(s: Served) {
        let (source, copy) = (key("source"), key("copy"));
        assert_eq!(s.store.get_object(&source).await.expect("get"), None, "nothing there yet");
        let upload = s.store.presign_upload(&source, "image/png", PNG.len() as u64, MINUTE).await.expect("presign");
        assert_eq!(put(&ticket(&upload), PNG.to_vec(), None).await, 200);
        let (bytes, content_type) = s.store.get_object(&source).await.expect("get").expect("uploaded");
        assert_eq!((bytes.as_slice(), content_type.as_deref()), (PNG, Some("image/png")));

        s.store.put_object(&copy, bytes, content_type.as_deref()).await.expect("put");
        let info = s.store.head(&copy).await.expect("head").expect("copied");
        assert_eq!((info.length, info.content_type.as_deref()), (PNG.len() as u64, Some("image/png")));
        assert_eq!(s.store.get_object(&copy).await.expect("get").map(|(b, _)| b), Some(PNG.to_vec()));
        // A put replaces what is there (a repeated copy after a crash is harmless).
        s.store.put_object(&copy, PNG[..8].to_vec(), Some("image/png")).await.expect("replace");
        assert_eq!(s.store.head(&copy).await.expect("head").map(|i| i.length), Some(8));
    }

    pub async fn a_copy_keeps_the_bytes_of_its_moment(s: Served) {
        let (upload_key, pinned) = (key("C"), ObjectKey::pinned(&tenant("t1"), "C", "copy-1"));
        assert!(!s.store.copy(&upload_key, &pinned).await.expect("copy"), "nothing to copy yet");
        assert_eq!(s.store.head(&pinned).await.expect("head"), None);
        let upload =
            ticket(&s.store.presign_upload(&upload_key, "image/png", PNG.len() as u64, MINUTE).await.expect("presign"));
        assert_eq!(put(&upload, PNG.to_vec(), None).await, 200);
        assert!(s.store.copy(&upload_key, &pinned).await.expect("copy"));
        let info = s.store.head(&pinned).await.expect("head").expect("copied");
        assert_eq!((info.length, info.content_type.as_deref()), (PNG.len() as u64, Some("image/png")));

        // The URL is still valid: other bytes of the signed type and length replace the upload,
        // never the copy.
        let mut other = PNG.to_vec();
        other[PNG.len() - 1] ^= 0xFF;
        assert_eq!(put(&upload, other.clone(), None).await, 200);
        assert_eq!(s.store.get_object(&upload_key).await.expect("get").map(|(b, _)| b), Some(other));
        assert_eq!(s.store.get_object(&pinned).await.expect("get").map(|(b, _)| b), Some(PNG.to_vec()));
        let headers = DownloadHeaders { content_type: "image/png".into(), content_disposition: "inline".into() };
        let url = s.store.presign_download(&pinned, &headers, MINUTE).await.expect("presign get");
        assert_eq!(reqwest::get(&url).await.expect("GET").bytes().await.expect("body").to_vec(), PNG.to_vec());
    }

    pub async fn delete_prefix_removes_one_tenant_only(s: Served) {
        for (t, id) in [("t1", "1"), ("t1", "2"), ("t1", "3"), ("t10", "4")] {
            let k = ObjectKey::upload(&tenant(t), id);
            let upload = s.store.presign_upload(&k, "image/png", PNG.len() as u64, MINUTE).await.expect("presign");
            assert_eq!(put(&ticket(&upload), PNG.to_vec(), None).await, 200);
        }
        let prefix = keys::media_prefix(&tenant("t1"));
        assert_eq!(s.store.delete_prefix(&prefix).await.expect("delete prefix"), 3);
        assert!(s.store.head(&ObjectKey::upload(&tenant("t1"), "1")).await.expect("head").is_none());
        assert!(s.store.head(&ObjectKey::upload(&tenant("t10"), "4")).await.expect("head").is_some());
        assert_eq!(s.store.delete_prefix(&prefix).await.expect("again"), 0, "idempotent");
    }
}

support::scenarios!(media: [
    upload_head_read_download_delete,
    the_server_refuses_what_was_not_signed,
    get_and_put_object_copy_an_object_whole,
    a_copy_keeps_the_bytes_of_its_moment,
    delete_prefix_removes_one_tenant_only,
]);
