//! A route's `require`: what an authenticated identity must carry for the
//! route to let it through. Checked after the plugin allowed; failing it is
//! a deny with `insufficient-scope` (403), audited as one.

use crate::identity::{Identity, PrincipalType};

/// All of `scopes`, any of `principal_types` (when given), and every label
/// equality. The default requires nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Requirement {
    /// Every one must be among the identity's scopes.
    pub scopes: Vec<String>,
    /// The identity's type must be one of these; `None` accepts any.
    pub principal_types: Option<Vec<PrincipalType>>,
    /// Each `(key, value)` must be one of the identity's labels.
    pub labels: Vec<(String, String)>,
}

impl Requirement {
    /// True when `identity` meets every part.
    pub fn admits(&self, identity: &Identity) -> bool {
        self.scopes.iter().all(|scope| identity.scopes.contains(scope))
            && self.principal_types.as_ref().is_none_or(|types| types.contains(&identity.principal_type))
            && self.labels.iter().all(|(key, value)| identity.labels.iter().any(|(k, v)| k == key && v == value))
    }

    /// True when nothing is required.
    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty() && self.principal_types.is_none() && self.labels.is_empty()
    }
}

/// `user`, `service` or `agent`, as `X-Ward-Type` spells them.
pub fn principal_type(name: &str) -> Option<PrincipalType> {
    [PrincipalType::User, PrincipalType::Service, PrincipalType::Agent].into_iter().find(|t| t.as_str() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Identity {
        Identity {
            id: "p:1".into(),
            provider: "p".into(),
            principal_type: PrincipalType::User,
            scopes: vec!["orders:read".into(), "orders:write".into()],
            labels: vec![("team".into(), "payments".into())],
        }
    }

    #[test]
    fn every_part_must_hold() {
        let all = Requirement {
            scopes: vec!["orders:write".into()],
            principal_types: Some(vec![PrincipalType::Service, PrincipalType::User]),
            labels: vec![("team".into(), "payments".into())],
        };
        assert!(all.admits(&alice()));
        assert!(Requirement::default().admits(&alice()));
        let misses = [
            Requirement { scopes: vec!["orders:write".into(), "admin".into()], ..Requirement::default() },
            Requirement { principal_types: Some(vec![PrincipalType::Service]), ..Requirement::default() },
            Requirement { labels: vec![("team".into(), "billing".into())], ..Requirement::default() },
            Requirement { labels: vec![("env".into(), "payments".into())], ..Requirement::default() },
        ];
        for requirement in misses {
            assert!(!requirement.admits(&alice()), "{requirement:?}");
        }
    }

    #[test]
    fn principal_types_are_read_by_their_header_names() {
        assert_eq!(principal_type("agent"), Some(PrincipalType::Agent));
        assert_eq!(principal_type("User"), None);
    }
}
