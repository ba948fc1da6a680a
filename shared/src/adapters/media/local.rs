//! `LocalMediaStore`: the `MediaStore` port over files under the data dir, for the local server.
//! Its "presigned" URLs point at the local server's own `/local-media/…` routes (mounted from
//! [`routes`]) and carry an HMAC over method, key, headers and expiry, so the local flow refuses
//! what S3 would: a different type or length, a changed URL, an expired one.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::kernel::error::{Error, Result};
use crate::kernel::private_fs;
use crate::ports::media::{DownloadHeaders, MediaStore, ObjectInfo, ObjectKey, PresignedUpload};

/// The route prefix the local server serves objects under.
pub const ROUTE_PREFIX: &str = "/local-media";
/// The largest object the local upload route reads (the largest purpose allows 5 MB).
pub const MAX_LOCAL_OBJECT_BYTES: usize = 8 * 1024 * 1024;

#[derive(Clone)]
pub struct LocalMediaStore {
    root: PathBuf,
    base_url: String,
    signing_key: Arc<Vec<u8>>,
}

fn io(e: std::io::Error) -> Error {
    Error::internal(format!("local media: {e}"))
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

impl LocalMediaStore {
    /// Objects under `<data dir>/media`; the signing key is made once and kept in the data dir
    /// (mode 0600, the directories 0700), so URLs stay valid across restarts until they expire.
    pub fn open(data_dir: &Path, base_url: &str) -> Result<Self> {
        let root = data_dir.join("media");
        private_fs::create_private_dir_all(&root).map_err(io)?;
        let key_path = data_dir.join("media-signing.key");
        let signing_key = match std::fs::read(&key_path) {
            Ok(key) if key.len() == 32 => {
                private_fs::restrict(&key_path).map_err(io)?;
                key
            }
            _ => {
                let mut key = vec![0u8; 32];
                getrandom::getrandom(&mut key).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
                private_fs::write_private_file(&key_path, &key).map_err(io)?;
                key
            }
        };
        Ok(Self { root, base_url: base_url.trim_end_matches('/').to_owned(), signing_key: Arc::new(signing_key) })
    }

    fn path_of(&self, key: &str) -> Result<PathBuf> {
        let safe = key.starts_with("tenants/")
            && !key.split('/').any(|segment| segment.is_empty() || segment == "." || segment == "..")
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b':'));
        if !safe {
            return Err(Error::forbidden("bad_signature", "This URL is not a valid media URL."));
        }
        Ok(self.root.join(key))
    }

    fn sign(&self, parts: &[&str]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.signing_key).expect("HMAC takes any key length");
        mac.update(parts.join("\n").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn verify(&self, parts: &[&str], signature: &str, expires: i64) -> Result<()> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.signing_key).expect("HMAC takes any key length");
        mac.update(parts.join("\n").as_bytes());
        let given = hex::decode(signature).map_err(|_| refused("signature is not hex"))?;
        mac.verify_slice(&given).map_err(|_| refused("signature does not match"))?;
        if now_secs() >= expires {
            return Err(refused("URL expired"));
        }
        Ok(())
    }
}

