//! The plugin's decision on SDK types, in the order that keeps failures
//! closed: settings, then the key's shape, then the keys file, then the
//! lookup. Anything the operator got wrong (settings, a missing or broken
//! keys file) is `denied` for every credential, never an allow.

use ward_guest::{Claims, Context, Credential, Deny, PrincipalType};

use crate::credential::{self, Shape};
use crate::keyfile::{self, Principal};
use crate::lookup;
use crate::settings;

/// Allows a key whose SHA-256 is in the keys file, unrevoked and unexpired.
pub fn decide(cred: &Credential, ctx: &Context) -> Result<Claims, Deny> {
    let settings = settings::parse(&ctx.settings).map_err(|_| Deny::Denied)?;
    credential::check(&cred.scheme, &cred.token, &settings).map_err(|shape| match shape {
        Shape::Missing => Deny::MissingCredential,
        Shape::Malformed => Deny::Malformed,
    })?;
    let file = ctx.key(settings.key_material).ok_or(Deny::Denied)?;
    let file = keyfile::scan(file).map_err(|_| Deny::Denied)?;
    let hit = lookup::find(&file.entries, &lookup::digest(&cred.token)).ok_or(Deny::UnknownKey)?;
    // The scan already checked this entry; reading it again cannot fail.
    let entry = file.entry(hit).map_err(|_| Deny::Denied)?;
    if entry.revoked {
        return Err(Deny::Revoked);
    }
    if entry.expires_ms.is_some_and(|expires| ctx.now_ms >= expires) {
        return Err(Deny::Expired);
    }
    let mut claims = Claims::new(entry.subject.as_str()).principal(match entry.principal {
        Principal::User => PrincipalType::User,
        Principal::Service => PrincipalType::Service,
        Principal::Agent => PrincipalType::Agent,
    });
    claims.issuer = settings.issuer.map(String::from);
    claims.scopes.clone_from(&entry.scopes);
    claims.labels.clone_from(&entry.labels);
    Ok(claims)
}
