//! `ward-bench --plugin routes`: what route policy costs a decision. The
//! same `/auth` decision (`Gateway::authenticate`: routing, the example-token
//! plugin, the audit record) under a policy of 1 route and of 100, batches
//! interleaved so a slow spell of the machine lands on both alike, beside a
//! second 1-route gateway as a control (its ratio is the noise). The 100
//! are built so the request's route is the last one scanned: 99 more
//! specific routes (hosts, exact paths, prefixes, methods) that it does not
//! match, then the catch-all. Target: the 100-route median within 5 % of
//! the 1-route one.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use http::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use ward::lifecycle::Gateway;
use ward::sandbox::Decision;
use ward::trust::{SigningSecret, public_key_to_pem};

use crate::example_token::envelope_for;
use crate::load::build_plugin;
use crate::measure::interleaved_latency;
use crate::{BenchError, fail};

const SECRET: &str = "bench-secret-0123456789abcdef";
const NOW_MS: u64 = 1_763_856_000_000;

/// Measures both policies and prints one JSON report.
pub fn run(samples: usize) -> Result<(), BenchError> {
    let component = build_plugin(Path::new("plugins/example-token"), &[])?;
    let key = SigningSecret::generate();
    let dir = PathBuf::from("target/bench-routes");
    std::fs::create_dir_all(&dir).map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
    write(&dir.join("example-token.wasm"), &component, 0o644)?;
    write(&dir.join("example-token.signed.json"), &envelope_for(&component, &key)?, 0o644)?;
    write(&dir.join("identity.key"), &[7; 32], 0o600)?;
    write(&dir.join("audit.key"), &[9; 32], 0o600)?;

    let one = gateway(&dir, "one", &key, vec![json!({})])?;
    // The same policy twice: how far two equal cases drift on this machine.
    let control = gateway(&dir, "control", &key, vec![json!({})])?;
    let mut decoys: Vec<Value> = (0..33).map(|i| json!({ "host": format!("app{i}.internal") })).collect();
    decoys.extend((0..33).map(|i| json!({ "path": format!("/exact/{i}") })));
    decoys.extend((0..33).map(|i| json!({ "pathPrefix": format!("/api/v{i}"), "methods": ["POST", "PUT"] })));
    decoys.push(json!({}));
    let hundred = gateway(&dir, "hundred", &key, decoys)?;

    let token = example_token_check::mint(SECRET.as_bytes(), "alice");
    let mut headers = HeaderMap::new();
    let bearer = HeaderValue::try_from(format!("Bearer {token}")).map_err(|_| fail("bad token"))?;
    headers.insert("authorization", bearer);
    headers.insert("x-original-method", HeaderValue::from_static("GET"));
    headers.insert("x-original-uri", HeaderValue::from_static("/orders/42?expand=lines"));
    headers.insert("x-forwarded-host", HeaderValue::from_static("shop.example"));
    for gateway in [&one, &control, &hundred] {
        if !matches!(gateway.authenticate(&headers, NOW_MS).decision, Decision::Allow(_)) {
            return Err(fail("the bench request was not allowed"));
        }
    }
    let mut one_op = |_: usize| drop(one.authenticate(&headers, NOW_MS));
    let mut control_op = |_: usize| drop(control.authenticate(&headers, NOW_MS));
    let mut hundred_op = |_: usize| drop(hundred.authenticate(&headers, NOW_MS));
    let results = interleaved_latency(2000, samples, 10, &mut [&mut one_op, &mut control_op, &mut hundred_op]);
    let (Some(one_route), Some(control), Some(hundred_routes)) = (results.first(), results.get(1), results.get(2)) else {
        return Err(fail("no measurement"));
    };
    let ratio = hundred_routes.p50_us / one_route.p50_us;
    let report = json!({
        "bench": "routes",
        "decision_1_route": one_route,
        "decision_1_route_control": control,
        "decision_100_routes": hundred_routes,
        "p50_ratio_100_over_1": ratio,
        "p50_ratio_control_over_1": control.p50_us / one_route.p50_us,
        "within_5_percent": ratio <= 1.05,
    });
    println!("{}", serde_json::to_string_pretty(&report).map_err(|e| fail(e.to_string()))?);
    Ok(())
}

fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<(), BenchError> {
    std::fs::write(path, bytes).map_err(|e| fail(format!("cannot write {}: {e}", path.display())))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| fail(format!("cannot chmod {}: {e}", path.display())))
}

/// A gateway over `dir`'s plugin with `rules`, its own config and audit log.
fn gateway(dir: &Path, name: &str, key: &SigningSecret, rules: Vec<Value>) -> Result<Gateway, BenchError> {
    let config = json!({
        "trust": { "trustAnchors": { "bench": public_key_to_pem(&key.verifying_key()) }, "allowCapabilities": ["readsCredentials"] },
        "identity": { "keyFile": "identity.key" },
        "audit": { "file": format!("audit-{name}.log"), "keyFile": "audit.key", "overflow": "drop-and-count" },
        "plugins": [{
            "id": "example-token", "envelope": "example-token.signed.json", "component": "example-token.wasm",
            "route": { "header": "Authorization", "scheme": "Bearer" },
            "settings": { "secret": SECRET, "scopes": "orders:read", "team": "bench" }
        }],
        "routes": { "proxy": "nginx", "rules": rules },
    });
    let path = dir.join(format!("ward-{name}.json"));
    write(&path, config.to_string().as_bytes(), 0o644)?;
    let (plan, source) = ward::config::load(&path).map_err(|e| fail(e.to_string()))?.into_plan();
    Gateway::start(plan, source).map_err(|e| fail(e.to_string()))
}
