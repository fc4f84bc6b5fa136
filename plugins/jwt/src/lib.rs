//! ward's JWT plugin: validates JWS compact tokens (EdDSA, ES256, RS256,
//! PS256, HS256) against a JWKS the host indexes (key material with
//! `"format": "jwks"`), looking up the one key a token names through
//! `ward:auth/keys`. All cryptography runs inside the guest, or, with the
//! `host-crypto` feature, signature checks are done by the host through
//! `ward:auth/crypto` (`verify.rs` and the key construction in `jwk.rs` are
//! the only code that differs). Settings, key material and deny reasons are
//! in docs/plugins/jwt.md.

mod alg;
mod claims;
mod json;
mod jwk;
mod refusal;
mod settings;
#[cfg(test)]
mod test_support;
mod token;
mod validate;
mod verify;

use ward_guest::{Authenticator, Claims, Context, Credential, Deny};

struct Jwt;

impl Authenticator for Jwt {
    fn authenticate(cred: &Credential, ctx: &Context) -> Result<Claims, Deny> {
        let accepted = validate::validate(cred, ctx, ward_guest::keys::lookup).map_err(refusal::Refusal::deny)?;
        let mut claims = Claims::new(accepted.subject).issuer(accepted.issuer).principal(accepted.principal_type);
        claims.scopes = accepted.scopes;
        Ok(claims)
    }
}

ward_guest::export!(Jwt);
