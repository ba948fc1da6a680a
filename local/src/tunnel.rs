//! `canopy-local --tunnel`: the local server installed into your own Atlassian Cloud dev site, as
//! atlassian-connect-express's users get with its tunnel. The tunnel client (cloudflared by
//! default, any other by `--tunnel-command`, or none with `--tunnel-url`) gives a public https
//! URL; the server takes it as its base URL, verifies installs with Atlassian's install keys under
//! an app key of its own, and prints the descriptor URL and the "Upload app" steps.
//!
//! What a tunnel exposes is the product only: no dev routes (they mint tokens for any tenant),
//! and the operator routes refuse every request (they need API Gateway's IAM identity), as on
//! AWS. docs/DEVELOPING.md has the walk-through.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use canopy_shared::kernel::private_fs;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// cloudflared's quick tunnels need no account; its npm package fetches the binary on first use.
pub const DEFAULT_TUNNEL_COMMAND: &str = "npx --yes cloudflared@0.7.3 tunnel --no-autoupdate --url http://{listen}";
/// How long the tunnel client may take to print its URL (a first `npx` download included).
const URL_WITHIN: Duration = Duration::from_secs(120);
/// Where the app key of this data dir's dev-site app is kept, so a restart keeps the same app.
const APP_KEY_FILE: &str = "dev-site-app-key";
const APP_KEY_PREFIX: &str = "canopy-dev-";

/// A running tunnel client; dropping it stops the client.
pub struct Tunnel {
    pub url: String,
    _client: Option<Child>,
}

/// The tunnel's public URL: `given` as it is, or the first bare https origin the client started
/// from `command` prints (`{listen}` and `{port}` stand for the local server's address).
pub async fn open(command: &str, given: Option<&str>, listen: &str) -> anyhow::Result<Tunnel> {
    if let Some(url) = given {
        let url = url.trim_end_matches('/');
        if bare_https_origin(url).is_none() {
            bail!("--tunnel-url {url}: an https origin, e.g. https://example.trycloudflare.com");
        }
        return Ok(Tunnel { url: url.to_owned(), _client: None });
    }
    let port = listen.rsplit_once(':').map_or("", |(_, port)| port);
    let command = command.replace("{listen}", listen).replace("{port}", port);
    println!("Starting the tunnel client: {command}");
    let mut child = Command::new("sh")
        .args(["-c", &command])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting the tunnel client ({command})"))?;
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    let stdout = child.stdout.take().context("the tunnel client's stdout")?;
    let stderr = child.stderr.take().context("the tunnel client's stderr")?;
    // Both streams are read to their end, so the client never blocks on a full pipe.
    for stream in [Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Unpin + Send>, Box::new(stderr)] {
        let tx = lines_tx.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stream).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let _ = tx.send(line);
            }
        });
    }
    drop(lines_tx);
    let mut seen = Vec::new();
    let found = tokio::time::timeout(URL_WITHIN, async {
        while let Some(line) = lines.recv().await {
            tracing::debug!(target: "tunnel", "{line}");
            if let Some(url) = line.split_whitespace().find_map(bare_https_origin) {
                return Some(url);
            }
            seen.push(line);
        }
        None
    })
    .await;
    let last = match seen.iter().rev().take(5).rev().cloned().collect::<Vec<_>>().join("\n  ") {
        lines if lines.trim().is_empty() => "(it printed nothing)".to_owned(),
        lines => lines,
    };
    match found {
        Ok(Some(url)) => {
            // Keep draining the client's output for as long as it runs.
            tokio::spawn(async move { while lines.recv().await.is_some() {} });
            Ok(Tunnel { url, _client: Some(child) })
        }
        Ok(None) => {
            let status = child.wait().await?;
            bail!(
                "the tunnel client exited ({status}) without printing an https URL; its last lines:\n  {last}\n\
                 Start one yourself and pass --tunnel-url, or choose another with --tunnel-command (docs/DEVELOPING.md)"
            )
        }
        Err(_) => {
            bail!("the tunnel client printed no https URL within {} s; its last lines:\n  {last}", URL_WITHIN.as_secs())
        }
    }
}

