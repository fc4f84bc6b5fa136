//! The conformance gate: before a plugin serves, it must give the operator's
//! expected answer for every case in its fixtures file, inside the same
//! sandbox and limits it will serve under. A plugin that allows what it must
//! deny never serves.

use zeroize::Zeroizing;

use crate::audit::ConformanceVerdict;
use crate::sandbox::{CallKeys, Credential, Decision, Plugin};

/// The outcome a case expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The credential must be allowed.
    Allow,
    /// The credential must be denied (for any reason).
    Deny,
}

/// One fixture. The credential stays here: it is never logged or audited.
pub struct ConformanceCase {
    /// The credential to present.
    pub credential: Zeroizing<String>,
    /// The lower-case scheme to present it under.
    pub scheme: String,
    /// Settings for this case, over the plugin's own.
    pub settings: Vec<(String, String)>,
    /// Allow or deny.
    pub expect: Expect,
    /// For an allow: the identity id it must produce, either whole
    /// (`<plugin>:<hex>`) or the hex part alone.
    pub subject_hash: Option<String>,
}

impl std::fmt::Debug for ConformanceCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConformanceCase").field("scheme", &self.scheme).field("expect", &self.expect).finish_non_exhaustive()
    }
}

/// The first case a plugin got wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConformanceFailure {
    /// 0-based index into the fixtures file.
    pub case_index: u64,
    /// What the case expected.
    pub expected: ConformanceVerdict,
    /// What the plugin did (`error` for a fault, or an allow with the wrong identity).
    pub got: ConformanceVerdict,
}

/// Runs every case; the first mismatch refuses the plugin.
pub(crate) fn run(plugin: &Plugin, cases: &[ConformanceCase], keys: &CallKeys<'_>, now_ms: u64) -> Result<(), ConformanceFailure> {
    for (index, case) in cases.iter().enumerate() {
        let mut settings = plugin.settings().to_vec();
        for (key, value) in &case.settings {
            match settings.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = value.clone(),
                None => settings.push((key.clone(), value.clone())),
            }
        }
        let credential = Credential { scheme: &case.scheme, token: &case.credential };
        let decision = plugin.authenticate_with(credential, now_ms, &settings, keys);
        let got = match &decision {
            Decision::Allow(identity) if case.subject_hash.as_deref().is_some_and(|want| !id_matches(&identity.id, want)) => ConformanceVerdict::Error,
            Decision::Allow(_) => ConformanceVerdict::Allow,
            Decision::Deny(reason) if reason.is_fault() => ConformanceVerdict::Error,
            Decision::Deny(_) => ConformanceVerdict::Deny,
        };
        let expected = match case.expect {
            Expect::Allow => ConformanceVerdict::Allow,
            Expect::Deny => ConformanceVerdict::Deny,
        };
        if got != expected {
            return Err(ConformanceFailure { case_index: index as u64, expected, got });
        }
    }
    Ok(())
}

fn id_matches(id: &str, want: &str) -> bool {
    id == want || id.rsplit_once(':').is_some_and(|(_, hex)| hex == want.to_ascii_lowercase())
}
