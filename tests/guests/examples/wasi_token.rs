//! The example-token check in a component that also imports WASI (the wall
//! clock and random), as components from mainstream toolchains do. It exists
//! so `ward bench` can show what serving the deny-all WASI context costs next
//! to the same plugin importing nothing. It reads the clock on every call and
//! denies `expired` if the clock is not the request's `now-ms`.

#[path = "../../../plugins/example-token/src/check.rs"]
mod check;

mod imports {
    wit_bindgen::generate!({ path: "wit", world: "ward:test-guests/token", generate_all });
}

use imports::wasi::clocks::wall_clock;
use ward_guest::{Authenticator, Claims, Context, Credential, Deny, PrincipalType};

struct WasiToken;

impl Authenticator for WasiToken {
    fn authenticate(cred: &Credential, ctx: &Context) -> Result<Claims, Deny> {
        let now = wall_clock::now();
        let now_ms = now.seconds.saturating_mul(1000).saturating_add(u64::from(now.nanoseconds / 1_000_000));
        if now_ms != ctx.now_ms {
            return Err(Deny::Expired);
        }
        let accepted = check::evaluate(&cred.token, &ctx.settings).map_err(|refusal| match refusal {
            check::Refusal::Malformed => Deny::Malformed,
            check::Refusal::BadSignature => Deny::BadSignature,
            check::Refusal::Denied => Deny::Denied,
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

ward_guest::export!(WasiToken);
