//! The claims sanitizer. A plugin's claims are hostile input: each field is
//! checked against an allowlist and caps before a single byte is kept, and the
//! first violation rejects the whole result.

use std::collections::BTreeSet;
use std::fmt;

use zeroize::Zeroizing;

/// Caps from the plugin contract (`docs/architecture.md`). They are constants,
/// not settings, because headers and logs downstream are sized for them.
pub const MAX_SUBJECT_BYTES: usize = 1024;
/// Longest accepted issuer.
pub const MAX_ISSUER_BYTES: usize = 1024;
/// Most scopes one identity may carry.
pub const MAX_SCOPES: usize = 64;
/// Longest accepted scope.
pub const MAX_SCOPE_BYTES: usize = 256;
/// Most labels one identity may carry.
pub const MAX_LABELS: usize = 32;
/// Longest accepted label value.
pub const MAX_LABEL_VALUE_BYTES: usize = 64;
/// Label keys accepted when the operator names none.
pub const DEFAULT_LABEL_KEYS: [&str; 4] = ["team", "env", "tier", "role"];

/// What kind of caller an identity belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalType {
    /// A person.
    User,
    /// A machine or workload.
    Service,
    /// An automated agent acting for someone.
    Agent,
}

impl PrincipalType {
    /// The stable lower-case name used in headers and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Service => "service",
            Self::Agent => "agent",
        }
    }
}

/// The operator's side of the sanitizer: which label keys may pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimsPolicy {
    label_keys: BTreeSet<String>,
}

impl Default for ClaimsPolicy {
    fn default() -> Self {
        Self::with_label_keys(DEFAULT_LABEL_KEYS)
    }
}

impl ClaimsPolicy {
    /// A policy accepting exactly these label keys.
    pub fn with_label_keys<I, S>(keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self { label_keys: keys.into_iter().map(Into::into).collect() }
    }

    /// Whether a label with this key may pass (route policy checks its
    /// `require.labels` against this, as a label that cannot pass cannot match).
    pub fn allows_label(&self, key: &str) -> bool {
        self.label_keys.contains(key)
    }

    /// Starts checking one plugin result.
    pub fn sanitizer(&self) -> Sanitizer<'_> {
        Sanitizer { policy: self, subject: None, issuer: None, scopes: Vec::new(), labels: Vec::new() }
    }
}

/// Why claims were rejected. It names the field and the rule, never the
/// content: claim text is guest-supplied and must not reach a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidClaims {
    /// The subject is empty or missing.
    #[error("claims.subject is empty")]
    EmptySubject,
    /// A field is longer than its cap.
    #[error("claims.{field} is {len} bytes, more than {max}")]
    TooLong {
        /// Which field.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// A list has more entries than its cap.
    #[error("claims.{field} has {count} entries, more than {max}")]
    TooMany {
        /// Which list.
        field: &'static str,
        /// How many entries the guest returned.
        count: usize,
        /// The cap.
        max: usize,
    },
    /// A field holds a control character or a line separator.
    #[error("claims.{field} contains a control character")]
    ControlCharacter {
        /// Which field.
        field: &'static str,
    },
    /// A scope holds a character outside RFC 6749's scope-token set.
    #[error("claims.scopes has a scope with a character outside RFC 6749 scope-token")]
    ScopeCharacter,
    /// A label key is not in the operator's allowlist.
    #[error("claims.labels has a key outside the label-key allowlist")]
    LabelKeyNotAllowed,
    /// The same label key appears twice.
    #[error("claims.labels repeats a key")]
    DuplicateLabel,
}

impl InvalidClaims {
    /// The stable reason code every variant maps to.
    pub fn code(&self) -> &'static str {
        "invalid-claims"
    }
}

/// Collects one result's claims, checking each piece before keeping it.
pub struct Sanitizer<'p> {
    policy: &'p ClaimsPolicy,
    subject: Option<Zeroizing<String>>,
    issuer: Option<Zeroizing<String>>,
    scopes: Vec<String>,
    labels: Vec<(String, String)>,
}

