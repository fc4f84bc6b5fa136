//! `new` and `revoke`: read-modify-write of the keys file under its lock.
//!
//! Entries are edited as JSON values, not re-serialized from the parser's
//! types, so every field an operator wrote (a `note`, an `expiresMs`) comes
//! back unchanged and in its place. The result is written one entry per line,
//! which keeps diffs and `grep` readable.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Map, Value, json};

use super::error::ApiKeyError;
use super::keyfile::{self, FORMAT_VERSION};
use super::{generate, settings, store};

/// Arguments of `ward apikey new`.
#[derive(clap::Args)]
pub struct NewArgs {
    /// The keys file; created (mode 0600) when missing.
    #[arg(long, value_name = "FILE")]
    file: PathBuf,
    /// Put in front of the key (e.g. wk_live_) so that gateways, the plugin's
    /// `prefixes` setting and secret scanners recognise it.
    #[arg(long)]
    prefix: String,
    /// Who the key belongs to: the identity's subject (the host hashes it).
    #[arg(long)]
    subject: String,
    /// What kind of caller holds the key.
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    principal: PrincipalArg,
    /// A scope granted to the key; repeatable.
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// A label `key=value` passed on with the identity; repeatable.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
    /// Unix milliseconds from which the plugin refuses the key as `expired`.
    #[arg(long, value_name = "MS")]
    expires_ms: Option<u64>,
    /// A note for people reading the file; the plugin ignores it.
    #[arg(long)]
    note: Option<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum PrincipalArg {
    User,
    Service,
    Agent,
}

impl PrincipalArg {
    fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Service => "service",
            Self::Agent => "agent",
        }
    }
}

/// `ward apikey new`: the key on stdout, once; a summary on stderr.
pub fn new(args: &NewArgs) -> Result<ExitCode, ApiKeyError> {
    if !settings::valid_prefix(&args.prefix) {
        return Err(ApiKeyError::BadPrefix(args.prefix.clone()));
    }
    let labels = labels(&args.labels)?;
    let lock = store::Lock::take(&args.file)?;
    let mut entries = match store::read(&args.file)? {
        Some(bytes) => entries(&args.file, &bytes)?.0,
        None => Vec::new(),
    };
    let key = generate::new_key(&args.prefix);
    let sha256 = generate::sha256_hex(&key);
    let mut entry = Map::new();
    entry.insert("sha256".into(), json!(sha256));
    entry.insert("subject".into(), json!(args.subject));
    entry.insert("type".into(), json!(args.principal.as_str()));
    // Defaults (no scopes, no labels, not revoked) are left out: the plugin
    // reads the whole file on every call and pays for every field.
    if !args.scopes.is_empty() {
        entry.insert("scopes".into(), json!(args.scopes));
    }
    if !labels.is_empty() {
        entry.insert("labels".into(), Value::Object(labels));
    }
    entry.insert("createdMs".into(), json!(ward::trust::now_ms()));
    if let Some(expires) = args.expires_ms {
        entry.insert("expiresMs".into(), json!(expires));
    }
    if let Some(note) = &args.note {
        entry.insert("note".into(), json!(note));
    }
    entries.push(Value::Object(entry));
    let text = render(&entries);
    // The old file passed the parser, so a refusal now is the new entry's.
    keyfile::parse(text.as_bytes()).map_err(|problem| ApiKeyError::BadEntry { problem: problem.to_string() })?;
    lock.commit(text.as_bytes())?;
    let path = args.file.display().to_string();
    writeln!(std::io::stdout(), "{}", key.as_str()).and_then(|()| std::io::stdout().flush()).map_err(|err| ApiKeyError::Print {
        path: path.clone(),
        sha256: sha256.clone(),
        reason: err.kind().to_string(),
    })?;
    eprintln!("added sha256 {sha256} to {path}; the key was printed once, on stdout, and is stored nowhere");
    Ok(ExitCode::SUCCESS)
}

