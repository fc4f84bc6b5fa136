//! The checks a presented key must pass before it is hashed: right scheme,
//! present, printable, an accepted prefix, a plausible length. They look only
//! at the key's shape and the settings, never at the keys file, so a
//! malformed key costs no file parse and no hash.

use crate::settings::Settings;

/// Why a key was refused on its shape alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Another scheme, or an empty key.
    Missing,
    /// Not a key this plugin could hold.
    Malformed,
}

/// Accepts `token` as a candidate key for the lookup.
pub fn check(scheme: &str, token: &str, settings: &Settings<'_>) -> Result<(), Shape> {
    if !settings.schemes.contains(&scheme) || token.is_empty() {
        return Err(Shape::Missing);
    }
    // Printable ASCII only: keys travel in headers, and a space or control
    // character means a copy-paste accident or an injection attempt.
    if !token.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(Shape::Malformed);
    }
    let secret_len = if settings.prefixes.is_empty() {
        token.len()
    } else {
        // The longest match, so `wk_` and `wk_live_` can both be accepted.
        let prefix = settings.prefixes.iter().filter(|p| token.starts_with(**p)).max_by_key(|p| p.len()).ok_or(Shape::Malformed)?;
        token.len() - prefix.len()
    };
    if secret_len < settings.min_key_bytes || secret_len > settings.max_key_bytes {
        return Err(Shape::Malformed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(prefixes: &[&'static str]) -> Settings<'static> {
        Settings { key_material: "api-keys", prefixes: prefixes.to_vec(), schemes: vec!["api-key", "bearer"], min_key_bytes: 4, max_key_bytes: 8, issuer: None }
    }

    #[test]
    fn shapes() {
        let s = settings(&["wk_", "wk_live_"]);
        assert_eq!(check("api-key", "wk_live_abcd", &s), Ok(()));
        assert_eq!(check("bearer", "wk_abcd", &s), Ok(()));
        assert_eq!(check("basic", "wk_abcd", &s), Err(Shape::Missing));
        assert_eq!(check("api-key", "", &s), Err(Shape::Missing));
        assert_eq!(check("api-key", "xx_abcd", &s), Err(Shape::Malformed));
        assert_eq!(check("api-key", "wk_live_abc", &s), Err(Shape::Malformed), "too short after the longest prefix");
        assert_eq!(check("api-key", "wk_abcdefghi", &s), Err(Shape::Malformed), "too long");
        assert_eq!(check("api-key", "wk_ab cd", &s), Err(Shape::Malformed));
        assert_eq!(check("api-key", "wk_abcé", &s), Err(Shape::Malformed));
        let none = settings(&[]);
        assert_eq!(check("api-key", "abcd", &none), Ok(()));
        assert_eq!(check("api-key", "abc", &none), Err(Shape::Malformed));
    }
}