impl Sanitizer<'_> {
    /// Accepts the subject: non-empty, capped, no control characters.
    pub fn subject(&mut self, subject: &str) -> Result<(), InvalidClaims> {
        if subject.is_empty() {
            return Err(InvalidClaims::EmptySubject);
        }
        check_text("subject", subject, MAX_SUBJECT_BYTES)?;
        self.subject = Some(Zeroizing::new(subject.to_owned()));
        Ok(())
    }

    /// Accepts the issuer: capped, no control characters.
    pub fn issuer(&mut self, issuer: &str) -> Result<(), InvalidClaims> {
        check_text("issuer", issuer, MAX_ISSUER_BYTES)?;
        self.issuer = Some(Zeroizing::new(issuer.to_owned()));
        Ok(())
    }

    /// Checks a scope count before any scope is read, so a guest returning a
    /// million scopes is refused after one comparison.
    pub fn expect_scopes(&self, count: usize) -> Result<(), InvalidClaims> {
        check_count("scopes", count, MAX_SCOPES)
    }

    /// Accepts one scope: an RFC 6749 scope-token, capped.
    pub fn scope(&mut self, scope: &str) -> Result<(), InvalidClaims> {
        check_count("scopes", self.scopes.len() + 1, MAX_SCOPES)?;
        if scope.len() > MAX_SCOPE_BYTES {
            return Err(InvalidClaims::TooLong { field: "scopes", len: scope.len(), max: MAX_SCOPE_BYTES });
        }
        // scope-token = 1*( %x21 / %x23-5B / %x5D-7E ): safe in a space-separated header.
        let is_token_char = |b: u8| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b);
        if scope.bytes().any(|b| b.is_ascii_control()) {
            return Err(InvalidClaims::ControlCharacter { field: "scopes" });
        }
        if scope.is_empty() || !scope.bytes().all(is_token_char) {
            return Err(InvalidClaims::ScopeCharacter);
        }
        self.scopes.push(scope.to_owned());
        Ok(())
    }

    /// Checks a label count before any label is read.
    pub fn expect_labels(&self, count: usize) -> Result<(), InvalidClaims> {
        check_count("labels", count, MAX_LABELS)
    }

    /// Accepts one label: an allowlisted key, once, with a short printable value.
    pub fn label(&mut self, key: &str, value: &str) -> Result<(), InvalidClaims> {
        check_count("labels", self.labels.len() + 1, MAX_LABELS)?;
        if !self.policy.label_keys.contains(key) {
            return Err(InvalidClaims::LabelKeyNotAllowed);
        }
        if self.labels.iter().any(|(known, _)| known == key) {
            return Err(InvalidClaims::DuplicateLabel);
        }
        check_text("labels", value, MAX_LABEL_VALUE_BYTES)?;
        self.labels.push((key.to_owned(), value.to_owned()));
        Ok(())
    }

    /// Ends the check; fails if no subject was accepted.
    pub fn finish(self, principal_type: PrincipalType) -> Result<SanitizedClaims, InvalidClaims> {
        let subject = self.subject.ok_or(InvalidClaims::EmptySubject)?;
        Ok(SanitizedClaims { subject, issuer: self.issuer, principal_type, scopes: self.scopes, labels: self.labels })
    }
}

fn check_count(field: &'static str, count: usize, max: usize) -> Result<(), InvalidClaims> {
    if count > max {
        return Err(InvalidClaims::TooMany { field, count, max });
    }
    Ok(())
}

fn check_text(field: &'static str, text: &str, max: usize) -> Result<(), InvalidClaims> {
    if text.len() > max {
        return Err(InvalidClaims::TooLong { field, len: text.len(), max });
    }
    // U+2028/2029 end lines in JavaScript and some log viewers, so they count as controls.
    if text.chars().any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}') {
        return Err(InvalidClaims::ControlCharacter { field });
    }
    Ok(())
}

/// Claims that passed every check. The subject and issuer are private: the
/// only way to use them is [`crate::identity::Identity::derive`], which hashes them.
pub struct SanitizedClaims {
    pub(super) subject: Zeroizing<String>,
    pub(super) issuer: Option<Zeroizing<String>>,
    pub(super) principal_type: PrincipalType,
    pub(super) scopes: Vec<String>,
    pub(super) labels: Vec<(String, String)>,
}

