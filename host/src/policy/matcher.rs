//! Which route a request takes. The rule, as `docs/configuration.md`
//! ("Route policy") writes it down:
//!
//! 1. A route matches when each of its conditions holds: `host` equal
//!    (case-insensitive, port ignored), `path` equal or `pathPrefix` a
//!    segment prefix (`/orders` matches `/orders` and `/orders/42`, not
//!    `/orders-admin`), the method one of `methods`. A condition whose
//!    forwarded header is missing does not hold; a route without conditions
//!    on it still matches.
//! 2. Of the routes that match, the most specific wins: a route with a
//!    `host` before one without; then an exact `path` before any
//!    `pathPrefix`, a longer prefix before a shorter one, and either before
//!    no path condition; then a route with `methods` before one without.
//! 3. Two routes of equal specificity that one request could both match are
//!    refused when the policy is built (`overlap`), so the order of the
//!    config never decides. The winner is therefore unique.
//! 4. No route matches: the request is denied (`no-route`). There is no
//!    fallback to a default plugin; a catch-all route says so explicitly.
//!
//! Routes are indexed by host and path (`Routes`), so a decision costs the
//! same few lookups with 1 route or 100.

use std::cmp::Reverse;
use std::collections::HashMap;

use super::error::PolicyError;
use super::require::Requirement;
use super::target::Target;

/// The methods a route may name: RFC 9110's and `PATCH`.
pub const METHODS: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];

/// How a route matches the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    /// Any path, or none forwarded.
    Any,
    /// Exactly this path.
    Exact(String),
    /// This path or one below it, segment-wise.
    Prefix(String),
}

/// Opting in to the signed identity assertion on one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionRoute {
    /// The `aud` claim: the upstream that should accept it.
    pub audience: String,
    /// Whether the `method` and `path` claims bind it to this request.
    pub bind_request: bool,
}

/// One route of `routes.rules`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Lower case, no port.
    pub host: Option<String>,
    /// The path condition.
    pub path: PathMatch,
    /// Upper-case method names; `None` for any.
    pub methods: Option<Vec<String>>,
    /// The plugin's index in the plan; `None`: the first plugin whose
    /// credential header the request carries, as without route policy.
    pub plugin: Option<usize>,
    /// What the identity must carry.
    pub require: Requirement,
    /// The signed assertion, when this route opts in.
    pub assertion: Option<AssertionRoute>,
}

/// Specificity, larger first: host, path kind, path length, methods.
type Rank = (bool, u8, usize, bool);

impl Rule {
    fn rank(&self) -> Rank {
        let (kind, len) = match &self.path {
            PathMatch::Any => (0, 0),
            PathMatch::Prefix(p) => (1, p.len()),
            PathMatch::Exact(p) => (2, p.len()),
        };
        (self.host.is_some(), kind, len, self.methods.is_some())
    }

    /// Whether this route takes `target` (rule 1).
    pub fn matches(&self, target: &Target) -> bool {
        let host = match (&self.host, &target.host) {
            (None, _) => true,
            (Some(want), Some(got)) => want == got,
            (Some(_), None) => false,
        };
        let path = match (&self.path, target.path.as_deref()) {
            (PathMatch::Any, _) => true,
            (PathMatch::Exact(want), Some(got)) => want == got,
            (PathMatch::Prefix(want), Some(got)) => segment_prefix(want, got),
            (_, None) => false,
        };
        host && path && self.matches_method(target.method.as_deref())
    }

    fn matches_method(&self, method: Option<&str>) -> bool {
        match (&self.methods, method) {
            (None, _) => true,
            (Some(methods), Some(got)) => methods.iter().any(|m| m == got),
            (Some(_), None) => false,
        }
    }

    /// Whether one request could match both (only asked of equal ranks).
    fn overlaps(&self, other: &Self) -> bool {
        let methods = match (&self.methods, &other.methods) {
            (Some(a), Some(b)) => a.iter().any(|m| b.contains(m)),
            _ => true,
        };
        self.host == other.host && self.path == other.path && methods
    }
}

/// `/orders` is a prefix of `/orders` and `/orders/42`, not of `/orders-x`;
/// `/orders/` is one of `/orders/42` only.
fn segment_prefix(prefix: &str, path: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// The routes, indexed so that a decision costs a few hash lookups whatever
/// their number: by host, then by exact path, then by each segment prefix of
/// the request's path from the longest down, then the routes without a path
/// condition. Each bucket holds routes of one rank except for `methods`,
/// those with `methods` first: the order of rule 2.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Routes {
    by_host: HashMap<String, Tier>,
    any_host: Tier,
}

