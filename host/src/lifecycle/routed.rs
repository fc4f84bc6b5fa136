//! Which plugin a request goes to and with which credential: by route
//! policy (`crate::policy`) when the plan has one, else by the credential
//! headers. Under policy the route the request matches names the plugin,
//! whose own credential header is then read; the gateway checks the route's
//! `require` on the plugin's allow, and a route that opts in gets the signed
//! identity assertion (`assertion`). Without a route there is no decision to
//! make: `no-route` (or `unroutable-request`), never a fallback plugin.

use std::sync::Arc;

use http::HeaderMap;

use crate::assertion::Binding;
use crate::identity::Identity;
use crate::policy::{Routed, Rule, Target};
use crate::sandbox::{Decision, DenyReason};
use crate::server::GateDecision;

use super::route::Slice;
use super::set::{Entry, PluginSet};

/// The plugin to call, its credential, and the route that led there.
pub(super) struct Picked<'s, 'h> {
    pub entry: &'s Entry,
    pub token: &'h str,
    /// `None` without route policy.
    pub rule: Option<&'s Rule>,
    pub target: Target,
}

/// Picks the plugin for one request, or the deny when none may be called.
// The error is the request's answer itself, built once and moved out.
#[allow(clippy::result_large_err)]
pub(super) fn pick<'s, 'h>(set: &'s PluginSet, headers: &'h HeaderMap) -> Result<Picked<'s, 'h>, GateDecision> {
    let Some(policy) = &set.routing.policy else {
        let (entry, token) = by_credential(set, headers)?;
        return Ok(Picked { entry, token, rule: None, target: Target::default() });
    };
    let (rule, target) = match policy.route(headers) {
        Routed::Route(rule, target) => (rule, target),
        Routed::NoRoute => return Err(refused(None, DenyReason::NoRoute)),
        Routed::Unroutable => return Err(refused(None, DenyReason::UnroutableRequest)),
    };
    // An assertion bound to a request ward cannot see would bind nothing.
    if rule.assertion.as_ref().is_some_and(|route| route.bind_request) && (target.method.is_none() || target.path.is_none()) {
        return Err(refused(None, DenyReason::UnroutableRequest));
    }
    let (entry, token) = match rule.plugin {
        None => by_credential(set, headers)?,
        // The config checks every route's plugin index against its plugins.
        Some(index) => {
            let entry = set.entries.get(index).ok_or_else(|| refused(None, DenyReason::NoRoute))?;
            match entry.route.slice(headers) {
                Slice::Found(token) => (entry, token),
                Slice::Absent => return Err(refused(Some(entry), DenyReason::MissingCredential)),
                Slice::Malformed => return Err(refused(Some(entry), DenyReason::MalformedCredential)),
            }
        }
    };
    Ok(Picked { entry, token, rule: Some(rule), target })
}

/// The signed assertion for an allowed `identity`, when its route opts in.
pub(super) fn assertion(set: &PluginSet, picked: &Picked<'_, '_>, identity: &Identity, now_ms: u64) -> Option<Arc<str>> {
    let route = picked.rule?.assertion.as_ref()?;
    let signer = set.routing.signer.as_ref()?;
    let binding = match (route.bind_request, picked.target.method.as_deref(), picked.target.path.as_deref()) {
        (true, Some(method), Some(path)) => Some(Binding { method, path }),
        _ => None,
    };
    Some(Arc::from(signer.sign(identity, &route.audience, binding, now_ms / 1000)))
}

/// The first plugin, in plan order, whose credential header the request
/// carries, and the credential: how a request is routed without route
/// policy, or by a route that names no plugin. Otherwise the deny, with the
/// first plugin's challenge.
#[allow(clippy::result_large_err)] // as `pick`
fn by_credential<'s, 'h>(set: &'s PluginSet, headers: &'h HeaderMap) -> Result<(&'s Entry, &'h str), GateDecision> {
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
