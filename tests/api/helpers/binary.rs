//! The real `spaces-oauth` binary as a child process, configured through environment
//! variables set on the child only (never on the test process). For dev mode, the
//! command line, and what the binary writes to stderr.

use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

/// How long a command or a server start may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// `spaces-oauth` with an empty environment except `PATH` and `envs`.
pub fn command(args: &[&str], envs: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_spaces-oauth"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Runs `spaces-oauth <args>` to completion (at most a minute) and returns its output.
pub async fn run(args: &[&str], envs: &[(&str, &str)]) -> Output {
    run_command(command(args, envs)).await
}

/// Like [`run`], with `dir` as the working directory (dev mode's `./data`).
pub async fn run_in(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut command = command(args, envs);
    command.current_dir(dir);
    run_command(command).await
}

async fn run_command(mut command: Command) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start spaces-oauth");
    tokio::time::timeout(TIMEOUT, child.wait_with_output())
        .await
        .expect("spaces-oauth did not finish within a minute")
        .expect("cannot wait for spaces-oauth")
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("cannot find a free port")
        .port()
}

/// A running `spaces-oauth serve` child process.
pub struct ServerProcess {
    child: Child,
    /// `127.0.0.1:<port>` it listens on.
    pub address: String,
    stderr: Arc<Mutex<String>>,
}

impl ServerProcess {
    /// Starts the binary on a free port (`BIND_ADDR` is set here) and waits until
    /// `/healthz` answers; `Err` with its stderr when it exits first.
    pub async fn start(envs: &[(&str, &str)]) -> Result<Self, String> {
        Self::start_with_dir(None, envs).await
    }

    /// Like [`start`](Self::start), with `dir` as the working directory.
    pub async fn start_in(dir: &Path, envs: &[(&str, &str)]) -> Result<Self, String> {
        Self::start_with_dir(Some(dir), envs).await
    }

    async fn start_with_dir(dir: Option<&Path>, envs: &[(&str, &str)]) -> Result<Self, String> {
        let address = format!("127.0.0.1:{}", free_port());
        let mut all: Vec<(&str, &str)> = envs.to_vec();
        all.push(("BIND_ADDR", &address));
        let mut command = command(&[], &all);
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start spaces-oauth");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut lines = BufReader::new(child.stderr.take().expect("stderr is piped")).lines();
        let sink = stderr.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut text = sink.lock().unwrap_or_else(|p| p.into_inner());
                text.push_str(&line);
                text.push('\n');
            }
        });
        let mut process = Self {
            child,
            address,
            stderr,
        };
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            if let Ok(Some(status)) = process.child.try_wait() {
                // Let the reader drain what the process wrote before it exited.
                tokio::time::sleep(Duration::from_millis(200)).await;
                return Err(format!("exited with {status}:\n{}", process.stderr()));
            }
            if let Ok(response) = client.get(process.url("/healthz")).send().await
                && response.status().is_success()
            {
                return Ok(process);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!("did not answer /healthz:\n{}", process.stderr()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Everything the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub async fn stop(mut self) -> ExitStatus {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        let status = tokio::time::timeout(TIMEOUT, self.child.wait())
            .await
            .expect("spaces-oauth did not stop after SIGTERM")
            .expect("cannot wait for spaces-oauth");
        tokio::time::sleep(Duration::from_millis(100)).await;
        status
    }
}
