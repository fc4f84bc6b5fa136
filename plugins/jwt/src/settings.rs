//! The operator's settings and key material, read once per call into typed
//! values. Anything missing or unusable is `Misconfigured`: the plugin fails
//! closed on every call rather than guess. Names and defaults are documented
//! in docs/plugins/jwt.md.
//!
//! The JWKS is not here: the host indexes it (`"format": "jwks"`) and the
//! plugin looks up the one key a token names (`jwk.rs`); only its name is.

use ward_guest::{Context, PrincipalType};

use crate::alg::Alg;
use crate::refusal::Refusal;

/// Algorithms accepted when `algorithms` is not set: every asymmetric one.
/// HS256 is never a default, it needs a secret.
const DEFAULT_ALGORITHMS: [Alg; 4] = [Alg::EdDsa, Alg::Es256, Alg::Rs256, Alg::Ps256];
const DEFAULT_JWKS_KEY: &str = "jwks";
const DEFAULT_LEEWAY_SECONDS: u64 = 60;
/// More leeway than this makes `exp` meaningless.
const MAX_LEEWAY_SECONDS: u64 = 600;
/// Same as the host's default credential cap.
const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;
const MAX_MAX_TOKEN_BYTES: usize = 64 * 1024;
/// RFC 7518 §3.2: an HS256 key must be at least as long as the hash.
const MIN_HS256_SECRET_BYTES: usize = 32;

/// The HS256 shared secret and the `kid` it answers to, if any.
pub struct Hs256Secret<'c> {
    pub secret: &'c [u8],
    pub kid: Option<&'c str>,
}

/// Everything the plugin takes from the operator for one call.
pub struct Settings<'c> {
    pub algorithms: Vec<Alg>,
    pub issuer: &'c str,
    pub audiences: Vec<&'c str>,
    pub leeway_ms: u64,
    /// The name of the indexed JWKS; present whenever an asymmetric
    /// algorithm is accepted.
    pub jwks: Option<&'c str>,
    /// Present exactly when HS256 is accepted.
    pub hs256: Option<Hs256Secret<'c>>,
    pub principal_type_claim: Option<&'c str>,
    pub default_principal_type: PrincipalType,
    pub max_token_bytes: usize,
    /// Scopes a token must all carry; empty when none are required.
    pub required_scopes: Vec<&'c str>,
}

impl Settings<'_> {
    pub fn accepts(&self, alg: Alg) -> bool {
        self.algorithms.contains(&alg)
    }
}

/// Reads and checks every setting.
pub fn from_context(ctx: &Context) -> Result<Settings<'_>, Refusal> {
    let algorithms = match ctx.setting("algorithms") {
        None => DEFAULT_ALGORITHMS.to_vec(),
        Some(list) => list_items(list).map(|name| Alg::from_name(name).ok_or(Refusal::Misconfigured)).collect::<Result<Vec<_>, _>>()?,
    };
    if algorithms.is_empty() {
        return Err(Refusal::Misconfigured);
    }
    let issuer = ctx.setting("issuer").filter(|s| !s.is_empty()).ok_or(Refusal::Misconfigured)?;
    let audiences: Vec<&str> = ctx.setting("audience").map(|s| list_items(s).collect()).unwrap_or_default();
    if audiences.is_empty() {
        return Err(Refusal::Misconfigured);
    }
    let leeway_seconds = number(ctx.setting("leewaySeconds"), DEFAULT_LEEWAY_SECONDS, 0..=MAX_LEEWAY_SECONDS)?;
    let max_token_bytes = number(ctx.setting("maxTokenBytes"), DEFAULT_MAX_TOKEN_BYTES as u64, 1..=MAX_MAX_TOKEN_BYTES as u64)?;

    let jwks = if algorithms.iter().any(|a| *a != Alg::Hs256) {
        let name = ctx.setting("jwksKey").unwrap_or(DEFAULT_JWKS_KEY);
        // An indexed entry never reaches `ctx.keys`: one that does was
        // declared without `"format": "jwks"`, and no lookup would find a key.
        if name.is_empty() || ctx.key(name).is_some() {
            return Err(Refusal::Misconfigured);
        }
        Some(name)
    } else {
        None
    };
    let hs256 = if algorithms.contains(&Alg::Hs256) {
        let name = ctx.setting("hs256Key").ok_or(Refusal::Misconfigured)?;
        let secret = ctx.key(name).filter(|s| s.len() >= MIN_HS256_SECRET_BYTES).ok_or(Refusal::Misconfigured)?;
        Some(Hs256Secret { secret, kid: ctx.setting("hs256Kid") })
    } else {
        None
    };

    let principal_type_claim = match ctx.setting("principalTypeClaim") {
        Some("") => return Err(Refusal::Misconfigured),
        other => other,
    };
    let default_principal_type = match ctx.setting("defaultPrincipalType") {
        None => PrincipalType::User,
        Some(name) => principal_type(name).ok_or(Refusal::Misconfigured)?,
    };
    // Present but listing nothing is a lost value, not "require nothing".
    let required_scopes: Vec<&str> = match ctx.setting("requiredScopes") {
        None => Vec::new(),
        Some(list) => Some(list_items(list).collect::<Vec<_>>()).filter(|scopes| !scopes.is_empty()).ok_or(Refusal::Misconfigured)?,
    };

    Ok(Settings {
        algorithms,
        issuer,
        audiences,
        leeway_ms: leeway_seconds * 1000,
        jwks,
        hs256,
        principal_type_claim,
        default_principal_type,
        max_token_bytes: usize::try_from(max_token_bytes).map_err(|_| Refusal::Misconfigured)?,
        required_scopes,
    })
}

