//! The plugin's decision on SDK types, in the order that keeps failures
//! closed: settings, then the key's shape, then the lookup of its digest in
//! the host's index. Anything the operator got wrong (settings, keys given
//! as raw key material instead of `format: api-keys`) is `denied` for every
//! credential, never an allow.

use ward_guest::{Claims, Context, Credential, Deny, PrincipalType};

use crate::credential::{self, Shape};
use crate::keyfile::{Principal, record};
use crate::lookup;
use crate::settings;

/// Allows a key whose SHA-256 the host's index holds, unrevoked and
/// unexpired. `lookup(set, id)` is `ward_guest::keys::lookup` in the guest.
pub fn decide(cred: &Credential, ctx: &Context, lookup: impl FnOnce(&str, &[u8]) -> Option<Vec<u8>>) -> Result<Claims, Deny> {
    let settings = settings::parse(&ctx.settings).map_err(|_| Deny::Denied)?;
    // Raw key material under this name means the entry lacks `"format":
    // "api-keys"`: the host has no index, and every lookup would be unknown.
    if ctx.key(settings.key_material).is_some() {
        return Err(Deny::Denied);
    }
    credential::check(&cred.scheme, &cred.token, &settings).map_err(|shape| match shape {
        Shape::Missing => Deny::MissingCredential,
        Shape::Malformed => Deny::Malformed,
    })?;
    let digest = lookup::digest(&cred.token);
    let value = lookup(settings.key_material, &digest).ok_or(Deny::UnknownKey)?;
    // The host wrote the record from a file that passed the same rules, so
    // this fails only if host and plugin disagree on the format: fail closed.
    let entry = record::decode(digest, &value).map_err(|_| Deny::Denied)?;
    if entry.revoked {
        return Err(Deny::Revoked);
    }
    if entry.expires_ms.is_some_and(|expires| ctx.now_ms >= expires) {
        return Err(Deny::Expired);
    }
    let mut claims = Claims::new(entry.subject).principal(match entry.principal {
        Principal::User => PrincipalType::User,
        Principal::Service => PrincipalType::Service,
        Principal::Agent => PrincipalType::Agent,
    });
    claims.issuer = settings.issuer.map(String::from);
    claims.scopes = entry.scopes;
    claims.labels = entry.labels;
    Ok(claims)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use ward_guest::Key;

    use super::*;
    use crate::keyfile::Entry;

    const KEY: &str = "wk_live_0123456789abcdefghij";

    fn entry(key: &str) -> Entry {
        Entry {
            sha256: lookup::digest(key),
            subject: "svc-billing".into(),
            principal: Principal::Service,
            scopes: vec!["orders:read".into()],
            labels: vec![("team".into(), "billing".into())],
            revoked: false,
            expires_ms: None,
        }
    }

    fn ctx(settings: &[(&str, &str)]) -> Context {
        Context { now_ms: 1_000, settings: settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(), keys: Vec::new() }
    }

    fn cred(token: &str) -> Credential {
        Credential { scheme: "api-key".into(), token: token.into() }
    }

    /// The host's index for `entries`, and every (set, id) asked of it.
    struct Index {
        values: HashMap<(String, Vec<u8>), Vec<u8>>,
        asked: RefCell<Vec<(String, Vec<u8>)>>,
    }

    impl Index {
        fn of(set: &str, entries: &[Entry]) -> Self {
            let values = entries.iter().map(|e| ((set.to_owned(), e.sha256.to_vec()), record::encode(e))).collect();
            Self { values, asked: RefCell::new(Vec::new()) }
        }

        fn decide(&self, cred: &Credential, ctx: &Context) -> Result<Claims, Deny> {
            decide(cred, ctx, |set, id| {
                self.asked.borrow_mut().push((set.to_owned(), id.to_vec()));
                self.values.get(&(set.to_owned(), id.to_vec())).cloned()
            })
        }
    }

    #[test]
    fn allows_a_listed_key_with_its_claims() {
        let index = Index::of("api-keys", &[entry(KEY), entry("wk_live_another_key_0000")]);
        let claims = index.decide(&cred(KEY), &ctx(&[("prefixes", "wk_live_"), ("issuer", "billing-keys")])).unwrap();
        assert_eq!(claims.subject, "svc-billing");
        assert_eq!(claims.principal_type, PrincipalType::Service);
        assert_eq!(claims.issuer.as_deref(), Some("billing-keys"));
        assert_eq!(claims.scopes, ["orders:read"]);
        assert_eq!(claims.labels, [("team".to_owned(), "billing".to_owned())]);
        // One lookup, of the digest, in the configured set.
        assert_eq!(*index.asked.borrow(), [("api-keys".to_owned(), lookup::digest(KEY).to_vec())]);
    }

    #[test]
    fn looks_up_in_the_configured_set() {
        let index = Index::of("keys-b", &[entry(KEY)]);
        assert!(index.decide(&cred(KEY), &ctx(&[("keyMaterial", "keys-b")])).is_ok());
        assert_eq!(Index::of("keys-b", &[entry(KEY)]).decide(&cred(KEY), &ctx(&[])), Err(Deny::UnknownKey));
    }

    #[test]
    fn unknown_revoked_expired() {
        let index = Index::of("api-keys", &[entry(KEY)]);
        assert_eq!(index.decide(&cred("wk_live_0123456789abcdefghiJ"), &ctx(&[])), Err(Deny::UnknownKey));
        let revoked = Entry { revoked: true, ..entry(KEY) };
        assert_eq!(Index::of("api-keys", &[revoked]).decide(&cred(KEY), &ctx(&[])), Err(Deny::Revoked));
        // Refused from expiresMs on, allowed the millisecond before.
        let expiring = |at| Index::of("api-keys", &[Entry { expires_ms: Some(at), ..entry(KEY) }]).decide(&cred(KEY), &ctx(&[]));
        assert_eq!(expiring(1_000), Err(Deny::Expired));
        assert!(expiring(1_001).is_ok());
    }

    #[test]
    fn a_value_that_is_no_record_is_denied() {
        for value in [&b""[..], b"{}", br#"{"subject":"a","type":"root"}"#, br#"{"subject":"a","type":"user"}x"#, b"\xff"] {
            let got = decide(&cred(KEY), &ctx(&[]), |_, _| Some(value.to_vec()));
            assert_eq!(got, Err(Deny::Denied), "{}", String::from_utf8_lossy(value));
        }
    }

    #[test]
    fn shape_and_settings_first_no_lookup() {
        let never = |_: &str, _: &[u8]| -> Option<Vec<u8>> { panic!("looked up") };
        assert_eq!(decide(&Credential { scheme: "basic".into(), token: KEY.into() }, &ctx(&[]), never), Err(Deny::MissingCredential));
        assert_eq!(decide(&cred("short"), &ctx(&[]), never), Err(Deny::Malformed));
        assert_eq!(decide(&cred(KEY), &ctx(&[("prefixes", "wk_test_")]), never), Err(Deny::Malformed));
        assert_eq!(decide(&cred(KEY), &ctx(&[("prefix", "wk_live_")]), never), Err(Deny::Denied));
    }

    #[test]
    fn raw_key_material_is_a_misconfiguration() {
        let mut raw = ctx(&[]);
        raw.keys.push(Key { name: "api-keys".into(), data: br#"{"version":1,"keys":[]}"#.to_vec() });
        let never = |_: &str, _: &[u8]| -> Option<Vec<u8>> { panic!("looked up") };
        assert_eq!(decide(&cred(KEY), &raw, never), Err(Deny::Denied));
        // Raw material under another name is none of this plugin's business.
        raw.keys[0].name = "other".into();
        assert!(Index::of("api-keys", &[entry(KEY)]).decide(&cred(KEY), &raw).is_ok());
    }
}
