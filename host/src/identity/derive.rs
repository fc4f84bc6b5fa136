//! Turning sanitized claims into the identity the host hands out.

use hmac::Mac;

use crate::keyed_mac::hmac_sha256;

use super::{IdentityKey, PrincipalType, SanitizedClaims};

/// Separates identity MACs from every other use of an HMAC key; bump the
/// version if the encoding below ever changes, since ids would change with it.
const DOMAIN: &[u8] = b"ward.identity.v1\0";
/// 128 bits of the MAC: collision-free for any realistic number of callers.
const ID_MAC_BYTES: usize = 16;

/// Who a request belongs to, as built by the host. It holds no raw subject or
/// issuer: `id` is a keyed hash of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `<plugin id>:<32 lowercase hex>`; stable for the same key, plugin, issuer and subject.
    pub id: String,
    /// The plugin that authenticated the caller.
    pub provider: String,
    /// What kind of caller this is.
    pub principal_type: PrincipalType,
    /// Sanitized scopes.
    pub scopes: Vec<String>,
    /// Sanitized, allowlisted labels.
    pub labels: Vec<(String, String)>,
}

impl Identity {
    /// Hashes subject and issuer into the id and drops them; they go no further.
    pub fn derive(key: &IdentityKey, plugin_id: &str, claims: SanitizedClaims) -> Self {
        let SanitizedClaims { subject, issuer, principal_type, scopes, labels } = claims;
        let mac = identity_mac(key, plugin_id, issuer.as_deref().map(String::as_str), &subject);
        let prefix = mac.get(..ID_MAC_BYTES).unwrap_or(&mac);
        Self { id: format!("{plugin_id}:{}", hex::encode(prefix)), provider: plugin_id.to_owned(), principal_type, scopes, labels }
    }
}

/// Each field is length-prefixed so no two (plugin, issuer, subject) triples
/// encode alike, and an absent issuer differs from an empty one.
fn identity_mac(key: &IdentityKey, plugin_id: &str, issuer: Option<&str>, subject: &str) -> Vec<u8> {
    let mut mac = hmac_sha256(key.expose());
    mac.update(DOMAIN);
    let mut field = |bytes: &[u8]| {
        mac.update(&(bytes.len() as u64).to_be_bytes());
        mac.update(bytes);
    };
    field(plugin_id.as_bytes());
    match issuer {
        Some(issuer) => {
            field(b"\x01");
            field(issuer.as_bytes());
        }
        None => field(b"\x00"),
    }
    field(subject.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::ClaimsPolicy;

    fn claims(subject: &str, issuer: Option<&str>) -> SanitizedClaims {
        let policy = ClaimsPolicy::default();
        let mut s = policy.sanitizer();
        s.subject(subject).unwrap();
        if let Some(issuer) = issuer {
            s.issuer(issuer).unwrap();
        }
        s.scope("read").unwrap();
        s.finish(PrincipalType::Service).unwrap()
    }

    fn key(byte: u8) -> IdentityKey {
        IdentityKey::from_bytes(vec![byte; 32]).unwrap()
    }

    #[test]
    fn same_inputs_same_id_and_any_change_changes_it() {
        let base = Identity::derive(&key(1), "acme", claims("alice", Some("iss")));
        assert_eq!(base, Identity::derive(&key(1), "acme", claims("alice", Some("iss"))));
        assert!(base.id.starts_with("acme:") && base.id.len() == "acme:".len() + 32);
        for other in [
            Identity::derive(&key(2), "acme", claims("alice", Some("iss"))),
            Identity::derive(&key(1), "other", claims("alice", Some("iss"))),
            Identity::derive(&key(1), "acme", claims("bob", Some("iss"))),
            Identity::derive(&key(1), "acme", claims("alice", None)),
            Identity::derive(&key(1), "acme", claims("alice", Some(""))),
        ] {
            assert_ne!(base.id.rsplit(':').next(), other.id.rsplit(':').next());
        }
        assert_eq!(base.principal_type, PrincipalType::Service);
        assert_eq!(base.scopes, ["read"]);
    }

    #[test]
    fn field_boundaries_cannot_be_shifted() {
        // Without length prefixes "ab"+"c" and "a"+"bc" would collide.
        let a = Identity::derive(&key(1), "p", claims("c", Some("ab")));
        let b = Identity::derive(&key(1), "p", claims("bc", Some("a")));
        assert_ne!(a.id, b.id);
    }

    #[test]
    fn identity_carries_no_raw_subject_or_issuer() {
        let marker = "MARKER-identity-7f3a";
        let identity = Identity::derive(&key(1), "acme", claims(marker, Some(marker)));
        assert!(!format!("{identity:?}").contains(marker));
    }
}
