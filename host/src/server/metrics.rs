//! The server's own Prometheus metrics. Label values are plugin ids (from
//! signed envelopes, via the gate) and static codes: never a header, a
//! credential or a claim.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Upper bounds of the `/auth` latency histogram, in seconds: a sandboxed call
/// costs tens of microseconds, a guest at its deadline milliseconds.
const BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

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
}

impl Endpoint {
    const ALL: [Self; 5] = [Self::Auth, Self::Healthz, Self::Readyz, Self::Metrics, Self::NotFound];

    fn label(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Healthz => "healthz",
            Self::Readyz => "readyz",
            Self::Metrics => "metrics",
            Self::NotFound => "not_found",
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
}

impl Metrics {
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
        // Writing to a String cannot fail; the results are ignored throughout.
        let _ = writeln!(out, "# HELP ward_decisions_total Answered /auth requests by plugin, outcome and reason code.");
        let _ = writeln!(out, "# TYPE ward_decisions_total counter");
        {
            let decisions = self.decisions.lock().unwrap_or_else(PoisonError::into_inner);
            for ((plugin, outcome, reason), count) in decisions.iter() {
                let plugin = label_value(plugin.as_deref().unwrap_or(""));
                let _ = writeln!(
                    out,
                    "ward_decisions_total{{plugin=\"{plugin}\",outcome=\"{outcome}\",reason=\"{}\"}} {count}",
                    label_value(reason)
                );
            }
        }
        let _ = writeln!(out, "# HELP ward_decisions_overflow_total Decisions not labelled because the series cap was reached.");
        let _ = writeln!(out, "# TYPE ward_decisions_overflow_total counter");
        let _ = writeln!(out, "ward_decisions_overflow_total {}", self.decisions_overflow.load(Ordering::Relaxed));

        let _ = writeln!(out, "# HELP ward_auth_duration_seconds Time from an /auth request's headers to its answer.");
        let _ = writeln!(out, "# TYPE ward_auth_duration_seconds histogram");
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

        let _ = writeln!(out, "# HELP ward_auth_in_flight /auth requests waiting for a decision.");
        let _ = writeln!(out, "# TYPE ward_auth_in_flight gauge");
        let _ = writeln!(out, "ward_auth_in_flight {}", self.in_flight.load(Ordering::Relaxed));

        let _ = writeln!(out, "# HELP ward_http_requests_total HTTP requests by endpoint.");
        let _ = writeln!(out, "# TYPE ward_http_requests_total counter");
        for (endpoint, counter) in Endpoint::ALL.iter().zip(&self.requests) {
            let _ = writeln!(out, "ward_http_requests_total{{endpoint=\"{}\"}} {}", endpoint.label(), counter.load(Ordering::Relaxed));
        }

        let _ = writeln!(out, "# HELP ward_http_connections_open Open client connections.");
        let _ = writeln!(out, "# TYPE ward_http_connections_open gauge");
        let _ = writeln!(out, "ward_http_connections_open {open_connections}");
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
    fn series_are_capped() {
        let metrics = Metrics::default();
        for i in 0..MAX_DECISION_SERIES + 5 {
            metrics.decision(Some(Arc::from(format!("p{i}"))), "allow", "", Duration::ZERO);
        }
        assert_eq!(metrics.decisions.lock().unwrap().len(), MAX_DECISION_SERIES);
        assert_eq!(metrics.decisions_overflow.load(Ordering::Relaxed), 5);
    }
}
