//! Haechi's `canonicalize()`, byte for byte: the signed bytes are this string
//! as UTF-8, so any difference from JavaScript breaks every signature.
//!
//! Haechi's rules are JavaScript's, which RFC 8785 (JCS) also adopts, so on
//! every input ward accepts this is RFC 8785's output (the tests below check
//! it against `serde_json_canonicalizer`, an independent implementation):
//! - object keys sorted by `Array.prototype.sort()`'s default order, which
//!   compares UTF-16 code units (an astral-plane key sorts *before* a key
//!   starting with U+E000..U+FFFF, unlike UTF-8 byte order);
//! - no whitespace;
//! - strings escaped as `JSON.stringify` does: `\"`, `\\`, `\b \f \n \r \t`,
//!   other C0 controls as lowercase `\u00xx`; everything else (DEL, U+2028,
//!   U+2029, non-ASCII) is emitted raw;
//! - numbers as JavaScript prints them (`ryu-js`): `1.0` → `1`, `1e21` →
//!   `1e+21`, `-0` → `0`.
//!
//! Input that JavaScript and Rust would read differently is refused instead of
//! guessed at: integers beyond ±2^53 (JavaScript rounds them), duplicate keys
//! (parsers disagree on which wins), lone surrogate escapes and numbers that
//! overflow f64 (serde_json rejects both while parsing). Where RFC 8785 and
//! Haechi could part (the I-JSON limits), ward refuses rather than choose.

use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::{Map, Number, Value};

use crate::unique_keys::{DUPLICATE_KEY, INTEGER_TOO_LARGE, UniqueKeys};

use super::refusal::ManifestProblem;

/// 2^53: beyond this not every integer is a JavaScript number.
const MAX_SAFE_MAGNITUDE: u64 = 1 << 53;

/// Parses JSON the way the gate needs it: `serde_json::Value` with insertion
/// order kept, refusing duplicate keys and unsafe integers.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, ManifestProblem> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = UniqueKeys::<MAX_SAFE_MAGNITUDE>::deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    match parsed {
        Ok(UniqueKeys(value)) => Ok(value),
        // Only the visitor raises data errors (deserialize_any never meets
        // a wrong type), so its own messages are told apart from syntax.
        Err(err) => {
            let text = err.to_string();
            if err.is_data() && text.starts_with(DUPLICATE_KEY) {
                Err(ManifestProblem::DuplicateKey)
            } else if err.is_data() && text.starts_with(INTEGER_TOO_LARGE) {
                Err(ManifestProblem::UnsafeInteger)
            } else {
                // serde_json's message names the syntax problem and position,
                // never the input text.
                Err(ManifestProblem::NotJson(text))
            }
        }
    }
}

/// `canonicalize(value)` as Haechi computes it.
pub fn canonicalize(value: &Value) -> Result<String, ManifestProblem> {
    let mut out = String::new();
    write_value(&mut out, value)?;
    Ok(out)
}

fn write_value(out: &mut String, value: &Value) -> Result<(), ManifestProblem> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n)?,
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| js_cmp(a, b));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                if let Some(v) = map.get(key) {
                    write_value(out, v)?;
                }
            }
            out.push('}');
        }
    }
    Ok(())
}

/// `JSON.stringify(value, null, 2)`: how Haechi's `plugin-sign` writes the
/// envelope file, so `ward sign` output is byte-identical to it.
pub fn stringify_pretty(value: &Value) -> Result<String, ManifestProblem> {
    let mut out = String::new();
    write_pretty(&mut out, value, 0)?;
    Ok(out)
}

fn write_pretty(out: &mut String, value: &Value, depth: usize) -> Result<(), ManifestProblem> {
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n("  ", depth));
    };
    match value {
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_pretty(out, item, depth + 1)?;
            }
            newline(out, depth);
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            out.push('{');
            for (i, (key, item)) in js_entries(map).into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_string(out, key);
                out.push_str(": ");
                write_pretty(out, item, depth + 1)?;
            }
            newline(out, depth);
            out.push('}');
        }
        other => write_value(out, other)?,
    }
    Ok(())
}

