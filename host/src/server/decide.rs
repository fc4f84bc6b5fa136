//! One forward-auth decision, whatever protocol asked for it: the HTTP
//! `/auth` endpoint and the gRPC `ext_authz` service both come here, so they
//! route, limit and time out exactly alike.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::HeaderMap;
use tokio::time::timeout;
use tracing::{debug, error, info, warn};

use super::gate::{Deciding, GateDecision};
use super::respond::{Failure, Outcome};
use super::shared::Shared;
use crate::sandbox::{Decision, DenyReason};

/// The outcome, the plugin that decided (a metrics label) and the scheme for
/// `WWW-Authenticate`.
pub(crate) type Decided = (Outcome, Option<Arc<str>>, Option<Arc<str>>);

/// Asks the gate, within `request_timeout`, on this I/O thread: the gate's
/// future yields while a guest runs (`Gate::decide`), so there is no hand-off
/// to another thread and back, unless the guest runs past a whole epoch tick
/// (then it moves to the slow lane, `lane.rs`). At the timeout the future is
/// dropped, which ends the guest's call wherever it runs.
pub(crate) async fn decide(shared: &Shared, headers: HeaderMap) -> Decided {
    // Owned, so that it moves with the decision: the drain at shutdown
    // waits for every permit, and so for decisions on the slow lane too.
    let Ok(permit) = shared.decisions.clone().try_acquire_owned() else {
        return (Outcome::Deny(DenyReason::OverCapacity), None, None);
    };
    if !shared.gate.is_ready() {
        return (Outcome::NotReady, None, None);
    }
    let gate = Arc::clone(&shared.gate);
    let deciding = async move {
        let _permit = permit;
        Unwinding(gate.decide(&headers)).await
    };
    match timeout(shared.options.request_timeout, shared.slow_lane.run(deciding)).await {
        Err(_) => {
            warn!(timeout_ms = shared.options.request_timeout.as_millis() as u64, "gate did not answer in time");
            (Outcome::Failed(Failure::TimedOut), None, None)
        }
        Ok(Err(_) | Ok(Err(Panicked))) => {
            // The panic payload is not logged: it is the gate's text and
            // could hold anything. A decision the slow lane dropped (only at
            // shutdown) is answered the same way.
            error!(call = "decide", "gate panicked; answering 503");
            (Outcome::Failed(Failure::Internal), None, None)
        }
        Ok(Ok(Ok(GateDecision { plugin_id, challenge, decision, assertion }))) => {
            let outcome = match decision {
                Decision::Allow(identity) => Outcome::Allow(identity, assertion),
                Decision::Deny(reason) => Outcome::Deny(reason),
            };
            (outcome, plugin_id, challenge)
        }
    }
}

/// Logs and counts one answered decision, for `/auth` (`protocol` "auth")
/// and gRPC `Check` ("grpc"); `status` is the HTTP status sent, or the gRPC
/// status code; `outcome` and `reason` are static labels; `identity` is the
/// host-built identity id of an allow ([`identity_id`]).
///
/// With `server.decisionLog` the line is at info (the decision log,
/// docs/configuration.md), otherwise at debug: denies arrive at request
/// rate, and a warning per breaker-open 503 would flood the log. The line
/// holds no request content: the credential, the subject and the headers
/// never reach it. It is written through the log queue (`logging.rs`), so
/// it never blocks this I/O thread. The server's own failures warn where
/// they happen.
pub(crate) fn recorded(
    shared: &Shared,
    protocol: &'static str,
    (plugin, identity): (Option<Arc<str>>, Option<String>),
    (outcome, reason): (&'static str, &'static str),
    status: u16,
    took: Duration,
) {
    let (plugin_label, identity) = (plugin.as_deref().unwrap_or(""), identity.as_deref().unwrap_or(""));
    let micros = took.as_micros() as u64;
    if shared.options.decision_log {
        info!(protocol, identity, plugin = plugin_label, outcome, reason, status, micros, "decision");
    } else {
        debug!(protocol, identity, plugin = plugin_label, outcome, reason, status, micros, "auth");
    }
    shared.metrics.decision(plugin, outcome, reason, took);
}

/// The identity id of an allow, for the decision log when it is on (a copy
/// per request otherwise saved).
pub(crate) fn identity_id(shared: &Shared, outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Allow(identity, _) if shared.options.decision_log => Some(identity.id.clone()),
        _ => None,
    }
}

/// The gate panicked while deciding.
struct Panicked;

/// A decision whose panic becomes [`Panicked`] instead of unwinding through
/// the connection, which would close it unanswered: a gate fault is a 503,
/// as it was when decisions ran on the blocking pool. A future that panicked
/// is never polled again.
struct Unwinding<'a>(Deciding<'a>);

impl Future for Unwinding<'_> {
    type Output = Result<GateDecision, Panicked>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
            Ok(Poll::Ready(decision)) => Poll::Ready(Ok(decision)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(Panicked)),
        }
    }
}

/// `X-Ward-*` is ward's own namespace: whatever arrives under it on a request
/// is a client's forgery, so the gate never sees it.
pub(crate) fn without_reserved(mut headers: HeaderMap) -> HeaderMap {
    let reserved: Vec<_> = headers.keys().filter(|name| name.as_str().starts_with("x-ward-")).cloned().collect();
    for name in reserved {
        headers.remove(name);
    }
    headers
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn reserved_headers_are_removed_in_every_case() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer t"));
        headers.insert("X-Ward-Id", HeaderValue::from_static("forged"));
        headers.append("x-ward-id", HeaderValue::from_static("forged2"));
        headers.insert("X-WARD-LABELS", HeaderValue::from_static("team=admin"));
        let headers = without_reserved(headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("authorization"));
    }
}
