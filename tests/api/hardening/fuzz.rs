//! SPEC §8 "no input, however malformed, may crash the process or hang a request": a
//! seeded fuzz run throws broken JSON, broken GraphQL, odd unicode, huge and deeply
//! nested values and garbage headers at the server, over POST and GET, and checks that
//! no answer is a 5xx (503 aside), none hangs, and the server still answers after.
//! `FUZZ_SEED` replays a run; `FUZZ_CASES` sets its length.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

backend_tests!(malformed_input_never_gets_a_5xx_and_never_stops_the_server);

/// Characters that break naive text handling.
const ODD: &[&str] = &[
    "\u{0}",
    "\u{1}",
    "\u{7f}",
    "\u{200b}",
    "\u{202e}",
    "\u{feff}",
    "\u{fffd}",
    "\u{ffff}",
    "\u{10ffff}",
    "e\u{301}",
    "😀",
    "👩‍👩‍👧",
    "\\ud800",
    "\\udfff",
    "\\u0000",
    "\"",
    "\\",
    "'",
    "</script>",
    "%00",
    "${x}",
    "\r\n",
    "ǅ",
    "İ",
    "ß",
    "\u{1d54f}",
];

/// GraphQL tokens, for documents that lex but rarely parse.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ":",
    "$",
    "@",
    "...",
    "!",
    "=",
    "|",
    "&",
    "query",
    "mutation",
    "subscription",
    "fragment",
    "on",
    "__typename",
    "__schema",
    "saveIPackInstanceOauthConnectorDetails",
    "IPackInstanceOAuthConnectorDetails",
    "input",
    "id",
    "\"s\"",
    "\"\"\"block\"\"\"",
    "1",
    "-1.5e3",
    "true",
    "null",
    "$input",
    "#comment\n",
    ",",
];

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

fn valid_body() -> String {
    json!({ "query": SAVE, "variables": { "input": save_input(SAMPLE_SPACE) } }).to_string()
}

/// One malformed request body (as bytes: not always UTF-8).
fn body(rng: &mut StdRng) -> Vec<u8> {
    match rng.random_range(0..9) {
        // Random bytes.
        0 => (0..rng.random_range(0..512))
            .map(|_| rng.random())
            .collect(),
        // A valid body with bytes flipped, dropped or inserted.
        1 => {
            let mut bytes = valid_body().into_bytes();
            for _ in 0..rng.random_range(1..8) {
                let at = rng.random_range(0..bytes.len());
                match rng.random_range(0..3) {
                    0 => bytes[at] = rng.random(),
                    1 => {
                        bytes.remove(at);
                    }
                    _ => bytes.splice(at..at, pick(rng, ODD).bytes()).for_each(drop),
                }
            }
            bytes
        }
        // Valid JSON, a document of random tokens.
        2 => {
            let document: Vec<&str> = (0..rng.random_range(1..60))
                .map(|_| pick(rng, TOKENS))
                .collect();
            json!({ "query": document.join(" ") })
                .to_string()
                .into_bytes()
        }
        // Odd unicode in every input value.
        3 => {
            let mut input = save_input(SAMPLE_SPACE);
            for field in [
                "integrationPackInstanceId",
                "processId",
                "envId",
                "connectionId",
                "clientId",
                "clientSecret",
                "oauthConnectorDetails",
            ] {
                let text: String = (0..rng.random_range(1..20))
                    .map(|_| pick(rng, ODD))
                    .collect();
                input[field] = json!(text);
            }
            json!({ "query": SAVE, "variables": { "input": input } })
                .to_string()
                .into_bytes()
        }
        // Huge values (just under the body limit) and huge numbers.
        4 => {
            let size = rng.random_range(1_000..200_000);
            let input = save_input(SAMPLE_SPACE)
                .with("clientId", "x".repeat(size))
                .with("isTokenGenerated", json!(1e300));
            json!({ "query": SAVE, "variables": { "input": input } })
                .to_string()
                .into_bytes()
        }
        // Deeply nested JSON.
        5 => {
            let depth = rng.random_range(100..20_000);
            let mut text = "[".repeat(depth);
            text.push_str(&"]".repeat(depth));
            format!("{{\"query\":\"{{ __typename }}\",\"variables\":{{\"v\":{text}}}}}")
                .into_bytes()
        }
        // Deeply nested GraphQL: selections, lists and objects in arguments.
        6 => {
            let depth = rng.random_range(50..5_000);
            let document = match rng.random_range(0..3) {
                0 => format!("{}{}", "{ a ".repeat(depth), "}".repeat(depth)),
                1 => format!("{{ f(a: {}1{}) }}", "[".repeat(depth), "]".repeat(depth)),
                _ => format!("{{ f(a: {}1{}) }}", "{b: ".repeat(depth), "}".repeat(depth)),
            };
            json!({ "query": document }).to_string().into_bytes()
        }
        // Wrong JSON shapes for the GraphQL-over-HTTP fields.
        7 => {
            let shapes = [
                json!(null),
                json!(1),
                json!("s"),
                json!([]),
                json!([1, 2]),
                json!({}),
                json!(true),
            ];
            let mut request =
                json!({ "query": SAVE, "variables": { "input": save_input(SAMPLE_SPACE) } });
            let field = pick(rng, &["query", "variables", "operationName", "extensions"]);
            request[field] = shapes[rng.random_range(0..shapes.len())].clone();
            if rng.random_bool(0.3) {
                request = json!([request, shapes[rng.random_range(0..shapes.len())].clone()]);
            }
            request.to_string().into_bytes()
        }
        // Many aliases and fragments (complexity).
        _ => {
            let fields: String = (0..rng.random_range(1..400))
                .map(|i| format!("a{i}: __typename "))
                .collect();
            json!({ "query": format!("{{ {fields} }}") })
                .to_string()
                .into_bytes()
        }
    }
}

