//! ward behind a real Caddy: the `forward_auth` block of
//! `docs/deployment.md`, read out of that file, in front of an upstream that
//! echoes the identity headers it receives, with ward served in-process (the
//! shared pieces are in `proxy.rs`, the checks every proxy gets in
//! `proxy_checks.rs`). Everything listens on loopback ports picked at run
//! time; Caddy runs as the current user from a temporary directory, with its
//! admin endpoint off and HOME/XDG there, so it writes nothing outside it.
//!
//! Checks: an allow reaches the upstream with ward's identity, and no
//! client-sent `X-Ward-*` (not even a name ward does not set) ever does; an
//! identity without scopes or labels arrives as empty values, not Caddy
//! placeholders; 401 with `WWW-Authenticate`; 403; ward's own 503s; with ward
//! down Caddy answers 502 at once, and with ward frozen 504 after the
//! documented `response_header_timeout` (without it the client would hang).
//! No deny ever reaches the upstream.

use std::process::Command;

use crate::proxy::{self, Backend, Proxy};
use crate::proxy_checks as checks;

/// The three addresses the documented block names; the test replaces them.
const DOC_SITE: &str = "app.example.com";
const DOC_WARD: &str = "127.0.0.1:8181";
const DOC_APP: &str = "127.0.0.1:8080";
const MARKER: &str = "<!-- tested: tests/all/caddy.rs";

fn documented_block() -> String {
    proxy::documented_block(MARKER, "caddyfile")
}

/// The documented block with this run's ports, after global options that
/// keep Caddy on loopback, on plain HTTP and off its admin port (Caddy 2.6
/// has no `persist_config off`: its autosave goes under `XDG_CONFIG_HOME`,
/// which `start_caddy` points into the temporary directory).
fn caddyfile(listen: u16, backend: &Backend) -> String {
    let block = proxy::substitute(
        &documented_block(),
        &[(DOC_SITE, &format!("http://app.test:{listen}")), (DOC_WARD, &backend.ward.to_string()), (DOC_APP, &backend.app.to_string())],
    );
    format!(
        "{{\n\
         admin off\n\
         auto_https off\n\
         default_bind 127.0.0.1\n\
         }}\n\
         {block}\n"
    )
}

fn start_caddy(backend: &Backend) -> Proxy {
    let binary = proxy::binary("caddy");
    Proxy::start("caddy", |dir, port| {
        let config = dir.join("Caddyfile");
        std::fs::write(&config, caddyfile(port, backend)).unwrap();
        let mut command = Command::new(&binary);
        command.args(["run", "--adapter", "caddyfile", "--config"]).arg(&config);
        // Caddy keeps its data (certificates, autosaves) under these.
        command.env("HOME", dir).env("XDG_CONFIG_HOME", dir.join("config")).env("XDG_DATA_HOME", dir.join("data")).env("XDG_CACHE_HOME", dir.join("cache"));
        command
    })
}

#[test]
fn caddy_forward_auth_forwards_only_ward_identities_and_fails_closed_in_bounded_time() {
    // Before anything slow, so a machine without Caddy fails at once.
    proxy::binary("caddy");
    let mut backend = Backend::start();
    let caddy = start_caddy(&backend);

    // `request_header -X-Ward-*` drops even a name ward does not set.
    let answer = checks::allow_forwards_only_ward_identity(&caddy, &backend, &[("X-Ward-Role", "superuser")]);
    assert_eq!(answer.upstream_saw().len(), 6, "only ward's five headers and its (here empty) assertion: {}", answer.body);
    assert_eq!(answer.upstream_values("x-ward-assertion"), vec![""], "{}", answer.body);
    // ward's empty scopes and labels arrive empty (a header ward left out
    // would arrive as the literal placeholder in Caddy < 2.9).
    checks::allow_without_scopes_or_labels(&caddy);
    checks::denies_pass_through_and_never_forward(&caddy, &backend);

    // ward down: the dial is refused, and Caddy says 502.
    checks::ward_down_fails_closed_at_once(&caddy, &mut backend, 502);
    assert!(caddy.log().contains("connection refused"), "caddy log:\n{}", caddy.log());

    // ward frozen: the dial succeeds, so `response_header_timeout` is the
    // bound, and Caddy reports it as a gateway timeout. Without the
    // documented `transport` block Caddy waits for ever and this fails.
    let bound = proxy::documented_seconds(&documented_block(), "response_header_timeout");
    let answer = checks::ward_frozen_answers_within(&caddy, &backend, bound);
    assert_eq!(answer.status, 504, "{}", caddy.context("ward frozen", &answer));
    assert!(caddy.log().contains("timeout awaiting response headers"), "caddy log:\n{}", caddy.log());

    checks::audit_is_clean(&backend);
}
