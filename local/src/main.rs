//! Canopy's local server: every function's router in one process on 127.0.0.1, over the
//! embedded store under a data dir (or a DynamoDB table, `CANOPY_STORE=dynamodb`), with dev
//! routes that play Atlassian for a dev tenant.

mod cli;
mod dev;
mod document;
mod jobs;
mod residency;
mod retention;
mod settings;
mod tunnel;

use canopy_shared::http;
use canopy_shared::kernel::telemetry;

// A long-running server on many threads: mimalloc took about a fifth less CPU per site-config
// read than glibc's malloc (bench/README.md, "Allocator"). The Lambda functions keep the system
// allocator: one request at a time, where it makes no measurable difference.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse_args();
    telemetry::init_pretty(Some(&cli.server.log));
    let mut settings = settings::Settings::from_cli(&cli.server, &cli.app, &cli.tunnel)?;
    match cli.command {
        Some(cli::Command::Openapi) => {
            document::print();
            return Ok(());
        }
        Some(job) => return jobs::run(job, settings).await,
        None => {}
    }
    let (listener, mut other_listener) = settings.bind().await?;
    // Behind a tunnel the base URL is the tunnel's, known once the client prints it.
    let _tunnel = match settings.exposed {
        true => {
            let tunnel =
                tunnel::open(&cli.tunnel.tunnel_command, cli.tunnel.tunnel_url.as_deref(), &settings.listen).await?;
            settings.behind_tunnel(&tunnel.url)?;
            Some(tunnel)
        }
        false => None,
    };
    let directory = match cli.server.directory {
        cli::Directory::Dev => dev::directory(),
        cli::Directory::Product => canopy_shared::bootstrap::LocalDirectory::Product,
    };
    let (state, local_media) = settings.open_state(directory).await?;
    let address = listener.local_addr()?;
    let mut servers = tokio::task::JoinSet::new();
    servers.spawn(serve(settings.exposed, state.clone(), listener, local_media));

    println!("Canopy local server listening on http://{address}");
    if let Some(warning) = exposure_warning(address, settings.exposed) {
        eprintln!("{warning}");
    }
    println!("  base URL        {}", state.config.base_url);
    println!("  data dir        {}", settings.data_dir.display());
    if let settings::StoreChoice::Dynamo { endpoint, table } = &settings.store {
        println!("  store           DynamoDB table {table} at {}", endpoint.as_deref().unwrap_or("AWS"));
    }
    println!("  install keys    {}", state.config.connect_keys_url);
    if settings.exposed || cli.server.directory == cli::Directory::Product {
        println!("  directory       product: admins and groups asked of each tenant's baseUrl");
    } else {
        println!("  directory       dev users (CANOPY_DIRECTORY=product asks each tenant's product)");
    }
    println!("  app key         {}", state.config.app_key);
    println!("  descriptor      http://{address}/atlassian-connect.json");
    println!("  API document    http://{address}{}", http::openapi::DOCUMENT_PATH);
    if settings.exposed {
        println!("  console         {}{}", state.config.base_url, http::console::CONSOLE_PATH);
        println!("  (behind a tunnel: no dev routes; operator routes closed)");
        print!("{}", tunnel::install_steps(&state.config.base_url, &state.config.app_key));
    } else {
        println!("  dev tenant      curl -s -X POST -H 'content-type: application/json' http://{address}/dev/install");
        println!("  admin console   http://{address}{}", http::console::CONSOLE_PATH);
        println!(
            "  forge keys      {}  (dev FITs: POST http://{address}/dev/forge-token)",
            state.config.forge_jwks_url
        );
        println!("  usage (ops)     http://{address}/ops/usage   jobs: canopy-local privacy-report | usage-snapshot");
    }
    println!("  region {:<8} {} (home region)", state.config.home_region, state.config.base_url);

    // Every other region with a loopback base URL (the second local region, or those
    // `CANOPY_REGIONS` lists) gets a listener of its own over its own store and media, as its
    // stack would have: a migration runs on one machine.
    let mut states = vec![state.clone()];
    for spec in state.config.regions.iter().filter(|s| s.name != state.config.home_region) {
        let Some(listen) = loopback_address(&spec.base_url) else { continue };
        let mut regional = state.with_stack(canopy_shared::domain::residency::acting_in(&state, &spec.name)?);
        let mut config = (*regional.config).clone();
        config.base_url = spec.base_url.clone();
        regional.stack.config = std::sync::Arc::new(config);
        let dir = canopy_shared::bootstrap::local_region_dir(&settings.data_dir, &spec.name);
        let media = canopy_shared::adapters::media::local::LocalMediaStore::open(&dir, &spec.base_url)?;
        let listener = match other_listener.take_if(|bound| bound.local_addr().is_ok_and(|a| a == listen)) {
            Some(bound) => bound,
            None => tokio::net::TcpListener::bind(listen).await?,
        };
        println!("  region {:<8} {} (data under {})", spec.name, spec.base_url, dir.display());
        servers.spawn(serve(false, regional.clone(), listener, media));
        states.push(regional);
    }
    if state.config.regions.len() == 1 && !settings.exposed {
        println!("  (one region: no residency migration; without --one-region it serves two)");
    }
    // Migrations a previous run left in flight finish now (each step is idempotent).
    for state in states {
        tokio::spawn(async move {
            if let Err(error) = canopy_shared::domain::residency::resume_all(&state).await {
                tracing::error!(%error, "resuming residency migrations");
            }
        });
    }
    while let Some(done) = servers.join_next().await {
        done??;
    }
    Ok(())
}

/// Listening beyond loopback puts the dev routes (tokens for any tenant), the open operator routes
/// and the dev admin in reach of the network: said on every start, never silently.
fn exposure_warning(address: std::net::SocketAddr, exposed: bool) -> Option<String> {
    (!address.ip().is_loopback() && !exposed).then(|| {
        format!(
            "WARNING: listening on {address}, which is not a loopback address: anyone who can reach it can \
             mint tokens for any tenant (/dev/…) and call the operator routes. Listen on 127.0.0.1 \
             unless this machine's network is yours alone."
        )
    })
}

/// `http://127.0.0.1:PORT` (or `localhost`): a region this machine serves itself.
fn loopback_address(base_url: &str) -> Option<std::net::SocketAddr> {
    let authority = base_url.strip_prefix("http://")?.trim_end_matches('/');
    let authority = authority.replace("localhost", "127.0.0.1");
    authority.parse::<std::net::SocketAddr>().ok().filter(|a| a.ip().is_loopback())
}

async fn serve(
    exposed: bool,
    state: canopy_shared::state::AppState,
    listener: tokio::net::TcpListener,
    local_media: canopy_shared::adapters::media::local::LocalMediaStore,
) -> anyhow::Result<()> {
    let address = listener.local_addr()?;
    let (routes, _) = match exposed {
        true => document::exposed_routes_and_document(),
        false => document::routes_and_document(address),
    };
    // The stand-in for the bucket gets the same security headers as every other answer.
    let app = http::finish_router(routes.merge(canopy_shared::adapters::media::local::routes(local_media)), state);
    // The socket peer is the client IP locally (per-source limits, the log's `ip`).
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown()).await?;
    Ok(())
}

async fn shutdown() {
    let _ = tokio::signal::ctrl_c().await;
}