/// The routes of one host condition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Tier {
    exact: HashMap<String, Vec<Rule>>,
    prefix: HashMap<String, Vec<Rule>>,
    any_path: Vec<Rule>,
}

impl Routes {
    /// Indexes `rules` (in config order) and refuses two that overlap at
    /// equal specificity (rule 3).
    pub fn new(rules: Vec<Rule>) -> Result<Self, PolicyError> {
        let mut sorted: Vec<(usize, Rule)> = rules.into_iter().enumerate().collect();
        // Stable, so equal ranks stay in config order for the check below.
        sorted.sort_by_key(|(_, rule)| Reverse(rule.rank()));
        for (i, (at, rule)) in sorted.iter().enumerate() {
            let mut earlier = sorted.iter().take(i).rev().take_while(|(_, other)| other.rank() == rule.rank());
            if let Some((other_at, _)) = earlier.find(|(_, other)| other.overlaps(rule)) {
                return Err(PolicyError::Overlap { index: *at, other: *other_at });
            }
        }
        let mut routes = Self::default();
        // In rank order, so each bucket is in rank order too.
        for (_, rule) in sorted {
            let tier = match &rule.host {
                Some(host) => routes.by_host.entry(host.clone()).or_default(),
                None => &mut routes.any_host,
            };
            match &rule.path {
                PathMatch::Exact(path) => tier.exact.entry(path.clone()).or_default().push(rule),
                PathMatch::Prefix(prefix) => tier.prefix.entry(prefix.clone()).or_default().push(rule),
                PathMatch::Any => tier.any_path.push(rule),
            }
        }
        Ok(routes)
    }

    /// The route `target` takes, if any (rule 2 and 4).
    pub fn pick(&self, target: &Target) -> Option<&Rule> {
        let by_host = target.host.as_ref().and_then(|host| self.by_host.get(host)).and_then(|tier| tier.pick(target));
        by_host.or_else(|| self.any_host.pick(target))
    }
}

impl Tier {
    fn pick(&self, target: &Target) -> Option<&Rule> {
        let method = target.method.as_deref();
        if let Some(path) = target.path.as_deref() {
            if let Some(rule) = self.exact.get(path).and_then(|rules| first(rules, method)) {
                return Some(rule);
            }
            if !self.prefix.is_empty()
                && let Some(rule) = segment_prefixes(path).find_map(|prefix| self.prefix.get(prefix).and_then(|rules| first(rules, method)))
            {
                return Some(rule);
            }
        }
        first(&self.any_path, method)
    }
}

/// The first of `rules` (one bucket, in rank order) that takes `method`.
fn first<'r>(rules: &'r [Rule], method: Option<&str>) -> Option<&'r Rule> {
    rules.iter().find(|rule| rule.matches_method(method))
}

