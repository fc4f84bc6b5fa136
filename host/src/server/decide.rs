//! One forward-auth decision, whatever protocol asked for it: the HTTP
//! `/auth` endpoint and the gRPC `ext_authz` service both come here, so they
//! route, limit and time out exactly alike.

use std::sync::Arc;

use http::HeaderMap;
use tokio::task::spawn_blocking;
use tokio::time::timeout;
use tracing::warn;

use super::gate::GateDecision;
use super::respond::{Failure, Outcome};
use super::routes::join_failed;
use super::shared::Shared;
use crate::sandbox::{Decision, DenyReason};

/// The outcome, the plugin that decided (a metrics label) and the scheme for
/// `WWW-Authenticate`.
pub(crate) type Decided = (Outcome, Option<Arc<str>>, Option<Arc<str>>);

/// Asks the gate, off the I/O threads, within `request_timeout`.
pub(crate) async fn decide(shared: &Shared, headers: HeaderMap) -> Decided {
    let Ok(permit) = shared.decisions.clone().try_acquire_owned() else {
        return (Outcome::Deny(DenyReason::OverCapacity), None, None);
    };
    let gate = shared.gate.clone();
    let task = spawn_blocking(move || {
        // The permit lives as long as the call: a call that outlives its request
        // still counts against the limit.
        let _permit = permit;
        gate.is_ready().then(|| gate.decide(&headers))
    });
    match timeout(shared.options.request_timeout, task).await {
        Err(_) => {
            warn!(timeout_ms = shared.options.request_timeout.as_millis() as u64, "gate did not answer in time");
            (Outcome::Failed(Failure::TimedOut), None, None)
        }
        Ok(Err(join)) => {
            join_failed("decide", &join);
            (Outcome::Failed(Failure::Internal), None, None)
        }
        Ok(Ok(None)) => (Outcome::NotReady, None, None),
        Ok(Ok(Some(GateDecision { plugin_id, challenge, decision }))) => {
            let outcome = match decision {
                Decision::Allow(identity) => Outcome::Allow(identity),
                Decision::Deny(reason) => Outcome::Deny(reason),
            };
            (outcome, plugin_id, challenge)
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
