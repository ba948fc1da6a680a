//! `S3MediaStore`: the `MediaStore` port over the region's bucket with aws-sdk-s3. Uploads and
//! downloads are presigned (SigV4): the signed upload carries the content type and exact length
//! as signed headers, so S3 itself refuses any other size or type.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use crate::adapters::aws::LazyClient;
use crate::kernel::error::{Error, Result};
use crate::ports::media::{DownloadHeaders, MediaStore, ObjectInfo, ObjectKey, PresignedUpload};

/// DeleteObjects takes at most 1000 keys.
pub const DELETE_BATCH: usize = 1000;

#[derive(Clone)]
pub struct S3MediaStore {
    client: LazyClient<Client>,
    bucket: String,
}

impl S3MediaStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self { client: LazyClient::ready(client), bucket: bucket.into() }
    }

    /// A store whose client is built at its first call ([`LazyClient`]): the Lambda functions'.
    pub fn lazy(sdk: &aws_config::SdkConfig, endpoint: Option<&str>, bucket: impl Into<String>) -> Self {
        let (sdk, endpoint) = (sdk.clone(), endpoint.map(str::to_owned));
        Self { client: LazyClient::new(move || Self::client(&sdk, endpoint.as_deref())), bucket: bucket.into() }
    }

    /// The origin of this bucket's presigned URLs, as the SDK builds them: virtual-hosted on the
    /// bucket's regional endpoint, or path-style on `endpoint` (a local S3 server). The console's
    /// CSP names it (`AppConfig::media_origins`); `presigned_urls_are_under_the_browser_origin`
    /// holds it to the SDK's real URLs.
    pub fn browser_origin(bucket: &str, aws_region: &str, endpoint: Option<&str>) -> String {
        match endpoint {
            Some(endpoint) => crate::kernel::config::origin_of(endpoint.trim_end_matches('/')).to_owned(),
            None => format!("https://{bucket}.s3.{aws_region}.amazonaws.com"),
        }
    }

    /// A client from the process's shared SDK config; `endpoint` (a local S3 server) also
    /// switches to path-style addressing.
    pub fn client(sdk: &aws_config::SdkConfig, endpoint: Option<&str>) -> Client {
        let mut builder = aws_sdk_s3::config::Builder::from(sdk);
        if let Some(endpoint) = endpoint {
            builder = builder.endpoint_url(endpoint).force_path_style(true);
        }
        Client::from_conf(builder.build())
    }
}

fn presigning(expires_in: Duration) -> Result<PresigningConfig> {
    PresigningConfig::expires_in(expires_in).map_err(Error::internal)
}

fn s3_error<E: std::fmt::Debug>(operation: &'static str, err: aws_sdk_s3::error::SdkError<E>) -> Error {
    use aws_sdk_s3::error::SdkError;
    match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            Error::unavailable("s3", format!("{operation}: {err:?}"))
        }
        SdkError::ServiceError(service) if service.raw().status().is_server_error() => {
            Error::unavailable("s3", format!("{operation}: {err:?}"))
        }
        _ => Error::internal(format!("S3 {operation}: {err:?}")),
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

#[async_trait]
impl MediaStore for S3MediaStore {
    async fn presign_upload(
        &self,
        key: &ObjectKey,
        content_type: &str,
        length: u64,
        expires_in: Duration,
    ) -> Result<PresignedUpload> {
        let length = i64::try_from(length).map_err(Error::internal)?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .content_length(length)
            .presigned(presigning(expires_in)?)
            .await
            .map_err(|e| s3_error("presign PutObject", e))?;
        let headers = request.headers().map(|(name, value)| (name.to_owned(), value.to_owned())).collect();
        Ok(PresignedUpload {
            method: "PUT",
            url: request.uri().to_owned(),
            headers,
            expires_at: now_secs() + expires_in.as_secs() as i64,
        })
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>> {
        match self.client.head_object().bucket(&self.bucket).key(key.as_str()).send().await {
            Ok(out) => Ok(Some(ObjectInfo {
                length: out.content_length().and_then(|l| u64::try_from(l).ok()).unwrap_or(0),
                content_type: out.content_type().map(str::to_owned),
            })),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(err) => Err(s3_error("HeadObject", err)),
        }
    }

    async fn first_bytes(&self, key: &ObjectKey, n: u64) -> Result<Vec<u8>> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .range(format!("bytes=0-{}", n.saturating_sub(1)))
            .send()
            .await
            .map_err(|e| s3_error("GetObject", e))?;
        let bytes = out.body.collect().await.map_err(|e| Error::unavailable("s3", e))?.into_bytes();
        Ok(bytes.iter().take(n as usize).copied().collect())
    }