/// `https://host[:port]` with nothing after it (a word of a line may carry it after `url=` or
/// inside `|…|`): a tunnel's address, not a link to its documentation.
fn bare_https_origin(word: &str) -> Option<String> {
    let at = word.find("https://")?;
    let url = word[at..].trim_end_matches(['|', '"', '\'', ',', ')', '/']);
    let host = &url["https://".len()..];
    let plausible = !host.is_empty()
        && host.contains('.')
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
    plausible.then(|| url.to_owned())
}

/// The app key of this data dir's dev-site app: made once (`canopy-dev-` and 8 random hex
/// digits), then read back, so every restart is the same app to Atlassian and two developers'
/// apps on one site never collide.
pub fn app_key(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join(APP_KEY_FILE);
    if let Ok(key) = std::fs::read_to_string(&path) {
        let key = key.trim().to_owned();
        if key.starts_with(APP_KEY_PREFIX) && key.len() <= 64 {
            return Ok(key);
        }
        bail!("{} holds {key:?}, not an app key: remove the file to make a new one", path.display());
    }
    let mut random = [0u8; 4];
    getrandom::getrandom(&mut random).map_err(|e| anyhow::anyhow!("no randomness for the app key: {e}"))?;
    let key = format!("{APP_KEY_PREFIX}{}", hex::encode(random));
    private_fs::create_private_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    private_fs::write_private_file(&path, format!("{key}\n").as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(key)
}

/// What to do next, printed once the server listens behind the tunnel.
pub fn install_steps(base_url: &str, app_key: &str) -> String {
    format!(
        "\nInstall it into your own Atlassian Cloud dev site (a free one: http://go.atlassian.com/cloud-dev):\n\
         \x20 descriptor URL  {base_url}/atlassian-connect.json\n\
         \x20 app key         {app_key}\n\
         \x20 1. On the site, as a site admin: Settings (cog) > Apps > Manage apps.\n\
         \x20 2. Under the apps list, Settings: tick \"Enable development mode\", Apply.\n\
         \x20 3. Reload Manage apps, choose \"Upload app\", paste the descriptor URL, Upload.\n\
         \x20 4. Atlassian sends a signed install to {base_url}/lifecycle/installed (verified with its\n\
         \x20    install keys); the app then shows under \"User-installed apps\". Its admin page is Canopy's console.\n\
         \x20 The tunnel URL changes with each start of a quick tunnel: upload the app again then\n\
         \x20 (a new base URL is a re-install; the tenant keeps its data).\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tunnel_url_is_the_first_bare_https_origin() {
        let find = |line: &str| line.split_whitespace().find_map(bare_https_origin);
        assert_eq!(find("INF see https://developers.cloudflare.com/cloudflare-one/connections"), None);
        assert_eq!(find("INF |  https://a-b-c.trycloudflare.com   |"), Some("https://a-b-c.trycloudflare.com".into()));
        assert_eq!(
            find("t=1 msg=\"started tunnel\" url=https://ab12.ngrok-free.app"),
            Some("https://ab12.ngrok-free.app".into())
        );
        assert_eq!(find("your url is: https://calm-fox.loca.lt"), Some("https://calm-fox.loca.lt".into()));
        assert_eq!(find("http://insecure.example.com"), None);
    }

    #[test]
    fn the_app_key_is_made_once_per_data_dir() {
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = app_key(one.path()).unwrap();
        assert!(first.starts_with(APP_KEY_PREFIX) && first.len() == APP_KEY_PREFIX.len() + 8, "{first}");
        assert_eq!(app_key(one.path()).unwrap(), first);
        assert_ne!(app_key(two.path()).unwrap(), first);
    }
}
