//! The local master key: a keyring file under the data dir (`secret-keys.json`, mode 0600),
//! created with one key on first start. The newest key wraps new data keys; every older key
//! stays to unwrap what it wrapped, so [`LocalKeyring::rotate`] never breaks a tenant.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{KeyInit, OsRng};
use serde::{Deserialize, Serialize};

use crate::kernel::error::{Error, Result};
use crate::ports::secrets::{DataKey, KEY_LEN, MasterKey, open_bytes, refused, seal_bytes};

/// The keyring's file name in the local data dir.
pub const KEYRING_FILE: &str = "secret-keys.json";
/// Key ids in envelopes are `local:<id>`.
const KEY_ID_PREFIX: &str = "local:";
/// Keys a keyring holds; a rotation past it is refused (re-seal and drop old keys first).
pub const MAX_KEYRING_KEYS: usize = 100;

#[derive(Clone, Serialize, Deserialize)]
struct StoredKey {
    id: u32,
    key: String,
}

#[derive(Serialize, Deserialize, Default)]
struct KeyringFile {
    /// Oldest first; the last one seals.
    keys: Vec<StoredKey>,
}

pub struct LocalKeyring {
    /// (id, key), oldest first.
    keys: Vec<(u32, [u8; KEY_LEN])>,
}

fn io_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::internal(format!("keyring {}: {e}", path.display()))
}

fn read_file(path: &Path) -> Result<Option<KeyringFile>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| io_error(path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path, e)),
    }
}

/// Writes the whole file beside itself, then renames it over: a crash never leaves half a keyring.
fn write_file(path: &Path, file: &KeyringFile) -> Result<()> {
    let tmp: PathBuf = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(file).map_err(Error::internal)?;
    crate::kernel::private_fs::write_private_file(&tmp, &bytes).map_err(|e| io_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_error(path, e))
}

fn new_key(id: u32) -> StoredKey {
    StoredKey { id, key: B64.encode(XChaCha20Poly1305::generate_key(&mut OsRng)) }
}

impl LocalKeyring {
    /// Opens the keyring at `path`, creating it with one fresh key if there is none.
    pub fn open_or_create(path: &Path) -> Result<Self> {
        let file = match read_file(path)? {
            Some(file) => {
                // A keyring made before key files were 0600 is tightened on open.
                crate::kernel::private_fs::restrict(path).map_err(|e| io_error(path, e))?;
                file
            }
            None => {
                let file = KeyringFile { keys: vec![new_key(1)] };
                write_file(path, &file)?;
                tracing::info!(path = %path.display(), "created the local secret keyring");
                file
            }
        };
        Self::parse(path, file)
    }

    /// A keyring of one fresh key that lives only in memory (tests and benchmarks).
    pub fn in_memory() -> Self {
        Self { keys: vec![(1, XChaCha20Poly1305::generate_key(&mut OsRng).into())] }
    }

    fn parse(path: &Path, file: KeyringFile) -> Result<Self> {
        if file.keys.is_empty() {
            return Err(io_error(path, "holds no key"));
        }
        let keys = file
            .keys
            .iter()
            .map(|k| {
                let bytes = B64.decode(&k.key).map_err(|e| io_error(path, format!("key {}: {e}", k.id)))?;
                let key: [u8; KEY_LEN] =
                    bytes.try_into().map_err(|_| io_error(path, format!("key {} is not 256-bit", k.id)))?;
                Ok((k.id, key))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { keys })
    }

    /// Adds a key to the keyring at `path` (created if missing); it seals from the next start on.
    /// Answers the new key's id.
    pub fn rotate(path: &Path) -> Result<String> {
        let mut file = read_file(path)?.unwrap_or_default();
        if file.keys.len() >= MAX_KEYRING_KEYS {
            return Err(Error::invalid(
                "keyring_full",
                format!("The keyring holds {MAX_KEYRING_KEYS} keys, its limit; re-seal and drop old keys first."),
            ));
        }
        let id = file.keys.iter().map(|k| k.id).max().unwrap_or(0) + 1;
        file.keys.push(new_key(id));
        write_file(path, &file)?;
        Ok(format!("{KEY_ID_PREFIX}{id}"))
    }

    /// The id of the key that seals now.
    pub fn current_key_id(&self) -> String {
        let (id, _) = self.keys.last().expect("a keyring is never empty");
        format!("{KEY_ID_PREFIX}{id}")
    }
}

#[async_trait]
impl MasterKey for LocalKeyring {
    async fn generate_data_key(&self, context: &str) -> Result<DataKey> {
        let (_, master) = self.keys.last().ok_or_else(|| Error::internal("empty keyring"))?;
        let plaintext: [u8; KEY_LEN] = XChaCha20Poly1305::generate_key(&mut OsRng).into();
        let wrapped = seal_bytes(master, &plaintext, context.as_bytes())?;
        Ok(DataKey { key_id: self.current_key_id(), plaintext, wrapped })
    }

    async fn unwrap_data_key(&self, key_id: &str, wrapped: &[u8], context: &str) -> Result<[u8; KEY_LEN]> {
        let id: u32 = key_id
            .strip_prefix(KEY_ID_PREFIX)
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| refused(context, "not a local key id"))?;
        let (_, master) =
            self.keys.iter().find(|(k, _)| *k == id).ok_or_else(|| refused(context, "unknown local key"))?;
        let plaintext = open_bytes(master, wrapped, context.as_bytes())
            .ok_or_else(|| refused(context, "the data key does not unwrap"))?;
        plaintext.try_into().map_err(|_| refused(context, "the data key is not 256-bit"))
    }
}
