//! What every documented proxy block must do, checked the same way for each
//! proxy (`nginx.rs`, `caddy.rs`): forward ward's identity and only ward's,
//! send every deny back without forwarding, and fail closed, in bounded
//! time, when ward is down or frozen. Each proxy's test adds what is its own
//! (its status codes, its log lines).

use std::time::{Duration, Instant};

use crate::proxy::{Answer, Backend, Proxy, SECRET, example_token, try_get};

/// An allow for alice while the client forges every identity header (twice,
/// in two spellings) and `extra` ones: the upstream gets ward's five values
/// and none of the client's. Returns the upstream's echo.
pub fn allow_forwards_only_ward_identity(proxy: &Proxy, backend: &Backend, extra: &[(&str, &str)]) -> Answer {
    let before = backend.hits();
    let bearer = format!("Bearer {}", backend.good);
    let mut headers = vec![
        ("Authorization", bearer.as_str()),
        ("X-Ward-Id", "example-token:forged"),
        ("x-ward-id", "admin"),
        ("X-Ward-Provider", "forged"),
        ("X-Ward-Type", "service"),
        ("X-Ward-Scopes", "admin:all"),
        ("X-Ward-Labels", "team=admins"),
    ];
    headers.extend_from_slice(extra);
    let answer = proxy.get("/orders/42", &headers);
    assert_eq!(answer.status, 200, "{}", proxy.context("allow", &answer));
    assert_eq!(backend.hits(), before + 1);
    assert_eq!(answer.upstream_values("x-ward-id"), vec![backend.alice.clone()], "{}", proxy.context("allow", &answer));
    assert_eq!(answer.upstream_values("x-ward-provider"), vec!["example-token"]);
    assert_eq!(answer.upstream_values("x-ward-type"), vec!["user"]);
    assert_eq!(answer.upstream_values("x-ward-scopes"), vec!["orders:read orders:write"]);
    assert_eq!(answer.upstream_values("x-ward-labels"), vec!["team=payments"]);
    assert!(answer.body.starts_with("path: /orders/42\n"), "{}", answer.body);
    let forged = ["forged", "admin", "service", "admins"].into_iter().chain(extra.iter().map(|(_, value)| *value));
    for value in forged {
        assert!(!answer.body.contains(value), "a client-sent value reached the upstream: {}", answer.body);
    }
    answer
}

/// An identity without scopes or labels (the hostile guest's `ok:bob`):
/// ward sends those two empty, the upstream sees them empty or not at all
/// (never a proxy's unfilled placeholder), and the client's are dropped.
pub fn allow_without_scopes_or_labels(proxy: &Proxy) {
    let answer = proxy.get("/", &[("X-Api-Key", "ok:bob"), ("X-Ward-Scopes", "admin:all"), ("X-Ward-Labels", "role=admin")]);
    assert_eq!(answer.status, 200, "{}", proxy.context("hostile allow", &answer));
    assert_eq!(answer.upstream_values("x-ward-provider"), vec!["hostile"]);
    assert_eq!(answer.upstream_values("x-ward-id").len(), 1);
    assert!(answer.upstream_values("x-ward-id")[0].starts_with("hostile:"));
    for name in ["x-ward-scopes", "x-ward-labels"] {
        assert!(answer.upstream_values(name).iter().all(String::is_empty), "{name}: {}", answer.body);
    }
    assert!(!answer.body.contains('{'), "a proxy placeholder reached the upstream: {}", answer.body);
    assert!(!answer.body.contains("admin"), "a client-sent value reached the upstream: {}", answer.body);
}

