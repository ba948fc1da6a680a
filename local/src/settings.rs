//! The local server's settings, from its parsed command line (`cli.rs`, where each flag falls back
//! to its `CANOPY_*` variable).
//!
//! Two regions by default: `us` at the listen address and `eu` on the next port, in one process,
//! so a residency migration runs from the plain start command (listen port 0: each region gets a
//! port of the system's choosing). `--one-region` (or `CANOPY_TWO_REGIONS=0`) serves the home
//! region alone; `--two-regions` (`CANOPY_TWO_REGIONS=1`) is the default, still accepted.
//! `CANOPY_REGIONS`, when set, lists the regions itself and wins over both.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use anyhow::{Context, bail};
use canopy_shared::adapters::media::local::LocalMediaStore;
use canopy_shared::bootstrap;
use canopy_shared::kernel::config::AppConfig;
use canopy_shared::state::AppState;
use tokio::net::TcpListener;

use crate::cli::{AppArgs, ServerArgs, Store, TunnelArgs};

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
    /// A second region beside the home one (unless `CANOPY_REGIONS` lists the regions itself).
    two_regions: bool,
    /// `CANOPY_REGIONS` is set: its list is the regions, as on a deployed stack.
    regions_listed: bool,
    /// Where the second region listens, once [`Settings::bind`] has bound it.
    other_region: Option<SocketAddr>,
    pub store: StoreChoice,
    /// The product's settings, as `AppConfig` reads them.
    app: AppArgs,
    /// Behind a tunnel (`--tunnel`): reachable from the internet, so configured as deployed
    /// (Atlassian's install and Forge keys, no dev routes, operator routes closed), one region.
    pub exposed: bool,
}

impl Settings {
    pub fn from_cli(server: &ServerArgs, app: &AppArgs, tunnel: &TunnelArgs) -> anyhow::Result<Self> {
        let nonblank = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
        let exposed = tunnel.wanted();
        if exposed && nonblank(&server.base_url).is_some() {
            bail!("--tunnel sets the base URL to the tunnel's: drop --base-url (CANOPY_BASE_URL)");
        }
        let store = match server.store {
            Store::Embedded => StoreChoice::Embedded,
            Store::Dynamodb if server.table.trim().is_empty() => {
                bail!("the DynamoDB table name (CANOPY_TABLE, --table) is empty")
            }
            Store::Dynamodb => {
                StoreChoice::Dynamo { endpoint: nonblank(&server.dynamodb_endpoint), table: server.table.clone() }
            }
        };
        Ok(Self {
            listen: server.listen.clone(),
            data_dir: server.data_dir.clone(),
            base_url: nonblank(&server.base_url),
            connect_keys_url: nonblank(&server.connect_keys_url),
            two_regions: server.two_regions() && !exposed,
            regions_listed: nonblank(&app.regions).is_some(),
            other_region: None,
            store,
            app: app.clone(),
            exposed,
        })
    }

    /// Binds the home region's listener and, with two regions, the other region's on the next
    /// port (listen port 0: a free port for each). Both are bound before anything serves, so a
    /// taken port stops the start with a clear message instead of half a server. With port 0,
    /// `listen` becomes the bound address, so base URLs and dev key URLs name a real port.
    pub async fn bind(&mut self) -> anyhow::Result<(TcpListener, Option<TcpListener>)> {
        let home = TcpListener::bind(&self.listen).await.with_context(|| format!("listening on {}", self.listen))?;
        let home_address = home.local_addr()?;
        let any_port = self.listen.rsplit_once(':').is_some_and(|(_, port)| port == "0");
        let mut other = None;
        if self.serves_two_regions() {
            let port = if any_port { Some(0) } else { home_address.port().checked_add(1) };
            let port = port.with_context(|| format!("no port after {home_address} for the second region"))?;
            let address = SocketAddr::new(home_address.ip(), port);
            let listener = TcpListener::bind(address).await.with_context(|| {
                format!("listening on {address} for the second local region (the port after the listen port; --one-region serves one region)")
            })?;
            self.other_region = Some(listener.local_addr()?);
            other = Some(listener);
        }
        if any_port {
            self.listen = home_address.to_string();
        }
        Ok((home, other))
    }

    fn serves_two_regions(&self) -> bool {
        self.two_regions && !self.regions_listed
    }

