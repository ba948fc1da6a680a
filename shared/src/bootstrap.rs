//! The composition root: builds the adapters a host runs with. Only binaries call this; domain
//! and HTTP code see nothing but the ports.

use std::path::Path;
use std::sync::Arc;

use crate::adapters::admins::{AdminDirectory, CachedAdminDirectory, ConnectAdminDirectory, LocalAdminDirectory};
use crate::adapters::aws::LazyClient;
use crate::adapters::forge_keys::HttpForgeKeys;
use crate::adapters::groups::{CachedGroupDirectory, GroupDirectory, LocalGroupDirectory, ProductGroupDirectory};
use crate::adapters::http::http_client;
use crate::adapters::install_keys::HttpInstallKeys;
use crate::adapters::media::local::LocalMediaStore;
use crate::adapters::media::s3::S3MediaStore;
use crate::adapters::product::connect::ProductClient;
use crate::adapters::product::forge::ForgeProductClient;
use crate::adapters::secrets::kms::KmsMasterKey;
use crate::adapters::secrets::local::{KEYRING_FILE, LocalKeyring};
use crate::adapters::store::dynamo::DynamoItemStore;
use crate::adapters::store::embedded::EmbeddedItemStore;
use crate::domain::access::ProductGroup;
use crate::domain::content::site_config::ConfigCache;
use crate::domain::data::{Data, Stack};
use crate::domain::forge::ForgeRemote;
use crate::domain::regions::{Region, Regions};
use crate::domain::residency::fence::FencedStore;
use crate::domain::tenants::cache::TenantCache;
use crate::kernel::clock::{Clock, OffsetClock, SystemClock, clock_offset_from};
use crate::kernel::config::AppConfig;
use crate::kernel::error::{Error, Result};
use crate::ports::secrets::SecretSealer;
use crate::state::AppState;

/// Lambda: DynamoDB table `CANOPY_TABLE` and bucket `CANOPY_MEDIA_BUCKET` (endpoint overrides
/// `CANOPY_DYNAMODB_ENDPOINT`, `CANOPY_S3_ENDPOINT` for local servers), tenant secrets sealed with
/// the KMS key `CANOPY_SECRETS_KEY_ARN`, install keys over HTTPS, config from the environment.
/// Built once per cold start, with no SDK client yet: each is built at its first call
/// (`aws::LazyClient`), so a cold start pays only for the clients its first request uses.
pub async fn lambda_state() -> Result<AppState> {
    let mut config = AppConfig::from_env(None)?;
    let table = std::env::var("CANOPY_TABLE").map_err(|_| Error::internal("CANOPY_TABLE is not set"))?;
    let bucket = std::env::var("CANOPY_MEDIA_BUCKET").map_err(|_| Error::internal("CANOPY_MEDIA_BUCKET is not set"))?;
    let secrets_key =
        std::env::var("CANOPY_SECRETS_KEY_ARN").map_err(|_| Error::internal("CANOPY_SECRETS_KEY_ARN is not set"))?;
    let sdk = crate::adapters::aws::sdk_config().await;
    let dynamo_endpoint = std::env::var("CANOPY_DYNAMODB_ENDPOINT").ok();
    let s3_endpoint = std::env::var("CANOPY_S3_ENDPOINT").ok();
    // Every region's store is behind the residency write fence (`residency::fence`).
    let tenants = TenantCache::new();
    let store = tenants.watching(FencedStore::wrap(Arc::new(DynamoItemStore::lazy(
        &sdk,
        dynamo_endpoint.as_deref(),
        table.clone(),
    ))));
    let media: Arc<dyn crate::ports::media::MediaStore> =
        Arc::new(S3MediaStore::lazy(&sdk, s3_endpoint.as_deref(), bucket.clone()));
    // Every other region: its table and bucket through clients of its own AWS region.
    let mut regions = Vec::new();
    let mut media_origins = Vec::new();
    let mut kms = std::collections::HashMap::new();
    if let Some(home) = sdk.region() {
        kms.insert(home.to_string(), kms_client(&sdk));
    }
    for spec in &config.regions {
        if spec.name == config.home_region {
            match sdk.region().map(ToString::to_string).or_else(|| spec.aws_region.clone()) {
                Some(aws_region) => {
                    media_origins.push(S3MediaStore::browser_origin(&bucket, &aws_region, s3_endpoint.as_deref()))
                }
                None => tracing::warn!("no AWS region: the console's CSP names no bucket"),
            }
            regions.push(Region { spec: spec.clone(), store: store.clone(), media: media.clone() });
            continue;
        }
        let missing =
            |what: &str| Error::internal(format!("region {} has no {what} (CANOPY_REGION_{what}S)", spec.name));
        let table = spec.table.clone().ok_or_else(|| missing("TABLE"))?;
        let bucket = spec.bucket.clone().ok_or_else(|| missing("BUCKET"))?;
        let aws_region = spec.aws_region.clone().ok_or_else(|| missing("AWS"))?;
        let regional = sdk.to_builder().region(aws_config::Region::new(aws_region.clone())).build();
        media_origins.push(S3MediaStore::browser_origin(&bucket, &aws_region, s3_endpoint.as_deref()));
        kms.entry(aws_region).or_insert_with(|| kms_client(&regional));
        regions.push(Region {
            spec: spec.clone(),
            store: FencedStore::wrap(Arc::new(DynamoItemStore::lazy(&regional, dynamo_endpoint.as_deref(), table))),
            media: Arc::new(S3MediaStore::lazy(&regional, s3_endpoint.as_deref(), bucket)),
        });
    }
    // On Lambda a task spawned by a request is frozen once the response is sent: migrations are
    // driven by the residency worker's schedule instead (functions/residency-worker).
    config.media_origins = media_origins;
    let on_lambda = crate::domain::regions::Settings { auto_drive: false };
    let regions = Regions::new(&config.home_region, regions)?.with_settings(on_lambda);
    let secrets = SecretSealer::new(Arc::new(KmsMasterKey::new(secrets_key, kms)?));
    let http = http_client()?;
    let clock: Arc<dyn Clock> = match clock_offset_from(|name| std::env::var(name).ok()).map_err(Error::internal)? {
        Some(offset_secs) => {
            tracing::warn!(offset_secs, "rehearsal clock: the system clock moved by an offset");
            Arc::new(OffsetClock { offset_secs })
        }
        None => Arc::new(SystemClock),
    };
    let install_keys = HttpInstallKeys::new(&config.connect_keys_url, http.clone(), clock.clone());
    let forge_keys = HttpForgeKeys::new(&config.forge_jwks_url, http.clone(), clock.clone());
    let (admins, groups) = product_directories(&config, http, clock.clone());
    Ok(AppState {
        install_keys: Arc::new(install_keys),
        forge: ForgeRemote::new(Arc::new(forge_keys), clock.clone()),
        admins,
        groups,
        stack: Stack { data: Data { store, clock, secrets }, config: Arc::new(config), media, regions },
        tenants,
        configs: ConfigCache::new(),
    })
}

