//! ward's API-key plugin: a key is accepted when its SHA-256 is listed,
//! unrevoked, in the keys file the operator supplies as key material
//! (`"format": "api-keys"`), which the host indexes by that hash; the plugin
//! looks up the one digest (`ward:auth/keys`). The file never holds a key.
//! See README.md and docs/plugins/api-key.md.

mod credential;
mod decide;
mod lookup;

use api_key_format::{keyfile, settings};

use ward_guest::{Authenticator, Claims, Context, Credential, Deny};

struct ApiKey;

impl Authenticator for ApiKey {
    fn authenticate(cred: &Credential, ctx: &Context) -> Result<Claims, Deny> {
        decide::decide(cred, ctx, ward_guest::keys::lookup)
    }
}

ward_guest::export!(ApiKey);