/// Every prefix `pathPrefix` may hold to match `path` (`segment_prefix`),
/// longest first: the path itself, then at each `/` from the end the path
/// up to and including it, and up to it.
fn segment_prefixes(path: &str) -> impl Iterator<Item = &str> {
    let cuts = path.char_indices().rev().filter(|(_, c)| *c == '/').flat_map(move |(i, _)| [path.get(..=i), if i > 0 { path.get(..i) } else { None }]);
    std::iter::once(Some(path)).chain(cuts).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(host: Option<&str>, path: PathMatch, methods: Option<&[&str]>, plugin: usize) -> Rule {
        Rule {
            host: host.map(str::to_owned),
            path,
            methods: methods.map(|m| m.iter().map(|s| (*s).to_owned()).collect()),
            plugin: Some(plugin),
            require: Requirement::default(),
            assertion: None,
        }
    }

    fn target(method: Option<&str>, host: Option<&str>, path: Option<&str>) -> Target {
        Target { method: method.map(Into::into), host: host.map(Into::into), path: path.map(Into::into) }
    }

    fn prefix(p: &str) -> PathMatch {
        PathMatch::Prefix(p.into())
    }

    #[test]
    fn the_most_specific_route_wins_whatever_the_config_order() {
        let rules = vec![
            rule(None, PathMatch::Any, None, 0),
            rule(None, prefix("/orders"), None, 1),
            rule(None, prefix("/orders"), Some(&["POST"]), 2),
            rule(None, PathMatch::Exact("/orders/export".into()), None, 3),
            rule(Some("admin.test"), PathMatch::Any, None, 4),
            rule(None, prefix("/orders/archive"), None, 5),
        ];
        for order in [rules.clone(), rules.into_iter().rev().collect()] {
            let routes = Routes::new(order).unwrap();
            let picked = |t: Target| routes.pick(&t).and_then(|r| r.plugin);
            assert_eq!(picked(target(Some("GET"), Some("shop.test"), Some("/orders/1"))), Some(1));
            assert_eq!(picked(target(Some("POST"), Some("shop.test"), Some("/orders/1"))), Some(2));
            assert_eq!(picked(target(Some("POST"), Some("shop.test"), Some("/orders/export"))), Some(3));
            assert_eq!(picked(target(Some("GET"), None, Some("/orders/archive/7"))), Some(5));
            assert_eq!(picked(target(Some("POST"), Some("admin.test"), Some("/orders/1"))), Some(4), "a host route before any path route");
            assert_eq!(picked(target(Some("GET"), None, Some("/orders-admin"))), Some(0), "prefixes are segment-wise");
        }
    }

    #[test]
    fn a_missing_header_skips_the_routes_that_depend_on_it_and_never_allows_by_default() {
        let routes = Routes::new(vec![rule(None, prefix("/"), None, 0), rule(Some("admin.test"), PathMatch::Any, Some(&["GET"]), 1)]).unwrap();
        assert_eq!(routes.pick(&target(Some("GET"), None, None)), None, "no path, no host: no route, a deny");
        assert_eq!(routes.pick(&target(None, Some("admin.test"), Some("/x"))).and_then(|r| r.plugin), Some(0));
        let with_default = Routes::new(vec![rule(None, prefix("/api"), None, 0), rule(None, PathMatch::Any, None, 1)]).unwrap();
        assert_eq!(with_default.pick(&Target::default()).and_then(|r| r.plugin), Some(1), "the route that does not depend on the path");
    }

    /// The index answers what rules 1 and 2 say: of the rules that match,
    /// the one of highest rank, on every combination of a varied policy.
    #[test]
    fn the_index_picks_what_a_scan_of_every_rule_would() {
        let rules = vec![
            rule(None, PathMatch::Any, None, 0),
            rule(None, PathMatch::Any, Some(&["DELETE"]), 1),
            rule(None, prefix("/"), None, 2),
            rule(None, prefix("/a"), None, 3),
            rule(None, prefix("/a/"), Some(&["GET"]), 4),
            rule(None, prefix("/a/b"), None, 5),
            rule(None, PathMatch::Exact("/a/b".into()), Some(&["POST"]), 6),
            rule(Some("h.test"), prefix("/a"), None, 7),
            rule(Some("h.test"), PathMatch::Exact("/x".into()), None, 8),
            rule(Some("g.test"), PathMatch::Any, Some(&["GET"]), 9),
        ];
        let routes = Routes::new(rules.clone()).unwrap();
        let paths = [None, Some("/"), Some("/a"), Some("/a/"), Some("/a/b"), Some("/a/b/"), Some("/a/bc"), Some("/ab"), Some("/x"), Some("/a/b/c/d")];
        for host in [None, Some("h.test"), Some("g.test"), Some("other")] {
            for method in [None, Some("GET"), Some("POST"), Some("DELETE")] {
                for path in paths {
                    let t = target(method, host, path);
                    let scan = rules.iter().filter(|r| r.matches(&t)).max_by_key(|r| r.rank()).map(|r| r.plugin);
                    assert_eq!(routes.pick(&t).map(|r| r.plugin), scan, "{t:?}");
                }
            }
        }
    }

    #[test]
    fn routes_of_equal_specificity_that_overlap_are_refused() {
        let overlap = Routes::new(vec![
            rule(None, prefix("/orders"), Some(&["GET", "POST"]), 0),
            rule(None, prefix("/other"), None, 0),
            rule(None, prefix("/orders"), Some(&["POST"]), 1),
        ]);
        assert_eq!(overlap, Err(PolicyError::Overlap { index: 2, other: 0 }));
        let duplicate = Routes::new(vec![rule(None, PathMatch::Any, None, 0), rule(None, PathMatch::Any, None, 1)]);
        assert_eq!(duplicate, Err(PolicyError::Overlap { index: 1, other: 0 }));
        // Same path, disjoint methods; same rank, different hosts: both reachable.
        assert!(Routes::new(vec![rule(None, prefix("/o"), Some(&["GET"]), 0), rule(None, prefix("/o"), Some(&["POST"]), 1)]).is_ok());
        assert!(Routes::new(vec![rule(Some("a"), prefix("/o"), None, 0), rule(Some("b"), prefix("/o"), None, 1)]).is_ok());
    }
}
