//! The config file as the lifecycle's plan source: each reload reads
//! `ward.json` again and hands the gateway the plan in it.

use std::path::PathBuf;

use crate::lifecycle::{LifecycleError, Plan, PlanSource};
use crate::trust::TrustPolicy;

use super::{ConfigError, ServerConfig, WardConfig, load, read_trust_policy};

/// Re-reads one `ward.json` for a gateway's reloads.
///
/// The `server` section is applied once, by `ward serve`, before the
/// gateway starts; the lifecycle never sees it. So this source is what
/// refuses a reload that changes it (`restart-required`), as the gateway
/// refuses one that changes the identity or audit section, or compileCache.
#[derive(Debug)]
pub struct ConfigFile {
    path: PathBuf,
    server: ServerConfig,
}

impl WardConfig {
    /// The plan to start a gateway with, and the source its reloads read:
    /// this same file, whose `server` section must stay as it is now.
    pub fn into_plan(self) -> (Plan, ConfigFile) {
        (self.plan, ConfigFile { path: self.path, server: self.server })
    }
}

impl PlanSource for ConfigFile {
    fn plan(&self) -> Result<Plan, LifecycleError> {
        let config = load(&self.path)?;
        if config.server != self.server {
            return Err(LifecycleError::RestartRequired { what: "the server section" });
        }
        Ok(config.plan)
    }

    fn trust_policy(&self) -> Result<TrustPolicy, LifecycleError> {
        Ok(read_trust_policy(&self.path)?)
    }
}

impl From<ConfigError> for LifecycleError {
    fn from(err: ConfigError) -> Self {
        Self::Source { code: err.code(), error: Box::new(err) }
    }
}
