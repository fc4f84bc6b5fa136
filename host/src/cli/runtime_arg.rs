//! `--runtime`: what a plugin's signed entry is, as ward.json's `"runtime"`
//! says it (the same two words; never guessed from the file).

use ward::sandbox::PluginRuntime;

/// The `--runtime` value.
#[derive(Clone, Copy, Default, clap::ValueEnum)]
pub(crate) enum RuntimeArg {
    /// A WebAssembly component (`coreVersionRange` names ward's version).
    #[default]
    Wasm,
    /// A JavaScript ES module, a Haechi authProvider (`coreVersionRange`
    /// names the Haechi contract, 1.7.0).
    Js,
}

impl RuntimeArg {
    /// The sandbox's name for it.
    pub(crate) fn runtime(self) -> PluginRuntime {
        match self {
            Self::Wasm => PluginRuntime::Wasm,
            Self::Js => PluginRuntime::Js,
        }
    }
}
