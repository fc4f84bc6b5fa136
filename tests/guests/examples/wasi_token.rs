//! The example-token check in a component that also imports WASI (the wall
//! clock and random), as components from mainstream toolchains do. It exists
//! so `ward-bench` can show what serving the deny-all WASI context costs next
//! to the same plugin importing nothing. It reads the clock on every call and
//! denies `expired` if the clock is not the request's `now-ms`.

use example_token_decide as decide;

mod imports {
    wit_bindgen::generate!({ path: "wit", world: "ward:test-guests/token", generate_all });
}

use imports::wasi::clocks::wall_clock;
use ward_guest::{Authenticator, Claims, Context, Credential, Deny};

struct WasiToken;

impl Authenticator for WasiToken {
    fn authenticate(cred: &Credential, ctx: &Context) -> Result<Claims, Deny> {
        let now = wall_clock::now();
        let now_ms = now.seconds.saturating_mul(1000).saturating_add(u64::from(now.nanoseconds / 1_000_000));
        if now_ms != ctx.now_ms {
            return Err(Deny::Expired);
        }
        decide::decide(cred, ctx)
    }
}

ward_guest::export!(WasiToken);
