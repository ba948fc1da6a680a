//! The AWS master key: a customer-managed KMS key (`CANOPY_SECRETS_KEY_ARN`, template.yaml
//! `SecretsKey`, yearly automatic rotation, which keeps older ciphertexts readable by itself).
//! Kept thin on purpose: the envelope logic it plugs into is tested with the local keyring; this
//! adapter cannot reach KMS in the test environment.
//!
//! The tenant's clientKey goes in as the encryption context: KMS binds it to the wrapped key and
//! CloudTrail records which tenant each Decrypt was for. An envelope copied in by a residency
//! migration names the other region's key ARN: it is unwrapped by a client of that region (the
//! functions that read secrets may Decrypt with `OtherRegionSecretsKeyArn`).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;

use crate::adapters::aws::LazyClient;
use crate::kernel::error::{Error, Result};
use crate::ports::secrets::{DataKey, KEY_LEN, MasterKey, refused};

const CONTEXT_KEY: &str = "tenant";

pub struct KmsMasterKey {
    key_arn: String,
    /// KMS clients by AWS region (`us-east-1`): the home one and every other Canopy region's,
    /// each built at its first call.
    clients: HashMap<String, LazyClient<Client>>,
    home_region: String,
}

/// The AWS region named by a KMS key ARN (`arn:aws:kms:<region>:<account>:key/<id>`).
fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

impl KmsMasterKey {
    /// `clients` must hold one for the key's own region; others unwrap envelopes sealed elsewhere.
    pub fn new(key_arn: String, clients: HashMap<String, LazyClient<Client>>) -> Result<Self> {
        let home_region = arn_region(&key_arn)
            .filter(|r| clients.contains_key(*r))
            .ok_or_else(|| {
                Error::internal(format!("CANOPY_SECRETS_KEY_ARN {key_arn} is not a key ARN of this region"))
            })?
            .to_owned();
        Ok(Self { key_arn, clients, home_region })
    }

    fn client_for(&self, key_id: &str) -> Option<&Client> {
        self.clients.get(arn_region(key_id).unwrap_or(&self.home_region)).map(LazyClient::get)
    }
}

fn kms_down(e: impl std::fmt::Display) -> Error {
    Error::unavailable("kms", e)
}

#[async_trait]
impl MasterKey for KmsMasterKey {
    async fn generate_data_key(&self, context: &str) -> Result<DataKey> {
        let client = self.client_for(&self.key_arn).ok_or_else(|| Error::internal("no KMS client for the key"))?;
        let out = client
            .generate_data_key()
            .key_id(&self.key_arn)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context(CONTEXT_KEY, context)
            .send()
            .await
            .map_err(|e| kms_down(aws_sdk_kms::error::DisplayErrorContext(e)))?;
        let plaintext: [u8; KEY_LEN] = out
            .plaintext()
            .and_then(|b| b.as_ref().try_into().ok())
            .ok_or_else(|| Error::internal("KMS answered no 256-bit data key"))?;
        let wrapped = out.ciphertext_blob().ok_or_else(|| Error::internal("KMS answered no wrapped key"))?;
        let key_id = out.key_id().unwrap_or(&self.key_arn).to_owned();
        Ok(DataKey { key_id, plaintext, wrapped: wrapped.as_ref().to_vec() })
    }

    async fn unwrap_data_key(&self, key_id: &str, wrapped: &[u8], context: &str) -> Result<[u8; KEY_LEN]> {
        let client = self.client_for(key_id).ok_or_else(|| refused(context, "a KMS key of an unknown region"))?;
        let out = client
            .decrypt()
            .key_id(key_id)
            .ciphertext_blob(Blob::new(wrapped))
            .encryption_context(CONTEXT_KEY, context)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(s) if s.is_invalid_ciphertext_exception() || s.is_incorrect_key_exception() => {
                    refused(context, "KMS refused the wrapped key")
                }
                _ => kms_down(aws_sdk_kms::error::DisplayErrorContext(e)),
            })?;
        out.plaintext()
            .and_then(|b| b.as_ref().try_into().ok())
            .ok_or_else(|| refused(context, "KMS answered no 256-bit data key"))
    }
}

#[cfg(test)]
mod tests {
    use super::arn_region;

    #[test]
    fn the_region_comes_from_the_key_arn() {
        assert_eq!(arn_region("arn:aws:kms:eu-central-1:123456789012:key/abcd"), Some("eu-central-1"));
        assert_eq!(arn_region("alias/canopy"), None);
        assert_eq!(arn_region("arn:aws:kms::1:key/x"), None);
    }
}
