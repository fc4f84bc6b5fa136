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
        let binding = match (&rule.assertion, target.method.as_deref(), target.path.as_deref()) {
            (Some(route), Some(method), Some(path)) if route.bind_request => Some(Binding { method, path }),
            // An assertion bound to a request ward cannot see would bind nothing.
            (Some(route), _, _) if route.bind_request => return refused(None, DenyReason::UnroutableRequest),
            _ => None,
        };
        let (entry, token) = match rule.plugin {
            None => match by_credential(set, headers) {
                Ok(found) => found,
                Err(refused) => return refused,
            },
            // The config checks every route's plugin index against its plugins.
            Some(index) => match set.entries.get(index) {
                None => return refused(None, DenyReason::NoRoute),
                Some(entry) => match entry.route.slice(headers) {
                    Slice::Found(token) => (entry, token),
                    Slice::Absent => return refused(Some(entry), DenyReason::MissingCredential),
                    Slice::Malformed => return refused(Some(entry), DenyReason::MalformedCredential),
                },
            },
        };
        let mut decided = self.call(entry, token, now_ms, Some(&rule.require)).await;
        if let (Decision::Allow(identity), Some(route), Some(signer)) = (&decided.decision, &rule.assertion, &set.routing.signer) {
            decided.assertion = Some(Arc::from(signer.sign(identity, &route.audience, binding, now_ms / 1000)));
        }
        decided
    }
}

/// The first plugin, in plan order, whose credential header the request
/// carries, and the credential: how a request is routed without route
/// policy, or by a route that names no plugin. Otherwise the deny, with the
/// first plugin's challenge.
pub(super) fn by_credential<'s, 'h>(set: &'s PluginSet, headers: &'h HeaderMap) -> Result<(&'s Entry, &'h str), GateDecision> {
    let mut malformed = false;
    for entry in &set.entries {
        match entry.route.slice(headers) {
            Slice::Absent => {}
            Slice::Malformed => malformed = true,
            Slice::Found(token) => return Ok((entry, token)),
        }
    }
    let reason = if malformed { DenyReason::MalformedCredential } else { DenyReason::MissingCredential };
    // No plugin decided, so no plugin label; the first one's challenge.
    let challenge = set.entries.first().map(|e| Arc::from(e.route.challenge()));
    Err(GateDecision { plugin_id: None, challenge, decision: Decision::Deny(reason), assertion: None })
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
