//! The plugin lifecycle through `ward.json`: routing, the conformance gate,
//! the circuit breaker, atomic reload, revocation and the kill switches, each
//! checked in the audit log, which must never hold a credential.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use ward::lifecycle::Gateway;
use ward::sandbox::{Decision, DenyReason};

use crate::site::Site;
use crate::support::SIGNER;
use crate::wat_guests::{allow_fixed, component};

const MARKER: &str = "MARKERc4f1a9e0";

fn bearer(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("authorization", HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
    headers
}

fn hostile_site() -> Site {
    let site = Site::new();
    site.add_plugin("hostile", &std::fs::read(ward_tests::HOSTILE).unwrap());
    site
}

fn bearer_route() -> Value {
    json!({ "header": "Authorization", "scheme": "Bearer" })
}

fn deny_code(decision: &Decision) -> &'static str {
    match decision {
        Decision::Allow(_) => "allow",
        Decision::Deny(reason) => reason.code(),
    }
}

fn start(site: &Site, plugins: Vec<Value>, edit: impl FnOnce(&mut Value)) -> Gateway {
    let config = site.config(plugins, edit);
    site.gateway(&config).unwrap()
}

#[test]
fn routes_decide_and_the_audit_never_holds_the_credential() {
    let site = hostile_site();
    let gateway = start(&site, vec![Site::plugin("hostile", bearer_route())], |_| {});
    site.assert_audit("plugin.load.accepted", 1);

    let allowed = gateway.authenticate(&bearer(&format!("ok:{MARKER}")), 0);
    let Decision::Allow(identity) = &allowed.decision else { panic!("{allowed:?}") };
    assert_eq!(identity.provider, "hostile");
    assert!(!identity.id.contains(MARKER));
    assert_eq!(allowed.plugin_id.as_deref(), Some("hostile"));

    assert_eq!(deny_code(&gateway.authenticate(&bearer(&format!("deny:{MARKER}")), 0).decision), "plugin:denied");
    assert_eq!(deny_code(&gateway.authenticate(&bearer("deny:expired"), 0).decision), "plugin:expired");
    assert_eq!(deny_code(&gateway.authenticate(&bearer("unreachable"), 0).decision), "trap");
    // Not this route: another scheme, no header, a repeated header.
    let mut basic = HeaderMap::new();
    basic.insert("authorization", HeaderValue::from_str(&format!("Basic {MARKER}")).unwrap());
    let missing = gateway.authenticate(&basic, 0);
    assert_eq!(deny_code(&missing.decision), "missing-credential");
    assert_eq!(missing.challenge.as_deref(), Some("Bearer"));
    assert_eq!(missing.plugin_id, None);
    let mut twice = bearer("ok:a");
    twice.append("authorization", HeaderValue::from_static("Bearer ok:b"));
    assert_eq!(deny_code(&gateway.authenticate(&twice, 0).decision), "malformed-credential");

    gateway.flush_audit().unwrap();
    site.assert_audit("plugin.authenticate.deny", 3);
    site.assert_audit("plugin.trap", 1);
    assert!(!site.audit_text().contains(MARKER), "credential in the audit log");
    let metrics = gate_metrics(&gateway);
    assert!(metrics.contains("ward_plugin_state{plugin=\"hostile\",state=\"active\"} 1\n"), "{metrics}");
    assert!(!metrics.contains(MARKER), "credential in the gate's metrics:\n{metrics}");
}

#[test]
fn conformance_gate_refuses_a_plugin_that_allows_what_it_must_deny() {
    let site = hostile_site();
    let cases = json!([
        { "credential": "ok:alice", "scheme": "bearer", "expect": "allow" },
        { "credential": format!("ok:{MARKER}"), "scheme": "bearer", "expect": "deny" },
    ]);
    site.write("fixtures.json", cases.to_string().as_bytes());
    let mut plugin = Site::plugin("hostile", bearer_route());
    plugin["conformance"] = json!("fixtures.json");
    let config = site.config(vec![plugin.clone()], |_| {});
    let err = site.gateway(&config).err().expect("a non-conforming plugin must not load");
    assert_eq!(err.code(), "conformance-failed");
    assert!(!err.to_string().contains(MARKER));
    site.assert_audit("plugin.conformance.failed", 1);
    site.assert_audit("plugin.load.refused", 1);
    assert!(!site.audit_text().contains("plugin.load.accepted"));
    assert!(site.audit_text().contains("\"caseIndex\":1"), "{}", site.audit_text());
    assert!(!site.audit_text().contains(MARKER), "fixture credential in the audit log");

    // The same plugin with correct expectations serves; subject hashes are checked too.
    let good =
        json!([{ "credential": "ok:alice", "scheme": "bearer", "expect": "allow" }, { "credential": "deny:expired", "scheme": "bearer", "expect": "deny" }]);
    site.write("fixtures.json", good.to_string().as_bytes());
    let gateway = site.gateway(&config).unwrap();
    let Decision::Allow(alice) = gateway.authenticate(&bearer("ok:alice"), 0).decision else { panic!() };
    drop(gateway);
    let pinned = json!([{ "credential": "ok:alice", "scheme": "bearer", "expect": "allow", "subject_hash": alice.id }]);
    site.write("fixtures.json", pinned.to_string().as_bytes());
    assert!(site.gateway(&config).is_ok());
    let wrong = json!([{ "credential": "ok:alice", "scheme": "bearer", "expect": "allow", "subjectHash": "00".repeat(16) }]);
    site.write("fixtures.json", wrong.to_string().as_bytes());
    assert_eq!(site.gateway(&config).err().map(|e| e.code()), Some("conformance-failed"));
}

