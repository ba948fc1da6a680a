//! The `MediaStore` port: objects in the tenant's regional bucket, reached by the browser through
//! presigned URLs so Canopy never proxies the bytes. Two adapters: S3 (`s3.rs`) and local files
//! served by the local server (`local.rs`); one contract suite runs against both.

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use crate::kernel::error::Result;
use crate::kernel::keys;
use crate::kernel::tenant_key::TenantKey;

/// An object key Canopy generated, under `tenants/<tenant>/` (see `keys::media_upload_object`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectKey(pub(crate) String);

impl ObjectKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where the presigned PUT of a tenant's media item writes.
    pub fn upload(tenant: &TenantKey, media_id: &str) -> Self {
        Self(keys::media_upload_object(tenant, media_id))
    }

    /// The checked copy a completed media item serves, which no URL can write.
    pub fn pinned(tenant: &TenantKey, media_id: &str, copy_id: &str) -> Self {
        Self(keys::media_pinned_object(tenant, media_id, copy_id))
    }

    /// A key read back from a record Canopy wrote, refused unless it is under the tenant's prefix.
    pub fn recorded(tenant: &TenantKey, key: &str) -> Option<Self> {
        key.starts_with(&keys::media_prefix(tenant)).then(|| Self(key.to_owned()))
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

    /// Copies the object at `from` to `to` as it is at this moment, with its content type: later
    /// writes to `from` never reach `to`. Answers false when there is nothing at `from`.
    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> Result<bool>;

    /// Stores `bytes` under `key` (replacing any object there), as the residency copy does.
    async fn put_object(&self, key: &ObjectKey, bytes: Vec<u8>, content_type: Option<&str>) -> Result<()>;
}