/// `user`, `service` or `agent`, exactly: the same names the host prints.
pub fn principal_type(name: &str) -> Option<PrincipalType> {
    match name {
        "user" => Some(PrincipalType::User),
        "service" => Some(PrincipalType::Service),
        "agent" => Some(PrincipalType::Agent),
        _ => None,
    }
}

/// Items separated by commas and/or whitespace (`"ES256, RS256"`, `"a b"`).
fn list_items(list: &str) -> impl Iterator<Item = &str> {
    list.split(|c: char| c == ',' || c.is_whitespace()).filter(|item| !item.is_empty())
}

fn number(value: Option<&str>, default: u64, range: core::ops::RangeInclusive<u64>) -> Result<u64, Refusal> {
    match value {
        None => Ok(default),
        // Plain decimal digits only: `parse` alone would accept a `+` sign.
        Some(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
            text.parse::<u64>().ok().filter(|n| range.contains(n)).ok_or(Refusal::Misconfigured)
        }
        Some(_) => Err(Refusal::Misconfigured),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{context, with_raw_key};

    fn parse(extra: &[(&str, &str)]) -> Result<Vec<String>, Refusal> {
        let mut all = vec![("issuer", "i"), ("audience", "a")];
        all.extend_from_slice(extra);
        let ctx = context(&all, 0);
        from_context(&ctx).map(|settings| settings.required_scopes.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn required_scopes_lists() {
        assert_eq!(parse(&[]), Ok(vec![]));
        assert_eq!(parse(&[("requiredScopes", "read")]), Ok(vec!["read".to_owned()]));
        assert_eq!(parse(&[("requiredScopes", " orders:read,orders:write  admin,,")]), Ok(vec!["orders:read".into(), "orders:write".into(), "admin".into()]));
        for empty in ["", " ", ",", " , ,"] {
            assert_eq!(parse(&[("requiredScopes", empty)]), Err(Refusal::Misconfigured), "{empty:?}");
        }
    }

    #[test]
    fn the_jwks_is_named_never_raw() {
        let ctx = context(&[("issuer", "i"), ("audience", "a"), ("jwksKey", "idp")], 0);
        assert_eq!(from_context(&ctx).map(|s| s.jwks), Ok(Some("idp")));
        assert_eq!(from_context(&with_raw_key(ctx.clone(), "idp", b"{}")).err(), Some(Refusal::Misconfigured));
        // Raw material of another name (an HS256 secret) is fine.
        assert!(from_context(&with_raw_key(ctx, "secret", b"{}")).is_ok());
        let unnamed = context(&[("issuer", "i"), ("audience", "a"), ("jwksKey", "")], 0);
        assert_eq!(from_context(&unnamed).err(), Some(Refusal::Misconfigured));
    }
}
