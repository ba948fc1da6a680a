//! Signing a JWT with RS256 and a `kid`: the one way Canopy signs Connect install tokens and
//! Forge invocation tokens (the local dev keys, tests).

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use crate::kernel::error::{Error, Result};

/// Signs `claims` with RS256 under the PEM private key, naming `kid` in the header.
pub fn sign_rs256<T: Serialize>(claims: &T, kid: &str, private_key_pem: &[u8]) -> Result<String> {
    let key = EncodingKey::from_rsa_pem(private_key_pem).map_err(Error::internal)?;
    let header = Header { kid: Some(kid.to_owned()), ..Header::new(Algorithm::RS256) };
    jsonwebtoken::encode(&header, claims, &key).map_err(Error::internal)
}
