//! Keeps the configuration docs honest: `docs/ward.example.json` loads and
//! passes `ward check`'s checks (signatures, compilation, the conformance
//! fixtures of `docs/conformance.example.json`) as written; every field
//! `docs/ward.schema.json` documents is one ward knows, every object refuses
//! an unknown field at its JSON path, and every documented default is the one
//! the code applies. The schema is read as plain JSON, not run through a
//! JSON Schema validator.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tempfile::TempDir;
use ward::config::WardConfig;
use ward::lifecycle::Gateway;
use ward::server::ServerOptions;
use ward::trust::public_key_to_pem;

use crate::site::Site;
use crate::support::{SIGNER, signing_key};

fn docs(name: &str) -> Value {
    let path = format!("{}/../docs/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{path}: {err}"))
}

fn put(path: &Path, bytes: &[u8], mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A real component for each plugin id the example enables.
fn component(id: &str) -> Vec<u8> {
    // Looked up by name: the api-key plugin is not committed on every branch yet.
    let path = ward_tests::GUESTS.iter().find(|(name, _)| *name == id).map(|(_, path)| *path);
    let path = path.unwrap_or_else(|| panic!("the example enables {id:?}; no guest of that name was built"));
    std::fs::read(path).unwrap()
}

/// A keys file as the api-key plugin reads it.
fn keys_file() -> Vec<u8> {
    let sha: String = Sha256::digest(b"wk_live_Zm9yIGRvY3MgdGVzdHMgb25seQ").iter().map(|b| format!("{b:02x}")).collect();
    let entry = json!({ "sha256": sha, "subject": "svc-billing", "type": "service", "scopes": ["orders:read"], "labels": { "team": "billing" } });
    serde_json::to_vec(&json!({ "version": 1, "keys": [entry] })).unwrap()
}

/// `docs/ward.example.json` deployed into a temp directory: its `allowDirs`
/// mapped to directories outside it, and every file it names created, except
/// those of disabled plugins (which ward must not read).
struct Deployment {
    site: Site,
    _outside: TempDir,
    example: Value,
}

impl Deployment {
    fn new() -> Self {
        let site = Site::new();
        let outside = tempfile::tempdir().unwrap();
        let mut example = docs("ward.example.json");
        let dirs: Vec<(String, String)> = example["allowDirs"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, dir)| (dir.as_str().unwrap().to_owned(), outside.path().join(format!("allowed{i}")).display().to_string()))
            .collect();
        for (_, to) in &dirs {
            std::fs::create_dir_all(to).unwrap();
        }
        remap(&mut example, &dirs);
        let deployment = Self { site, _outside: outside, example };
        deployment.create_files();
        deployment
    }

    fn create_files(&self) {
        let example = &self.example;
        put(&self.resolve(&example["identity"]["keyFile"]), &[7; 32], 0o600);
        put(&self.resolve(&example["audit"]["keyFile"]), &[9; 32], 0o600);
        let all_on = example.get("pluginsEnabled") != Some(&json!(false));
        for plugin in example["plugins"].as_array().unwrap() {
            if !all_on || plugin.get("enabled") == Some(&json!(false)) {
                continue;
            }
            let id = plugin["id"].as_str().unwrap();
            // Indexed key material is looked up: such a plugin is signed with keyLookup.
            let indexed = plugin.get("keyMaterial").and_then(Value::as_array).into_iter().flatten().any(|m| m.get("format").is_some_and(|f| f != "raw"));
            let capabilities: &[&str] = if indexed { &["readsCredentials", "keyLookup"] } else { &["readsCredentials"] };
            self.site.add_plugin_with(id, &component(id), capabilities);
            for (field, made) in [("component", format!("{id}.wasm")), ("envelope", format!("{id}.signed.json"))] {
                let to = self.resolve(&plugin[field]);
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                std::fs::rename(self.site.path(&made), to).unwrap();
            }
            if let Some(fixtures) = plugin.get("conformance") {
                assert_eq!(id, "example-token", "docs/conformance.example.json is example-token's");
                let text = serde_json::to_vec(&docs("conformance.example.json")).unwrap();
                put(&self.resolve(fixtures), &text, 0o644);
            }
            for material in plugin.get("keyMaterial").and_then(Value::as_array).into_iter().flatten() {
                if let Some(file) = material.get("file") {
                    assert_eq!(material["name"], "api-keys", "only the api-key plugin's keys file is made here");
                    put(&self.resolve(file), &keys_file(), 0o644);
                }
            }
        }
    }

    fn resolve(&self, path: &Value) -> PathBuf {
        let path = Path::new(path.as_str().unwrap());
        if path.is_absolute() { path.to_path_buf() } else { self.site.path(path.to_str().unwrap()) }
    }

    fn fixtures_path(&self) -> PathBuf {
        self.resolve(&self.example["plugins"][self.index("example-token")]["conformance"])
    }

    fn index(&self, id: &str) -> usize {
        self.example["plugins"].as_array().unwrap().iter().position(|p| p["id"] == id).unwrap()
    }

    fn config_path(&self) -> PathBuf {
        self.site.path("ward.json")
    }

    fn load(&self, config: &Value) -> Result<WardConfig, String> {
        let path = self.site.write("ward.json", config.to_string().as_bytes());
        ward::config::load(&path).map_err(|err| err.to_string())
    }
}