#[test]
fn breaker_opens_on_faults_refuses_without_running_the_guest_then_probes() {
    let site = hostile_site();
    let mut plugin = Site::plugin("hostile", bearer_route());
    plugin["breaker"] = json!({ "failures": 2, "windowMs": 60000, "cooldownMs": 300 });
    let gateway = start(&site, vec![plugin], |_| {});
    assert_eq!(deny_code(&gateway.authenticate(&bearer("unreachable"), 0).decision), "trap");
    assert_eq!(deny_code(&gateway.authenticate(&bearer("unreachable"), 0).decision), "trap");
    // `ok:` would allow if the guest ran.
    assert_eq!(deny_code(&gateway.authenticate(&bearer("ok:alice"), 0).decision), "plugin-unavailable");
    std::thread::sleep(Duration::from_millis(350));
    // The probe fails: open again.
    assert_eq!(deny_code(&gateway.authenticate(&bearer("unreachable"), 0).decision), "trap");
    assert_eq!(deny_code(&gateway.authenticate(&bearer("ok:alice"), 0).decision), "plugin-unavailable");
    std::thread::sleep(Duration::from_millis(350));
    assert!(gateway.authenticate(&bearer("ok:alice"), 0).decision.is_allow());
    assert!(gateway.authenticate(&bearer("ok:bob"), 0).decision.is_allow());
    site.assert_audit("plugin.breaker.opened", 2);
    site.assert_audit("plugin.breaker.half-open", 2);
    site.assert_audit("plugin.breaker.closed", 1);
    // Plain denies never open it.
    for _ in 0..5 {
        assert_eq!(deny_code(&gateway.authenticate(&bearer("deny:expired"), 0).decision), "plugin:expired");
    }
    assert!(gateway.authenticate(&bearer("ok:alice"), 0).decision.is_allow());
}

