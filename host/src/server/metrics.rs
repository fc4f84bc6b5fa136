//! Every metric of `/metrics`, rendered here and only here (Prometheus text
//! format 0.0.4): the server's own counters, `ward_build_info`, the
//! process's resource use (`process.rs` reads it) and the gate's stats
//! ([`GateStats`], data the gate returns). Label values are plugin ids (from
//! the plan, via the gate), enums and static codes: never a header, a
//! credential or a claim. `docs/http-api.md` lists every metric: names and
//! labels are a wire format operators alert on. Writing to a `String`
//! cannot fail, so `writeln!`'s result is ignored throughout.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::gate::{GateStats, PluginState};
use super::process::ProcessStats;

/// Upper bounds of the `/auth` latency histogram, in seconds: a sandboxed call
/// costs tens of microseconds, a guest at its deadline milliseconds.
const BUCKETS: [f64; 16] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Beyond this many (plugin, outcome, reason) series new ones are only counted
/// in `ward_decisions_overflow_total`: a gate that invents plugin ids must not
/// grow memory without bound.
const MAX_DECISION_SERIES: usize = 4096;

/// The endpoints, as the `endpoint` label.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Endpoint {
    Auth,
    Healthz,
    Readyz,
    Metrics,
    NotFound,
    /// `envoy.service.auth.v3.Authorization/Check`.
    ExtAuthzGrpc,
    /// `grpc.health.v1.Health`.
    GrpcHealth,
    /// `/.well-known/jwks.json`.
    Jwks,
}

impl Endpoint {
    const ALL: [Self; 8] = [Self::Auth, Self::Healthz, Self::Readyz, Self::Metrics, Self::NotFound, Self::ExtAuthzGrpc, Self::GrpcHealth, Self::Jwks];

    fn label(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Healthz => "healthz",
            Self::Readyz => "readyz",
            Self::Metrics => "metrics",
            Self::NotFound => "not_found",
            Self::ExtAuthzGrpc => "ext_authz_grpc",
            Self::GrpcHealth => "grpc_health",
            Self::Jwks => "jwks",
        }
    }
}

/// Why a TLS handshake failed, as the `reason` label.
#[derive(Debug, Clone, Copy)]
pub(crate) enum HandshakeFailure {
    /// Under mutual TLS: no client certificate, or one the client CA did not issue.
    ClientCert,
    /// Anything else rustls refused: plaintext on the TLS port, no common
    /// version or suite, a malformed message.
    Protocol,
    /// The peer closed, or the socket failed, mid-handshake.
    Io,
    /// Not done within the header timeout.
    Timeout,
}

impl HandshakeFailure {
    const ALL: [Self; 4] = [Self::ClientCert, Self::Protocol, Self::Io, Self::Timeout];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::ClientCert => "client-cert",
            Self::Protocol => "protocol",
            Self::Io => "io",
            Self::Timeout => "timeout",
        }
    }
}

type DecisionKey = (Option<Arc<str>>, &'static str, &'static str);

/// Counters, the latency histogram and the in-flight gauge.
#[derive(Default)]
pub(crate) struct Metrics {
    decisions: Mutex<BTreeMap<DecisionKey, u64>>,
    decisions_overflow: AtomicU64,
    requests: [AtomicU64; Endpoint::ALL.len()],
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_nanos: AtomicU64,
    in_flight: AtomicU64,
    handshake_failures: [AtomicU64; HandshakeFailure::ALL.len()],
}

