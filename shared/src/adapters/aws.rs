//! What every AWS SDK client of a process shares: one HTTPS stack (rustls with ring, so the
//! build carries one TLS implementation) and one `SdkConfig` loaded per cold start.

use aws_config::SdkConfig;
use aws_sdk_dynamodb::config::SharedHttpClient;

pub fn https_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// Region and credentials from the environment (the Lambda role in production).
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https_client()).load().await
}
