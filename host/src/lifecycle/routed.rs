//! A decision under route policy (`crate::policy`): the route the request
//! matches names the plugin, whose own credential header is then read; the
//! plugin's allow must meet the route's `require`; and a route that opts in
//! gets the signed identity assertion. Without a route there is no decision
//! to make: `no-route` (or `unroutable-request`), never a fallback plugin.

use std::sync::Arc;

use http::HeaderMap;

use crate::assertion::Binding;
use crate::policy::{RoutePolicy, Routed};
use crate::sandbox::{Decision, DenyReason};
use crate::server::GateDecision;

use super::gateway::Gateway;
use super::route::Slice;
use super::set::{Entry, PluginSet};

impl Gateway {
    pub(super) async fn routed(&self, set: &PluginSet, policy: &RoutePolicy, headers: &HeaderMap, now_ms: u64) -> GateDecision {
        let (rule, target) = match policy.route(headers) {
            Routed::Route(rule, target) => (rule, target),
            Routed::NoRoute => return refused(None, DenyReason::NoRoute),
            Routed::Unroutable => return refused(None, DenyReason::UnroutableRequest),
        };
        // The config checks every route's plugin index against its plugins.
        let Some(entry) = set.entries.get(rule.plugin) else {
            return refused(None, DenyReason::NoRoute);
        };
        let binding = match (&rule.assertion, target.method.as_deref(), target.path.as_deref()) {
            (Some(route), Some(method), Some(path)) if route.bind_request => Some(Binding { method, path }),
            // An assertion bound to a request ward cannot see would bind nothing.
            (Some(route), _, _) if route.bind_request => return refused(Some(entry), DenyReason::UnroutableRequest),
            _ => None,
        };
        let token = match entry.route.slice(headers) {
            Slice::Found(token) => token,
            Slice::Absent => return refused(Some(entry), DenyReason::MissingCredential),
            Slice::Malformed => return refused(Some(entry), DenyReason::MalformedCredential),
        };
        let mut decided = self.call(entry, token, now_ms, Some(&rule.require)).await;
        if let (Decision::Allow(identity), Some(route), Some(signer)) = (&decided.decision, &rule.assertion, &set.routing.signer) {
            decided.assertion = Some(Arc::from(signer.sign(identity, &route.audience, binding, now_ms / 1000)));
        }
        decided
    }
}

/// A deny before any plugin ran; with the route's plugin, its challenge.
fn refused(entry: Option<&Entry>, reason: DenyReason) -> GateDecision {
    GateDecision {
        plugin_id: entry.map(|e| Arc::clone(&e.id)),
        challenge: entry.map(|e| Arc::from(e.route.challenge())),
        decision: Decision::Deny(reason),
        assertion: None,
    }
}
