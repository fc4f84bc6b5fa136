//! Why a route policy was refused. The config room places each at its JSON
//! path (`routes.rules[i]`).

/// A route policy that cannot be applied as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Route `index` and route `other` could both match one request at the
    /// same specificity: which one wins would depend on the config's order,
    /// and one of them would be unreachable for those requests.
    #[error("overlaps routes.rules[{other}]: one request could match both at the same specificity, so one would be unreachable")]
    Overlap {
        /// The later route, in config order.
        index: usize,
        /// The earlier one.
        other: usize,
    },
}
