//! The whole validation, in the order that keeps untrusted data away from
//! anything that matters: configuration, then the token's shape, then the
//! key, then the signature, and only then the claims.

use ward_guest::{Context, Credential};

use crate::alg::Alg;
use crate::claims::{self, Accepted};
use crate::jwk;
use crate::refusal::Refusal;
use crate::settings;
use crate::token;
use crate::verify;

/// Validates a bearer JWT against the operator's settings and key material.
/// `lookup(set, id)` is `ward_guest::keys::lookup` in the guest.
pub fn validate(cred: &Credential, ctx: &Context, lookup: impl FnOnce(&str, &[u8]) -> Option<Vec<u8>>) -> Result<Accepted, Refusal> {
    // Read before the token is looked at: broken settings fail every call
    // the same way, whatever the caller sends.
    let settings = settings::from_context(ctx)?;
    if cred.scheme != "bearer" {
        return Err(Refusal::WrongScheme);
    }
    let compact = token::split(&cred.token, settings.max_token_bytes)?;
    let header = token::parse_header(&compact.header)?;
    let alg = header.alg.as_str().and_then(Alg::from_name).filter(|alg| settings.accepts(*alg)).ok_or(Refusal::AlgorithmNotAccepted)?;
    let kid = header.kid.as_ref().map(|kid| kid.as_str().ok_or(Refusal::Malformed)).transpose()?;
    let key = jwk::select(alg, kid, &settings, lookup)?;
    let verified = verify::verify(alg, key, compact.signing_input.as_bytes(), &compact.signature)?;
    claims::check(&compact.payload, &settings, ctx.now_ms, verified)
}

/// Whole validations of natively signed tokens, with the index as a
/// closure. In-guest crypto only: natively, the host-crypto build's
/// signature checks would call an import that is not there.
#[cfg(all(test, not(feature = "host-crypto")))]
mod tests {
    use super::*;
    use crate::test_support::{Index, context, ed25519, ed25519_record, eddsa_token, with_raw_key};

    const NOW_MS: u64 = 1_700_000_000_000;

    fn payload(extra: &str) -> String {
        format!(r#"{{"sub":"alice","iss":"https://issuer.example","aud":"api","exp":1700000600{extra}}}"#)
    }

    fn run(token: &str, settings: &[(&str, &str)], index: &Index) -> Result<Accepted, Refusal> {
        let mut all = vec![("issuer", "https://issuer.example"), ("audience", "api")];
        all.extend_from_slice(settings);
        validate(&Credential { scheme: "bearer".into(), token: token.into() }, &context(&all, NOW_MS), index.lookup())
    }

    fn index() -> Index {
        Index::default().with("jwks", "ed-1", ed25519_record(&ed25519(7))).with("jwks#alg", "EdDSA", ed25519_record(&ed25519(7)))
    }

    #[test]
    fn allows_a_token_whose_key_the_index_holds() {
        for kid in [Some("ed-1"), None] {
            let accepted = run(&eddsa_token(&ed25519(7), kid, &payload(r#","scope":"read write""#)), &[], &index()).unwrap();
            assert_eq!((accepted.subject.as_str(), accepted.issuer.as_str()), ("alice", "https://issuer.example"));
            assert_eq!(accepted.scopes, ["read", "write"]);
        }
    }

    #[test]
    fn another_key_under_a_known_kid_is_a_bad_signature() {
        let got = run(&eddsa_token(&ed25519(8), Some("ed-1"), &payload("")), &[], &index());
        assert_eq!(got.err(), Some(Refusal::BadSignature));
        let got = run(&eddsa_token(&ed25519(7), Some("ed-2"), &payload("")), &[], &index());
        assert_eq!(got.err(), Some(Refusal::UnknownKey));
    }

    #[test]
    fn required_scopes_must_all_be_granted() {
        let index = index();
        let with_scopes = |claims: &str| eddsa_token(&ed25519(7), Some("ed-1"), &payload(claims));
        let required = [("requiredScopes", "orders:read, orders:write")];
        // `scope` and `scp` are merged; order and extra scopes do not matter.
        for granted in
            [r#","scope":"orders:write orders:read admin""#, r#","scope":"orders:read","scp":["orders:write"]"#, r#","scp":"orders:write orders:read""#]
        {
            assert!(run(&with_scopes(granted), &required, &index).is_ok(), "{granted}");
        }
        for granted in [
            "",
            r#","scope":"orders:read""#,
            r#","scope":"orders:read Orders:write""#,
            r#","scope":"orders:read orders:writer""#,
            r#","scp":["orders:read orders:write"]"#,
        ] {
            assert_eq!(run(&with_scopes(granted), &required, &index).err(), Some(Refusal::InsufficientScope), "{granted}");
        }
    }

    #[test]
    fn required_scopes_come_after_every_other_check() {
        let index = index();
        let required = [("requiredScopes", "admin")];
        let expired = eddsa_token(&ed25519(7), Some("ed-1"), r#"{"sub":"alice","iss":"https://issuer.example","aud":"api","exp":1600000000}"#);
        assert_eq!(run(&expired, &required, &index).err(), Some(Refusal::Expired));
        let elsewhere = eddsa_token(&ed25519(7), Some("ed-1"), r#"{"sub":"alice","iss":"https://issuer.example","aud":"other","exp":1700000600}"#);
        assert_eq!(run(&elsewhere, &required, &index).err(), Some(Refusal::WrongAudience));
        let forged = eddsa_token(&ed25519(8), Some("ed-1"), &payload(r#","scope":"read""#));
        assert_eq!(run(&forged, &required, &index).err(), Some(Refusal::BadSignature));
        assert_eq!(Refusal::InsufficientScope.deny(), ward_guest::Deny::InsufficientScope);
    }

    #[test]
    fn a_jwks_given_as_raw_key_material_is_a_misconfiguration() {
        let ctx = with_raw_key(context(&[("issuer", "https://issuer.example"), ("audience", "api")], NOW_MS), "jwks", br#"{"keys":[]}"#);
        let token = eddsa_token(&ed25519(7), Some("ed-1"), &payload(""));
        let got = validate(&Credential { scheme: "bearer".into(), token }, &ctx, index().lookup());
        assert_eq!(got.err(), Some(Refusal::Misconfigured));
    }
}
