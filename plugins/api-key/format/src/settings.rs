//! The operator's settings, checked whole on every call. A setting the plugin
//! does not know, or one given twice, refuses every credential: a typo such
//! as `prefix=wk_live_` must not silently turn the prefix check off.

/// What the operator configured, borrowed from the settings list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings<'a> {
    /// The key-material entry holding the keys file.
    pub key_material: &'a str,
    /// Accepted key prefixes; empty means keys carry no prefix.
    pub prefixes: Vec<&'a str>,
    /// Credential schemes the plugin reads (`api-key`, `bearer`).
    pub schemes: Vec<&'a str>,
    /// Shortest accepted key, not counting the prefix.
    pub min_key_bytes: usize,
    /// Longest accepted key, not counting the prefix.
    pub max_key_bytes: usize,
    /// Returned as the claims' issuer.
    pub issuer: Option<&'a str>,
}

/// The settings cannot be used; every call denies until they are fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Misconfigured;

/// The key-material entry read when `keyMaterial` is not set.
pub const DEFAULT_KEY_MATERIAL: &str = "api-keys";
const DEFAULT_SCHEMES: &str = "api-key,bearer";
const DEFAULT_MIN_KEY_BYTES: usize = 16;
const DEFAULT_MAX_KEY_BYTES: usize = 256;
/// The host refuses credentials over 8 KiB before the plugin runs anyway.
const MAX_KEY_BYTES_LIMIT: usize = 8192;
const MAX_PREFIX_BYTES: usize = 32;

const KNOWN: &[&str] = &["keyMaterial", "prefixes", "schemes", "minKeyBytes", "maxKeyBytes", "issuer"];
/// `basic` carries `user:password`, not a key; nothing else is a key scheme.
const KEY_SCHEMES: &[&str] = &["api-key", "bearer"];

/// Reads and checks the settings.
pub fn parse(settings: &[(String, String)]) -> Result<Settings<'_>, Misconfigured> {
    for (i, (name, _)) in settings.iter().enumerate() {
        let repeated = settings.iter().take(i).any(|(earlier, _)| earlier == name);
        if repeated || !KNOWN.contains(&name.as_str()) {
            return Err(Misconfigured);
        }
    }
    let get = |name: &str| settings.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());

    let key_material = get("keyMaterial").unwrap_or(DEFAULT_KEY_MATERIAL);
    if key_material.is_empty() {
        return Err(Misconfigured);
    }
    let prefixes = match get("prefixes") {
        None => Vec::new(),
        Some(list) => split_list(list, valid_prefix)?,
    };
    let schemes = split_list(get("schemes").unwrap_or(DEFAULT_SCHEMES), |s| KEY_SCHEMES.contains(&s))?;
    let min_key_bytes = number(get("minKeyBytes"), DEFAULT_MIN_KEY_BYTES)?;
    let max_key_bytes = number(get("maxKeyBytes"), DEFAULT_MAX_KEY_BYTES)?;
    if min_key_bytes == 0 || min_key_bytes > max_key_bytes || max_key_bytes > MAX_KEY_BYTES_LIMIT {
        return Err(Misconfigured);
    }
    let issuer = get("issuer");
    if issuer.is_some_and(str::is_empty) {
        return Err(Misconfigured);
    }
    Ok(Settings { key_material, prefixes, schemes, min_key_bytes, max_key_bytes, issuer })
}

/// A prefix routes keys and shows in logs and secret scanners, so it stays
/// plain: 1 to 32 of `A-Z a-z 0-9 _ . -`.
pub fn valid_prefix(prefix: &str) -> bool {
    !prefix.is_empty() && prefix.len() <= MAX_PREFIX_BYTES && prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// A comma-separated list; an empty item (`a,,b`, a trailing comma) is an error
/// rather than something to skip, because it usually means a lost value.
fn split_list(list: &str, valid: impl Fn(&str) -> bool) -> Result<Vec<&str>, Misconfigured> {
    let items: Vec<&str> = list.split(',').map(str::trim).collect();
    if items.iter().all(|item| valid(item)) { Ok(items) } else { Err(Misconfigured) }
}

fn number(value: Option<&str>, default: usize) -> Result<usize, Misconfigured> {
    match value {
        None => Ok(default),
        Some(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => text.parse().map_err(|_| Misconfigured),
        Some(_) => Err(Misconfigured),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults() {
        let none = s(&[]);
        let parsed = parse(&none).unwrap();
        assert_eq!(parsed.key_material, "api-keys");
        assert!(parsed.prefixes.is_empty());
        assert_eq!(parsed.schemes, ["api-key", "bearer"]);
        assert_eq!((parsed.min_key_bytes, parsed.max_key_bytes), (16, 256));
    }

    #[test]
    fn lists_and_numbers() {
        let given = s(&[("prefixes", "wk_live_, wk_test_"), ("schemes", "api-key"), ("minKeyBytes", "32"), ("maxKeyBytes", "64")]);
        let parsed = parse(&given).unwrap();
        assert_eq!(parsed.prefixes, ["wk_live_", "wk_test_"]);
        assert_eq!(parsed.schemes, ["api-key"]);
        assert_eq!((parsed.min_key_bytes, parsed.max_key_bytes), (32, 64));
    }

    #[test]
    fn misconfigurations() {
        for bad in [
            s(&[("prefix", "wk_live_")]),
            s(&[("prefixes", "wk_live_"), ("prefixes", "x_")]),
            s(&[("prefixes", "")]),
            s(&[("prefixes", "wk_live_,")]),
            s(&[("prefixes", "wk live")]),
            s(&[("schemes", "basic")]),
            s(&[("minKeyBytes", "0")]),
            s(&[("minKeyBytes", "-1")]),
            s(&[("minKeyBytes", "300")]),
            s(&[("maxKeyBytes", "9000")]),
            s(&[("keyMaterial", "")]),
            s(&[("issuer", "")]),
        ] {
            assert_eq!(parse(&bad), Err(Misconfigured), "{bad:?}");
        }
    }
}