/// S3 answers 403 to a bad or expired signature; so does the local server, in Canopy's format.
fn refused(reason: &str) -> Error {
    tracing::info!(reason, "local media request refused");
    Error::forbidden("bad_signature", "The media URL is invalid, expired, or does not match the request.")
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[async_trait]
impl MediaStore for LocalMediaStore {
    async fn presign_upload(
        &self,
        key: &ObjectKey,
        content_type: &str,
        length: u64,
        expires_in: Duration,
    ) -> Result<PresignedUpload> {
        let expires = now_secs() + expires_in.as_secs() as i64;
        let (length_text, expires_text) = (length.to_string(), expires.to_string());
        let signature = self.sign(&["PUT", key.as_str(), content_type, &length_text, &expires_text]);
        let url = format!(
            "{}{ROUTE_PREFIX}/{}?ct={}&len={length}&exp={expires}&sig={signature}",
            self.base_url,
            key.as_str(),
            encode(content_type)
        );
        let headers =
            vec![("content-type".to_owned(), content_type.to_owned()), ("content-length".to_owned(), length_text)];
        Ok(PresignedUpload { method: "PUT", url, headers, expires_at: expires })
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectInfo>> {
        let path = self.path_of(key.as_str())?;
        let Ok(meta) = tokio::fs::metadata(&path).await else { return Ok(None) };
        let content_type = tokio::fs::read_to_string(path.with_extension("type")).await.ok();
        Ok(Some(ObjectInfo { length: meta.len(), content_type }))
    }

    async fn first_bytes(&self, key: &ObjectKey, n: u64) -> Result<Vec<u8>> {
        use tokio::io::AsyncReadExt;
        let file = tokio::fs::File::open(self.path_of(key.as_str())?).await.map_err(io)?;
        let mut bytes = Vec::new();
        file.take(n).read_to_end(&mut bytes).await.map_err(io)?;
        Ok(bytes)
    }

    async fn presign_download(
        &self,
        key: &ObjectKey,
        headers: &DownloadHeaders,
        expires_in: Duration,
    ) -> Result<String> {
        let expires = now_secs() + expires_in.as_secs() as i64;
        let expires_text = expires.to_string();
        let signature =
            self.sign(&["GET", key.as_str(), &headers.content_type, &headers.content_disposition, &expires_text]);
        Ok(format!(
            "{}{ROUTE_PREFIX}/{}?rct={}&rcd={}&exp={expires}&sig={signature}",
            self.base_url,
            key.as_str(),
            encode(&headers.content_type),
            encode(&headers.content_disposition)
        ))
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        let path = self.path_of(key.as_str())?;
        for file in [path.clone(), path.with_extension("type")] {
            match tokio::fs::remove_file(&file).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(e)),
            }
        }
        Ok(())
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        // Another sweep may delete the same files at the same time: what is already gone is
        // simply not counted.
        fn gone(e: &std::io::Error) -> bool {
            e.kind() == std::io::ErrorKind::NotFound
        }
        let dir = self.path_of(prefix.trim_end_matches('/'))?;
        let mut deleted = 0;
        let mut pending = vec![dir.clone()];
        while let Some(current) = pending.pop() {
            let Ok(mut entries) = tokio::fs::read_dir(&current).await else { continue };
            loop {
                let entry = match entries.next_entry().await {
                    Ok(Some(entry)) => entry,
                    Ok(None) => break,
                    Err(e) if gone(&e) => break,
                    Err(e) => return Err(io(e)),
                };
                let path = entry.path();
                match entry.file_type().await {
                    Ok(kind) if kind.is_dir() => pending.push(path),
                    Ok(_) => match tokio::fs::remove_file(&path).await {
                        Ok(()) => deleted += u64::from(path.extension().is_none_or(|e| e != "type")),
                        Err(e) if gone(&e) => {}
                        Err(e) => return Err(io(e)),
                    },
                    Err(e) if gone(&e) => {}
                    Err(e) => return Err(io(e)),
                }
            }
        }
        let _ = tokio::fs::remove_dir_all(&dir).await;
        Ok(deleted)
    }

    async fn get_object(&self, key: &ObjectKey) -> Result<Option<(Vec<u8>, Option<String>)>> {
        let path = self.path_of(key.as_str())?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some((bytes, tokio::fs::read_to_string(path.with_extension("type")).await.ok()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> Result<bool> {
        // Read whole, then written aside and renamed: an upload replacing `from` meanwhile is
        // either in the copy entirely or not at all (the upload route renames too).
        let Some((bytes, content_type)) = self.get_object(from).await? else { return Ok(false) };
        self.put_object(to, bytes, content_type.as_deref()).await?;
        Ok(true)
    }

    async fn put_object(&self, key: &ObjectKey, bytes: Vec<u8>, content_type: Option<&str>) -> Result<()> {
        let path = self.path_of(key.as_str())?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io)?;
        }
        // Written aside and renamed, so a reader never sees half an object.
        let partial = path.with_extension("partial");
        tokio::fs::write(&partial, &bytes).await.map_err(io)?;
        match content_type {
            Some(content_type) => tokio::fs::write(path.with_extension("type"), content_type).await.map_err(io)?,
            None => {
                let _ = tokio::fs::remove_file(path.with_extension("type")).await;
            }
        }
        tokio::fs::rename(&partial, &path).await.map_err(io)
    }
}

#[derive(Deserialize)]
struct UploadQuery {
    ct: String,
    len: u64,
    exp: i64,
    sig: String,
}

#[derive(Deserialize)]
struct DownloadQuery {
    rct: String,
    rcd: String,
    exp: i64,
    sig: String,
}

/// The local server's stand-in for the bucket: signed PUT and GET of objects.
pub fn routes<S: Clone + Send + Sync + 'static>(store: LocalMediaStore) -> Router<S> {
    Router::new()
        .route(&format!("{ROUTE_PREFIX}/{{*key}}"), get(download).put(upload))
        .layer(DefaultBodyLimit::max(MAX_LOCAL_OBJECT_BYTES))
        .with_state(store)
}

async fn upload(
    State(store): State<LocalMediaStore>,
    UrlPath(key): UrlPath<String>,
    query: std::result::Result<Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode> {
    let Query(q) = query.map_err(|_| refused("missing signature parameters"))?;
    let (length_text, expires_text) = (q.len.to_string(), q.exp.to_string());
    store.verify(&["PUT", &key, &q.ct, &length_text, &expires_text], &q.sig, q.exp)?;
    let sent_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if sent_type != q.ct {
        return Err(refused("content type differs from the signed one"));
    }
    if body.len() as u64 != q.len {
        return Err(refused("content length differs from the signed one"));
    }
    let path = store.path_of(&key)?;
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(io)?;
    }
    let temp = path.with_extension("partial");
    tokio::fs::write(&temp, &body).await.map_err(io)?;
    tokio::fs::write(path.with_extension("type"), &q.ct).await.map_err(io)?;
    tokio::fs::rename(&temp, &path).await.map_err(io)?;
    Ok(StatusCode::OK)
}

async fn download(
    State(store): State<LocalMediaStore>,
    UrlPath(key): UrlPath<String>,
    query: std::result::Result<Query<DownloadQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response> {
    let Query(q) = query.map_err(|_| refused("missing signature parameters"))?;
    let expires_text = q.exp.to_string();
    store.verify(&["GET", &key, &q.rct, &q.rcd, &expires_text], &q.sig, q.exp)?;
    let bytes =
        tokio::fs::read(store.path_of(&key)?).await.map_err(|_| Error::not_found("not_found", "No such object."))?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    for (name, value) in [(header::CONTENT_TYPE, &q.rct), (header::CONTENT_DISPOSITION, &q.rcd)] {
        headers.insert(name, HeaderValue::from_str(value).map_err(|_| refused("bad response header"))?);
    }
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; sandbox"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300"));
    Ok(response)
}
