//! ward's example plugin: accepts `demo.<user>.<mac>` bearer tokens where
//! `mac = base64url(HMAC-SHA256(settings["secret"], user))`. See README.md.
#![forbid(unsafe_code)]

mod check;

use check::Refusal;
use ward_guest::{Authenticator, Claims, Context, Credential, Deny, PrincipalType};

struct ExampleToken;

impl Authenticator for ExampleToken {
    fn authenticate(cred: &Credential, ctx: &Context) -> Result<Claims, Deny> {
        let accepted = check::evaluate(&cred.token, &ctx.settings).map_err(|r| match r {
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
}

ward_guest::export!(ExampleToken);
