//! What every AWS SDK client of a process shares: one HTTPS stack (rustls with ring, so the
//! build carries one TLS implementation, trusting Amazon's roots compiled in) and one
//! `SdkConfig` loaded per cold start.

use std::sync::{Arc, LazyLock, OnceLock};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::{TlsContext, TrustStore};
use base64::Engine;

/// The roots every AWS endpoint's certificate chains to (Amazon Trust Services), by subject
/// common name. Compiled in from Mozilla's root program (`webpki-root-certs`) instead of read
/// from the system store at the first call: reading and parsing Debian's `/etc/ssl/certs` took
/// about 7 ms of a cold start, and the SDK's clients only ever talk to AWS, so no other CA can
/// vouch for an AWS endpoint. The outbound client (`adapters::http`) trusts all of Mozilla's roots.
pub const AWS_ROOTS: [&str; 5] = [
    "Amazon Root CA 1",
    "Amazon Root CA 2",
    "Amazon Root CA 3",
    "Amazon Root CA 4",
    "Starfield Services Root Certificate Authority - G2",
];

/// The certificates of [`AWS_ROOTS`] among Mozilla's roots: a root's name is in its DER as a
/// length byte then the string, so a name can match no longer one (`…CA 1` is not `…CA 10`).
/// Every cold start runs this over all of Mozilla's roots (about 220 KB): a byte-by-byte window
/// comparison took 3 to 5 ms of CPU there, more than anything else a start did; `memmem` does it
/// in a small fraction of that.
pub fn aws_root_certs() -> impl Iterator<Item = &'static [u8]> {
    let names: Vec<memchr::memmem::Finder<'static>> = AWS_ROOTS
        .iter()
        .map(|name| {
            let needle: Vec<u8> = std::iter::once(name.len() as u8).chain(name.bytes()).collect();
            memchr::memmem::Finder::new(&needle).into_owned()
        })
        .collect();
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|cert| cert.as_ref())
        .filter(move |der| names.iter().any(|name| name.find(der).is_some()))
}

/// [`AWS_ROOTS`] as the SDK takes custom roots (PEM; one base64 line each, which its parser reads),
/// encoded once per process.
fn trust_store() -> TrustStore {
    static PEMS: LazyLock<Vec<String>> = LazyLock::new(|| {
        let b64 = base64::engine::general_purpose::STANDARD;
        aws_root_certs()
            .map(|der| format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", b64.encode(der)))
            .collect()
    });
    PEMS.iter().fold(TrustStore::empty(), |store, pem| store.with_pem_certificate(pem.as_bytes()))
}

pub fn https_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
    let tls = TlsContext::builder().with_trust_store(trust_store()).build().expect("a TLS context of valid roots");
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls)
        .build_https()
}

/// Region and credentials from the environment (the Lambda role in production).
pub async fn sdk_config() -> SdkConfig {
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https_client());
    // Lambda hands the role's credentials over in the environment, which the SDK's default chain
    // reads first anyway; naming that provider skips building the chain, whose web-identity
    // provider builds an STS client with its endpoint rules (about 0.5 ms of every cold start).
    // Without both keys (a developer's profile, SSO) the default chain is used as before.
    let in_environment =
        ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"].iter().all(|key| std::env::var_os(key).is_some());
    let loader = if in_environment {
        loader.credentials_provider(aws_config::environment::EnvironmentVariableCredentialsProvider::new())
    } else {
        loader
    };
    loader.load().await
}

/// An SDK client built on its first use. Building a client is not free: the SDK builds a TLS
/// connector to check its HTTP client (roots parsed, rustls configured), and another at the
/// first request. A cold start builds only what its first request calls: the home table's
/// client, and S3, KMS or another region's clients when a request gets to them.
#[derive(Clone)]
pub struct LazyClient<C> {
    client: Arc<OnceLock<C>>,
    build: Arc<dyn Fn() -> C + Send + Sync>,
}

impl<C> LazyClient<C> {
    pub fn new(build: impl Fn() -> C + Send + Sync + 'static) -> Self {
        Self { client: Arc::new(OnceLock::new()), build: Arc::new(build) }
    }

    /// A client built already (tests, examples, the home table).
    pub fn ready(client: C) -> Self
    where
        C: Clone + Send + Sync + 'static,
    {
        let lazy = Self::new(move || client.clone());
        lazy.get();
        lazy
    }

    pub fn get(&self) -> &C {
        self.client.get_or_init(|| (self.build)())
    }
}

impl<C> std::ops::Deref for LazyClient<C> {
    type Target = C;

    fn deref(&self) -> &C {
        self.get()
    }
}

impl<C> std::fmt::Debug for LazyClient<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyClient").field("built", &self.client.get().is_some()).finish()
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    /// The SHA-256 fingerprints Amazon Trust Services publishes for its roots: the selection by
    /// name finds exactly these, so a new `webpki-root-certs` that drops or changes one fails here.
    const FINGERPRINTS: [&str; 5] = [
        "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e", // Amazon Root CA 1
        "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4", // Amazon Root CA 2
        "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4", // Amazon Root CA 3
        "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092", // Amazon Root CA 4
        "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5", // Starfield Services Root CA - G2
    ];

    #[test]
    fn the_sdk_trusts_amazons_five_roots_and_no_other() {
        let mut found: Vec<String> = super::aws_root_certs().map(|der| hex::encode(Sha256::digest(der))).collect();
        found.sort();
        let mut expected = FINGERPRINTS.map(str::to_owned).to_vec();
        expected.sort();
        assert_eq!(found, expected);
    }

    #[test]
    fn a_lazy_client_is_built_once_on_its_first_use() {
        let builds = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = builds.clone();
        let lazy = super::LazyClient::new(move || counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
        let copy = lazy.clone();
        assert_eq!(builds.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing is built before a use");
        assert_eq!((*lazy.get(), *copy.get(), *lazy.get()), (0, 0, 0));
        assert_eq!(builds.load(std::sync::atomic::Ordering::SeqCst), 1, "clones share the one client");
    }
}
