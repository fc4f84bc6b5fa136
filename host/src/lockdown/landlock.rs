//! The Landlock layer: an unprivileged, kernel-enforced allowlist of paths
//! and TCP ports for this process and every thread it starts afterwards.
//!
//! Handled (denied unless a rule allows) are all the filesystem rights of
//! ABI 7 and, from ABI 4 (Linux 6.7), TCP bind and connect; from ABI 6
//! (Linux 6.12) signals and abstract UNIX sockets are scoped to the process.
//! On an older kernel the crate's best-effort mode handles what the kernel
//! knows, and the outcome says what was left out.

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, LandlockStatus, NetPort, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
    path_beneath_rules,
};

use super::{Layer, LayerStatus, LockdownError, Plan};

/// The newest ABI whose rights this file was written and tested against.
/// Rights of later ABIs (v9: connecting to pathname UNIX sockets; v10: UDP)
/// stay unhandled, so allowed, until they are added here with a test.
const TARGET: ABI = ABI::V7;

/// The first ABI that can confine TCP ports; below it only files are.
const NET_ABI: ABI = ABI::V4;

/// Applies `plan` to the calling thread and every thread it starts later.
pub(super) fn apply(plan: &Plan) -> Result<LayerStatus, LockdownError> {
    let failed = |err: landlock::RulesetError| LockdownError::apply(Layer::Landlock, err.to_string());
    let read = AccessFs::ReadFile | AccessFs::ReadDir;
    // Rotation renames the live log within its directory and removes
    // nothing else; the torn-tail repair truncates it.
    let write = read | AccessFs::WriteFile | AccessFs::MakeReg | AccessFs::RemoveFile | AccessFs::Truncate;
    let write_tree = write | AccessFs::MakeDir | AccessFs::RemoveDir;
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(TARGET))
        .and_then(|r| r.handle_access(AccessNet::from_all(TARGET)))
        .and_then(|r| r.scope(Scope::from_all(TARGET)))
        .and_then(|r| r.create())
        .map_err(failed)?
        .add_rules(path_beneath_rules(&plan.read, read))
        .and_then(|r| r.add_rules(path_beneath_rules(&plan.write, write)))
        .and_then(|r| r.add_rules(path_beneath_rules(&plan.write_tree, write_tree)))
        .map_err(failed)?;
    for &port in &plan.bind {
        ruleset = ruleset.add_rule(NetPort::new(port, AccessNet::BindTcp)).map_err(failed)?;
    }
    for &port in &plan.connect {
        ruleset = ruleset.add_rule(NetPort::new(port, AccessNet::ConnectTcp)).map_err(failed)?;
    }
    let status = ruleset.restrict_self().map_err(failed)?;
    Ok(outcome(status.ruleset, status.landlock))
}

/// What the kernel made of the ruleset, for the log line.
fn outcome(ruleset: RulesetStatus, landlock: LandlockStatus) -> LayerStatus {
    match (ruleset, landlock) {
        (RulesetStatus::NotEnforced, LandlockStatus::NotImplemented) => LayerStatus::Unsupported(
            "Landlock is not available: not in this kernel (it needs Linux 5.13 built with CONFIG_SECURITY_LANDLOCK), or a seccomp profile around ward refuses its calls".into(),
        ),
        (RulesetStatus::NotEnforced, LandlockStatus::NotEnabled) => LayerStatus::Unsupported(
            "Landlock is built in but not enabled (add landlock to the lsm= boot parameter)".into(),
        ),
        (RulesetStatus::NotEnforced, _) => LayerStatus::Unsupported("the kernel enforced none of the rules".into()),
        (RulesetStatus::FullyEnforced, _) => {
            LayerStatus::Applied(format!("ABI {}: files and TCP ports confined, signals scoped", abi_number(TARGET)))
        }
        (RulesetStatus::PartiallyEnforced, LandlockStatus::Available { effective_abi, .. }) => partial(effective_abi),
        (RulesetStatus::PartiallyEnforced, _) => {
            LayerStatus::Partial("kernel ABI unknown; some rights not handled".into())
        }
    }
}

/// What an older kernel left out, in the words an operator acts on.
fn partial(abi: ABI) -> LayerStatus {
    let n = abi_number(abi);
    if abi < NET_ABI {
        LayerStatus::Partial(format!("ABI {n}: files confined; TCP ports not confined (needs ABI 4, Linux 6.7)"))
    } else {
        LayerStatus::Applied(format!("ABI {n}: files and TCP ports confined; device ioctls or signal scoping not confined (needs ABI 6, Linux 6.12)"))
    }
}

fn abi_number(abi: ABI) -> u8 {
    abi as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn available(abi: ABI) -> LandlockStatus {
        LandlockStatus::Available { effective_abi: abi, kernel_abi: None }
    }

    #[test]
    fn each_kernel_gets_the_status_and_reason_an_operator_acts_on() {
        let unsupported = outcome(RulesetStatus::NotEnforced, LandlockStatus::NotImplemented);
        assert!(matches!(&unsupported, LayerStatus::Unsupported(why) if why.contains("Linux 5.13")), "{unsupported:?}");
        let disabled = outcome(RulesetStatus::NotEnforced, LandlockStatus::NotEnabled);
        assert!(matches!(&disabled, LayerStatus::Unsupported(why) if why.contains("lsm=")), "{disabled:?}");
        // Below ABI 4 TCP ports stay open: partial, which --lockdown require refuses.
        let old = outcome(RulesetStatus::PartiallyEnforced, available(ABI::V3));
        assert!(matches!(&old, LayerStatus::Partial(why) if why.contains("ABI 3") && why.contains("TCP ports not confined")), "{old:?}");
        // From ABI 4 files and ports are confined: applied, naming what is missing.
        let net = outcome(RulesetStatus::PartiallyEnforced, available(ABI::V5));
        assert!(matches!(&net, LayerStatus::Applied(what) if what.contains("ABI 5") && what.contains("not confined")), "{net:?}");
        let full = outcome(RulesetStatus::FullyEnforced, available(ABI::V7));
        assert_eq!(full, LayerStatus::Applied("ABI 7: files and TCP ports confined, signals scoped".into()));
    }
}
