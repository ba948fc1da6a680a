//! Secret sealer adapters: AWS KMS and the local keyring.

pub mod kms;
pub mod local;
