//! The `MediaStore` port: objects in the tenant's regional bucket, reached by the browser through
//! presigned URLs so Canopy never proxies the bytes. Two adapters: S3 (`s3.rs`) and local files
//! served by the local server (`local.rs`); one contract suite runs against both.

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use crate::kernel::error::Result;

/// An object key Canopy generated (`tenants/<tenant>/media/<id>`; see `keys::media_object`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectKey(pub(crate) String);

impl ObjectKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The object of a tenant's media item: the only way to name one (see `keys::media_object`).
    pub fn media(tenant: &crate::kernel::tenant_key::TenantKey, media_id: &str) -> Self {
        Self(crate::kernel::keys::media_object(tenant, media_id))
    }
}

/// What the browser must send to upload: method, URL and the exact headers that were signed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PresignedUpload {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// Unix seconds.
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub length: u64,
    pub content_type: Option<String>,
}

/// How a download must be served: the type and disposition forced on the response.
#[derive(Debug, Clone)]
pub struct DownloadHeaders {
    pub content_type: String,
    pub content_disposition: String,
}

#[async_trait]
pub trait MediaStore: Send + Sync {
    /// A PUT URL bound to this key, content type and exact length, valid for `expires_in`.
    async fn presign_upload(
        &self,
        key: &ObjectKey,
        content_type: &str,
        length: u64,
        expires_in: Duration,
    ) -> Result<PresignedUpload>;

    /// The stored object's size and type, or `None` when nothing was uploaded.
    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>>;

    /// Up to `n` first bytes of the object (a ranged read), to check its format.
    async fn first_bytes(&self, key: &ObjectKey, n: u64) -> Result<Vec<u8>>;

    /// A GET URL valid for `expires_in` whose response carries `headers`.
    async fn presign_download(
        &self,
        key: &ObjectKey,
        headers: &DownloadHeaders,
        expires_in: Duration,
    ) -> Result<String>;

    /// Deletes the object; deleting a missing object is not an error.
    async fn delete(&self, key: &ObjectKey) -> Result<()>;

    /// Deletes every object under `prefix` (the tenant's), in batches; answers how many went.
    async fn delete_prefix(&self, prefix: &str) -> Result<u64>;

    /// The whole object and its content type, or `None` when there is none (residency copies
    /// objects between regions' buckets; media objects are at most a few MB).
    async fn get_object(&self, key: &ObjectKey) -> Result<Option<(Vec<u8>, Option<String>)>>;

    /// Stores `bytes` under `key` (replacing any object there), as the residency copy does.
    async fn put_object(&self, key: &ObjectKey, bytes: Vec<u8>, content_type: Option<&str>) -> Result<()>;
}
