//! Why a JavaScript module was refused at load. Each reason has a stable
//! code (`ward check`, audit, docs/javascript.md).

/// A JavaScript plugin's load-time refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsRefusal {
    /// The entry is not UTF-8 text.
    #[error("the JavaScript entry is not UTF-8")]
    NotUtf8,
    /// The module does not parse, or imports another module (there is no
    /// module loader: a plugin is one self-contained file).
    #[error("the JavaScript module does not parse (a syntax error, or an import)")]
    Syntax,
    /// Evaluating the module threw, or its top-level await rejected or never
    /// settled.
    #[error("evaluating the JavaScript module threw")]
    Evaluation,
    /// The module exports no `default` function, no `authenticate`, and no
    /// `default.authenticate` (Haechi's order).
    #[error("the JavaScript module exports no authenticate function")]
    NoEntry,
    /// Evaluation ran out of its fuel budget (a top-level loop).
    #[error("evaluating the JavaScript module ran out of fuel")]
    EvaluationFuel,
    /// Evaluation needed more memory than the plugin's limit.
    #[error("evaluating the JavaScript module exceeded the memory limit")]
    EvaluationMemory,
    /// The engine itself failed (a fault in ward, not in the module).
    #[error("the JavaScript engine failed: {why}")]
    Engine {
        /// Which step.
        why: &'static str,
    },
}

impl JsRefusal {
    /// The stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotUtf8 => "js-not-utf8",
            Self::Syntax => "js-syntax",
            Self::Evaluation => "js-evaluation",
            Self::NoEntry => "js-no-entry",
            Self::EvaluationFuel => "js-evaluation-fuel",
            Self::EvaluationMemory => "js-evaluation-memory",
            Self::Engine { .. } => "js-engine",
        }
    }

    /// What the engine's `ward_js_init` returned (runtimes/js/src/init.rs,
    /// `InitStatus`), or `None` for success.
    pub(crate) fn from_status(status: i32) -> Option<Self> {
        match status {
            0 => None,
            1 => Some(Self::NotUtf8),
            2 => Some(Self::Syntax),
            3 => Some(Self::Evaluation),
            4 => Some(Self::NoEntry),
            5 => Some(Self::Engine { why: "QuickJS did not start" }),
            _ => Some(Self::Engine { why: "unexpected init status" }),
        }
    }
}