/// Headers, sometimes garbage (obs-text bytes, huge, wrong schemes).
fn headers(rng: &mut StdRng, token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let odd_value = |rng: &mut StdRng| -> HeaderValue {
        let bytes: Vec<u8> = (0..rng.random_range(0..300))
            .map(|_| rng.random_range(0x20u8..=0xff))
            .filter(|b| *b != 0x7f)
            .collect();
        HeaderValue::from_bytes(&bytes).unwrap_or(HeaderValue::from_static("x"))
    };
    let authorization = match rng.random_range(0..4) {
        0 => odd_value(rng),
        1 => HeaderValue::from_str(&format!("Bearer {token}x")).unwrap(),
        _ => HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    };
    headers.insert("authorization", authorization);
    let space = match rng.random_range(0..4) {
        0 => odd_value(rng),
        _ => HeaderValue::from_static(SAMPLE_SPACE),
    };
    headers.insert(HeaderName::from_static("space_guid"), space);
    let accept = [
        "application/json",
        "application/graphql-response+json",
        "*/*",
        "text/html",
        "x/y;q=0",
        "",
    ];
    headers.insert(
        "accept",
        HeaderValue::from_static(accept[rng.random_range(0..accept.len())]),
    );
    headers
}

async fn malformed_input_never_gets_a_5xx_and_never_stops_the_server(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.rate_limit_rps = 0;
        c.limits.request_timeout_seconds = 10;
    })
    .await
    else {
        return;
    };
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let cases: usize = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let mut rng = StdRng::seed_from_u64(seed);
    let token = app.token("acct-fuzz", Some(SAMPLE_SPACE));
    for case in 0..cases {
        let body = body(&mut rng);
        let headers = headers(&mut rng, &token);
        let request = if rng.random_bool(0.8) {
            app.request(Method::POST, "/graphql")
                .headers(headers)
                .header("content-type", "application/json")
                .body(body.clone())
        } else {
            // URLs stay short (clients and proxies cap them); bodies carry the big cases.
            let query: String = String::from_utf8_lossy(&body).chars().take(4000).collect();
            app.request(Method::GET, "/graphql")
                .headers(headers)
                .query(&[("query", query)])
        };
        let response = tokio::time::timeout(Duration::from_secs(15), request.send())
            .await
            .unwrap_or_else(|_| panic!("case {case} hung (FUZZ_SEED={seed})"))
            .unwrap_or_else(|e| panic!("case {case}: no answer (FUZZ_SEED={seed}): {e}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(
            !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE,
            "case {case} got {status} (FUZZ_SEED={seed}): {text}\nbody: {}",
            String::from_utf8_lossy(&body[..body.len().min(500)])
        );
    }
    let (status, _, _) = app::send(app.request(Method::GET, "/healthz")).await;
    assert_eq!(status, StatusCode::OK, "FUZZ_SEED={seed}");
    let alice = app.tenant("acct-fuzz", SAMPLE_SPACE);
    alice.save(save_input(SAMPLE_SPACE)).await;
    eprintln!("fuzz: {cases} cases, FUZZ_SEED={seed}");
}