/// ward's 401 (with its challenge), 403 and 503 (with `Retry-After`) reach
/// the client as they are, and none of these requests reaches the upstream.
pub fn denies_pass_through_and_never_forward(proxy: &Proxy, backend: &Backend) {
    let before = backend.hits();
    let forged = format!("demo.alice.{}", example_token(SECRET, "mallory").rsplit('.').next().unwrap());
    for (what, headers) in [
        ("forged MAC", vec![("Authorization", format!("Bearer {forged}"))]),
        ("malformed token", vec![("Authorization", "Bearer not-a-demo-token".to_owned())]),
        ("no credential", vec![]),
        ("forged identity only", vec![("X-Ward-Id", backend.alice.clone())]),
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let answer = proxy.get("/", &headers);
        assert_eq!(answer.status, 401, "{}", proxy.context(what, &answer));
        assert_eq!(answer.header("WWW-Authenticate"), Some("Bearer realm=\"ward\""), "{}", proxy.context(what, &answer));
    }

    // The plugin's `denied` and `insufficient-scope`.
    for token in ["deny:denied", "deny:insufficient-scope"] {
        let answer = proxy.get("/", &[("X-Api-Key", token)]);
        assert_eq!(answer.status, 403, "{}", proxy.context(token, &answer));
    }

    // A plugin that spins to its deadline (inside the proxy's own timeout,
    // so ward's answer wins), and one that traps.
    for token in ["loop", "unreachable"] {
        let started = Instant::now();
        let answer = proxy.get("/", &[("X-Api-Key", token)]);
        assert_eq!(answer.status, 503, "{}", proxy.context(token, &answer));
        assert_eq!(answer.header("Retry-After"), Some("1"), "{}", proxy.context(token, &answer));
        if token == "loop" {
            assert!(started.elapsed() >= Duration::from_millis(1900), "`loop` answered before its deadline");
        }
    }
    assert_eq!(backend.hits(), before, "a denied request reached the upstream");
}

/// ward down (stopped: drains, closes its kept-alive connections and its
/// port): every request, whatever the client sends, gets `status` at once
/// and none reaches the upstream.
pub fn ward_down_fails_closed_at_once(proxy: &Proxy, backend: &mut Backend, status: u16) {
    let before = backend.hits();
    backend.stop_ward();
    for headers in
        [vec![("Authorization", format!("Bearer {}", backend.good))], vec![("X-Api-Key", "ok:bob".to_owned()), ("X-Ward-Id", backend.alice.clone())], vec![]]
    {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let started = Instant::now();
        let answer = proxy.get("/", &headers);
        // What docs/deployment.md's table reports (`--nocapture` shows it).
        eprintln!("{}, ward down: {} after {:?}", proxy.name(), answer.status, started.elapsed());
        assert_eq!(answer.status, status, "{}", proxy.context("ward down", &answer));
        assert!(answer.upstream_saw().is_empty());
        // A refused connect fails at once: well inside any of the timeouts.
        assert!(started.elapsed() < Duration::from_secs(5), "a refused connection took {:?}", started.elapsed());
    }
    assert_eq!(backend.hits(), before, "a request reached the upstream with ward down");
}

/// After [`ward_down_fails_closed_at_once`]: ward frozen (see
/// [`Backend::freeze_ward`]). The proxy must answer, and not before `bound`,
/// the timeout its documented block sets; a client still waiting at `bound`
/// plus some slack is the hang this exists to catch. Returns the answer for
/// the proxy's own checks; nothing reaches the upstream.
pub fn ward_frozen_answers_within(proxy: &Proxy, backend: &Backend, bound: Duration) -> Answer {
    let before = backend.hits();
    let frozen = backend.freeze_ward();
    let slack = Duration::from_secs(5);
    let bearer = format!("Bearer {}", backend.good);
    let started = Instant::now();
    let answer = match try_get(proxy.port, "/", &[("Authorization", &bearer)], bound + slack) {
        Ok(answer) => answer,
        Err(e) => {
            panic!("{}: with ward frozen the client still had no answer after {:?} ({e}); the documented bound is {bound:?}", proxy.name(), started.elapsed())
        }
    };
    let took = started.elapsed();
    eprintln!("{}, ward frozen: {} after {took:?}", proxy.name(), answer.status);
    assert!(
        took >= bound - Duration::from_millis(500),
        "{} answered {took:?} into its {bound:?} timeout: {}",
        proxy.name(),
        proxy.context("ward frozen", &answer)
    );
    assert!(answer.upstream_saw().is_empty());
    assert_eq!(backend.hits(), before, "a request reached the upstream with ward frozen");
    drop(frozen);
    answer
}

/// The audit log verifies, holds the two faults `denies_pass_through_and_never_forward`
/// caused, and never a credential.
pub fn audit_is_clean(backend: &Backend) {
    backend.gateway.flush_audit().unwrap();
    backend.site.assert_audit("plugin.trap", 2);
    assert!(!backend.site.audit_text().contains(&backend.good), "a credential in the audit log");
}
