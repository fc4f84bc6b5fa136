//! Constant-time comparison for MACs and secrets.

use subtle::ConstantTimeEq;

/// `a == b` in time that depends only on the lengths, never on where the
/// first difference is, so a caller cannot find a valid MAC byte by byte.
/// Lengths are public (a MAC's length is fixed by its algorithm). The
/// comparison is `subtle`'s, whose `Choice` keeps the optimizer from turning
/// it into an early-exit compare.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::ct_eq;

    #[test]
    fn equal_and_unequal() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(!ct_eq(b"", b"a"));
    }
}
