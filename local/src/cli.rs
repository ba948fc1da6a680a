//! `canopy-local`'s command line: every setting is a flag that falls back to its environment
//! variable, then to its default, and `--help` lists all three (docs/CONFIGURATION.md is checked
//! against it by `local/tests/black_box/cli.rs`). The server flags are global, so the one-shot
//! jobs take them after their name too (`canopy-local usage-snapshot --data-dir DIR`).

use std::ffi::OsStr;
use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::settings::{DEFAULT_DATA_DIR, DEFAULT_LISTEN, DEFAULT_TABLE};

#[derive(Debug, Parser)]
#[command(
    name = "canopy-local",
    version,
    about = "Canopy on one machine: every function's routes in one process, an embedded store, and dev routes that play Atlassian.",
    after_help = "Without a command it serves: region `us` at --listen and `eu` on the next port. \
                  Each flag falls back to the environment variable shown, then to its default; \
                  a blank variable counts as unset. docs/CONFIGURATION.md has the same settings as a table."
)]
pub struct Cli {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub app: AppArgs,
    #[command(flatten)]
    pub tunnel: TunnelArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Where and how the local server runs (the one-shot jobs open the same data dir or table).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Local server")]
pub struct ServerArgs {
    /// Listen address of the home region (port 0: a free port for each region).
    #[arg(long, env = "CANOPY_LISTEN", value_name = "ADDR", default_value = DEFAULT_LISTEN, global = true)]
    pub listen: String,

    /// Data dir: the embedded store `canopy.redb`, the tenant-secret keyring `secret-keys.json`,
    /// media, and `region-<name>/` for the other local region; created on first start.
    #[arg(long, env = "CANOPY_DATA_DIR", value_name = "DIR", default_value = DEFAULT_DATA_DIR, global = true)]
    pub data_dir: PathBuf,

    /// The app's public base URL: descriptor `baseUrl`, signed-install `aud`, qsh base path
    /// [default: http://<listen>].
    #[arg(long, env = "CANOPY_BASE_URL", value_name = "URL", global = true)]
    pub base_url: Option<String>,

    /// Where signed-install public keys are fetched, as `<url>/<kid>` (Atlassian's:
    /// https://connect-install-keys.atlassian.com) [default: http://<listen>/dev/install-keys].
    #[arg(long, env = "CANOPY_CONNECT_KEYS_URL", value_name = "URL", global = true)]
    pub connect_keys_url: Option<String>,

    /// Also serve region `eu` on the port after the listen port; false serves the home region
    /// alone. Ignored when CANOPY_REGIONS lists the regions.
    #[arg(
        long,
        env = "CANOPY_TWO_REGIONS",
        value_name = "BOOL",
        value_parser = BoolishValueParser::new(),
        num_args = 0..=1,
        default_value = "true",
        default_missing_value = "true",
        overrides_with = "one_region",
        global = true
    )]
    pub two_regions: bool,

    /// Serve the home region alone (the same as --two-regions=false).
    #[arg(long, overrides_with = "two_regions", global = true)]
    pub one_region: bool,

    /// Where items are kept: the embedded file under the data dir, or a DynamoDB table (created
    /// if missing; credentials from the environment, or a dummy key and us-east-1 beside an
    /// endpoint override). Media stay under the data dir.
    #[arg(long, env = "CANOPY_STORE", value_enum, default_value_t = Store::Embedded, global = true)]
    pub store: Store,

    /// DynamoDB endpoint override, e.g. DynamoDB Local [default: AWS].
    #[arg(long, env = "CANOPY_DYNAMODB_ENDPOINT", value_name = "URL", global = true)]
    pub dynamodb_endpoint: Option<String>,

    /// DynamoDB table name (with --store dynamodb).
    #[arg(long, env = "CANOPY_TABLE", value_name = "NAME", default_value = DEFAULT_TABLE, global = true)]
    pub table: String,

    /// Who answers whether an account administers a tenant's site and which groups it is in: the
    /// built-in dev users (dev), or the tenant's product at its baseUrl as a deployment asks it
    /// (product; a loopback http baseUrl can stand in for Confluence or Jira). --tunnel always
    /// asks the product.
    #[arg(long, env = "CANOPY_DIRECTORY", value_enum, default_value_t = Directory::Dev, global = true)]
    pub directory: Directory,

    /// Log filter: a level or `target=level` directives, comma-separated (e.g. warn,canopy_shared=debug).
    #[arg(long = "log", env = "RUST_LOG", value_name = "FILTER", default_value = "info", global = true)]
    pub log: String,
}