/// What `run` logs on this thread, at every level.
fn logged(run: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Sink(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt().with_ansi(false).with_max_level(tracing::Level::TRACE).with_writer(move || writer.clone()).finish();
    tracing::subscriber::with_default(subscriber, run);
    let bytes = sink.0.lock().unwrap().clone();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn gate_metrics(gateway: &Gateway) -> String {
    ward::server::render_gate_stats(&ward::server::Gate::stats(gateway))
}

/// Issue 15, finding 6: with the audit log failing, the breaker opened with no
/// record, no log line and no metric. Now opening happens anyway (the plugin
/// denies: fail closed) and says so in the log and `/metrics`; a half-open
/// that cannot be recorded does not happen, so no probe runs unrecorded.
#[test]
fn a_breaker_the_audit_log_cannot_record_denies_and_says_so() {
    let site = hostile_site();
    let mut plugin = Site::plugin("hostile", bearer_route());
    plugin["breaker"] = json!({ "failures": 2, "windowMs": 60000, "cooldownMs": 1000 });
    // Every write rotates the log; once the next rotation's target exists,
    // the log fails for good.
    let gateway = start(&site, vec![plugin], |c| c["audit"]["maxFileBytes"] = json!(1));
    std::fs::create_dir(site.path(&format!("{}.000002", crate::site::AUDIT_FILE))).unwrap();
    assert_eq!(deny_code(&gateway.authenticate(&bearer("deny:expired"), 0).decision), "plugin:expired");
    assert!(gateway.flush_audit().is_err(), "the audit log should have failed");

    let opening = logged(|| {
        assert_eq!(deny_code(&gateway.authenticate(&bearer("unreachable"), 0).decision), "trap");
        assert_eq!(deny_code(&gateway.authenticate(&bearer("unreachable"), 0).decision), "trap");
        // `ok:` would allow if the guest ran.
        assert_eq!(deny_code(&gateway.authenticate(&bearer("ok:alice"), 0).decision), "plugin-unavailable");
    });
    assert!(
        opening.contains("ERROR")
            && opening.contains("could not be audited")
            && opening.contains("event=\"plugin.breaker.opened\"")
            && opening.contains("fail closed"),
        "{opening}"
    );
    let metrics = gate_metrics(&gateway);
    assert!(metrics.contains("ward_audit_unrecorded_total{plugin=\"hostile\",event=\"plugin.breaker.opened\"} 1\n"), "{metrics}");
    assert!(metrics.contains("ward_breaker_open{plugin=\"hostile\"} 1\n"), "{metrics}");

    // After the cool-down the half-open cannot be recorded: the breaker stays
    // open for another cool-down, so the next call is no unrecorded probe.
    std::thread::sleep(Duration::from_millis(1100));
    let half_open = logged(|| {
        assert_eq!(deny_code(&gateway.authenticate(&bearer("ok:alice"), 0).decision), "plugin-unavailable");
        assert_eq!(deny_code(&gateway.authenticate(&bearer("ok:alice"), 0).decision), "plugin-unavailable");
    });
    assert!(half_open.contains("event=\"plugin.breaker.half-open\"") && half_open.contains("stays open"), "{half_open}");
    assert!(gate_metrics(&gateway).contains("ward_audit_unrecorded_total{plugin=\"hostile\",event=\"plugin.breaker.half-open\"} 1\n"));
    let mut written = String::new();
    for entry in std::fs::read_dir(site.path(".")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() && path.file_name().is_some_and(|n| n.to_string_lossy().starts_with(crate::site::AUDIT_FILE)) {
            written.push_str(&std::fs::read_to_string(path).unwrap_or_default());
        }
    }
    assert!(written.contains("plugin.load.accepted") && !written.contains("plugin.breaker"), "{written}");
}

#[test]
fn reload_swaps_the_whole_set_while_calls_run() {
    let site = Site::new();
    let bytes = component(&allow_fixed());
    site.add_plugin("alpha", &bytes);
    site.add_plugin("beta", &bytes);
    // A busy 2-core VM compiles and calls at once here: a generous deadline
    // keeps this a test of reload, not of timeouts.
    let config_for = |id: &str| {
        let mut plugin = Site::plugin(id, bearer_route());
        plugin["limits"] = json!({ "timeoutMs": 10000 });
        site.config(vec![plugin], |_| {})
    };
    let gateway = Arc::new(site.gateway(&config_for("alpha")).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let (gateway, stop) = (Arc::clone(&gateway), Arc::clone(&stop));
            std::thread::spawn(move || {
                let (mut calls, mut seen) = (0u64, [false; 2]);
                while !stop.load(Ordering::Relaxed) {
                    let decided = gateway.authenticate(&bearer("anything"), 0);
                    let Decision::Allow(identity) = &decided.decision else { panic!("a call failed during reload: {decided:?}") };
                    // Answered by one set: the route's plugin and the identity's provider agree.
                    assert_eq!(decided.plugin_id.as_deref(), Some(identity.provider.as_str()));
                    seen[usize::from(identity.provider == "beta")] = true;
                    calls += 1;
                }
                (calls, seen)
            })
        })
        .collect();
    for round in 0..100 {
        let id = if round % 2 == 0 { "beta" } else { "alpha" };
        gateway.reload(site.load(&config_for(id)).plan).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let (mut total, mut seen) = (0, [false; 2]);
    for caller in callers {
        let (calls, saw) = caller.join().unwrap();
        total += calls;
        seen = [seen[0] || saw[0], seen[1] || saw[1]];
    }
    assert!(total > 100, "only {total} calls ran during 100 reloads");
    assert_eq!(seen, [true, true], "calls never saw one of the two sets");
    site.assert_audit("config.reload.applied", 100);
    site.assert_audit("plugin.unloaded", 100);
}

#[test]
fn a_failed_reload_keeps_the_old_set_serving() {
    let site = hostile_site();
    let config = site.config(vec![Site::plugin("hostile", bearer_route())], |_| {});
    let gateway = start(&site, vec![Site::plugin("hostile", bearer_route())], |_| {});
    // The component changes under the same envelope: the gate refuses it.
    site.write("hostile.wasm", &component(&allow_fixed()));
    let err = gateway.reload(site.load(&config).plan).unwrap_err();
    assert_eq!(err.code(), "tampered-entry");
    assert!(gateway.authenticate(&bearer("ok:alice"), 0).decision.is_allow());
    site.assert_audit("config.reload.refused", 1);
    // A config that no longer parses is refused the same way.
    site.write("ward.json", b"{ \"trust\": ");
    assert_eq!(gateway.reload_from_source().unwrap_err().code(), "config-not-json");
    assert!(gateway.authenticate(&bearer("ok:alice"), 0).decision.is_allow());
    site.assert_audit("config.reload.refused", 2);
}

/// What `ward serve` applies once at start: the identity and audit sections
/// (the gateway compares them) and the server section (the config file, as
/// the reloads' source, compares it). The same file back as it was reloads.
#[test]
fn a_reload_that_changes_what_only_a_restart_applies_is_refused() {
    let site = hostile_site();
    let plugins = || vec![Site::plugin("hostile", bearer_route())];
    let gateway = start(&site, plugins(), |_| {});
    type Change = (&'static str, fn(&mut Value));
    let changes: [Change; 4] = [
        ("identity.labelKeys", |c| c["identity"]["labelKeys"] = json!(["team"])),
        ("audit.recordAllowed", |c| c["audit"]["recordAllowed"] = json!(true)),
        ("server.listen", |c| c["server"] = json!({ "listen": "127.0.0.1:9181" })),
        ("server.jsonLogs", |c| c["server"] = json!({ "jsonLogs": true })),
    ];
    for (refused, (what, change)) in changes.into_iter().enumerate() {
        site.config(plugins(), change);
        let err = gateway.reload_from_source().unwrap_err();
        assert_eq!(err.code(), "restart-required", "{what}: {err}");
        assert!(gateway.authenticate(&bearer("ok:alice"), 0).decision.is_allow(), "{what}");
        site.assert_audit("config.reload.refused", refused + 1);
    }
    site.config(plugins(), |_| {});
    gateway.reload_from_source().unwrap();
}

#[test]
fn revocation_on_reload_unloads_even_unchanged_plugins() {
    for revoke in ["signer", "entry"] {
        let site = hostile_site();
        let gateway = start(&site, vec![Site::plugin("hostile", bearer_route())], |_| {});
        assert!(gateway.authenticate(&bearer("ok:alice"), 0).decision.is_allow());
        let entry = gateway.plugins()[0].entry_sha256.clone().unwrap();
        let config = site.config(vec![Site::plugin("hostile", bearer_route())], |c| {
            c["trust"]["revoked"] = match revoke {
                "signer" => json!({ "signerKeyIds": [SIGNER] }),
                _ => json!({ "entrySha256": [entry] }),
            };
        });
        gateway.reload(site.load(&config).plan).unwrap();
        assert_eq!(deny_code(&gateway.authenticate(&bearer("ok:alice"), 0).decision), "plugin-unavailable");
        assert_eq!(gateway.plugins()[0].state, "revoked");
        site.assert_audit("plugin.unloaded", 1);
        assert!(site.audit_text().contains("\"cause\":\"revoked\""), "{}", site.audit_text());
    }
}

/// A loopback server that accepts connections and never answers: a key-material
/// fetch from it hangs until the test drops the returned streams.
struct Silent {
    listener: std::net::TcpListener,
}

impl Silent {
    fn new() -> Self {
        Self { listener: std::net::TcpListener::bind("127.0.0.1:0").unwrap() }
    }

    fn url(&self) -> String {
        format!("http://{}/jwks", self.listener.local_addr().unwrap())
    }

    /// Waits for the next fetch: proof that whoever fetches is stuck in it.
    fn accept(&self) -> std::net::TcpStream {
        self.listener.accept().unwrap().0
    }
}

/// `hostile` fetching key material from `url`, with loopback allowed and a
/// fetch timeout far beyond any reload deadline used here.
fn fetching_config(site: &Site, url: &str, edit: impl FnOnce(&mut Value)) -> std::path::PathBuf {
    let mut plugin = Site::plugin("hostile", bearer_route());
    plugin["keyMaterial"] = json!([{ "name": "jwks", "url": url }]);
    site.config(vec![plugin], |c| {
        c["keyMaterialFetch"] = json!({ "allowHttpHosts": ["127.0.0.1"], "allowCidrs": ["127.0.0.0/8"], "totalTimeoutMs": 300000 });
        edit(c);
    })
}

/// Issue 15, finding 4: a reload that hung held the reload lock, so a later
/// reload revoking the plugin's signer was never applied and the plugin kept
/// allowing. Now a reload applies its revocations before anything else, and a
/// hung reload is refused at its deadline.
#[test]
fn a_hung_reload_neither_delays_a_revocation_nor_outlives_its_deadline() {
    const DEADLINE: Duration = Duration::from_secs(5);
    let site = hostile_site();
    let gateway = Arc::new(start(&site, vec![Site::plugin("hostile", bearer_route())], |_| {}).with_reload_deadline(DEADLINE));
    assert!(gateway.authenticate(&bearer("ok:alice"), 0).decision.is_allow());

    // Reload 1 recompiles the plugin and fetches its key material from a
    // server that never answers.
    let silent = Silent::new();
    fetching_config(&site, &silent.url(), |_| {});
    let started = std::time::Instant::now();
    let hung = {
        let gateway = Arc::clone(&gateway);
        std::thread::spawn(move || gateway.reload_from_source())
    };
    let _held = silent.accept();

    // Reload 2 revokes the signer: the plugin stops while reload 1 still hangs.
    fetching_config(&site, &silent.url(), |c| c["trust"]["revoked"] = json!({ "signerKeyIds": [SIGNER] }));
    let second = {
        let gateway = Arc::clone(&gateway);
        std::thread::spawn(move || gateway.reload_from_source())
    };
    let patience = started + DEADLINE;
    while gateway.authenticate(&bearer("ok:alice"), 0).decision.is_allow() {
        assert!(std::time::Instant::now() < patience, "the revocation waited for the hung reload");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!hung.is_finished(), "reload 1 should still hang");
    assert_eq!(deny_code(&gateway.authenticate(&bearer("ok:alice"), 0).decision), "plugin-unavailable");
    assert_eq!(gateway.plugins()[0].state, "revoked");
    site.assert_audit("plugin.unloaded", 1);
    assert!(site.audit_text().contains("\"cause\":\"revoked\""), "{}", site.audit_text());

    // Reload 1 is refused at its deadline; reload 2 then applies in full.
    let err = hung.join().unwrap().unwrap_err();
    assert_eq!(err.code(), "reload-timeout");
    assert!(started.elapsed() >= DEADLINE);
    second.join().unwrap().unwrap();
    assert!(site.audit_text().contains("\"reason\":\"reload-timeout\""), "{}", site.audit_text());
    site.assert_audit("config.reload.refused", 1);
    site.assert_audit("config.reload.applied", 1);
    assert_eq!(gateway.plugins()[0].state, "revoked");
}

/// A reload that read the config before a revocation was applied must not
/// swap in a set that serves the revoked plugin again, even when it ends in
/// time: it is refused as superseded, and the reload after it applies.
#[test]
fn a_reload_of_an_older_config_cannot_undo_a_newer_revocation() {
    let site = hostile_site();
    let gateway = Arc::new(start(&site, vec![Site::plugin("hostile", bearer_route())], |_| {}));
    let silent = Silent::new();
    fetching_config(&site, &silent.url(), |_| {});
    let older = {
        let gateway = Arc::clone(&gateway);
        std::thread::spawn(move || gateway.reload_from_source())
    };
    let fetch = silent.accept();
    // The revocation lands while the older reload is still fetching…
    fetching_config(&site, &silent.url(), |c| c["trust"]["revoked"] = json!({ "signerKeyIds": [SIGNER] }));
    assert_eq!(gateway.revoke_from_source().unwrap(), 1);
    // …then its fetch fails at once and it finishes its set, which would
    // serve the plugin again.
    drop(fetch);
    assert_eq!(older.join().unwrap().unwrap_err().code(), "reload-superseded");
    assert_eq!(deny_code(&gateway.authenticate(&bearer("ok:alice"), 0).decision), "plugin-unavailable");
    gateway.reload_from_source().unwrap();
    assert_eq!(gateway.plugins()[0].state, "revoked");
    site.assert_audit("config.reload.applied", 1);
    assert!(site.audit_text().contains("\"reason\":\"reload-superseded\""), "{}", site.audit_text());
}

/// Reloads abandoned at their deadline are bounded while they still run, and
/// what they finish late never swaps in.
#[test]
fn abandoned_reloads_are_bounded_and_their_late_results_discarded() {
    let site = hostile_site();
    let plain = site.config(vec![Site::plugin("hostile", bearer_route())], |_| {});
    let gateway = start(&site, vec![Site::plugin("hostile", bearer_route())], |_| {}).with_reload_deadline(Duration::from_millis(300));
    let silent = Silent::new();
    fetching_config(&site, &silent.url(), |_| {});
    for _ in 0..4 {
        assert_eq!(gateway.reload_from_source().unwrap_err().code(), "reload-timeout");
    }
    assert_eq!(gateway.reload_from_source().unwrap_err().code(), "reload-busy");
    assert!(gateway.authenticate(&bearer("ok:alice"), 0).decision.is_allow());
    // Every hung fetch fails now: the abandoned reloads finish, and are discarded.
    drop(silent);
    let patience = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        match gateway.reload(site.load(&plain).plan) {
            Ok(()) => break,
            Err(err) => assert_eq!(err.code(), "reload-busy"),
        }
        assert!(std::time::Instant::now() < patience, "the abandoned reloads never ended");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(gate_metrics(&gateway).contains("ward_reloads_total{result=\"applied\"} 1\n"));
    site.assert_audit("config.reload.applied", 1);
    assert_eq!(site.audit_text().matches("\"reason\":\"reload-timeout\"").count(), 4);
    assert!(site.audit_text().contains("\"reason\":\"reload-busy\""));
}

#[test]
fn kill_switches_unload_without_restart() {
    let site = hostile_site();
    let gateway = start(&site, vec![Site::plugin("hostile", bearer_route())], |_| {});
    let global_off = site.config(vec![Site::plugin("hostile", bearer_route())], |c| c["pluginsEnabled"] = json!(false));
    gateway.reload(site.load(&global_off).plan).unwrap();
    assert_eq!(gateway.authenticate(&bearer("ok:alice"), 0).decision, Decision::Deny(DenyReason::PluginsDisabled));
    assert!(site.audit_text().contains("\"cause\":\"disabled\""));

    let on = site.config(vec![Site::plugin("hostile", bearer_route())], |_| {});
    gateway.reload(site.load(&on).plan).unwrap();
    assert!(gateway.authenticate(&bearer("ok:alice"), 0).decision.is_allow());

    let mut disabled = Site::plugin("hostile", bearer_route());
    disabled["enabled"] = json!(false);
    // A disabled plugin's files are not needed.
    disabled["component"] = json!("gone.wasm");
    let one_off = site.config(vec![disabled], |_| {});
    gateway.reload(site.load(&one_off).plan).unwrap();
    assert_eq!(gateway.authenticate(&bearer("ok:alice"), 0).decision, Decision::Deny(DenyReason::PluginsDisabled));
    assert_eq!(gateway.plugins()[0].state, "disabled");
    site.assert_audit("plugin.unloaded", 2);
}

#[test]
fn config_problems_name_their_json_path() {
    let site = hostile_site();
    let expect = |edit: &dyn Fn(&mut Value), want: &str| {
        let config = site.config(vec![Site::plugin("hostile", bearer_route())], |c| edit(c));
        let text = ward::config::load(&config).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains(want), "want {want:?}, got {text:?}");
    };
    expect(&|c| c["plugins"][0]["limits"] = json!({ "fule": 1 }), "plugins[0].limits.fule");
    expect(&|c| c["plugins"][0]["limits"] = json!({ "timeoutMs": 0 }), "plugins[0].limits.timeoutMs: must be 1 to");
    expect(&|c| c["server"] = json!({ "listen": "nowhere" }), "server.listen");
    expect(&|c| c["bogus"] = json!(1), "unknown field `bogus`");
    // A wrongly typed value is named by its path, never quoted: it may be a secret.
    expect(&|c| c["plugins"][0]["limits"] = json!({ "fuel": "s3cr3t-value" }), "plugins[0].limits.fuel: invalid type, expected u64");
    let text = ward::config::load(&site.config(vec![], |c| c["identity"]["labelKeys"] = json!("s3cr3t-value"))).unwrap_err().to_string();
    assert!(!text.contains("s3cr3t"), "{text}");
    expect(&|c| c["plugins"][0]["route"] = json!({ "header": "bad header" }), "plugins[0].route");
    // serde would read an object's fields from an array by position; a
    // config in the wrong shape is refused instead.
    expect(&|c| c["plugins"][0]["route"] = json!(["X-Api-Key", "bearer"]), "plugins[0].route: invalid type: array, expected an object");
    expect(&|c| c["plugins"][0]["limits"] = json!([1000, 50]), "plugins[0].limits: invalid type: array");
    expect(&|c| c["server"] = json!(["127.0.0.1:9000"]), "server: invalid type: array");
    expect(&|c| c["trust"]["revoked"] = json!([["k1"], []]), "trust.revoked: invalid type: array");
    expect(&|c| c["plugins"][0]["component"] = json!("../outside.wasm"), "plugins[0].component");
    expect(&|c| c["plugins"][0]["component"] = json!("/etc/hostname"), "is outside the config's directory");
    expect(&|c| c["plugins"].as_array_mut().unwrap().push(Site::plugin("hostile", bearer_route())), "plugins[1].id: repeats");

    // A symlink that leads out of the directory is refused by the handle itself.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("x.wasm"), b"x").unwrap();
    std::os::unix::fs::symlink(outside.path().join("x.wasm"), site.path("link.wasm")).unwrap();
    expect(&|c| c["plugins"][0]["component"] = json!("link.wasm"), "is outside the config's directory");
    // …unless the operator lists that directory.
    let allowed = site.config(vec![Site::plugin("hostile", bearer_route())], |c| {
        c["allowDirs"] = json!([outside.path()]);
        c["plugins"][0]["component"] = json!(outside.path().join("x.wasm"));
    });
    assert!(ward::config::load(&allowed).is_ok());

    // Secrets readable by others are refused.
    std::fs::write(site.path("loose.key"), [1u8; 32]).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(site.path("loose.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    expect(&|c| c["identity"]["keyFile"] = json!("loose.key"), "identity.keyFile: loose.key is open to group or others");
    expect(&|c| c["audit"]["keyFile"] = json!("loose.key"), "audit.keyFile");
}

/// A repeated key anywhere in `ward.json` (or a file it names) is refused at
/// its JSON path. A plain JSON reader keeps the last value, so a second
/// `"revoked": {}` would cancel a revocation and a second setting would
/// replace the first, unseen by whoever reviewed the first.
#[test]
fn a_repeated_key_is_refused_at_its_json_path() {
    let site = hostile_site();
    let pem = ward::trust::public_key_to_pem(&crate::support::signing_key().verifying_key());
    let mut plugin = Site::plugin("hostile", bearer_route());
    plugin["settings"] = json!({ "issuer": "https://a.example" });
    let config = site.config(vec![plugin], |c| c["trust"]["revoked"] = json!({ "signerKeyIds": [SIGNER] }));
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(site.load(&config).plan.trust.revoked_signer_key_ids.contains(SIGNER));
    // serde_json::Value cannot hold a repeated key: edit the written text.
    let refused = |from: &str, to: &str| {
        assert!(written.contains(from), "{from} not in {written}");
        let text = written.replacen(from, to, 1);
        site.write("ward.json", text.as_bytes());
        let err = ward::config::load(&config).err().map(|e| (e.code(), e.to_string()));
        (text, err)
    };
    let shown = config.display();

    let revoked = r#""revoked":{"signerKeyIds":["test-signer"]}"#;
    let (text, err) = refused(revoked, &format!(r#"{revoked},"revoked":{{}}"#));
    assert_eq!(err, Some(("config-invalid", format!("{shown}: trust.revoked: duplicate key"))));
    // What a last-wins reader would have made of it: no revocation at all.
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["trust"]["revoked"], json!({}));

    let anchor = format!(r#""test-signer":{}"#, Value::from(pem.clone()));
    let (_, err) = refused(&anchor, &format!("{anchor},{anchor}"));
    assert_eq!(err.map(|e| e.1), Some(format!("{shown}: trust.trustAnchors.test-signer: duplicate key")));
    let listed = format!(r#""trustAnchors":[{{"keyId":"test-signer","keyId":"other","publicKey":{}}}]"#, Value::from(pem));
    let (_, err) = refused(&format!(r#""trustAnchors":{{{anchor}}}"#), &listed);
    assert_eq!(err.map(|e| e.1), Some(format!("{shown}: trust.trustAnchors[0].keyId: duplicate key")));

    let setting = r#""issuer":"https://a.example""#;
    let (_, err) = refused(setting, &format!(r#"{setting},"issuer":"https://b.example""#));
    let text = err.map(|e| e.1).unwrap_or_default();
    assert_eq!(text, format!("{shown}: plugins[0].settings.issuer: duplicate key"));
    assert!(!text.contains("example"), "a value is never quoted: {text}");

    let (_, err) = refused("{", r#"{"pluginsEnabled":true,"pluginsEnabled":false,"#);
    assert_eq!(err.map(|e| e.1), Some(format!("{shown}: pluginsEnabled: duplicate key")));
    let (_, err) = refused(r#""id":"hostile""#, r#""id":"hostile","id":"hostile""#);
    assert_eq!(err.map(|e| e.1), Some(format!("{shown}: plugins[0].id: duplicate key")));

    // A conformance fixtures file is read the same way.
    site.write("fixtures.json", br#"[{"credential":"ok:alice","scheme":"bearer","expect":"allow","expect":"deny"}]"#);
    let (_, err) = refused(r#""id":"hostile""#, r#""id":"hostile","conformance":"fixtures.json""#);
    assert_eq!(err.map(|e| e.1), Some(format!("fixtures.json (fixtures of {shown}): [0].expect: duplicate key")));
}

/// Serves `body` to every request on a loopback port, from a thread.
fn serve_bytes(body: &'static [u8]) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        }
    });
    port
}

#[test]
fn url_key_material_is_fetched_by_the_host_or_the_call_denies() {
    let site = hostile_site();
    let with_url = |port: u16| {
        let mut plugin = Site::plugin("hostile", bearer_route());
        plugin["keyMaterial"] = json!([{ "name": "jwks", "url": format!("http://127.0.0.1:{port}/jwks"), "refreshSeconds": 1 }]);
        site.config(vec![plugin], |c| c["keyMaterialFetch"] = json!({ "allowHttpHosts": ["127.0.0.1"], "allowCidrs": ["127.0.0.0/8"] }))
    };
    // Nothing listens there: the plugin loads, and its calls deny without running.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let gateway = site.gateway(&with_url(closed)).unwrap();
    assert_eq!(gateway.authenticate(&bearer("ok:alice"), 0).decision, Decision::Deny(DenyReason::KeyMaterialUnavailable));
    gateway.flush_audit().unwrap();
    assert!(site.audit_text().contains("\"reason\":\"key-material-unavailable\""), "{}", site.audit_text());

    let port = serve_bytes(b"{\"keys\":[]}");
    gateway.reload(site.load(&with_url(port)).plan).unwrap();
    assert!(gateway.authenticate(&bearer("ok:alice"), 0).decision.is_allow());

    // The SSRF guard applies: without the loopback allowance the fetch is refused.
    drop(gateway); // releases the audit log's lock
    let mut plugin = Site::plugin("hostile", bearer_route());
    plugin["keyMaterial"] = json!([{ "name": "jwks", "url": format!("http://127.0.0.1:{port}/jwks") }]);
    let guarded = site.config(vec![plugin], |c| c["keyMaterialFetch"] = json!({ "allowHttpHosts": ["127.0.0.1"] }));
    // The refresher shuts down in the background (refresher.rs: a gateway
    // may be dropped on a runtime thread, which must not wait), so a refresh
    // in flight may hold the log a moment longer; seen under CI load.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let gateway = loop {
        match site.gateway(&guarded) {
            Err(ward::lifecycle::LifecycleError::Audit(ward::audit::AuditError::Locked { .. })) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => break other.unwrap(),
        }
    };
    assert_eq!(gateway.authenticate(&bearer("ok:alice"), 0).decision, Decision::Deny(DenyReason::KeyMaterialUnavailable));
}

#[test]
fn check_runs_every_gate_without_the_audit_log_and_allows_are_audited_only_on_request() {
    let site = hostile_site();
    let config = site.config(vec![Site::plugin("hostile", bearer_route())], |_| {});
    let statuses = Gateway::check(&site.load(&config).plan).unwrap();
    assert_eq!((statuses[0].id.as_str(), statuses[0].state), ("hostile", "active"));
    assert!(site.audit_text().is_empty(), "ward check must not write the audit log");
    site.write("hostile.wasm", &component(&allow_fixed()));
    assert_eq!(Gateway::check(&site.load(&config).plan).err().map(|e| e.code()), Some("tampered-entry"));
    site.add_plugin("hostile", &std::fs::read(ward_tests::HOSTILE).unwrap());

    let gateway = start(&site, vec![Site::plugin("hostile", bearer_route())], |_| {});
    assert!(gateway.authenticate(&bearer("ok:alice"), 0).decision.is_allow());
    gateway.flush_audit().unwrap();
    assert!(!site.audit_text().contains("plugin.authenticate.allow"));
    drop(gateway);
    let gateway = start(&site, vec![Site::plugin("hostile", bearer_route())], |c| c["audit"]["recordAllowed"] = json!(true));
    let Decision::Allow(identity) = gateway.authenticate(&bearer(&format!("ok:{MARKER}")), 0).decision else { panic!() };
    gateway.flush_audit().unwrap();
    site.assert_audit("plugin.authenticate.allow", 1);
    assert!(site.audit_text().contains(&identity.id));
    assert!(!site.audit_text().contains(MARKER));
}
