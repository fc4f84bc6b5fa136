//! The `routes` and `assertion` sections: their raw shape, and the checks
//! that turn them into the policy room's [`RoutePolicy`] and the assertion
//! room's [`Signer`]. Every refusal names its JSON path.
//!
//! This module reads files only through the reader `load.rs` hands it, so
//! key files go through the same confined, owner-only checks as the others.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::assertion::{self, AssertionError, AssertionKey, Signer};
use crate::identity::ClaimsPolicy;
use crate::lifecycle::PluginSpec;
use crate::policy::{self, AssertionRoute, ForwardedNames, PathMatch, PolicyError, Requirement, RoutePolicy, Routes, Rule};
use crate::trust::{SigningSecret, public_key_from_pem};

use super::ConfigError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawRoutes {
    pub proxy: RawProxy,
    #[serde(default)]
    pub forwarded_headers: RawForwarded,
    pub rules: Vec<RawRule>,
}

/// Which proxy forwards the original request, and so under which names.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawProxy {
    Nginx,
    Traefik,
    Caddy,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawForwarded {
    pub method: Option<String>,
    pub uri: Option<String>,
    pub host: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawRule {
    pub host: Option<String>,
    pub path: Option<String>,
    pub path_prefix: Option<String>,
    pub methods: Option<Vec<String>>,
    pub plugin: Option<String>,
    #[serde(default)]
    pub require: RawRequire,
    pub assertion: Option<RawRouteAssertion>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawRequire {
    #[serde(default)]
    pub scopes: Vec<String>,
    pub principal_types: Option<Vec<String>>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawRouteAssertion {
    pub audience: String,
    #[serde(default)]
    pub bind_request: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawAssertion {
    pub issuer: Option<String>,
    pub ttl_seconds: Option<u64>,
    pub keys: Vec<RawAssertionKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawAssertionKey {
    pub kid: String,
    pub key_file: Option<PathBuf>,
    pub public_key_file: Option<PathBuf>,
}

/// Reads a file the config names, for the field at the given JSON path.
type ReadFile<'a, T> = &'a dyn Fn(&Path, &str) -> Result<T, ConfigError>;

/// What the checks need from the loader: its refusal at a JSON path, and
/// its confined readers.
pub(crate) struct Context<'a> {
    pub invalid: &'a dyn Fn(String, String) -> ConfigError,
    /// Reads a secret (owner-only) file.
    pub secret: ReadFile<'a, Zeroizing<Vec<u8>>>,
    /// Reads an ordinary file.
    pub read: ReadFile<'a, Vec<u8>>,
}

/// The route policy and the assertion signer a config declares.
type Routing = (Option<Arc<RoutePolicy>>, Option<Arc<Signer>>);

impl Context<'_> {
    fn invalid(&self, at: impl Into<String>, problem: impl Into<String>) -> ConfigError {
        (self.invalid)(at.into(), problem.into())
    }
}

/// `routes` → the policy; `plugins` in config order (a rule names one by id).
pub(crate) fn routes(cx: &Context<'_>, raw: RawRoutes, plugins: &[PluginSpec], claims: &ClaimsPolicy, signs: bool) -> Result<RoutePolicy, ConfigError> {
    let forwarded = forwarded(cx, raw.proxy, &raw.forwarded_headers)?;
    let mut rules = Vec::with_capacity(raw.rules.len());
    for (i, rule) in raw.rules.into_iter().enumerate() {
        rules.push(self::rule(cx, rule, &format!("routes.rules[{i}]"), plugins, claims, signs)?);
    }
    let routes = Routes::new(rules).map_err(|err| match err {
        PolicyError::Overlap { index, .. } => cx.invalid(format!("routes.rules[{index}]"), err.to_string()),
    })?;
    Ok(RoutePolicy { forwarded, routes })
}

/// The proxy's names, each overridable. A name under `X-Ward-` would be
/// dropped before the decision (ward's own namespace), so it is refused.
fn forwarded(cx: &Context<'_>, proxy: RawProxy, raw: &RawForwarded) -> Result<ForwardedNames, ConfigError> {
    let (method, uri) = match proxy {
        RawProxy::Nginx => ("x-original-method", "x-original-uri"),
        RawProxy::Traefik | RawProxy::Caddy => ("x-forwarded-method", "x-forwarded-uri"),
    };
    let name = |given: &Option<String>, default: &'static str, field: &str| -> Result<HeaderName, ConfigError> {
        let Some(given) = given else {
            return Ok(HeaderName::from_static(default));
        };
        match HeaderName::try_from(given.as_str()) {
            Ok(name) if !name.as_str().starts_with("x-ward-") => Ok(name),
            _ => Err(cx.invalid(format!("routes.forwardedHeaders.{field}"), "must be a header name outside X-Ward-* (ward drops those from requests)")),
        }
    };
    Ok(ForwardedNames { method: name(&raw.method, method, "method")?, uri: name(&raw.uri, uri, "uri")?, host: name(&raw.host, "x-forwarded-host", "host")? })
}

fn rule(cx: &Context<'_>, raw: RawRule, at: &str, plugins: &[PluginSpec], claims: &ClaimsPolicy, signs: bool) -> Result<Rule, ConfigError> {
    let plugin = match raw.plugin {
        None => None,
        Some(id) => Some(plugins.iter().position(|p| p.id == id).ok_or_else(|| cx.invalid(format!("{at}.plugin"), "names no plugin of plugins[]"))?),
    };
    let host = raw
        .host
        .map(|host| checked_host(&host).ok_or_else(|| cx.invalid(format!("{at}.host"), "must be a host name or address, without a port")))
        .transpose()?;
    let checked_path = |path: String, field: &str| -> Result<String, ConfigError> {
        match policy::normalized_path(&path) {
            Ok(normalized) if normalized == path => Ok(path),
            _ => Err(cx.invalid(format!("{at}.{field}"), "must be a path starting with /, without query, escapes, dot segments or //")),
        }
    };
    let path = match (raw.path, raw.path_prefix) {
        (None, None) => PathMatch::Any,
        (Some(path), None) => PathMatch::Exact(checked_path(path, "path")?),
        (None, Some(prefix)) => PathMatch::Prefix(checked_path(prefix, "pathPrefix")?),
        (Some(_), Some(_)) => return Err(cx.invalid(at, "takes path or pathPrefix, not both")),
    };
    let methods = match raw.methods {
        None => None,
        Some(methods) if methods.is_empty() => {
            return Err(cx.invalid(format!("{at}.methods"), "is empty, so the route is unreachable; leave it out for any method"));
        }
        Some(methods) => {
            if let Some(i) = methods.iter().position(|m| !policy::METHODS.contains(&m.as_str())) {
                return Err(cx.invalid(format!("{at}.methods[{i}]"), format!("unknown method; one of {}", policy::METHODS.join(", "))));
            }
            Some(methods)
        }
    };
    let require = requirement(cx, raw.require, &format!("{at}.require"), claims)?;
    let assertion = match raw.assertion {
        None => None,
        Some(_) if !signs => return Err(cx.invalid(format!("{at}.assertion"), "needs the assertion section (its keys)")),
        Some(route) => {
            if route.audience.is_empty() || route.audience.len() > 256 || !route.audience.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(cx.invalid(format!("{at}.assertion.audience"), "must be 1 to 256 visible ASCII characters"));
            }
            Some(AssertionRoute { audience: route.audience, bind_request: route.bind_request })
        }
    };
    Ok(Rule { host, path, methods, plugin, require, assertion })
}

/// A requirement no identity could meet makes its route unreachable for
/// every allow, so it is refused: an empty `principalTypes`, a scope that
/// the sanitizer would never let through, a label key outside
/// `identity.labelKeys`.
fn requirement(cx: &Context<'_>, raw: RawRequire, at: &str, claims: &ClaimsPolicy) -> Result<Requirement, ConfigError> {
    // RFC 6749 §3.3 scope-token, as the sanitizer and `X-Ward-Scopes` admit.
    let is_token_char = |b: u8| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b);
    if let Some(i) = raw.scopes.iter().position(|s| s.is_empty() || !s.bytes().all(is_token_char)) {
        return Err(cx.invalid(format!("{at}.scopes[{i}]"), "must be an OAuth scope-token (visible ASCII, no space, quote or backslash)"));
    }
    let principal_types = match raw.principal_types {
        None => None,
        Some(types) if types.is_empty() => {
            return Err(cx.invalid(format!("{at}.principalTypes"), "is empty, so no identity could pass; leave it out for any type"));
        }
        Some(types) => {
            let mut parsed = Vec::with_capacity(types.len());
            for (i, name) in types.iter().enumerate() {
                parsed.push(policy::principal_type(name).ok_or_else(|| cx.invalid(format!("{at}.principalTypes[{i}]"), "must be user, service or agent"))?);
            }
            Some(parsed)
        }
    };
    if let Some(key) = raw.labels.keys().find(|key| !claims.allows_label(key)) {
        return Err(cx.invalid(format!("{at}.labels.{key}"), "is not in identity.labelKeys, so no identity could carry it"));
    }
    Ok(Requirement { scopes: raw.scopes, principal_types, labels: raw.labels.into_iter().collect() })
}