/// Rewrites every string under an `allowDirs` entry to its temp directory.
fn remap(value: &mut Value, dirs: &[(String, String)]) {
    match value {
        Value::String(s) => {
            for (from, to) in dirs {
                if s == from || s.starts_with(&format!("{from}/")) {
                    *s = format!("{to}{}", &s[from.len()..]);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| remap(v, dirs)),
        Value::Object(map) => map.values_mut().for_each(|v| remap(v, dirs)),
        _ => {}
    }
}

fn schema() -> Value {
    docs("ward.schema.json")
}

/// A property's schema with a `$ref` to `$defs` followed.
fn property<'s>(schema: &'s Value, prop: &'s Value) -> &'s Value {
    match prop.get("$ref").and_then(Value::as_str) {
        Some(reference) => schema.pointer(reference.trim_start_matches('#')).unwrap_or_else(|| panic!("dangling {reference}")),
        None => prop,
    }
}

/// Each object of ward.json: (its schema, where the example has one, the
/// JSON path ward's errors name for an unknown field in it). Key material
/// appears twice: a `file` entry and a `url` entry.
fn objects(d: &Deployment) -> Vec<(&'static str, String, String)> {
    let (token, api, jwt) = (d.index("example-token"), d.index("api-key"), d.index("partner-jwt"));
    vec![
        ("", String::new(), String::new()),
        ("/$defs/trust", "/trust".into(), "trust".into()),
        ("/$defs/trustAnchor", "/trust/trustAnchors/0".into(), "trust.trustAnchors".into()),
        ("/$defs/revoked", "/trust/revoked".into(), "trust".into()),
        ("/$defs/pin", "/trust/pins/api-key".into(), "trust".into()),
        ("/$defs/identity", "/identity".into(), "identity".into()),
        ("/$defs/audit", "/audit".into(), "audit".into()),
        ("/$defs/server", "/server".into(), "server".into()),
        ("/$defs/keyMaterialFetch", "/keyMaterialFetch".into(), "keyMaterialFetch".into()),
        ("/$defs/plugin", format!("/plugins/{token}"), format!("plugins[{token}]")),
        ("/$defs/route", format!("/plugins/{token}/route"), format!("plugins[{token}].route")),
        ("/$defs/limits", format!("/plugins/{token}/limits"), format!("plugins[{token}].limits")),
        ("/$defs/breaker", format!("/plugins/{token}/breaker"), format!("plugins[{token}].breaker")),
        ("/$defs/keyMaterial", format!("/plugins/{api}/keyMaterial/0"), format!("plugins[{api}].keyMaterial[0]")),
        ("/$defs/keyMaterial", format!("/plugins/{jwt}/keyMaterial/0"), format!("plugins[{jwt}].keyMaterial[0]")),
    ]
}

/// The field names a serde "unknown field" message says ward expects.
fn expected_fields(err: &str) -> BTreeSet<String> {
    let list = err.split_once("expected").map_or("", |(_, list)| list);
    list.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

/// Where two long Debug strings first differ, with a little context.
fn difference(a: &str, b: &str) -> String {
    let at = a.bytes().zip(b.bytes()).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    let around = |s: &str| s.get(at.saturating_sub(60)..(at + 60).min(s.len())).unwrap_or(s).to_owned();
    format!("left …{}…, right …{}…", around(a), around(b))
}

/// A documented field that does not apply to this instance (e.g.
/// `refreshSeconds` on a `file` entry) is refused with this phrase.
fn does_not_apply(err: &str) -> bool {
    err.contains("only applies to")
}

fn properties<'s>(schema: &'s Value, def: &str) -> &'s serde_json::Map<String, Value> {
    schema.pointer(def).and_then(|d| d["properties"].as_object()).unwrap_or_else(|| panic!("schema{def} has no properties"))
}

#[test]
fn the_example_loads_and_checks_as_written() {
    let d = Deployment::new();
    let config = d.load(&d.example).unwrap_or_else(|err| panic!("docs/ward.example.json: {err}"));
    let ids: Vec<_> = config.plan.plugins.iter().map(|p| (p.id.as_str(), p.enabled, p.files.is_some())).collect();
    assert_eq!(ids, [("example-token", true, true), ("api-key", true, true), ("partner-jwt", false, false)]);
    let fixtures = docs("conformance.example.json");
    assert_eq!(config.plan.plugins[0].conformance.len(), fixtures.as_array().unwrap().len());
    let keys: Vec<_> = config.plan.plugins[1].indexed_files.iter().map(|file| (file.name.as_str(), file.shape.format.name(), file.bytes.len())).collect();
    assert_eq!(keys, [("api-keys", "api-keys", keys_file().len())]);
    assert!(config.plan.plugins[1].options.keys.is_empty(), "an indexed entry is not raw key material");
    let urls: Vec<_> = config.plan.plugins[2].key_urls.iter().map(|(name, source)| (name.as_str(), source.url.as_str())).collect();
    assert_eq!(urls, [("jwks", "https://login.partner.example/.well-known/jwks.json")]);
    // The disabled plugin's files do not exist: ward did not read them.
    assert!(!d.resolve(&d.example["plugins"][2]["component"]).exists());
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8181");

    // What `ward check` adds: signatures, compilation, probes and the
    // conformance fixtures. The envelopes here are signed by the test signer,
    // so it replaces the example's anchors; deadlines are raised because this
    // runs beside builds on 2 cores (deadlines have their own tests).
    let mut checked = d.example.clone();
    checked["trust"]["trustAnchors"] = json!({ SIGNER: public_key_to_pem(&signing_key().verifying_key()) });
    for plugin in checked["plugins"].as_array_mut().unwrap() {
        plugin["limits"]["timeoutMs"] = json!(10_000);
    }
    let config = d.load(&checked).unwrap();
    let statuses = Gateway::check(&config.plan).unwrap_or_else(|err| panic!("ward check refuses the example: {err}"));
    let states: Vec<_> = statuses.iter().map(|s| (s.id.as_str(), s.state)).collect();
    assert_eq!(states, [("example-token", "active"), ("api-key", "active"), ("partner-jwt", "disabled")]);

    // The fixtures really gate: flip one expectation and the check refuses.
    let mut flipped = fixtures.clone();
    flipped[1]["expect"] = json!("allow");
    put(&d.fixtures_path(), flipped.to_string().as_bytes(), 0o644);
    let err = Gateway::check(&d.load(&checked).unwrap().plan).err().map(|e| e.code());
    assert_eq!(err, Some("conformance-failed"));
}

#[test]
fn every_documented_field_is_known_and_unknown_ones_are_refused_at_their_path() {
    let d = Deployment::new();
    let schema = schema();
    for (def, at, path) in objects(&d) {
        check_object(&d, &schema, &d.example, def, &at, &path);
    }
    // The example keeps its audit chain in a file; the Redis store's object
    // is checked on a copy that names one (loading does not connect).
    let mut fleet = d.example.clone();
    fleet["audit"].as_object_mut().unwrap().remove("file");
    fleet["audit"]["store"] = json!({ "type": "redis", "url": "redis://127.0.0.1:6379/0", "replicaId": "ward-1" });
    check_object(&d, &schema, &fleet, "/$defs/auditStore", "/audit/store", "audit.store");
}

/// Every field schema`def` documents, put into `base`'s object at `at` one
/// at a time (at its default or first example), is a field ward knows, and
/// an unknown one is refused naming `path`.
fn check_object(d: &Deployment, schema: &Value, base: &Value, def: &str, at: &str, path: &str) {
    let shown = d.config_path().display().to_string();
    let props = properties(schema, def);
    let object = base.pointer(at).and_then(Value::as_object).unwrap_or_else(|| panic!("the example has no object at {at:?}"));
    for key in object.keys() {
        assert!(props.contains_key(key), "the example uses {at}/{key}, which schema{def} does not document");
    }
    // Each documented field the example leaves out: put it in.
    for (name, prop) in props {
        if object.contains_key(name) {
            continue;
        }
        let prop = property(schema, prop);
        let value = prop.get("default").or_else(|| prop["examples"].get(0)).unwrap_or_else(|| panic!("schema{def}.{name}: give a default or an example"));
        let mut config = base.clone();
        config.pointer_mut(at).unwrap()[name.as_str()] = value.clone();
        match d.load(&config) {
            Ok(_) => {}
            Err(err) => {
                assert!(!err.contains("unknown field"), "schema{def}.{name} is not a field ward knows: {err}");
                assert!(prop.get("default").is_none() || does_not_apply(&err), "{at}/{name} at its documented default is refused: {err}");
            }
        }
    }
    // An unknown field is refused, naming where it is.
    let mut config = base.clone();
    config.pointer_mut(at).unwrap()["bogusField"] = json!(1);
    let err = d.load(&config).err().unwrap_or_else(|| panic!("an unknown field at {at:?} was accepted"));
    let want = match path {
        "" => format!("{shown}: bogusField: unknown field `bogusField`"),
        // The store is a tagged enum: serde reads it whole before the variant
        // and names the object, not the field, and lists the variant's fields.
        "trust" | "audit.store" => format!("{shown}: {path}: unknown field `bogusField`"),
        "trust.trustAnchors" => format!("{shown}: trust.trustAnchors: entry 0 has unknown field \"bogusField\""),
        _ => format!("{shown}: {path}.bogusField: unknown field `bogusField`"),
    };
    assert!(err.starts_with(&want), "want {want:?}, got {err:?}");
    // serde lists every field it knows: exactly the documented ones.
    if path != "trust.trustAnchors" {
        let documented: BTreeSet<String> = props.keys().cloned().collect();
        let mut known = expected_fields(&err);
        if path == "audit.store" {
            known.insert("type".to_owned()); // the tag, which the list leaves out
        }
        assert_eq!(known, documented, "schema{def} and the fields ward knows differ");
    }
}

#[test]
fn documented_defaults_are_the_ones_ward_applies() {
    let d = Deployment::new();
    let schema = schema();
    let server = ServerOptions::default();
    let ms = |t: std::time::Duration| json!(u64::try_from(t.as_millis()).unwrap());
    let served = [
        ("maxConnections", json!(server.max_connections)),
        ("maxHeaderBytes", json!(server.max_header_bytes)),
        ("headerTimeoutMs", ms(server.header_read_timeout)),
        ("requestTimeoutMs", ms(server.request_timeout)),
        ("drainTimeoutMs", ms(server.drain_timeout)),
    ];
    let mut compared = 0;
    for (def, at, _) in objects(&d) {
        for (name, prop) in properties(&schema, def) {
            let Some(default) = property(&schema, prop).get("default") else { continue };
            // The config leaves these unset and `ward serve` fills them in.
            if def == "/$defs/server"
                && let Some((_, value)) = served.iter().find(|(field, _)| field == name)
            {
                assert_eq!(default, value, "server.{name}: the schema's default is not ward serve's");
                continue;
            }
            let (mut without, mut with) = (d.example.clone(), d.example.clone());
            without.pointer_mut(&at).unwrap().as_object_mut().unwrap().remove(name);
            with.pointer_mut(&at).unwrap()[name.as_str()] = default.clone();
            let with = d.load(&with);
            if with.as_ref().is_err_and(|err| does_not_apply(err)) {
                continue;
            }
            let (without, with) = (format!("{:?}", d.load(&without)), format!("{with:?}"));
            assert!(without == with, "{at}/{name}: leaving it out is not the same as the documented default {default}: {}", difference(&without, &with));
            compared += 1;
        }
    }
    assert!(compared >= 20, "only {compared} defaults compared");
    // keyMaterial.maxBytes has no trace in the loaded config: test it by size.
    let default = schema["$defs"]["keyMaterial"]["properties"]["maxBytes"]["default"].as_u64().unwrap();
    let at = format!("/plugins/{}/keyMaterial/0", d.index("api-key"));
    let mut config = d.example.clone();
    config.pointer_mut(&at).unwrap().as_object_mut().unwrap().remove("maxBytes");
    let file = d.resolve(&config.pointer(&at).unwrap()["file"]);
    put(&file, &vec![b' '; usize::try_from(default).unwrap()], 0o644);
    assert!(d.load(&config).is_ok());
    put(&file, &vec![b' '; usize::try_from(default + 1).unwrap()], 0o644);
    let err = d.load(&config).err().unwrap_or_default();
    assert!(err.contains(&format!("is larger than {default} bytes")), "{err}");
}

#[test]
fn the_conformance_docs_agree_with_ward() {
    let d = Deployment::new();
    let (schema, standalone) = (schema(), docs("conformance.schema.json"));
    let fixtures = &schema["$defs"]["conformanceFixtures"];
    for key in ["type", "minItems", "items"] {
        assert_eq!(standalone[key], fixtures[key], "docs/conformance.schema.json {key}");
    }
    assert_eq!(standalone["$defs"]["conformanceCase"], schema["$defs"]["conformanceCase"]);
    let props = properties(&schema, "/$defs/conformanceCase");
    let example = docs("conformance.example.json");
    for case in example.as_array().unwrap() {
        for key in case.as_object().unwrap().keys() {
            assert!(props.contains_key(key), "docs/conformance.example.json uses {key}, which the schema does not document");
        }
    }
    let fixtures_path = d.fixtures_path();
    // Errors inside the fixtures name the file as ward.json writes it.
    let shown = d.example["plugins"][d.index("example-token")]["conformance"].as_str().unwrap().to_owned();
    let with_case = |case: Value| -> Result<(), String> {
        let mut cases = example.clone();
        cases[0] = case;
        put(&fixtures_path, cases.to_string().as_bytes(), 0o644);
        d.load(&d.example).map(drop)
    };
    for (name, prop) in props {
        let mut case = example[0].clone();
        if case.get(name).is_some() {
            continue;
        }
        case[name.as_str()] =
            prop.get("default").or_else(|| prop["examples"].get(0)).cloned().unwrap_or_else(|| panic!("conformanceCase.{name}: give a default or an example"));
        with_case(case).unwrap_or_else(|err| panic!("conformanceCase.{name}: {err}"));
    }
    let mut bogus = example[0].clone();
    bogus["bogusField"] = json!(1);
    let err = with_case(bogus).unwrap_err();
    assert!(err.starts_with(&format!("{shown} (fixtures of ")) && err.contains(": [0].bogusField: unknown field"), "{err}");
    let documented: BTreeSet<String> = props.keys().cloned().collect();
    assert_eq!(expected_fields(&err), documented, "conformanceCase and the fields ward knows differ");
    put(&fixtures_path, b"[]", 0o644);
    let err = d.load(&d.example).err().unwrap_or_default();
    assert!(err.contains("conformance: the fixtures file has no cases"), "{err}");
}