/// A KMS client of `sdk`'s region, built at its first call.
fn kms_client(sdk: &aws_config::SdkConfig) -> LazyClient<aws_sdk_kms::Client> {
    let sdk = sdk.clone();
    LazyClient::new(move || aws_sdk_kms::Client::new(&sdk))
}

/// The data dir holds the keyring, the media signing key and the store (sealed secrets): made
/// for its user alone (0700), as is every key file in it (0600).
fn create_data_dir(dir: &Path) -> Result<()> {
    crate::kernel::private_fs::create_private_dir_all(dir)
        .map_err(|e| Error::internal(format!("create {}: {e}", dir.display())))
}

/// Where the local server keeps a region other than its home: `<data dir>/region-<name>/`.
pub fn local_region_dir(data_dir: &Path, region: &str) -> std::path::PathBuf {
    data_dir.join(format!("region-{region}"))
}

/// Admin rights and group membership, asked of the product as the app (Connect, or Forge's API
/// gateway) and cached for `CANOPY_ADMIN_CACHE_SECS`: the Lambda functions, and the local server
/// behind a tunnel.
fn product_directories(
    config: &AppConfig,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
) -> (Arc<dyn AdminDirectory>, Arc<dyn GroupDirectory>) {
    let product = ProductClient::new(config.app_key.clone(), config.product_hosts.clone(), http.clone());
    let forge_product = ForgeProductClient::new(&config.forge_api_base_url, http);
    let admins = CachedAdminDirectory::with_ttl_secs(
        ConnectAdminDirectory::new(product.clone()).with_forge(forge_product.clone()),
        clock.clone(),
        config.admin_cache_secs,
    );
    // Membership is cached like admin rights, for the same TTL (`CANOPY_ADMIN_CACHE_SECS`).
    let groups = CachedGroupDirectory::with_ttl_secs(
        ProductGroupDirectory::new(product).with_forge(forge_product),
        clock,
        config.admin_cache_secs,
    );
    (Arc::new(admins), Arc::new(groups))
}

/// Who the local server asks about admin rights and group membership.
pub enum LocalDirectory {
    /// A fixed set of admin accountIds and of group members, the same for every tenant.
    Dev { admins: Vec<String>, members: Vec<(String, Vec<ProductGroup>)> },
    /// The product, as the Lambda functions ask it: the local server behind a tunnel, installed
    /// into a real site.
    Product,
}

impl LocalDirectory {
    /// No admins, no members: the one-shot jobs, which answer no user.
    pub fn nobody() -> Self {
        Self::Dev { admins: Vec::new(), members: Vec::new() }
    }
}