/// Lower case, without a port; letters, digits, `-` and `.`, or a bracketed IPv6 literal.
fn checked_host(host: &str) -> Option<String> {
    let ok = !host.is_empty()
        && (host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            || (host.starts_with('[') && host.ends_with(']') && host.bytes().all(|b| b.is_ascii_hexdigit() || b"[]:.".contains(&b))));
    ok.then(|| host.to_ascii_lowercase())
}

/// `assertion` → the signer: every key read and checked (a key file must be
/// owner-only, as every secret ward reads), the newest private one signing.
pub(crate) fn assertion(cx: &Context<'_>, raw: RawAssertion) -> Result<Signer, ConfigError> {
    let mut keys = Vec::with_capacity(raw.keys.len());
    for (i, key) in raw.keys.into_iter().enumerate() {
        let at = format!("assertion.keys[{i}]");
        let (public, secret) = match (&key.key_file, &key.public_key_file) {
            (Some(file), None) => {
                let field = format!("{at}.keyFile");
                let pem = (cx.secret)(file, &field)?;
                let text =
                    std::str::from_utf8(&pem).map_err(|_| cx.invalid(field.clone(), "must be a PKCS#8 PEM Ed25519 private key (ward keygen writes one)"))?;
                let secret = SigningSecret::from_pkcs8_pem(text).map_err(|e| cx.invalid(field, e.to_string()))?;
                (secret.verifying_key(), Some(secret))
            }
            (None, Some(file)) => {
                let field = format!("{at}.publicKeyFile");
                let pem = (cx.read)(file, &field)?;
                let text = String::from_utf8(pem).map_err(|_| cx.invalid(field.clone(), "must be an SPKI PEM Ed25519 public key"))?;
                (public_key_from_pem(&text).map_err(|e| cx.invalid(field, e.to_string()))?, None)
            }
            _ => return Err(cx.invalid(at, "needs exactly one of keyFile (signs) or publicKeyFile (published only)")),
        };
        keys.push(AssertionKey { kid: key.kid, public, secret });
    }
    let ttl = Duration::from_secs(raw.ttl_seconds.unwrap_or(assertion::DEFAULT_TTL.as_secs()));
    let issuer = raw.issuer.unwrap_or_else(|| "ward".to_owned());
    if issuer.is_empty() || issuer.len() > 256 || !issuer.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(cx.invalid("assertion.issuer", "must be 1 to 256 visible ASCII characters"));
    }
    Signer::new(keys, issuer, ttl).map_err(|err| match err {
        AssertionError::BadKid { index } => cx.invalid(format!("assertion.keys[{index}].kid"), err.to_string()),
        AssertionError::BadTtl => cx.invalid("assertion.ttlSeconds", err.to_string()),
        other => cx.invalid("assertion.keys", other.to_string()),
    })
}

/// Both sections, as the plan holds them.
pub(crate) fn build(
    cx: &Context<'_>,
    routes: Option<RawRoutes>,
    assertion: Option<RawAssertion>,
    plugins: &[PluginSpec],
    claims: &ClaimsPolicy,
) -> Result<Routing, ConfigError> {
    let signer = assertion.map(|raw| self::assertion(cx, raw)).transpose()?;
    let policy = routes.map(|raw| self::routes(cx, raw, plugins, claims, signer.is_some())).transpose()?;
    Ok((policy.map(Arc::new), signer.map(Arc::new)))
}
