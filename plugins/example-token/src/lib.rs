//! ward's example plugin: accepts `demo.<user>.<mac>` bearer tokens where
//! `mac = base64url(HMAC-SHA256(settings["secret"], user))`. See README.md.

use example_token_decide as decide;
use ward_guest::{Authenticator, Claims, Context, Credential, Deny};

struct ExampleToken;

impl Authenticator for ExampleToken {
    fn authenticate(cred: &Credential, ctx: &Context) -> Result<Claims, Deny> {
        decide::decide(cred, ctx)
    }
}

ward_guest::export!(ExampleToken);
