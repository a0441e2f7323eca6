//! A throwaway PostgreSQL cluster owned by one test (`initdb` + `pg_ctl` under a
//! temporary directory, on a free port), so the test can stop and start the database
//! without touching the shared server. As root, the tools run as `postgres` (initdb
//! refuses root). Missing binaries: `None` with a notice, unless `REQUIRE_POSTGRES=1`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::helpers::binary::free_port;

/// A PostgreSQL server in a temporary directory; stopped and removed on drop.
pub struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    dir: tempfile::TempDir,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
}

impl Cluster {
    /// Initializes and starts a cluster; `None` when the PostgreSQL server binaries are
    /// not installed (and `REQUIRE_POSTGRES` is not `1`).
    pub fn start() -> Option<Self> {
        let Some(bin) = bin_dir() else {
            let test = std::thread::current().name().unwrap_or("<test>").to_owned();
            assert!(
                std::env::var("REQUIRE_POSTGRES").map_or(true, |v| v != "1"),
                "REQUIRE_POSTGRES=1 but no /usr/lib/postgresql/*/bin/initdb"
            );
            eprintln!("SKIPPED (no PostgreSQL server binaries): {test}");
            return None;
        };
        let dir = tempfile::tempdir().expect("cannot create a temporary directory");
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("cannot run chown");
            assert!(
                status.success(),
                "cannot give the cluster directory to postgres"
            );
        }
        let cluster = Self {
            data: dir.path().join("data"),
            bin,
            port: free_port(),
            dir,
        };
        let initdb = cluster.bin.join("initdb");
        let output = cluster.run(
            &initdb,
            &[
                "-D",
                path(&cluster.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        assert!(output.status.success(), "initdb failed: {}", text(&output));
        cluster.resume();
        Some(cluster)
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server (again) and waits until it accepts connections.
    pub fn resume(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            path(self.dir.path())
        );
        let log = self.dir.path().join("postgres.log");
        let pg_ctl = self.bin.join("pg_ctl");
        let output = self.run(
            &pg_ctl,
            &[
                "-D",
                path(&self.data),
                "-o",
                &options,
                "-l",
                path(&log),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        assert!(
            output.status.success(),
            "pg_ctl start failed: {}",
            text(&output)
        );
    }

    /// Stops the server at once, as a crash would (`-m immediate`): committed
    /// transactions must survive through the WAL.
    pub fn crash(&self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let output = self.run(
            &pg_ctl,
            &["-D", path(&self.data), "-m", "immediate", "-w", "stop"],
        );
        assert!(
            output.status.success(),
            "pg_ctl stop failed: {}",
            text(&output)
        );
    }

    fn run(&self, program: &Path, args: &[&str]) -> Output {
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        command
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("cannot run a PostgreSQL tool")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let _ = self.run(
            &pg_ctl,
            &["-D", path(&self.data), "-m", "immediate", "stop"],
        );
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding `initdb`.
fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