/// JavaScript's default string order: UTF-16 code units.
pub fn js_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

fn write_number(out: &mut String, n: &Number) -> Result<(), ManifestProblem> {
    if let Some(u) = n.as_u64() {
        if u > MAX_SAFE_MAGNITUDE {
            return Err(ManifestProblem::UnsafeInteger);
        }
        // Safe integers print identically in JavaScript (all are below 1e21).
        let _ = write!(out, "{u}");
    } else if let Some(i) = n.as_i64() {
        if i.unsigned_abs() > MAX_SAFE_MAGNITUDE {
            return Err(ManifestProblem::UnsafeInteger);
        }
        let _ = write!(out, "{i}");
    } else if let Some(f) = n.as_f64() {
        if !f.is_finite() {
            return Err(ManifestProblem::NotJson("non-finite number".into()));
        }
        out.push_str(ryu_js::Buffer::new().format(f));
    }
    Ok(())
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Object entries in the order JavaScript's `Object.entries` yields them:
/// array-index keys ascending, then the rest in insertion order. Haechi
/// reports the first failing capability, so the order decides the reason.
pub fn js_entries(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut indexed: Vec<(u32, (&String, &Value))> = Vec::new();
    let mut named = Vec::new();
    for entry in map {
        match array_index(entry.0) {
            Some(i) => indexed.push((i, entry)),
            None => named.push(entry),
        }
    }
    indexed.sort_by_key(|(i, _)| *i);
    indexed.into_iter().map(|(_, e)| e).chain(named).collect()
}

/// A canonical array index: `0` or no leading zero, below 2^32 - 1.
fn array_index(key: &str) -> Option<u32> {
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_digit()) || (key.len() > 1 && key.starts_with('0')) {
        return None;
    }
    key.parse::<u32>().ok().filter(|i| *i != u32::MAX)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn canon(json: &str) -> Result<String, ManifestProblem> {
        canonicalize(&parse_strict(json.as_bytes())?)
    }

    #[test]
    fn numbers_print_as_javascript_does() -> Result<(), ManifestProblem> {
        assert_eq!(canon("[1.0,1e21,-0,0.1,1e-7,123456789012,1.5e300,-2.5]")?, "[1,1e+21,0,0.1,1e-7,123456789012,1.5e+300,-2.5]");
        assert_eq!(canon("[9007199254740992,-9007199254740992]")?, "[9007199254740992,-9007199254740992]");
        Ok(())
    }

    #[test]
    fn refuses_what_javascript_reads_differently() {
        assert_eq!(canon("9007199254740993"), Err(ManifestProblem::UnsafeInteger));
        assert_eq!(canon("-9007199254740993"), Err(ManifestProblem::UnsafeInteger));
        assert_eq!(canon(r#"{"a":1,"a":2}"#), Err(ManifestProblem::DuplicateKey));
        assert!(matches!(canon(r#""\ud800""#), Err(ManifestProblem::NotJson(_))));
        assert!(matches!(canon("1e400"), Err(ManifestProblem::NotJson(_))));
        assert!(matches!(canon("{} x"), Err(ManifestProblem::NotJson(_))));
    }

    #[test]
    fn strings_escape_as_json_stringify() -> Result<(), ManifestProblem> {
        assert_eq!(canon(r#""a\"b\\c\b\f\n\r\t\u0001\u001f\u007f\u2028\u2029/""#)?, "\"a\\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u001f\u{7f}\u{2028}\u{2029}/\"");
        Ok(())
    }

    #[test]
    fn keys_sort_by_utf16_code_units() -> Result<(), ManifestProblem> {
        // U+1F600 is D83D DE00 in UTF-16, so it sorts before U+E000; in UTF-8
        // byte order it would sort after.
        assert_eq!(canon("{\"\u{e000}\":1,\"\u{1f600}\":2,\"b\":3,\"B\":4}")?, "{\"B\":4,\"b\":3,\"\u{1f600}\":2,\"\u{e000}\":1}");
        Ok(())
    }

    #[test]
    fn pretty_matches_json_stringify_indent_2() -> Result<(), ManifestProblem> {
        let value = parse_strict(br#"{"b":[1,{}],"a":{"x":[]},"1":1.0}"#)?;
        assert_eq!(stringify_pretty(&value)?, "{\n  \"1\": 1,\n  \"b\": [\n    1,\n    {}\n  ],\n  \"a\": {\n    \"x\": []\n  }\n}");
        Ok(())
    }

    #[test]
    fn javascript_property_order() -> Result<(), ManifestProblem> {
        let Value::Object(map) = parse_strict(br#"{"b":1,"10":2,"a":3,"2":4,"01":5,"4294967295":6}"#)? else {
            return Err(ManifestProblem::EnvelopeNotObject);
        };
        let keys: Vec<&str> = js_entries(&map).into_iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["2", "10", "b", "a", "01", "4294967295"]);
        Ok(())
    }

    /// RFC 8785 as an independent implementation writes it.
    fn jcs(value: &Value) -> String {
        serde_json_canonicalizer::to_string(value).unwrap_or_else(|err| format!("<jcs error: {err}>"))
    }

    #[test]
    fn rfc8785_agrees_on_the_fixed_cases() -> Result<(), ManifestProblem> {
        let cases = [
            "[1.0,1e21,-0,0.1,1e-7,123456789012,1.5e300,-2.5,9007199254740992,-9007199254740992,5e-324,1.7976931348623157e308,0.000001,1e-6,333333333.3333333]",
            r#""a\"b\\c\b\f\n\r\t\u0001\u001f\u007f\u2028\u2029/\ud83d\ude00""#,
            "{\"\u{e000}\":1,\"\u{1f600}\":2,\"b\":3,\"B\":4,\"\":5,\"10\":6,\"2\":7,\"a\\u0000\":8,\"a\":9}",
            r#"{"b":[1,{}],"a":{"x":[],"y":{"z":null}},"1":1.0,"t":true,"f":false}"#,
        ];
        for json in cases {
            let value = parse_strict(json.as_bytes())?;
            assert_eq!(canonicalize(&value)?, jcs(&value), "{json}");
        }
        let file = parse_strict(&std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/canonical-vectors.json")).unwrap_or_default())?;
        let vectors = file.get("vectors").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        assert!(!vectors.is_empty(), "tests/vectors/canonical-vectors.json has vectors");
        for vector in vectors {
            let payload = vector.get("payload").unwrap_or(&Value::Null);
            assert_eq!(canonicalize(payload)?, jcs(payload), "{vector}");
        }
        Ok(())
    }

    /// JSON values of every shape ward accepts: safe integers, finite
    /// floats, strings and keys over all of Unicode (controls, astral
    /// planes, the U+E000.. range that UTF-16 order puts after them).
    fn accepted_json() -> impl Strategy<Value = Value> {
        let text = "[\\x00-\\x7f\\u{80}-\\u{7ff}\\u{2028}\\u{e000}-\\u{ffff}\\u{10000}-\\u{10ffff}]{0,6}";
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-(1i64 << 53)..=(1i64 << 53)).prop_map(Value::from),
            any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
            text.prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((text, inner), 0..6).prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn rfc8785_agrees_on_what_ward_accepts(value in accepted_json()) {
            // Through ward's own parser, as the gate reads a manifest.
            let text = serde_json::to_string(&value).unwrap_or_default();
            let parsed = parse_strict(text.as_bytes());
            prop_assert!(parsed.is_ok(), "{text}");
            if let Ok(parsed) = parsed {
                prop_assert_eq!(canonicalize(&parsed).ok(), Some(jcs(&parsed)), "{}", text);
            }
        }
    }
}