impl fmt::Debug for SanitizedClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SanitizedClaims")
            .field("subject", &"<redacted>")
            .field("issuer", &self.issuer.as_ref().map(|_| "<redacted>"))
            .field("principal_type", &self.principal_type)
            .field("scopes", &self.scopes.len())
            .field("labels", &self.labels.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(f: impl FnOnce(&mut Sanitizer<'_>) -> Result<(), InvalidClaims>) -> Result<SanitizedClaims, InvalidClaims> {
        let policy = ClaimsPolicy::default();
        let mut s = policy.sanitizer();
        s.subject("alice")?;
        f(&mut s)?;
        s.finish(PrincipalType::User)
    }

    #[test]
    fn plain_claims_pass() {
        let claims = accept(|s| {
            s.issuer("https://issuer.example")?;
            s.scope("read:orders")?;
            s.label("team", "payments")
        })
        .unwrap();
        assert_eq!(claims.scopes, ["read:orders"]);
        assert_eq!(claims.labels, [("team".to_string(), "payments".to_string())]);
    }

    #[test]
    fn subject_rules() {
        let policy = ClaimsPolicy::default();
        let mut s = policy.sanitizer();
        assert_eq!(s.subject(""), Err(InvalidClaims::EmptySubject));
        assert!(matches!(s.subject(&"a".repeat(1025)), Err(InvalidClaims::TooLong { field: "subject", .. })));
        assert!(s.subject(&"a".repeat(1024)).is_ok());
        for bad in ["a\r\nb", "a\0", "a\u{7f}", "a\u{85}", "a\u{2028}"] {
            assert_eq!(s.subject(bad), Err(InvalidClaims::ControlCharacter { field: "subject" }), "{bad:?}");
        }
        assert_eq!(policy.sanitizer().finish(PrincipalType::User).unwrap_err(), InvalidClaims::EmptySubject);
    }

    #[test]
    fn scope_rules() {
        assert!(matches!(accept(|s| s.expect_scopes(65)), Err(InvalidClaims::TooMany { field: "scopes", .. })));
        assert!(matches!(accept(|s| (0..65).try_for_each(|i| s.scope(&format!("s{i}")))), Err(InvalidClaims::TooMany { field: "scopes", count: 65, .. })));
        assert!(accept(|s| (0..64).try_for_each(|i| s.scope(&format!("s{i}")))).is_ok());
        assert!(matches!(accept(|s| s.scope(&"x".repeat(257))), Err(InvalidClaims::TooLong { .. })));
        for bad in ["a b", "a\"b", "a\\b", "", "é"] {
            assert_eq!(accept(|s| s.scope(bad)).unwrap_err(), InvalidClaims::ScopeCharacter, "{bad:?}");
        }
        assert_eq!(accept(|s| s.scope("a\nb")).unwrap_err(), InvalidClaims::ControlCharacter { field: "scopes" });
    }

    #[test]
    fn label_rules() {
        assert_eq!(accept(|s| s.label("owner", "x")).unwrap_err(), InvalidClaims::LabelKeyNotAllowed);
        assert_eq!(accept(|s| s.label("team", "a\r\nX-Ward-Id: forged")).unwrap_err(), InvalidClaims::ControlCharacter { field: "labels" });
        assert_eq!(accept(|s| s.label("team", "a\0")).unwrap_err(), InvalidClaims::ControlCharacter { field: "labels" });
        assert!(matches!(accept(|s| s.label("team", &"v".repeat(65))), Err(InvalidClaims::TooLong { .. })));
        assert_eq!(
            accept(|s| {
                s.label("team", "a")?;
                s.label("team", "b")
            })
            .unwrap_err(),
            InvalidClaims::DuplicateLabel
        );
        assert!(matches!(accept(|s| s.expect_labels(33)), Err(InvalidClaims::TooMany { field: "labels", .. })));
        let custom = ClaimsPolicy::with_label_keys(["owner"]);
        let mut s = custom.sanitizer();
        assert!(s.label("owner", "x").is_ok());
        assert_eq!(s.label("team", "x"), Err(InvalidClaims::LabelKeyNotAllowed));
    }

    #[test]
    fn errors_and_debug_never_carry_claim_text() {
        let marker = "MARKER-sanitize-7f3a";
        let claims = accept(|s| s.issuer(marker)).unwrap();
        assert!(!format!("{claims:?}").contains(marker));
        let policy = ClaimsPolicy::default();
        let mut s = policy.sanitizer();
        let err = s.subject(&format!("{marker}\n")).unwrap_err();
        assert!(!err.to_string().contains(marker) && !format!("{err:?}").contains(marker));
        assert_eq!(err.code(), "invalid-claims");
    }
}