/// `ward apikey revoke`: sets `revoked: true` on the entry; idempotent.
pub fn revoke(path: &Path, sha256: &str) -> Result<ExitCode, ApiKeyError> {
    let target = keyfile::decode_hex(sha256).ok_or(ApiKeyError::BadHash)?;
    let lock = store::Lock::take(path)?;
    let bytes = store::read(path)?.ok_or_else(|| ApiKeyError::Read { path: path.display().to_string(), reason: "not found".into() })?;
    let (mut entries, parsed) = entries(path, &bytes)?;
    let not_found = || ApiKeyError::NotFound { path: path.display().to_string(), sha256: sha256.to_owned() };
    let index = parsed.entries.iter().position(|e| e.sha256 == target).ok_or_else(not_found)?;
    let already = parsed.entries.get(index).is_some_and(|e| e.revoked);
    if !already {
        let entry = entries.get_mut(index).and_then(Value::as_object_mut).ok_or_else(not_found)?;
        entry.insert("revoked".into(), json!(true));
        let text = render(&entries);
        keyfile::parse(text.as_bytes()).map_err(|problem| ApiKeyError::BadEntry { problem: problem.to_string() })?;
        lock.commit(text.as_bytes())?;
    }
    let out = json!({ "ok": true, "command": "apikey revoke", "sha256": sha256, "alreadyRevoked": already });
    writeln!(std::io::stdout(), "{out}").map_err(|err| ApiKeyError::Stdout(err.kind().to_string()))?;
    Ok(ExitCode::SUCCESS)
}

/// The file's entries as JSON values, after the plugin's parser accepted the
/// whole file (which it returns too, entry for entry in the same order).
fn entries(path: &Path, bytes: &[u8]) -> Result<(Vec<Value>, keyfile::KeyFile), ApiKeyError> {
    #[derive(serde::Deserialize)]
    struct Doc {
        keys: Vec<Value>,
    }
    let invalid = |problem| ApiKeyError::Invalid { path: path.display().to_string(), problem };
    let parsed = keyfile::parse(bytes).map_err(invalid)?;
    let doc: Doc = serde_json::from_slice(bytes).map_err(|err| ApiKeyError::Read { path: path.display().to_string(), reason: category(&err) })?;
    Ok((doc.keys, parsed))
}

/// `serde_json`'s position and category, never its message (which can
/// quote file content).
fn category(err: &serde_json::Error) -> String {
    format!("line {} column {}: {:?}", err.line(), err.column(), err.classify())
}

/// One entry per line inside the fixed frame of the format.
fn render(entries: &[Value]) -> String {
    let mut out = format!("{{\n  \"version\": {FORMAT_VERSION},\n  \"keys\": [");
    for (i, entry) in entries.iter().enumerate() {
        out.push_str(if i == 0 { "\n    " } else { ",\n    " });
        out.push_str(&entry.to_string());
    }
    out.push_str(if entries.is_empty() { "]\n}\n" } else { "\n  ]\n}\n" });
    out
}

/// `--label key=value` pairs, in order, each key once.
fn labels(raw: &[String]) -> Result<Map<String, Value>, ApiKeyError> {
    let mut labels = Map::new();
    for label in raw {
        let bad = |rule| ApiKeyError::BadLabel { label: label.clone(), rule };
        let (key, value) = label.split_once('=').ok_or_else(|| bad("expected key=value"))?;
        keyfile::check_label_key(key).map_err(bad)?;
        if labels.insert(key.to_owned(), json!(value)).is_some() {
            return Err(bad("repeats a label key"));
        }
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_round_trips_through_the_plugin_parser() {
        assert_eq!(render(&[]), "{\n  \"version\": 1,\n  \"keys\": []\n}\n");
        let entry = json!({ "sha256": generate::sha256_hex("k"), "subject": "s", "type": "user" });
        let two = vec![entry.clone(), json!({ "sha256": generate::sha256_hex("j"), "subject": "t", "type": "agent", "note": "x" })];
        let text = render(&two);
        assert_eq!(text.lines().count(), 7, "{text}");
        let parsed = keyfile::parse(text.as_bytes()).unwrap();
        assert_eq!(parsed.entries.len(), 2);
        let (values, _) = entries(Path::new("f"), text.as_bytes()).unwrap();
        assert_eq!(values, two);
    }

    #[test]
    fn label_arguments() {
        let ok = labels(&["team=billing".into(), "env=".into()]).unwrap();
        assert_eq!(Value::Object(ok), json!({ "team": "billing", "env": "" }));
        assert!(matches!(labels(&["team".into()]), Err(ApiKeyError::BadLabel { .. })));
        assert!(matches!(labels(&["a b=c".into()]), Err(ApiKeyError::BadLabel { .. })));
        assert!(matches!(labels(&["t=1".into(), "t=2".into()]), Err(ApiKeyError::BadLabel { .. })));
    }
}
