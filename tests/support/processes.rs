//! Private DynamoDB Local and s3s-fs processes that a test may kill and restart.
//!
//! The instances `scripts/test` starts are shared by every test and must never be killed, so
//! fault tests start their own from the same installs: `scripts/test` exports the jar
//! (`CANOPY_TEST_DYNAMODB_JAR`) and the binary (`CANOPY_TEST_S3S_FS_BIN`). Without them the tests
//! fail: they never skip. Each process keeps its data on disk in a temp dir (DynamoDB Local with
//! `-sharedDb -dbPath`, not `-inMemory`), so a restart on the same port finds what was written.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const DYNAMODB_JAR_VAR: &str = "CANOPY_TEST_DYNAMODB_JAR";
pub const S3S_FS_BIN_VAR: &str = "CANOPY_TEST_S3S_FS_BIN";
/// How long a (re)started server may take to answer on a loaded 2-core machine.
const START_TIMEOUT: Duration = Duration::from_secs(90);

fn required_path(var: &str) -> PathBuf {
    match std::env::var(var) {
        Ok(path) if !path.trim().is_empty() && std::path::Path::new(&path).exists() => PathBuf::from(path),
        Ok(path) => panic!("{var}={path} does not exist: run the tests with scripts/test"),
        Err(_) => panic!("{var} is not set: run the tests with scripts/test, which installs the servers"),
    }
}

/// A port free right now on every interface (DynamoDB Local binds them all).
fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0").expect("bind a free port").local_addr().expect("addr").port()
}

/// One server process on a fixed port, restartable with the same arguments.
pub struct Process {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
    pub port: u16,
    child: Option<Child>,
    log: PathBuf,
    /// Times [`Process::kill`] stopped a running server.
    pub kills: u32,
    pub dir: tempfile::TempDir,
}

impl Process {
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGTERM: the server goes away mid-run but closes its files. DynamoDB Local needs this to
    /// keep what it acknowledged (after a SIGKILL it was seen to lose an acknowledged write:
    /// its durability, not Canopy's, which real DynamoDB guarantees on acknowledgement).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill -TERM");
            assert!(status.success(), "kill -TERM {} failed", child.id());
            child.wait().expect("reap");
            self.kills += 1;
        }
    }

    /// SIGKILL, as a crash: no shutdown hook runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill");
            child.wait().expect("reap");
            self.kills += 1;
        }
    }

    /// Starts the server (again) on its port and waits until it answers HTTP.
    pub async fn start(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("log file");
        let child = Command::new(&self.program)
            .args(&self.args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.name));
        self.child = Some(child);
        let started = Instant::now();
        let client = reqwest::Client::new();
        loop {
            let answer = client.get(self.endpoint()).timeout(Duration::from_secs(1)).send().await;
            if answer.is_ok() {
                eprintln!("{} answered after {:.1} s", self.name, started.elapsed().as_secs_f64());
                break;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("{} exited with {status}: {}", self.name, self.tail_log());
            }
            assert!(started.elapsed() < START_TIMEOUT, "{} did not answer: {}", self.name, self.tail_log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn tail_log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A DynamoDB Local of this test's own, persisting to disk.
pub async fn dynamodb_local() -> Process {
    let jar = required_path(DYNAMODB_JAR_VAR);
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let lib = jar.parent().expect("jar dir").join("DynamoDBLocal_lib");
    let args = [
        "-Xms64m",
        "-Xmx256m",
        "-XX:TieredStopAtLevel=1",
        &format!("-Djava.library.path={}", lib.display()),
        "-jar",
        &jar.display().to_string(),
        "-sharedDb",
        "-dbPath",
        &dir.path().display().to_string(),
        "-port",
        &port.to_string(),
        "-disableTelemetry",
    ]
    .map(str::to_owned)
    .to_vec();
    let log = dir.path().join("dynamodb-local.log");
    let mut process =
        Process { name: "DynamoDB Local", program: "java".into(), args, port, child: None, log, kills: 0, dir };
    process.start().await;
    process
}

pub const S3_ACCESS_KEY: &str = "canopyfaults";
pub const S3_SECRET_KEY: &str = "canopyfaultssecret";

/// An s3s-fs of this test's own (checking signatures with its own keys).
pub async fn s3s_fs() -> Process {
    let bin = required_path(S3S_FS_BIN_VAR);
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    let port = free_port();
    let args = [
        "--host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--access-key",
        S3_ACCESS_KEY,
        "--secret-key",
        S3_SECRET_KEY,
        &data.display().to_string(),
    ]
    .map(str::to_owned)
    .to_vec();
    let log = dir.path().join("s3s-fs.log");
    let mut process = Process { name: "s3s-fs", program: bin, args, port, child: None, log, kills: 0, dir };
    process.start().await;
    process
}