    async fn presign_download(
        &self,
        key: &ObjectKey,
        headers: &DownloadHeaders,
        expires_in: Duration,
    ) -> Result<String> {
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .response_content_type(&headers.content_type)
            .response_content_disposition(&headers.content_disposition)
            .presigned(presigning(expires_in)?)
            .await
            .map_err(|e| s3_error("presign GetObject", e))?;
        Ok(request.uri().to_owned())
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(|e| s3_error("DeleteObject", e))?;
        Ok(())
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        let mut deleted = 0u64;
        loop {
            // Always list from the start: what was deleted is gone, so this is resumable and
            // never skips keys a concurrent writer added.
            let listing = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .max_keys(DELETE_BATCH as i32)
                .send()
                .await
                .map_err(|e| s3_error("ListObjectsV2", e))?;
            let ids: Vec<ObjectIdentifier> = listing
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
                .collect();
            if ids.is_empty() {
                return Ok(deleted);
            }
            let count = ids.len() as u64;
            let delete = Delete::builder().set_objects(Some(ids)).quiet(true).build().map_err(Error::internal)?;
            let out = self
                .client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| s3_error("DeleteObjects", e))?;
            if let Some(failed) = out.errors().first() {
                return Err(Error::unavailable(
                    "s3",
                    format!("DeleteObjects left {} keys, e.g. {:?}", out.errors().len(), failed.code()),
                ));
            }
            deleted += count;
        }
    }

    async fn get_object(&self, key: &ObjectKey) -> Result<Option<(Vec<u8>, Option<String>)>> {
        let out = match self.client.get_object().bucket(&self.bucket).key(key.as_str()).send().await {
            Ok(out) => out,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
            Err(err) => return Err(s3_error("GetObject", err)),
        };
        let content_type = out.content_type().map(str::to_owned);
        let bytes = out.body.collect().await.map_err(|e| Error::unavailable("s3", e))?.into_bytes();
        Ok(Some((bytes.to_vec(), content_type)))
    }

    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> Result<bool> {
        // CopyObject reads one version of the source: a PUT racing it lands wholly before or
        // wholly after, never in the copy. Keys are Canopy's own (no characters to escape).
        let copied = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(to.as_str())
            .copy_source(format!("{}/{}", self.bucket, from.as_str()))
            .send()
            .await;
        match copied {
            Ok(_) => Ok(true),
            Err(err) if err.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(false),
            Err(err) => Err(s3_error("CopyObject", err)),
        }
    }

    async fn put_object(&self, key: &ObjectKey, bytes: Vec<u8>, content_type: Option<&str>) -> Result<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .set_content_type(content_type.map(str::to_owned))
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| s3_error("PutObject", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};

    fn store(bucket: &str, aws_region: &str, endpoint: Option<&str>) -> S3MediaStore {
        let mut config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(aws_region.to_owned()))
            .credentials_provider(Credentials::new("AKIDEXAMPLE", "secret", None, None, "tests"))
            .http_client(crate::adapters::aws::https_client());
        if let Some(endpoint) = endpoint {
            config = config.endpoint_url(endpoint).force_path_style(true);
        }
        S3MediaStore::new(Client::from_conf(config.build()), bucket)
    }

    #[tokio::test]
    async fn presigned_urls_are_under_the_browser_origin() {
        let key = ObjectKey("tenants/t/uploads/01ABC".into());
        let headers = DownloadHeaders { content_type: "image/png".into(), content_disposition: "inline".into() };
        let minute = Duration::from_secs(60);
        for (bucket, aws_region, endpoint) in [
            ("canopy-media-us", "us-east-1", None),
            ("canopy-media-eu", "eu-central-1", None),
            ("canopy-media-ap", "ap-southeast-2", None),
            ("canopy-media-us", "us-east-1", Some("http://127.0.0.1:9000/")),
        ] {
            let origin = S3MediaStore::browser_origin(bucket, aws_region, endpoint);
            let store = store(bucket, aws_region, endpoint);
            let upload = store.presign_upload(&key, "image/png", 10, minute).await.expect("presign PUT");
            let download = store.presign_download(&key, &headers, minute).await.expect("presign GET");
            for url in [upload.url, download] {
                assert!(url.starts_with(&format!("{origin}/")), "{url} is not under {origin}");
            }
        }
    }
}