impl ServerArgs {
    /// Two regions unless `--one-region` or `--two-regions=false` (the last given wins).
    pub fn two_regions(&self) -> bool {
        self.two_regions && !self.one_region
    }
}

/// Where the local server's admin rights and group memberships come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
// No doc comments on the variants: clap would print `--help` in its long layout.
pub enum Directory {
    // The dev users: the dev admin, the dev user, the dev member in the dev group.
    Dev,
    // The tenant's product, asked as the app at the tenant's baseUrl.
    Product,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Store {
    Embedded,
    Dynamodb,
}

/// The product's settings, the same variables the Lambda functions read (`AppConfig`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Product (the same variables as on Lambda)")]
pub struct AppArgs {
    /// Descriptor `key`: unique per app registered with Atlassian (1-64 of [A-Za-z0-9-._])
    /// [default: canopy; with --tunnel: canopy-dev-<8 random hex digits>, kept in the data dir].
    #[arg(long, env = "CANOPY_APP_KEY", value_name = "KEY", global = true)]
    pub app_key: Option<String>,

    /// This stack's region name.
    #[arg(long, env = "CANOPY_HOME_REGION", value_name = "NAME", default_value = "us", global = true)]
    pub home_region: String,

    /// Every region as name=base URL pairs (us=https://…,eu=https://…); when set, it lists the
    /// regions itself and wins over --two-regions [default: the home region only].
    #[arg(long, env = "CANOPY_REGIONS", value_name = "PAIRS", global = true)]
    pub regions: Option<String>,

    /// Each region's DynamoDB table as name=table pairs [default: the home region's CANOPY_TABLE].
    #[arg(long, env = "CANOPY_REGION_TABLES", value_name = "PAIRS", global = true)]
    pub region_tables: Option<String>,

    /// Each region's media bucket as name=bucket pairs (Lambda) [default: none].
    #[arg(long, env = "CANOPY_REGION_BUCKETS", value_name = "PAIRS", global = true)]
    pub region_buckets: Option<String>,

    /// Each region's AWS region as name=aws-region pairs [default: us=us-east-1,eu=eu-central-1].
    #[arg(long, env = "CANOPY_REGION_AWS", value_name = "PAIRS", global = true)]
    pub region_aws: Option<String>,

    /// Descriptor `regionBaseUrls` as US=https://…,EU=https://…; also accepted as install `aud`
    /// [default: none].
    #[arg(long, env = "CANOPY_REGION_BASE_URLS", value_name = "PAIRS", global = true)]
    pub region_base_urls: Option<String>,

    /// Days from uninstall to purge.
    #[arg(long, env = "CANOPY_PURGE_AFTER_DAYS", value_name = "DAYS", default_value = "30", global = true)]
    pub purge_after_days: String,

    /// Days a site may deny the app access before its tenant counts as uninstalled (1-365).
    #[arg(long, env = "CANOPY_LIVENESS_GRACE_DAYS", value_name = "DAYS", default_value = "14", global = true)]
    pub liveness_grace_days: String,

    /// How long an "is this account a site admin" answer is reused, in seconds (0-3600).
    #[arg(long, env = "CANOPY_ADMIN_CACHE_SECS", value_name = "SECS", default_value = "60", global = true)]
    pub admin_cache_secs: String,

    /// The Forge app (id or ari:cloud:ecosystem::app/<id>) whose invocation tokens are accepted
    /// [default: canopy-dev-app].
    #[arg(long, env = "CANOPY_FORGE_APP_ID", value_name = "ID", global = true)]
    pub forge_app_id: Option<String>,