impl Metrics {
    pub(crate) fn handshake_failed(&self, reason: HandshakeFailure) {
        if let Some(counter) = self.handshake_failures.get(reason as usize) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The TLS families, for a listener with `server.tls`: handshake
    /// failures by reason and certificate re-reads by result.
    pub(crate) fn render_tls(&self, out: &mut String, (applied, refused): (u64, u64)) {
        family(out, "ward_tls_handshake_failures_total", "counter", "TLS handshakes that failed, by reason; such connections never reach a route.");
        for (reason, counter) in HandshakeFailure::ALL.iter().zip(&self.handshake_failures) {
            let _ = writeln!(out, "ward_tls_handshake_failures_total{{reason=\"{}\"}} {}", reason.label(), counter.load(Ordering::Relaxed));
        }
        family(out, "ward_tls_reloads_total", "counter", "Certificate re-reads at SIGHUP by result; a refused one keeps the previous certificates.");
        let _ = writeln!(out, "ward_tls_reloads_total{{result=\"applied\"}} {applied}");
        let _ = writeln!(out, "ward_tls_reloads_total{{result=\"refused\"}} {refused}");
    }

    pub(crate) fn request(&self, endpoint: Endpoint) {
        if let Some(counter) = self.requests.get(endpoint as usize) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one answered `/auth` and its latency.
    pub(crate) fn decision(&self, plugin: Option<Arc<str>>, outcome: &'static str, reason: &'static str, took: Duration) {
        {
            let mut decisions = self.decisions.lock().unwrap_or_else(PoisonError::into_inner);
            let key = (plugin, outcome, reason);
            if let Some(count) = decisions.get_mut(&key) {
                *count += 1;
            } else if decisions.len() < MAX_DECISION_SERIES {
                decisions.insert(key, 1);
            } else {
                self.decisions_overflow.fetch_add(1, Ordering::Relaxed);
            }
        }
        let seconds = took.as_secs_f64();
        if let Some(bucket) = BUCKETS.iter().position(|&le| seconds <= le).and_then(|i| self.latency_buckets.get(i)) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.latency_sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Marks one `/auth` as in flight until the guard drops, which also covers
    /// a request whose client went away mid-decision.
    pub(crate) fn in_flight(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(&self.in_flight)
    }

    /// Prometheus text format, version 0.0.4.
    pub(crate) fn render(&self, out: &mut String, open_connections: usize) {
        family(out, "ward_decisions_total", "counter", "Answered /auth and ext_authz gRPC Check requests by plugin, outcome and reason code.");
        {
            let decisions = self.decisions.lock().unwrap_or_else(PoisonError::into_inner);
            for ((plugin, outcome, reason), count) in decisions.iter() {
                let plugin = label_value(plugin.as_deref().unwrap_or(""));
                let _ = writeln!(out, "ward_decisions_total{{plugin=\"{plugin}\",outcome=\"{outcome}\",reason=\"{}\"}} {count}", label_value(reason));
            }
        }
        family(out, "ward_decisions_overflow_total", "counter", "Decisions not labelled because the series cap was reached.");
        let _ = writeln!(out, "ward_decisions_overflow_total {}", self.decisions_overflow.load(Ordering::Relaxed));

        family(out, "ward_auth_duration_seconds", "histogram", "Time from an /auth request's headers, or a Check request's message, to its answer.");
        let mut cumulative = 0u64;
        for (le, bucket) in BUCKETS.iter().zip(&self.latency_buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "ward_auth_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let sum = Duration::from_nanos(self.latency_sum_nanos.load(Ordering::Relaxed)).as_secs_f64();
        let _ = writeln!(out, "ward_auth_duration_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "ward_auth_duration_seconds_sum {sum}");
        let _ = writeln!(out, "ward_auth_duration_seconds_count {count}");

        family(out, "ward_auth_in_flight", "gauge", "/auth and Check requests waiting for a decision.");
        let _ = writeln!(out, "ward_auth_in_flight {}", self.in_flight.load(Ordering::Relaxed));

        family(out, "ward_http_requests_total", "counter", "HTTP and gRPC requests by endpoint.");
        for (endpoint, counter) in Endpoint::ALL.iter().zip(&self.requests) {
            let _ = writeln!(out, "ward_http_requests_total{{endpoint=\"{}\"}} {}", endpoint.label(), counter.load(Ordering::Relaxed));
        }

        family(out, "ward_http_connections_open", "gauge", "Open client connections.");
        let _ = writeln!(out, "ward_http_connections_open {open_connections}");
    }
}

/// The whole `/metrics` page: the server's metrics, the build, the process
/// (what could be read of it), then the gate's, or a comment saying they are
/// unavailable (the server's part is what an operator debugs a stuck gate with).
pub(crate) fn page(metrics: &Metrics, open_connections: usize, tls: Option<(u64, u64)>, process: &ProcessStats, gate: Option<&GateStats>) -> String {
    let mut out = String::new();
    metrics.render(&mut out, open_connections);
    if let Some(reloads) = tls {
        metrics.render_tls(&mut out, reloads);
    }
    render_build_info(&mut out);
    render_process(&mut out, process);
    match gate {
        Some(stats) => render_gate(&mut out, stats),
        None => out.push_str("# gate metrics unavailable\n"),
    }
    out
}

/// `# HELP` and `# TYPE`, once per family, before its samples.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn render_build_info(out: &mut String) {
    family(out, "ward_build_info", "gauge", "Always 1; the version label is ward's.");
    let _ = writeln!(out, "ward_build_info{{version=\"{}\"}} 1", label_value(env!("CARGO_PKG_VERSION")));
}

/// The families Prometheus's client libraries export, under their names; a
/// value that could not be read leaves its family out.
fn render_process(out: &mut String, process: &ProcessStats) {
    let gauges = [
        ("process_resident_memory_bytes", "Resident memory size in bytes.", process.resident_memory_bytes),
        ("process_open_fds", "Number of open file descriptors.", process.open_fds),
        ("process_max_fds", "Maximum number of open file descriptors.", process.max_fds),
    ];
    for (name, help, value) in gauges {
        if let Some(value) = value {
            family(out, name, "gauge", help);
            let _ = writeln!(out, "{name} {value}");
        }
    }
    if let Some(seconds) = process.cpu_seconds {
        family(out, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
        let _ = writeln!(out, "process_cpu_seconds_total {seconds}");
    }
    if let Some(seconds) = process.start_time_seconds {
        family(out, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
        let _ = writeln!(out, "process_start_time_seconds {seconds}");
    }
}

/// The gate's part of `/metrics`, as the server renders it: for tests and
/// tools that hold a gate without a server.
pub fn render_gate_stats(stats: &GateStats) -> String {
    let mut out = String::new();
    render_gate(&mut out, stats);
    out
}

/// The audit log's append loop: what to watch with several replicas on one
/// Redis chain (docs/deployment.md, "Several replicas").
fn render_audit(out: &mut String, audit: &crate::audit::AuditStats) {
    let families: [(&str, &str, &str, f64); 8] = [
        ("ward_audit_queue_depth", "gauge", "Request audit events waiting for the writer.", audit.queue_depth as f64),
        ("ward_audit_appended_total", "counter", "Audit records this process appended.", audit.appended as f64),
        ("ward_audit_batches_total", "counter", "Batches of audit records appended (one store round trip each when no race is lost).", audit.batches as f64),
        ("ward_audit_append_seconds_total", "counter", "Time from a batch's first offer to its append, summed over batches.", audit.append_micros as f64 / 1e6),
        (
            "ward_audit_lost_races_total",
            "counter",
            "Offers refused because another replica moved the chain's head first (each retried on the new head).",
            audit.lost_races as f64,
        ),
        ("ward_audit_store_errors_total", "counter", "Offers the audit store did not answer (unreachable, timed out, loading).", audit.store_errors as f64),
        ("ward_audit_store_stalled", "gauge", "1 while the writer holds a batch the audit store could not take yet.", f64::from(u8::from(audit.stalled))),
        (
            "ward_audit_refused",
            "gauge",
            "1 once the audit log refuses every append (a store head that does not verify or went back, a failed write): not ready.",
            f64::from(u8::from(audit.refused)),
        ),
    ];
    for (name, kind, help, value) in families {
        family(out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    }
}

fn render_gate(out: &mut String, stats: &GateStats) {
    family(out, "ward_plugin_state", "gauge", "1 for the state each configured plugin is in.");
    for plugin in &stats.plugins {
        let state = match plugin.state {
            PluginState::Active { .. } => "active",
            PluginState::Disabled => "disabled",
            PluginState::Revoked => "revoked",
        };
        let _ = writeln!(out, "ward_plugin_state{{plugin=\"{}\",state=\"{state}\"}} 1", label_value(plugin.plugin.as_str()));
    }
    family(out, "ward_breaker_open", "gauge", "1 while a plugin's circuit breaker is open or half-open.");
    for plugin in &stats.plugins {
        if let PluginState::Active { breaker_open } = plugin.state {
            let _ = writeln!(out, "ward_breaker_open{{plugin=\"{}\"}} {}", label_value(plugin.plugin.as_str()), u8::from(breaker_open));
        }
    }
    family(out, "ward_reloads_total", "counter", "Config reloads by result.");
    let _ = writeln!(out, "ward_reloads_total{{result=\"applied\"}} {}", stats.reloads_applied);
    let _ = writeln!(out, "ward_reloads_total{{result=\"refused\"}} {}", stats.reloads_refused);
    family(out, "ward_audit_dropped_total", "counter", "Request audit events dropped by the overflow policy (each recorded as audit.dropped).");
    let _ = writeln!(out, "ward_audit_dropped_total {}", stats.audit_dropped);
    render_audit(out, &stats.audit);
    family(
        out,
        "ward_audit_unrecorded_total",
        "counter",
        "Plugin lifecycle records the audit log refused: a breaker that opened (or a revoked plugin that stopped) anyway, or a half-open or close that did not happen.",
    );
    for unrecorded in &stats.unrecorded {
        let _ = writeln!(
            out,
            "ward_audit_unrecorded_total{{plugin=\"{}\",event=\"{}\"}} {}",
            label_value(unrecorded.plugin.as_str()),
            label_value(unrecorded.event),
            unrecorded.count
        );
    }
}

/// Decrements the in-flight gauge on drop.
pub(crate) struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Escapes a label value as the text format requires (`\`, `"`, newline).
fn label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histogram_and_escapes_labels() {
        let metrics = Metrics::default();
        metrics.decision(Some(Arc::from("a\"b\\c\nd")), "deny", "plugin:expired", Duration::from_micros(300));
        metrics.decision(None, "unavailable", "not-ready", Duration::from_secs(20));
        metrics.request(Endpoint::Auth);
        let mut out = String::new();
        metrics.render(&mut out, 3);
        assert!(out.contains(r#"ward_decisions_total{plugin="a\"b\\c\nd",outcome="deny",reason="plugin:expired"} 1"#), "{out}");
        assert!(out.contains(r#"ward_decisions_total{plugin="",outcome="unavailable",reason="not-ready"} 1"#));
        assert!(out.contains("ward_auth_duration_seconds_bucket{le=\"0.00025\"} 0\n"));
        assert!(out.contains("ward_auth_duration_seconds_bucket{le=\"0.0005\"} 1\n"));
        assert!(out.contains("ward_auth_duration_seconds_bucket{le=\"10\"} 1\n"));
        assert!(out.contains("ward_auth_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(out.contains("ward_auth_duration_seconds_count 2\n"));
        assert!(out.contains("ward_http_requests_total{endpoint=\"auth\"} 1\n"));
        assert!(out.contains("ward_http_connections_open 3\n"));
    }

    #[test]
    fn the_page_has_every_part_and_leaves_out_what_could_not_be_read() {
        let metrics = Metrics::default();
        let without = page(&metrics, 0, None, &ProcessStats::default(), None);
        assert!(!without.contains("ward_tls_"), "no TLS families without TLS:\n{without}");
        assert!(without.contains(&format!("ward_build_info{{version=\"{}\"}} 1\n", env!("CARGO_PKG_VERSION"))), "{without}");
        assert!(!without.contains("process_"), "unread values are left out:\n{without}");
        assert!(without.ends_with("} 1\n# gate metrics unavailable\n"), "the gate's part comes last:\n{without}");

        let process = ProcessStats {
            resident_memory_bytes: Some(4096),
            open_fds: Some(9),
            max_fds: None,
            cpu_seconds: Some(1.25),
            start_time_seconds: Some(1_700_000_000.5),
        };
        let stats = GateStats { reloads_applied: 3, ..GateStats::default() };
        metrics.handshake_failed(HandshakeFailure::ClientCert);
        let with = page(&metrics, 0, Some((2, 1)), &process, Some(&stats));
        for line in [
            "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 4096\n",
            "process_open_fds 9\n",
            "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.25\n",
            "process_start_time_seconds 1700000000.5\n",
            "ward_reloads_total{result=\"applied\"} 3\n",
            "ward_tls_handshake_failures_total{reason=\"client-cert\"} 1\n",
            "ward_tls_handshake_failures_total{reason=\"timeout\"} 0\n",
            "ward_tls_reloads_total{result=\"applied\"} 2\n",
            "ward_tls_reloads_total{result=\"refused\"} 1\n",
        ] {
            assert!(with.contains(line), "missing {line:?} in\n{with}");
        }
        assert!(!with.contains("process_max_fds") && !with.contains("unavailable"), "{with}");
    }

    #[test]
    fn series_are_capped() {
        let metrics = Metrics::default();
        for i in 0..MAX_DECISION_SERIES + 5 {
            metrics.decision(Some(Arc::from(format!("p{i}"))), "allow", "", Duration::ZERO);
        }
        assert_eq!(metrics.decisions.lock().unwrap().len(), MAX_DECISION_SERIES);
        assert_eq!(metrics.decisions_overflow.load(Ordering::Relaxed), 5);
    }
}
