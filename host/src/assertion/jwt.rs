//! One assertion: `base64url(header).base64url(claims).base64url(signature)`
//! (RFC 7519 with EdDSA, RFC 8037). Built by hand from `serde_json` values:
//! a JWT crate would bring a second crypto stack for forty lines.
//!
//! Claims: `iss`, `aud`, `sub` (the identity id ward derives with its own
//! key, `<plugin>:<hex>`; never the plugin's subject, which ward does not
//! keep), `provider`, `principal_type`, `scopes`, `labels`, `iat`, `exp`,
//! and with a binding `method` and `path`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::identity::Identity;

use super::Signer;

/// The request an assertion is bound to, when the route asks for it.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    /// The original method.
    pub method: &'a str,
    /// The original path, as the route matched it.
    pub path: &'a str,
}

impl Signer {
    /// An assertion for `identity`, valid from `now_secs` for the configured lifetime.
    pub fn sign(&self, identity: &Identity, audience: &str, binding: Option<Binding<'_>>, now_secs: u64) -> String {
        let header = json!({ "alg": "EdDSA", "typ": "JWT", "kid": self.kid });
        let labels: Map<String, Value> = identity.labels.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        let mut claims = json!({
            "iss": self.issuer,
            "aud": audience,
            "sub": identity.id,
            "provider": identity.provider,
            "principal_type": identity.principal_type.as_str(),
            "scopes": identity.scopes,
            "labels": labels,
            "iat": now_secs,
            "exp": now_secs.saturating_add(self.ttl_secs),
        });
        if let (Some(binding), Value::Object(fields)) = (binding, &mut claims) {
            fields.insert("method".into(), Value::String(binding.method.to_owned()));
            fields.insert("path".into(), Value::String(binding.path.to_owned()));
        }
        let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = self.secret.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use ed25519_dalek::{Signature, Verifier as _};

    use super::super::{AssertionError, AssertionKey};
    use super::*;
    use crate::identity::PrincipalType;
    use crate::trust::SigningSecret;

    fn key(kid: &str, seed: u8, private: bool) -> AssertionKey {
        let secret = SigningSecret::from_seed(&[seed; 32]);
        AssertionKey { kid: kid.into(), public: secret.verifying_key(), secret: private.then_some(secret) }
    }

    fn alice() -> Identity {
        Identity {
            id: "p:00ff".into(),
            provider: "p".into(),
            principal_type: PrincipalType::Service,
            scopes: vec!["orders:write".into()],
            labels: vec![("team".into(), "payments".into())],
        }
    }

    fn part(token: &str, i: usize) -> Value {
        let b64 = token.split('.').nth(i).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(b64).unwrap()).unwrap()
    }

    #[test]
    fn the_newest_private_key_signs_and_every_key_is_published() {
        let signer = Signer::new(vec![key("old", 1, true), key("new", 2, true), key("next", 3, false)], "ward".into(), Duration::from_secs(60)).unwrap();
        assert_eq!(signer.signing_kid(), "new");
        let token = signer.sign(&alice(), "orders-api", Some(Binding { method: "POST", path: "/orders" }), 1000);
        assert_eq!(part(&token, 0), json!({ "alg": "EdDSA", "typ": "JWT", "kid": "new" }));
        let claims = part(&token, 1);
        assert_eq!(
            claims,
            json!({ "iss": "ward", "aud": "orders-api", "sub": "p:00ff", "provider": "p", "principal_type": "service", "scopes": ["orders:write"],
                    "labels": { "team": "payments" }, "iat": 1000, "exp": 1060, "method": "POST", "path": "/orders" })
        );
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(sig).unwrap()).unwrap();
        key("new", 2, false).public.verify(input.as_bytes(), &sig).unwrap();
        assert!(key("old", 1, false).public.verify(input.as_bytes(), &sig).is_err());

        let jwks: Value = serde_json::from_slice(signer.jwks()).unwrap();
        let kids: Vec<_> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
        assert_eq!(kids, ["old", "new", "next"]);
        let mut fields: Vec<_> = jwks["keys"][0].as_object().unwrap().keys().cloned().collect();
        fields.sort();
        assert_eq!(fields, ["alg", "crv", "kid", "kty", "use", "x"], "no private member (`d`) ever");
        assert_eq!(jwks["keys"][1]["x"], URL_SAFE_NO_PAD.encode(key("new", 2, false).public.as_bytes()));
    }

    #[test]
    fn without_binding_there_is_no_method_or_path() {
        let signer = Signer::new(vec![key("k", 1, true)], "ward".into(), Duration::from_secs(5)).unwrap();
        let claims = part(&signer.sign(&alice(), "a", None, 10), 1);
        assert_eq!(claims["exp"], 15);
        assert!(claims.get("method").is_none() && claims.get("path").is_none());
    }

    #[test]
    fn bad_key_sets_are_refused() {
        let ttl = Duration::from_secs(60);
        assert_eq!(Signer::new(vec![key("k", 1, false)], "ward".into(), ttl).unwrap_err(), AssertionError::NoSigningKey);
        assert_eq!(Signer::new(vec![key("k", 1, true), key("k", 2, true)], "ward".into(), ttl).unwrap_err(), AssertionError::BadKid { index: 1 });
        assert_eq!(Signer::new(vec![key("a/b", 1, true)], "ward".into(), ttl).unwrap_err(), AssertionError::BadKid { index: 0 });
        assert_eq!(Signer::new(vec![key("k", 1, true)], "ward".into(), Duration::ZERO).unwrap_err(), AssertionError::BadTtl);
        assert_eq!(Signer::new(vec![key("k", 1, true)], "ward".into(), Duration::from_secs(3601)).unwrap_err(), AssertionError::BadTtl);
    }

    #[test]
    fn debug_shows_no_key() {
        let signer = Signer::new(vec![key("k", 1, true)], "ward".into(), Duration::from_secs(60)).unwrap();
        let text = format!("{signer:?}");
        assert!(text.contains("\"k\"") && !text.contains("secret"), "{text}");
    }
}
