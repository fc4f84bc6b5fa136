//! The wire formats of docs/stability.md, checked on the sources so that a
//! new code, event or audit field cannot arrive in another format:
//! - every stable code (the literals a `fn code` returns, breaker causes, the
//!   literals given to `audit::Code::new`) is kebab-case, or a plugin's own
//!   reason under `plugin:`;
//! - every audit event name is dot-separated kebab-case words;
//! - every audit record field is camelCase.
// Test code: a broken assumption should stop the test loudly, so unwrap,
// expect, panic and indexing are allowed (clippy.toml does the same for
// `#[cfg(test)]` modules).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod source_tree;

use std::fs;
use std::path::{Path, PathBuf};

fn sources() -> Vec<(PathBuf, String)> {
    let mut paths = Vec::new();
    source_tree::rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut paths);
    paths.into_iter().map(|path| (path.clone(), fs::read_to_string(&path).unwrap())).collect()
}

/// The string literals in the body of each `fn <name>(` in `text`.
fn literals_in_fns<'t>(text: &'t str, name: &str) -> Vec<&'t str> {
    let mut found = Vec::new();
    let needle = format!("fn {name}(");
    for (at, _) in text.match_indices(&needle) {
        let Some(open) = text[at..].find('{').map(|i| at + i) else { continue };
        let mut depth = 0usize;
        let mut end = open;
        for (i, c) in text[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        found.extend(quoted(&text[open..end]));
    }
    found
}

/// The contents of every `"…"` in `text` (codes have no escapes).
fn quoted(text: &str) -> Vec<&str> {
    text.split('"').skip(1).step_by(2).collect()
}

/// The literal after each occurrence of `prefix` (which ends in `"`).
fn literals_after<'t>(text: &'t str, prefix: &str) -> Vec<&'t str> {
    text.match_indices(prefix).filter_map(|(at, _)| text[at + prefix.len()..].split('"').next()).collect()
}

fn kebab(word: &str) -> bool {
    !word.is_empty() && word.split('-').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

fn stable_code(code: &str) -> bool {
    code.len() <= 64 && kebab(code.strip_prefix("plugin:").unwrap_or(code))
}

#[test]
fn every_stable_code_is_kebab_case() {
    let mut checked = 0;
    let mut wrong = Vec::new();
    for (path, text) in sources() {
        let codes = literals_in_fns(&text, "code").into_iter().chain(literals_after(&text, "cause: \"")).chain(literals_after(&text, "Code::new(\""));
        for code in codes {
            checked += 1;
            if !stable_code(code) {
                wrong.push(format!("{}: {code:?}", path.display()));
            }
        }
    }
    // The audit, trust, sandbox, keymaterial, config, server and lockdown
    // rooms together have well over a hundred; far fewer means the reader
    // above stopped finding them.
    assert!(checked > 100, "only {checked} codes found: the reader lost them");
    assert!(wrong.is_empty(), "codes outside docs/stability.md's format:\n{}", wrong.join("\n"));
}

#[test]
fn audit_event_names_and_fields_have_one_format() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/audit/event.rs");
    let text = fs::read_to_string(&path).unwrap();
    let names = literals_in_fns(&text, "name");
    assert!(names.len() >= 14, "event names not found in {}", path.display());
    for name in names {
        assert!(name.split('.').count() >= 2 && name.split('.').all(kebab), "event name {name:?} is not dot-separated kebab-case");
    }
    // Every field a record gets is written through `f("<field>", …)`.
    let fields = literals_after(&text, "f(\"");
    assert!(fields.len() >= 10, "record fields not found in {}", path.display());
    for field in fields {
        let camel = field.starts_with(|c: char| c.is_ascii_lowercase()) && field.chars().all(|c| c.is_ascii_alphanumeric());
        assert!(camel, "audit field {field:?} is not camelCase");
    }
}

#[test]
fn the_checks_above_refuse_the_old_formats() {
    assert!(!stable_code("audit.locked") && !stable_code("keymaterial-too_large") && !stable_code("plugin:Bad"));
    assert!(stable_code("audit-locked") && stable_code("plugin:expired"));
    assert!(!kebab("half_open") && kebab("half-open"));
}
