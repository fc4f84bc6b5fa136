//! Reading a config file's JSON: a plain tree first, refusing a repeated key
//! in any object, then the typed shape; serde's errors become
//! [`ConfigError`]s that name a JSON path and never quote a value.
//!
//! A repeated key is refused everywhere, not only where serde would notice:
//! serde refuses a repeated struct field, but a map (`settings`, `pins`) and
//! the `trust` section (kept as a `Value`) keep the last value, so a second
//! `"revoked": {}` would silently cancel a revocation.

use serde::Deserialize;
use serde_json::Value;

use crate::unique_keys::UniqueKeys;

use super::ConfigError;

type PathError = serde_path_to_error::Error<serde_json::Error>;

/// The document as a tree, refusing a repeated key at its JSON path
/// (`plugins[0].settings.issuer: duplicate key`). Nesting is bounded by
/// serde_json's recursion limit, which this pass goes through level by level.
pub(crate) fn tree(bytes: &[u8], shown: &str, prefix: &str) -> Result<Value, ConfigError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let UniqueKeys::<{ u64::MAX }>(tree) = serde_path_to_error::deserialize(&mut de).map_err(|e| refusal(&e, shown, prefix))?;
    de.end().map_err(|e| not_json(&e, shown))?;
    Ok(tree)
}

/// The typed shape, read from the bytes (the tree has already refused
/// repeated keys and misplaced arrays).
pub(crate) fn typed<'de, T: Deserialize<'de>>(bytes: &'de [u8], shown: &str, prefix: &str) -> Result<T, ConfigError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| refusal(&e, shown, prefix))
}

fn not_json(err: &serde_json::Error, shown: &str) -> ConfigError {
    ConfigError::NotJson { path: shown.to_owned(), detail: format!("line {} column {}", err.line(), err.column()) }
}

/// `prefix` places a separate file's paths (fixtures) under its config field.
fn refusal(err: &PathError, shown: &str, prefix: &str) -> ConfigError {
    let inner = err.inner();
    if inner.is_syntax() || inner.is_eof() {
        return not_json(inner, shown);
    }
    let at = match err.path().to_string().as_str() {
        "." => prefix.trim_end_matches('.').to_owned(),
        p => format!("{prefix}{p}"),
    };
    // serde's message names the field or type, never the value's text, except
    // in type errors ("invalid type: string \"…\", expected u64"); a value may
    // be a secret, so only the expectation is kept.
    let problem = match inner.to_string() {
        text if text.starts_with("invalid type") || text.starts_with("invalid value") => {
            let kind = if text.starts_with("invalid type") { "invalid type" } else { "invalid value" };
            text.split_once(", expected ").map_or_else(|| kind.to_owned(), |(_, expected)| format!("{kind}, expected {expected}"))
        }
        text => text,
    };
    let problem = problem.split(" at line ").next().unwrap_or_default().to_owned();
    ConfigError::Invalid { path: shown.to_owned(), at: if at.is_empty() { "(top level)".into() } else { at }, problem }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unique_keys::DUPLICATE_KEY;

    fn at(json: &str) -> Option<(String, String)> {
        match tree(json.as_bytes(), "ward.json", "") {
            Err(ConfigError::Invalid { at, problem, .. }) => Some((at, problem)),
            _ => None,
        }
    }

    #[test]
    fn a_repeated_key_is_refused_at_its_path() {
        let dup = |path: &str| Some((path.to_owned(), DUPLICATE_KEY.to_owned()));
        assert_eq!(at(r#"{"a": 1, "a": 1}"#), dup("a"));
        assert_eq!(at(r#"{"p": [{"s": {"k": "x", "k": "y"}}]}"#), dup("p[0].s.k"));
        assert_eq!(at(r#"[[], [{"x": 1}, {"y": {}, "y": {}}]]"#), dup("[1][1].y"));
        // Equal once unescaped.
        assert_eq!(at(r#"{"b": {"a": 1, "\u0061": 2}}"#), dup("b.a"));
        // The value is never quoted.
        let refused = tree(br#"{"k": "s3cr3t", "k": "s3cr3t"}"#, "ward.json", "").err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(refused, "ward.json: k: duplicate key");
        // Equal keys in different objects are fine.
        let ok = tree(br#"{"a": {"k": 1}, "b": {"k": 1}, "c": [{"k": 1}, {"k": 2}]}"#, "ward.json", "");
        assert_eq!(ok.ok().and_then(|t| t.pointer("/c/1/k").cloned()), Some(Value::from(2)));
    }

    #[test]
    fn syntax_stays_not_json_and_nesting_stays_bounded() {
        for bad in ["{", "{} x", "[1e400]", r#""\ud800""#, "[01]"] {
            assert!(matches!(tree(bad.as_bytes(), "w", ""), Err(ConfigError::NotJson { .. })), "{bad}");
        }
        // Far past serde_json's recursion limit: refused, not a stack overflow.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(tree(deep.as_bytes(), "w", ""), Err(ConfigError::NotJson { .. })));
        let deep = "{\"a\":".repeat(100_000);
        assert!(matches!(tree(deep.as_bytes(), "w", ""), Err(ConfigError::NotJson { .. })));
    }
}
