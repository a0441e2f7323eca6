//! The checks written in JavaScript (tests/js), run against a live server: the
//! `graphql-http` GraphQL-over-HTTP audit (zero errors, zero warnings) and GraphiQL in
//! headless Chromium (header template, the save mutation with the dev token, then the
//! `connectionEvents` subscription showing an event a mutation raises).
//! Without Node, the npm packages or Chromium they skip with a notice, unless
//! `REQUIRE_BROWSER=1` (set by CI), which makes the skip a failure.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::helpers::binary::ServerProcess;
use crate::helpers::*;

backend_tests!(the_graphql_over_http_audit_finds_no_error_and_no_warning);

const CHROMIUM: &str = "/usr/bin/chromium";

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/js")
}

/// True when Node and the npm packages (and Chromium when `browser`) are installed;
/// otherwise prints a notice, or panics under `REQUIRE_BROWSER=1`.
fn node_available(browser: bool) -> bool {
    let mut missing = Vec::new();
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_err()
    {
        missing.push("node".to_owned());
    }
    if !js_dir().join("node_modules").is_dir() {
        missing.push(format!(
            "{}/node_modules (run tests/js/setup.sh)",
            js_dir().display()
        ));
    }
    if browser && !std::path::Path::new(CHROMIUM).exists() {
        missing.push(CHROMIUM.to_owned());
    }
    if missing.is_empty() {
        return true;
    }
    let test = std::thread::current().name().unwrap_or("<test>").to_owned();
    assert!(
        std::env::var("REQUIRE_BROWSER").map_or(true, |v| v != "1"),
        "REQUIRE_BROWSER=1 but missing: {}",
        missing.join(", ")
    );
    eprintln!("SKIPPED (missing {}): {test}", missing.join(", "));
    false
}

/// Runs `node <script>` in tests/js with `envs`; its exit status and output.
async fn run_node(script: &str, envs: &[(&str, &str)]) -> (bool, String) {
    let child = Command::new("node")
        .arg(script)
        .current_dir(js_dir())
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("cannot start node");
    let output = tokio::time::timeout(Duration::from_secs(180), child.wait_with_output())
        .await
        .expect("node did not finish within 3 minutes")
        .expect("cannot wait for node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

async fn the_graphql_over_http_audit_finds_no_error_and_no_warning(backend: Backend) {
    if !node_available(false) {
        return;
    }
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let token = app.token("acct-audit", Some(SAMPLE_SPACE));
    let url = app.url("/graphql");
    let envs = [
        ("GRAPHQL_URL", url.as_str()),
        ("TOKEN", &token),
        ("SPACE_GUID", SAMPLE_SPACE),
    ];
    let (ok, output) = run_node("audit.mjs", &envs).await;
    assert!(ok, "the graphql-http audit failed:\n{output}");
    assert!(output.contains(" passed, 0 failed"), "{output}");
    assert!(output.contains("notices (MAY): 0"), "{output}");
}

/// The browser test runs the real binary in dev mode (zero configuration: SQLite and
/// generated keys under a temporary DATA_DIR), as a person trying the service would:
/// the save mutation, then a subscription that shows the event of a delete (SPEC §12).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_runs_a_mutation_and_a_subscription_in_a_real_browser_with_the_dev_token() {
    if !node_available(true) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let process = ServerProcess::start(&[("DATA_DIR", data_dir.to_str().unwrap())])
        .await
        .unwrap_or_else(|error| panic!("spaces-oauth did not start: {error}"));
    let url = process.url("/graphql");
    let screenshot = dir.path().join("graphiql.png");
    let envs = [
        ("GRAPHQL_URL", url.as_str()),
        ("SPACE_GUID", server::devmode::DEV_SPACE),
        ("CHROMIUM", CHROMIUM),
        ("SCREENSHOT", screenshot.to_str().unwrap()),
    ];
    let (ok, output) = run_node("graphiql.mjs", &envs).await;
    if let Ok(keep) = std::env::var("GRAPHIQL_SCREENSHOT") {
        let _ = std::fs::copy(&screenshot, keep);
    }
    let logs = process.stderr();
    let exit = process.stop().await;
    assert!(
        ok,
        "the GraphiQL browser test failed:\n{output}\nserver log:\n{logs}"
    );
    assert!(
        output.contains("the subscription ran from GraphiQL"),
        "{output}"
    );
    assert_eq!(exit.code(), Some(0));
}