    /// The second region's address: bound by [`Settings::bind`] (the server), else the port after
    /// the listen address, where a running server has it (the one-shot jobs over its data dir).
    fn other_region_address(&self) -> Option<SocketAddr> {
        if !self.serves_two_regions() {
            return None;
        }
        self.other_region.or_else(|| {
            let address = self.listen.to_socket_addrs().ok()?.next()?;
            let port = address.port().checked_add(1).filter(|_| address.port() != 0)?;
            Some(SocketAddr::new(address.ip(), port))
        })
    }

    /// The local composition over the chosen store (the server and the one-shot jobs alike).
    pub async fn open_state(
        &self,
        directory: bootstrap::LocalDirectory,
    ) -> anyhow::Result<(AppState, LocalMediaStore)> {
        // Behind a tunnel the site is real: its admins and groups are asked of the product.
        let directory = if self.exposed { bootstrap::LocalDirectory::Product } else { directory };
        Ok(match &self.store {
            StoreChoice::Embedded => bootstrap::local_state(self.app_config()?, &self.data_dir, directory)?,
            StoreChoice::Dynamo { endpoint, table } => {
                let store = bootstrap::local_dynamo_store(endpoint.as_deref(), table).await?;
                bootstrap::local_state_over(self.app_config()?, &self.data_dir, directory, store)?
            }
        })
    }

    /// Serves behind the tunnel at `url`, under this data dir's own app key unless one is set.
    pub fn behind_tunnel(&mut self, url: &str) -> anyhow::Result<()> {
        self.base_url = Some(url.to_owned());
        if self.app.app_key.as_ref().is_none_or(|key| key.trim().is_empty()) {
            self.app.app_key = Some(crate::tunnel::app_key(&self.data_dir)?);
        }
        Ok(())
    }

    /// A variable `AppConfig` reads, as the command line has it.
    fn lookup(&self, variable: &str) -> Option<String> {
        match variable {
            "CANOPY_BASE_URL" => self.base_url.clone(),
            "CANOPY_CONNECT_KEYS_URL" => self.connect_keys_url.clone(),
            other => self.app.lookup(other),
        }
    }

    /// The base URL defaults to the listen address; install keys default to the server's own
    /// dev key route, so a dev install verifies without Atlassian. Forge likewise: unless
    /// `CANOPY_FORGE_APP_ID` / `CANOPY_FORGE_JWKS_URL` say otherwise, FITs are those the dev routes
    /// mint, for the dev app, verified against the server's own dev key set.
    pub fn app_config(&self) -> anyhow::Result<AppConfig> {
        let mut config = AppConfig::from_lookup(Some(&format!("http://{}", self.listen)), |name| self.lookup(name))?;
        if self.exposed {
            // As deployed: Atlassian's install keys and Forge keys unless set, Forge off unless
            // CANOPY_FORGE_APP_ID names the app.
            config.validate()?;
            return Ok(config);
        }
        config.connect_keys_url = match &self.connect_keys_url {
            Some(url) => url.clone(),
            None => format!("http://{}/dev/install-keys", self.listen),
        };
        if let Some(other) = self.other_region_address() {
            config.regions = two_regions(other, &config.home_region, &config.base_url)?;
        }
        // The local server also trusts loopback `http` sites (a test client standing in for
        // Confluence) and the dev tenants' reserved `.test` domain, which never resolves.
        config.product_hosts = config.product_hosts.with_loopback_http().with_suffix(crate::dev::DEV_SITE_DOMAIN);
        if config.forge_app_ari.is_none() {
            config.forge_app_ari = Some(crate::dev::DEV_FORGE_APP_ARI.into());
        }
        if self.app.lookup("CANOPY_FORGE_JWKS_URL").is_none_or(|url| url.trim().is_empty()) {
            config.forge_jwks_url = format!("http://{}{}", self.listen, crate::dev::DEV_FORGE_JWKS_PATH);
        }
        config.validate()?;
        Ok(config)
    }
}

/// The home region at its base URL and the other of `us`/`eu` at `other`.
fn two_regions(
    other: SocketAddr,
    home: &str,
    base_url: &str,
) -> anyhow::Result<Vec<canopy_shared::kernel::config::regions::RegionSpec>> {
    let name = if home == "eu" { "us" } else { "eu" };
    let list = format!("{home}={base_url},{name}=http://{other}");
    Ok(canopy_shared::kernel::config::regions::specs_from(home, base_url, Some(&list), None, None, None)?)
}
