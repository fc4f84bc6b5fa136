//! Version comparisons, as Haechi does them.
//!
//! - The version floor uses a numeric dotted comparison: missing segments are
//!   `0`, all-digit segments compare as numbers (exactly, with no 2^53
//!   rounding), any other segment compares as a string in UTF-16 order so a
//!   malformed version never silently ranks as newer.
//! - `coreVersionRange` has exactly the `>=A.B.C <D.E.F` shape (JavaScript
//!   whitespace between and around the bounds).

use std::cmp::Ordering;

use super::canonical::js_cmp;

/// `compareVersions(a, b)` from Haechi.
pub fn compare_dotted(a: &str, b: &str) -> Ordering {
    let mut pa = a.split('.');
    let mut pb = b.split('.');
    loop {
        let (sa, sb) = match (pa.next(), pb.next()) {
            (None, None) => return Ordering::Equal,
            (x, y) => (x.unwrap_or("0"), y.unwrap_or("0")),
        };
        let ord = match (numeric(sa), numeric(sb)) {
            (Some(na), Some(nb)) => na.len().cmp(&nb.len()).then_with(|| na.cmp(nb)),
            _ => js_cmp(sa, sb),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
}

/// An all-digit segment without leading zeros (`""` is JavaScript's `Number("") == 0`).
fn numeric(segment: &str) -> Option<&str> {
    if !segment.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = segment.trim_start_matches('0');
    Some(if trimmed.is_empty() { "0" } else { trimmed })
}

type Triple = (u64, u64, u64);

/// Parses `>=A.B.C <D.E.F`; `None` when the shape is anything else.
pub fn parse_range(range: &str) -> Option<(Triple, Triple)> {
    let range = range.trim_matches(is_js_space);
    let rest = range.strip_prefix(">=")?;
    let split = rest.find(is_js_space)?;
    let (low, after) = rest.split_at(split);
    let high = after.trim_start_matches(is_js_space).strip_prefix('<')?;
    Some((parse_triple(low)?, parse_triple(high)?))
}

/// Whether `version` (`A.B.C`) lies in `[low, high)`.
pub fn satisfies(version: &str, range: (Triple, Triple)) -> Option<bool> {
    let v = parse_triple(version)?;
    Some(v >= range.0 && v < range.1)
}

fn parse_triple(s: &str) -> Option<Triple> {
    let mut parts = s.split('.');
    let mut next = || -> Option<u64> {
        let p = parts.next()?;
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    let triple = (next()?, next()?, next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(triple)
}

/// JavaScript's `\s` and `String.prototype.trim` set (differs from Rust's
/// `char::is_whitespace`: includes U+FEFF, excludes U+0085).
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}' | '\u{FEFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_comparison() {
        assert_eq!(compare_dotted("1.2.0", "1.10.0"), Ordering::Less);
        assert_eq!(compare_dotted("1.2", "1.2.0"), Ordering::Equal);
        assert_eq!(compare_dotted("01.2", "1.2"), Ordering::Equal);
        assert_eq!(compare_dotted("2.0.0", "1.99.99"), Ordering::Greater);
        assert_eq!(compare_dotted("99999999999999999999.0", "99999999999999999998.0"), Ordering::Greater);
        // As in Haechi: "0-beta" is not numeric, and as a string it sorts after "0".
        assert_eq!(compare_dotted("1.0.0-beta", "1.0.0"), Ordering::Greater);
        assert_eq!(compare_dotted("1.x", "1.2"), Ordering::Greater);
    }

    #[test]
    fn range_shape() {
        let r = parse_range(">=0.1.0 <0.2.0");
        assert_eq!(r, Some(((0, 1, 0), (0, 2, 0))));
        assert_eq!(parse_range(" >=1.0.0\u{FEFF}\t<2.0.0 ").map(|r| r.1), Some((2, 0, 0)));
        assert_eq!(parse_range(">=1.0.0<2.0.0"), None);
        assert_eq!(parse_range(">=1.0 <2.0.0"), None);
        assert_eq!(parse_range("^1.0.0"), None);
        assert_eq!(parse_range(">=1.0.0 \u{85}<2.0.0"), None);
        assert_eq!(r.and_then(|r| satisfies("0.1.0", r)), Some(true));
        assert_eq!(r.and_then(|r| satisfies("0.2.0", r)), Some(false));
    }
}