    /// The Forge environment whose invocation tokens are accepted: development, staging or
    /// production (their app.environment.type).
    #[arg(
        long,
        env = "CANOPY_FORGE_ENVIRONMENT",
        value_name = "ENV",
        default_value = canopy_shared::kernel::config::DEFAULT_FORGE_ENVIRONMENT,
        global = true
    )]
    pub forge_environment: String,

    /// Where Forge invocation-token keys are fetched (Atlassian's:
    /// https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json)
    /// [default: http://<listen>/dev/forge/jwks.json].
    #[arg(long, env = "CANOPY_FORGE_JWKS_URL", value_name = "URL", global = true)]
    pub forge_jwks_url: Option<String>,

    /// Atlassian's API gateway, for product calls as the Forge app.
    #[arg(
        long,
        env = "CANOPY_FORGE_API_BASE_URL",
        value_name = "URL",
        default_value = canopy_shared::kernel::config::DEFAULT_FORGE_API_BASE_URL,
        global = true
    )]
    pub forge_api_base_url: String,

    /// The domains whose sites Canopy calls with the app's JWT; an install baseUrl elsewhere is
    /// refused. Without --tunnel the local server also trusts loopback http and the dev tenants'
    /// domain [default: atlassian.net,jira.com,jira-dev.com,atlassian-dev.net].
    #[arg(long, env = "CANOPY_PRODUCT_HOSTS", value_name = "DOMAINS", global = true)]
    pub product_hosts: Option<String>,
}

impl AppArgs {
    /// The value for one of `AppConfig`'s variables, as the command line has it.
    pub fn lookup(&self, variable: &str) -> Option<String> {
        let value = match variable {
            "CANOPY_APP_KEY" => self.app_key.as_ref(),
            "CANOPY_HOME_REGION" => Some(&self.home_region),
            "CANOPY_REGIONS" => self.regions.as_ref(),
            "CANOPY_REGION_TABLES" => self.region_tables.as_ref(),
            "CANOPY_REGION_BUCKETS" => self.region_buckets.as_ref(),
            "CANOPY_REGION_AWS" => self.region_aws.as_ref(),
            "CANOPY_REGION_BASE_URLS" => self.region_base_urls.as_ref(),
            "CANOPY_PURGE_AFTER_DAYS" => Some(&self.purge_after_days),
            "CANOPY_LIVENESS_GRACE_DAYS" => Some(&self.liveness_grace_days),
            "CANOPY_ADMIN_CACHE_SECS" => Some(&self.admin_cache_secs),
            "CANOPY_FORGE_APP_ID" => self.forge_app_id.as_ref(),
            "CANOPY_FORGE_ENVIRONMENT" => Some(&self.forge_environment),
            "CANOPY_FORGE_JWKS_URL" => self.forge_jwks_url.as_ref(),
            "CANOPY_FORGE_API_BASE_URL" => Some(&self.forge_api_base_url),
            "CANOPY_PRODUCT_HOSTS" => self.product_hosts.as_ref(),
            _ => None,
        };
        value.cloned()
    }
}

/// Installing the local server into your own Atlassian Cloud dev site (`tunnel.rs`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Your own dev site")]
pub struct TunnelArgs {
    /// Start a tunnel client and serve behind it: its https URL becomes the base URL, installs are
    /// verified with Atlassian's install keys, the app key is this data dir's own, one region, no
    /// dev routes; prints the descriptor URL and the "Upload app" steps.
    #[arg(
        long,
        env = "CANOPY_TUNNEL",
        value_name = "BOOL",
        value_parser = BoolishValueParser::new(),
        num_args = 0..=1,
        default_value = "false",
        default_missing_value = "true"
    )]
    pub tunnel: bool,

    /// The tunnel client to start (through sh -c); {listen} and {port} stand for the local
    /// address. Its first bare https origin on stdout or stderr is the tunnel's URL.
    #[arg(long, env = "CANOPY_TUNNEL_COMMAND", value_name = "COMMAND", default_value = crate::tunnel::DEFAULT_TUNNEL_COMMAND)]
    pub tunnel_command: String,

    /// The https URL of a tunnel you started yourself (any client): no client is started.
    /// Implies --tunnel [default: none].
    #[arg(long, env = "CANOPY_TUNNEL_URL", value_name = "URL")]
    pub tunnel_url: Option<String>,
}

