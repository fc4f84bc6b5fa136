//! Route policy: which plugin decides a request, and what the identity it
//! vouches for must carry, by the original request's host, path and method.
//!
//! - `target.rs`: the original request, read from the headers the proxy
//!   forwards it in (configurable names), refusing values that read two ways.
//! - `matcher.rs`: the routes, most specific first; the matching rule is
//!   written down there and in `docs/configuration.md`.
//! - `require.rs`: a route's `require`, checked after the plugin allowed.
//!
//! An inner room: the config room builds a [`RoutePolicy`], the lifecycle
//! applies it to each decision. It reads no config and calls no plugin.

mod error;
mod matcher;
mod require;
mod target;

use http::HeaderMap;

pub use error::PolicyError;
pub use matcher::{AssertionRoute, METHODS, PathMatch, Routes, Rule};
pub use require::{Requirement, principal_type};
pub use target::{ForwardedNames, TARGET_HOST, TARGET_METHOD, TARGET_PATH, Target, Unroutable, normalized_path};

/// The forwarded-header names and the routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePolicy {
    /// Where the proxy puts the original method, URI and host.
    pub forwarded: ForwardedNames,
    /// The routes, most specific first.
    pub routes: Routes,
}

/// Where one request goes.
#[derive(Debug)]
pub enum Routed<'p> {
    /// The route it takes, and the original request as read.
    Route(&'p Rule, Target),
    /// No route matches: a deny (`no-route`).
    NoRoute,
    /// A forwarded value reads two ways: a deny (`unroutable-request`).
    Unroutable,
}

impl RoutePolicy {
    /// Routes one request by its headers.
    pub fn route(&self, headers: &HeaderMap) -> Routed<'_> {
        let Ok(target) = Target::read(headers, &self.forwarded) else {
            return Routed::Unroutable;
        };
        match self.routes.pick(&target) {
            Some(rule) => Routed::Route(rule, target),
            None => Routed::NoRoute,
        }
    }
}
