//! The example-token plugin's decision on SDK types: the check
//! (`example-token-check`, `../check`) plus the mapping to claims and deny
//! reasons. A crate of its own so that the `wasi-token` test guest runs the
//! very same decision; the check stays free of the SDK for ward-bench.

use example_token_check::{self as check, Refusal};
use ward_guest::{Claims, Context, Credential, Deny, PrincipalType};

/// Allows `demo.<user>.<mac>` tokens whose MAC verifies under setting `secret`.
pub fn decide(cred: &Credential, ctx: &Context) -> Result<Claims, Deny> {
    let accepted = check::evaluate(&cred.token, &ctx.settings).map_err(|refusal| match refusal {
        Refusal::Malformed => Deny::Malformed,
        Refusal::BadSignature => Deny::BadSignature,
        Refusal::Denied => Deny::Denied,
    })?;
    let mut claims = Claims::new(accepted.subject).principal(PrincipalType::User);
    claims.issuer = accepted.issuer.map(String::from);
    claims.scopes = accepted.scopes.into_iter().map(String::from).collect();
    if let Some(team) = accepted.team {
        claims = claims.label("team", team);
    }
    Ok(claims)
}
