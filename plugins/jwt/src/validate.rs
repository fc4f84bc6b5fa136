//! The whole validation, in the order that keeps untrusted data away from
//! anything that matters: configuration, then the token's shape, then the
//! key, then the signature, and only then the claims.

use ward_guest::{Context, Credential};

use crate::alg::Alg;
use crate::claims::{self, Accepted};
use crate::jwk::{self, Jwks};
use crate::refusal::Refusal;
use crate::settings;
use crate::token;
use crate::verify;

/// Validates a bearer JWT against the operator's settings and key material.
pub fn validate(cred: &Credential, ctx: &Context) -> Result<Accepted, Refusal> {
    let settings = settings::from_context(ctx)?;
    // Parsed before the token is looked at: a broken JWKS fails every call
    // the same way, whatever the caller sends.
    let jwks = settings.jwks.map(Jwks::parse).transpose()?;
    if cred.scheme != "bearer" {
        return Err(Refusal::WrongScheme);
    }
    let compact = token::split(&cred.token, settings.max_token_bytes)?;
    let header = token::parse_header(&compact.header)?;
    let alg = header.alg.as_str().and_then(Alg::from_name).filter(|alg| settings.accepts(*alg)).ok_or(Refusal::AlgorithmNotAccepted)?;
    let kid = header.kid.as_ref().map(|kid| kid.as_str().ok_or(Refusal::Malformed)).transpose()?;
    let key = jwk::select(alg, kid, jwks.as_ref(), settings.hs256.as_ref())?;
    let verified = verify::verify(alg, key, compact.signing_input.as_bytes(), &compact.signature)?;
    claims::check(&compact.payload, &settings, ctx.now_ms, verified)
}