/// Local server: the embedded store, media files and the secret keyring under `data_dir`, install keys and Forge
/// keys over HTTP from `config`, and the directory `directory` names. The local media store is also returned:
/// the local server serves its signed URLs.
pub fn local_state(
    config: AppConfig,
    data_dir: &Path,
    directory: LocalDirectory,
) -> Result<(AppState, LocalMediaStore)> {
    create_data_dir(data_dir)?;
    let store = Arc::new(EmbeddedItemStore::open(&data_dir.join("canopy.redb"))?);
    local_state_over(config, data_dir, directory, store)
}

/// The local server over a given home store (`local_dynamo_store`, or the embedded one); media
/// and other regions stay under `data_dir` as in `local_state`.
pub fn local_state_over(
    mut config: AppConfig,
    data_dir: &Path,
    directory: LocalDirectory,
    store: Arc<dyn crate::ports::store::ItemStore>,
) -> Result<(AppState, LocalMediaStore)> {
    create_data_dir(data_dir)?;
    let tenants = TenantCache::new();
    let store = tenants.watching(FencedStore::wrap(store));
    let secrets = SecretSealer::new(Arc::new(LocalKeyring::open_or_create(&data_dir.join(KEYRING_FILE))?));
    let http = http_client()?;
    let media = LocalMediaStore::open(data_dir, &config.base_url)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let install_keys = HttpInstallKeys::new(&config.connect_keys_url, http.clone(), clock.clone());
    let forge_keys = HttpForgeKeys::new(&config.forge_jwks_url, http.clone(), clock.clone());
    // Other regions live beside the home one (`<data dir>/region-<name>/`), so a migration runs
    // on one machine.
    let mut regions = Vec::new();
    for spec in &config.regions {
        if spec.name == config.home_region {
            regions.push(Region { spec: spec.clone(), store: store.clone(), media: Arc::new(media.clone()) });
            continue;
        }
        let dir = local_region_dir(data_dir, &spec.name);
        create_data_dir(&dir)?;
        regions.push(Region {
            spec: spec.clone(),
            store: FencedStore::wrap(Arc::new(EmbeddedItemStore::open(&dir.join("canopy.redb"))?)),
            media: Arc::new(LocalMediaStore::open(&dir, &spec.base_url)?),
        });
    }
    let regions = Regions::new(&config.home_region, regions)?;
    // Each local region serves its media itself, under its own base URL.
    config.media_origins = std::iter::once(config.base_url.as_str())
        .chain(config.regions.iter().filter(|s| s.name != config.home_region).map(|s| s.base_url.as_str()))
        .map(|url| crate::kernel::config::origin_of(url).to_owned())
        .collect();
    let (admins, groups): (Arc<dyn AdminDirectory>, Arc<dyn GroupDirectory>) = match directory {
        LocalDirectory::Dev { admins, members } => {
            (Arc::new(LocalAdminDirectory::new(admins)), Arc::new(LocalGroupDirectory::new(members)))
        }
        LocalDirectory::Product => product_directories(&config, http, clock.clone()),
    };
    let state = AppState {
        install_keys: Arc::new(install_keys),
        forge: ForgeRemote::new(Arc::new(forge_keys), clock.clone()),
        admins,
        groups,
        stack: Stack {
            data: Data { store, clock, secrets },
            config: Arc::new(config),
            media: Arc::new(media.clone()),
            regions,
        },
        tenants,
        configs: ConfigCache::new(),
    };
    Ok((state, media))
}

/// The local server's home store on DynamoDB (`CANOPY_STORE=dynamodb`): the table is created if
/// missing, as template.yaml declares it. Credentials and region come from the environment; with
/// an endpoint override (DynamoDB Local), missing ones default to a fixed dummy key (DynamoDB
/// Local keeps one database per access key, so a restart finds the same tables) and `us-east-1`.
pub async fn local_dynamo_store(
    endpoint: Option<&str>,
    table: &str,
) -> Result<Arc<dyn crate::ports::store::ItemStore>> {
    let mut loader =
        aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(crate::adapters::aws::https_client());
    let unset = |name: &str| std::env::var_os(name).is_none();
    if endpoint.is_some() && unset("AWS_ACCESS_KEY_ID") {
        let dummy =
            aws_sdk_dynamodb::config::Credentials::new("canopylocal", "canopylocal", None, None, "canopy-local");
        loader = loader.credentials_provider(dummy);
    }
    if endpoint.is_some() && unset("AWS_REGION") && unset("AWS_DEFAULT_REGION") {
        loader = loader.region(aws_config::Region::new("us-east-1"));
    }
    let sdk = loader.load().await;
    let store = DynamoItemStore::new(DynamoItemStore::client(&sdk, endpoint), table);
    store.create_table().await?;
    Ok(Arc::new(store))
}
