//! Counts its calls in a static and reports the count as the subject
//! (`call-<n>`). Under ward every call runs in a fresh instance, so the host
//! test expects `call-1` every time; `call-2` would mean state leaked.

use std::sync::atomic::{AtomicU64, Ordering};

use ward_guest::{Authenticator, Claims, Context, Credential, Deny};

static CALLS: AtomicU64 = AtomicU64::new(0);

struct Stateful;

impl Authenticator for Stateful {
    fn authenticate(_cred: &Credential, _ctx: &Context) -> Result<Claims, Deny> {
        let n = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(Claims::new(format!("call-{n}")))
    }
}

ward_guest::export!(Stateful);
