//! ward behind a real nginx: the `auth_request` block of `docs/deployment.md`,
//! read out of that file, in front of an upstream that echoes the identity
//! headers it receives, with ward served in-process (the shared pieces are in
//! `proxy.rs`, the checks every proxy gets in `proxy_checks.rs`). Everything
//! listens on loopback ports picked at run time; nginx runs without root from
//! a temporary directory.
//!
//! Checks: an allow reaches the upstream with ward's identity and never the
//! client's forged `X-Ward-*`; 401 with `WWW-Authenticate`; 403; 503 for a
//! plugin that spins to its deadline and for one that traps; with ward
//! stopped nginx fails closed with 503 at once, and with ward frozen with 503
//! after the documented `proxy_read_timeout`. No deny ever reaches the
//! upstream. ward runs with a route policy: its 403 (`insufficient-scope`)
//! passes through nginx, and the signed assertion reaches the upstream in
//! place of the client's and verifies with PyJWT.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::proxy::{self, Backend, Proxy, get};
use crate::proxy_checks as checks;
use crate::routes::{assertion_section, verified_by_pyjwt, write_keys};

/// The three addresses the documented block names; the test replaces them.
const DOC_WARD: &str = "127.0.0.1:8181";
const DOC_APP: &str = "127.0.0.1:8080";
const DOC_LISTEN: &str = "listen 80;";
const MARKER: &str = "<!-- tested: tests/all/nginx.rs";

/// The documented block with this run's ports, inside the minimal main
/// config that lets nginx run as any user from `dir`.
fn nginx_config(dir: &Path, listen: u16, backend: &Backend) -> String {
    let block = proxy::substitute(
        &proxy::documented_block(MARKER, "nginx"),
        &[(DOC_WARD, &backend.ward.to_string()), (DOC_APP, &backend.app.to_string()), (DOC_LISTEN, &format!("listen 127.0.0.1:{listen};"))],
    );
    let d = dir.display();
    format!(
        "worker_processes 1;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n\
         access_log {d}/access.log;\n\
         client_body_temp_path {d}/client_body;\n\
         proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi;\n\
         scgi_temp_path {d}/scgi;\n\
         {block}\n\
         }}\n"
    )
}

fn start_nginx(backend: &Backend) -> Proxy {
    let binary = proxy::binary("nginx");
    Proxy::start("nginx", |dir, port| {
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, nginx_config(dir, port, backend)).unwrap();
        let globals = format!("daemon off; pid {}/nginx.pid;", dir.display());
        let mut command = Command::new(&binary);
        command.arg("-p").arg(dir).arg("-c").arg(&conf).args(["-e", "stderr", "-g", &globals]);
        command
    })
}

// ---------------------------------------------------------------- the test

#[test]
fn nginx_auth_request_forwards_only_ward_identities_and_fails_closed() {
    // Before anything slow, so a machine without nginx fails at once.
    proxy::binary("nginx");
    // Route policy on: a catch-all that leaves the plugin to the credential
    // (so every check below holds as without routes), an admin path that
    // needs a scope alice lacks, and order reads with the signed assertion.
    let mut backend = Backend::start_with(|site, config| {
        write_keys(site);
        config["assertion"] = assertion_section();
        config["routes"] = json!({ "proxy": "nginx", "rules": [
            {},
            { "pathPrefix": "/admin", "require": { "scopes": ["orders:admin"] } },
            { "pathPrefix": "/orders", "methods": ["GET"], "plugin": "example-token", "assertion": { "audience": "orders-api", "bindRequest": true } },
        ] });
    });
    let nginx = start_nginx(&backend);

    // The upstream receives ward's assertion, never the client's, and it
    // verifies (PyJWT, the keys ward serves) with the request it came with.
    let echoed = checks::allow_forwards_only_ward_identity(&nginx, &backend, &[("X-Ward-Assertion", "forged-assertion")]);
    let assertion = echoed.upstream_values("x-ward-assertion");
    assert_eq!(assertion.len(), 1, "{}", echoed.body);
    let verified = verified_by_pyjwt(&backend, &assertion[0], "orders-api");
    assert_eq!((&verified["claims"]["sub"], &verified["claims"]["path"]), (&json!(backend.alice), &json!("/orders/42")));
    // A route without the assertion: the client's forged one is dropped too.
    let plain = nginx.get("/", &[("X-Api-Key", "ok:bob"), ("X-Ward-Assertion", "forged-assertion")]);
    assert_eq!(plain.status, 200, "{}", nginx.context("plain allow", &plain));
    assert!(plain.upstream_values("x-ward-assertion").iter().all(String::is_empty), "{}", plain.body);
    // Route policy's 403 passes through nginx and reaches no upstream.
    let hits = backend.hits();
    let admin = nginx.get("/admin/users", &[("Authorization", &format!("Bearer {}", backend.good))]);
    assert_eq!(admin.status, 403, "{}", nginx.context("admin without the scope", &admin));
    assert_eq!(backend.hits(), hits);

    checks::allow_forwards_only_ward_identity(&nginx, &backend, &[]);
    checks::allow_without_scopes_or_labels(&nginx);
    checks::denies_pass_through_and_never_forward(&nginx, &backend);

    // ward's own view: each 503 was the plugin's fault, not nginx's.
    let metrics = get(backend.ward.port(), "/metrics", &[]).body;
    let unavailable = |reason: &str| metrics.contains(&format!("ward_decisions_total{{plugin=\"hostile\",outcome=\"unavailable\",reason=\"{reason}\"}} 1"));
    assert!(unavailable("timeout"), "{metrics}");
    assert!(unavailable("trap"), "{metrics}");
    assert!(metrics.contains("ward_decisions_total{plugin=\"hostile\",outcome=\"deny\",reason=\"plugin:insufficient-scope\"} 1"), "{metrics}");
    assert!(metrics.contains("ward_decisions_total{plugin=\"example-token\",outcome=\"deny\",reason=\"insufficient-scope\"} 1"), "{metrics}");

    // The nginx path never changes the allow: the same token still works.
    assert_eq!(nginx.get("/", &[("Authorization", &format!("Bearer {}", backend.good))]).status, 200);

    // ward down: the block maps an unreachable ward to 503.
    checks::ward_down_fails_closed_at_once(&nginx, &mut backend, 503);
    assert!(nginx.log().contains("Connection refused") || nginx.log().contains("connect() failed"), "nginx log:\n{}", nginx.log());

    // ward frozen: the connect succeeds, so `proxy_read_timeout` is the
    // bound. The subrequest's 504 is a 500 to `auth_request`, which the
    // block turns into 503.
    let read_timeout = proxy::documented_seconds(&proxy::documented_block(MARKER, "nginx"), "proxy_read_timeout");
    let answer = checks::ward_frozen_answers_within(&nginx, &backend, read_timeout);
    assert_eq!(answer.status, 503, "{}", nginx.context("ward frozen", &answer));
    assert_eq!(answer.header("Retry-After"), Some("1"), "{}", nginx.context("ward frozen", &answer));
    assert!(nginx.log().contains("upstream timed out"), "nginx log:\n{}", nginx.log());

    checks::audit_is_clean(&backend);
}
