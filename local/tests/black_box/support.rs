//! What the black-box tests of the real `canopy-local` binary share: the binary on a free
//! loopback port over a data dir, stopped when dropped. It starts the way the README starts it:
//! two regions, `us` on that port and `eu` on the next one.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a server may take to listen: DynamoDB Local's first table can be slow on a busy
/// machine.
const LISTEN_WITHIN: Duration = Duration::from_secs(30);

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Two free ports in a row: the server's second region listens on the port after its own.
pub fn free_port_pair() -> u16 {
    for _ in 0..50 {
        let port = free_port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no two free loopback ports in a row");
}

/// The binary over `data_dir`, without the caller's Canopy settings (base URL, install keys,
/// regions) leaking in; the test adds its own and calls [`start`].
pub fn command(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_canopy-local"));
    command.env("CANOPY_DATA_DIR", data_dir);
    for name in ["CANOPY_BASE_URL", "CANOPY_CONNECT_KEYS_URL", "CANOPY_REGIONS", "CANOPY_TWO_REGIONS"] {
        command.env_remove(name);
    }
    command
}

/// Starts `command` listening on a free port (and the next, for the second region); answers once
/// it accepts connections, by when both regions' listeners are bound.
pub fn start(mut command: Command) -> Server {
    let port = free_port_pair();
    let child = command
        .env("CANOPY_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start canopy-local");
    let mut server = Server { child, base: format!("http://127.0.0.1:{port}") };
    let deadline = Instant::now() + LISTEN_WITHIN;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        if let Some(status) = server.child.try_wait().expect("wait") {
            panic!("canopy-local exited with {status} before listening");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("canopy-local did not listen on {port} within {LISTEN_WITHIN:?}");
}

/// POSTs `body` as JSON, with `token` as a Connect JWT; answers the status and the JSON body
/// (`null` when empty).
pub async fn post(client: &reqwest::Client, url: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = client.post(url).json(body);
    if let Some(token) = token {
        request = request.header("authorization", format!("JWT {token}"));
    }
    let response = request.send().await.expect("send");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON body") })
}
