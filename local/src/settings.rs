//! Local server settings: `CANOPY_LISTEN`, `CANOPY_DATA_DIR`, `CANOPY_BASE_URL`,
//! `CANOPY_CONNECT_KEYS_URL`, `CANOPY_STORE`, `CANOPY_DYNAMODB_ENDPOINT`, `CANOPY_TABLE`, each
//! mirrored by a flag (`--listen`, `--data-dir`, `--base-url`, `--connect-keys-url`, `--store`,
//! `--dynamodb-endpoint`, `--table`); a flag wins over the variable. `--two-regions` (or
//! `CANOPY_TWO_REGIONS=1`) runs regions `us` (at the listen address) and `eu` (the next port) in
//! one process, unless `CANOPY_REGIONS` lists the regions itself.

use std::path::PathBuf;

use anyhow::{Context, bail};
use canopy_shared::bootstrap;
use canopy_shared::config::AppConfig;
use canopy_shared::media::local::LocalMediaStore;
use canopy_shared::state::AppState;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = ".canopy-data";
/// The table the local server uses on DynamoDB unless `CANOPY_TABLE` names another.
pub const DEFAULT_TABLE: &str = "canopy-local";

/// Where the local server keeps its items; media always stay under the data dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// The embedded store file `<data dir>/canopy.redb` (the default: nothing to run beside it).
    Embedded,
    /// A DynamoDB table (created if missing), e.g. on DynamoDB Local through `endpoint`.
    Dynamo { endpoint: Option<String>, table: String },
}

pub struct Settings {
    pub listen: String,
    pub data_dir: PathBuf,
    base_url: Option<String>,
    connect_keys_url: Option<String>,
    two_regions: bool,
    pub store: StoreChoice,
}

impl Settings {
    pub fn from_env_and_args(args: impl Iterator<Item = String>) -> anyhow::Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut settings = Self {
            listen: var("CANOPY_LISTEN").unwrap_or_else(|| DEFAULT_LISTEN.into()),
            data_dir: var("CANOPY_DATA_DIR").unwrap_or_else(|| DEFAULT_DATA_DIR.into()).into(),
            base_url: var("CANOPY_BASE_URL"),
            connect_keys_url: var("CANOPY_CONNECT_KEYS_URL"),
            two_regions: var("CANOPY_TWO_REGIONS").is_some_and(|v| v == "1" || v == "true"),
            store: StoreChoice::Embedded,
        };
        let mut store = var("CANOPY_STORE").unwrap_or_else(|| "embedded".into());
        let mut endpoint = var("CANOPY_DYNAMODB_ENDPOINT");
        let mut table = var("CANOPY_TABLE").unwrap_or_else(|| DEFAULT_TABLE.into());
        let mut args = args;
        while let Some(flag) = args.next() {
            let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--listen" => settings.listen = value()?,
                "--data-dir" => settings.data_dir = value()?.into(),
                "--base-url" => settings.base_url = Some(value()?),
                "--connect-keys-url" => settings.connect_keys_url = Some(value()?),
                "--two-regions" => settings.two_regions = true,
                "--store" => store = value()?,
                "--dynamodb-endpoint" => endpoint = Some(value()?),
                "--table" => table = value()?,
                "--help" | "-h" => {
                    println!(
                        "canopy-local [--listen ADDR] [--data-dir DIR] [--base-url URL] [--connect-keys-url URL] \
                         [--two-regions] [--store embedded|dynamodb] [--dynamodb-endpoint URL] [--table NAME]"
                    );
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other}; see --help"),
            }
        }
        settings.store = match store.as_str() {
            "embedded" => StoreChoice::Embedded,
            "dynamodb" if table.trim().is_empty() => bail!("the DynamoDB table name (CANOPY_TABLE, --table) is empty"),
            "dynamodb" => StoreChoice::Dynamo { endpoint, table },
            other => bail!("unknown store {other:?} (CANOPY_STORE, --store): embedded or dynamodb"),
        };
        Ok(settings)
    }

    /// The local composition over the chosen store (the server and the one-shot jobs alike).
    pub async fn open_state(
        &self,
        admins: impl IntoIterator<Item = String>,
    ) -> anyhow::Result<(AppState, LocalMediaStore)> {
        Ok(match &self.store {
            StoreChoice::Embedded => bootstrap::local_state(self.app_config()?, &self.data_dir, admins)?,
            StoreChoice::Dynamo { endpoint, table } => {
                let store = bootstrap::local_dynamo_store(endpoint.as_deref(), table).await?;
                bootstrap::local_state_over(self.app_config()?, &self.data_dir, admins, store)?
            }
        })
    }

    /// The base URL defaults to the listen address; install keys default to the server's own
    /// dev key route, so a dev install verifies without Atlassian. Forge likewise: unless
    /// `CANOPY_FORGE_APP_ID` / `CANOPY_FORGE_JWKS_URL` say otherwise, FITs are those the dev routes
    /// mint, for the dev app, verified against the server's own dev key set.
    pub fn app_config(&self) -> anyhow::Result<AppConfig> {
        let mut config = AppConfig::from_env(Some(&format!("http://{}", self.listen)))?;
        if let Some(base) = &self.base_url {
            config.base_url = base.trim_end_matches('/').to_owned();
        }
        config.connect_keys_url = match &self.connect_keys_url {
            Some(url) => url.clone(),
            None => format!("http://{}/dev/install-keys", self.listen),
        };
        if self.two_regions && config.regions.len() == 1 {
            config.regions = two_regions(&self.listen, &config.home_region, &config.base_url)?;
        }
        if config.forge_app_ari.is_none() {
            config.forge_app_ari = Some(crate::dev::DEV_FORGE_APP_ARI.into());
        }
        if std::env::var("CANOPY_FORGE_JWKS_URL").is_err() {
            config.forge_jwks_url = format!("http://{}{}", self.listen, crate::dev::DEV_FORGE_JWKS_PATH);
        }
        config.validate()?;
        Ok(config)
    }
}

/// The home region at the listen address and the other of `us`/`eu` on the next port.
fn two_regions(listen: &str, home: &str, base_url: &str) -> anyhow::Result<Vec<canopy_shared::regions::RegionSpec>> {
    let address: std::net::SocketAddr =
        listen.parse().with_context(|| format!("--two-regions: {listen} is not host:port"))?;
    let other = if home == "eu" { "us" } else { "eu" };
    let other_address = std::net::SocketAddr::new(address.ip(), address.port() + 1);
    let list = format!("{home}={base_url},{other}=http://{other_address}");
    Ok(canopy_shared::regions::specs_from(home, base_url, Some(&list), None, None, None)?)
}