impl TunnelArgs {
    pub fn wanted(&self) -> bool {
        self.tunnel || self.tunnel_url.as_ref().is_some_and(|url| !url.trim().is_empty())
    }
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Print the OpenAPI document (docs/openapi.json is this output).
    Openapi,
    /// Run the personal-data reporting job once against the data dir: report the accountIds of
    /// every tenant due and erase closed accounts (stop the server on that data dir first).
    PrivacyReport,
    /// Take the day's usage snapshot once against the data dir; a day already taken is left as
    /// it is (stop the server on that data dir first).
    UsageSnapshot {
        /// The day, yyyy-mm-dd [default: today, UTC].
        #[arg(long, value_name = "DATE")]
        date: Option<String>,
    },
    /// Run the retention sweep once against the data dir, with a progress line (stop the server
    /// on that data dir first).
    RetentionSweep {
        /// Stop after this many seconds; the next run continues.
        #[arg(long, value_name = "SECS", default_value_t = 3600)]
        budget_secs: u64,
    },
    /// Delete one tenant's data now, on the customer's request, with a receipt: a tenant
    /// uninstalled (or moved away) in this data dir's region, not one still installed (stop the
    /// server on that data dir first).
    DeleteTenant {
        /// The tenant's clientKey.
        #[arg(long, value_name = "KEY")]
        client_key: String,
        /// Stop after this many seconds; run the same command again to carry on.
        #[arg(long, value_name = "SECS", default_value_t = 3600)]
        budget_secs: u64,
    },
    /// Ask the running server where a tenant lives and how its migration goes, following a 421
    /// to the tenant's region.
    ResidencyStatus {
        /// The tenant's clientKey.
        #[arg(long, value_name = "KEY", default_value = crate::dev::DEV_CLIENT_KEY)]
        tenant: String,
        /// The server to ask [default: http://<listen>].
        #[arg(long, value_name = "URL")]
        server: Option<String>,
        /// Print a line at each change until no copy or read-only phase is under way.
        #[arg(long)]
        watch: bool,
    },
}

impl Cli {
    /// Parses the process's arguments. A variable set to a blank value counts as unset (as the
    /// Lambda functions read them), so its flag keeps its default.
    pub fn parse_args() -> Self {
        Self::parse_from_args(std::env::args_os())
    }

    pub fn parse_from_args<I, T>(args: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let command = blank_variables_unset(Self::command());
        let matches = command.get_matches_from(args);
        Self::from_arg_matches(&matches).unwrap_or_else(|error| error.exit())
    }
}

fn blank_variables_unset(command: clap::Command) -> clap::Command {
    let blank = |name: &OsStr| std::env::var_os(name).is_some_and(|v| v.to_string_lossy().trim().is_empty());
    let blanks: Vec<_> = command
        .get_arguments()
        .filter(|arg| arg.get_env().is_some_and(blank))
        .map(|arg| arg.get_id().clone())
        .collect();
    command.mut_args(|arg| if blanks.contains(arg.get_id()) { arg.env(None::<&str>) } else { arg })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_last_of_one_region_and_two_regions_wins() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).unwrap().server.two_regions();
        assert!(parse(&["canopy-local", "--one-region", "--two-regions"]));
        assert!(!parse(&["canopy-local", "--two-regions", "--one-region"]));
        assert!(!parse(&["canopy-local", "--two-regions=0"]));
        assert!(!parse(&["canopy-local", "--two-regions", "false"]));
    }

    #[test]
    fn the_directory_is_the_dev_one_unless_product_is_asked_for() {
        assert_eq!(Cli::try_parse_from(["canopy-local"]).unwrap().server.directory, Directory::Dev);
        let cli = Cli::try_parse_from(["canopy-local", "--directory", "product"]).unwrap();
        assert_eq!(cli.server.directory, Directory::Product);
        assert!(Cli::try_parse_from(["canopy-local", "--directory", "ldap"]).is_err());
    }

    #[test]
    fn server_flags_follow_a_job_name() {
        let cli =
            Cli::try_parse_from(["canopy-local", "usage-snapshot", "--data-dir", "/tmp/x", "--date", "2026-01-15"])
                .unwrap();
        assert_eq!(cli.server.data_dir, PathBuf::from("/tmp/x"));
        assert!(matches!(cli.command, Some(Command::UsageSnapshot { date: Some(ref d) }) if d == "2026-01-15"));
    }
}
