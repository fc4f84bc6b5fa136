//! The reader's rules case by case, then against an independent reference:
//! the same format written with `serde` derive and `serde_json`, whose
//! verdict must match the reader's on thousands of mutated files.

use super::*;

const H1: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const H2: &str = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

fn one(entry: &str) -> String {
    format!(r#"{{"version":1,"keys":[{entry}]}}"#)
}

fn refused(text: &str) -> FileError {
    parse(text.as_bytes()).unwrap_err()
}

fn pointer(err: FileError) -> String {
    match err {
        FileError::Field { pointer, .. } => pointer,
        other => panic!("{other:?}"),
    }
}

fn kind(err: FileError) -> JsonProblem {
    match err {
        FileError::Json { kind, .. } => kind,
        other => panic!("{other:?}"),
    }
}

#[test]
fn full_entry_parses() {
    let file = one(&format!(
        r#"{{"sha256":"{H1}","subject":"svc-billing","type":"service","scopes":["read","write"],"labels":{{"team":"billing"}},"revoked":false,"expiresMs":5,"createdMs":1,"note":"ci"}}"#
    ));
    let parsed = parse(file.as_bytes()).unwrap();
    let entry = &parsed.entries[0];
    assert_eq!(encode_hex(&entry.sha256), H1);
    assert_eq!(entry.subject, "svc-billing");
    assert_eq!(entry.principal, Principal::Service);
    assert_eq!(entry.scopes, ["read", "write"]);
    assert_eq!(entry.labels, [("team".to_owned(), "billing".to_owned())]);
    assert_eq!(entry.expires_ms, Some(5));
}

#[test]
fn minimal_entry_defaults_and_whitespace() {
    let text = format!("\n {{ \"keys\" : [ {{ \"type\":\"user\" ,\"subject\" : \"a\", \"sha256\":\"{H1}\" }} ] ,\r\n\t\"version\":1 }} \n");
    let entry = &parse(text.as_bytes()).unwrap().entries[0];
    assert!(!entry.revoked && entry.scopes.is_empty() && entry.labels.is_empty() && entry.expires_ms.is_none());
    assert!(parse(br#"{"version":1,"keys":[]}"#).unwrap().entries.is_empty());
    let nulls = one(&format!(r#"{{"sha256":"{H1}","subject":"a","type":"user","expiresMs":null,"createdMs":null,"note":null}}"#));
    assert_eq!(parse(nulls.as_bytes()).unwrap().entries[0].expires_ms, None);
}

#[test]
fn escapes_are_decoded() {
    let text = one(&format!(r#"{{"sha256":"{H1}","subj\u0065ct":"caf\u00e9 \ud83d\ude00 \"q\" \\ \/","type":"agent"}}"#));
    assert_eq!(parse(text.as_bytes()).unwrap().entries[0].subject, "café 😀 \"q\" \\ /");
    for bad in [r#""\ud83d""#, r#""\ude00x""#, r#""\x""#, r#""\u12""#, "\"a\u{1}\""] {
        let text = one(&format!(r#"{{"sha256":"{H1}","subject":{bad},"type":"agent"}}"#));
        assert_eq!(kind(refused(&text)), JsonProblem::Syntax, "{bad}");
    }
}

#[test]
fn json_and_shape_refusals() {
    let shape = |text: &str| assert_eq!(kind(refused(text)), JsonProblem::Shape, "{text}");
    shape(&one(&format!(r#"{{"sha256":"{H1}","subject":"a","type":"user","key":"wk_x"}}"#)));
    shape(&one(&format!(r#"{{"sha256":"{H1}","sha256":"{H2}","subject":"a","type":"user"}}"#)));
    shape(&one(&format!(r#"{{"sha256":"{H1}","type":"user"}}"#)));
    shape(&one(&format!(r#"{{"sha256":"{H1}","subject":"a","type":"user","revoked":"no"}}"#)));
    shape(&one(&format!(r#"{{"sha256":"{H1}","subject":"a","type":"user","expiresMs":1.5}}"#)));
    shape(&one(&format!(r#"{{"sha256":"{H1}","subject":"a","type":"user","expiresMs":-1}}"#)));
    shape(&one(&format!(r#"{{"sha256":"{H1}","subject":"a","type":"user","expiresMs":18446744073709551616}}"#)));
    shape(r#"{"version":1,"keys":[],"extra":1}"#);
    shape(r#"{"version":1,"version":1,"keys":[]}"#);
    shape(r#"{"version":1}"#);
    shape(r#"["wk_live_abc"]"#);
    let syntax = |text: &str| assert_eq!(kind(refused(text)), JsonProblem::Syntax, "{text:?}");
    syntax("wk_live_abc\n");
    syntax(r#"{"version":01,"keys":[]}"#);
    syntax(r#"{"version":1,"keys":[],}"#);
    syntax(r#"{"version":1,"keys":[]} x"#);
    syntax("\u{feff}{\"version\":1,\"keys\":[]}");
    let truncated = |text: &str| assert_eq!(kind(refused(text)), JsonProblem::Truncated, "{text:?}");
    truncated("");
    truncated(r#"{"version":1,"keys":["#);
    truncated(r#"{"version":1,"keys":[{"sha256":"ab"#);
    assert_eq!(refused(r#"{"version":2,"keys":[]}"#), FileError::Version { found: 2 });
    assert!(matches!(parse(b"{\"version\":1,\"keys\":[],\"\xff\":1}"), Err(FileError::Json { kind: JsonProblem::Syntax, line: 1, column: 25 })));
}

#[test]
fn field_refusals_name_the_field() {
    let entry = |extra: &str| one(&format!(r#"{{"sha256":"{H1}","subject":"a","type":"user"{extra}}}"#));
    assert_eq!(pointer(refused(&one(r#"{"sha256":"wk_live_abc","subject":"a","type":"user"}"#))), "/keys/0/sha256");
    assert_eq!(pointer(refused(&one(&format!(r#"{{"sha256":"{}","subject":"a","type":"user"}}"#, H1.to_uppercase())))), "/keys/0/sha256");
    assert_eq!(pointer(refused(&one(&format!(r#"{{"sha256":"{H1}","subject":"","type":"user"}}"#)))), "/keys/0/subject");
    assert_eq!(pointer(refused(&one(&format!(r#"{{"sha256":"{H1}","subject":"a\nb","type":"user"}}"#)))), "/keys/0/subject");
    assert_eq!(pointer(refused(&one(&format!(r#"{{"sha256":"{H1}","subject":"a\u2028b","type":"user"}}"#)))), "/keys/0/subject");
    assert_eq!(pointer(refused(&one(&format!(r#"{{"sha256":"{H1}","subject":"a","type":"root"}}"#)))), "/keys/0/type");
    assert_eq!(pointer(refused(&entry(r#","scopes":["ok","a b"]"#))), "/keys/0/scopes/1");
    assert_eq!(pointer(refused(&entry(r#","labels":{"team":"x","team":"y"}"#))), "/keys/0/labels (label 1)");
    assert_eq!(pointer(refused(&entry(r#","labels":{"a b":"x"}"#))), "/keys/0/labels (label 0)");
    assert_eq!(pointer(refused(&entry(&format!(r#","labels":{{"team":"{}"}}"#, "x".repeat(65))))), "/keys/0/labels (label 0)");
    assert_eq!(pointer(refused(&entry(&format!(r#","note":"{}""#, "x".repeat(257))))), "/keys/0/note");
    let many: Vec<String> = (0..65).map(|i| format!("\"s{i}\"")).collect();
    assert_eq!(pointer(refused(&entry(&format!(r#","scopes":[{}]"#, many.join(","))))), "/keys/0/scopes");
    let many: Vec<String> = (0..33).map(|i| format!("\"k{i}\":\"v\"")).collect();
    assert_eq!(pointer(refused(&entry(&format!(r#","labels":{{{}}}"#, many.join(","))))), "/keys/0/labels");
    let dup = format!(
        r#"{{"version":1,"keys":[{{"sha256":"{H1}","subject":"a","type":"user"}},{{"sha256":"{H2}","subject":"b","type":"user"}},{{"sha256":"{H1}","subject":"c","type":"user"}}]}}"#
    );
    assert_eq!(refused(&dup), FileError::Duplicate { index: 2, first: 0 });
}

#[test]
fn errors_never_echo_content() {
    let secret = "wk_live_SECRETSECRET";
    for text in [
        format!(r#"{{"version":1,"keys":[{{"sha256":"{secret}","subject":"a","type":"user"}}]}}"#),
        format!(r#"{{"version":1,"keys":[{{"{secret}":"x"}}]}}"#),
        format!(r#"{{"version":1,"keys":[{{"sha256":"{H1}","subject":"a","type":"{secret}"}}]}}"#),
        format!(r#"{{"version":1,"keys":[{{"sha256":"{H1}","subject":"a","type":"user","revoked":"{secret}"}}]}}"#),
        format!(r#"{{"version":1,"keys":[{{"sha256":"{H1}","subject":"a","type":"user","labels":{{"{secret} x":"x"}}}}]}}"#),
        format!("{secret}\n"),
    ] {
        let shown = refused(&text).to_string();
        assert!(!shown.contains("SECRET"), "{shown}");
    }
}

#[test]
fn scan_then_entry_reads_the_same_entry() {
    let text =
        format!(r#"{{"version":1,"keys":[{{"sha256":"{H1}","subject":"a","type":"user"}}, {{"sha256":"{H2}","subject":"b","type":"agent","scopes":["x"]}}]}}"#);
    let scanned = scan(text.as_bytes()).unwrap();
    assert_eq!(scanned.entries.len(), 2);
    let second = scanned.entry(&scanned.entries[1]).unwrap();
    assert_eq!((second.subject.as_str(), second.principal, second.scopes.as_slice()), ("b", Principal::Agent, &["x".to_owned()][..]));
    assert_eq!(parse(text.as_bytes()).unwrap().entries[1], second);
}

#[test]
fn hex_round_trip() {
    let bytes = decode_hex(H1).unwrap();
    assert_eq!(encode_hex(&bytes), H1);
    assert!(decode_hex(&H1[1..]).is_none());
    assert!(decode_hex(&format!("{}g", &H1[1..])).is_none());
}

/// The format as `serde` derive reads it: an independent implementation
/// whose verdict the reader must share.
mod reference {
    use std::fmt;

    use serde::Deserialize;
    use serde::de::{MapAccess, Visitor};

    use super::super::{Entry, Principal, rules};

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawFile {
        #[serde(deserialize_with = "unsigned")]
        version: u64,
        keys: Vec<RawEntry>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct RawEntry {
        sha256: String,
        subject: String,
        #[serde(rename = "type")]
        principal: String,
        #[serde(default)]
        scopes: Vec<String>,
        #[serde(default)]
        labels: Labels,
        #[serde(default)]
        revoked: bool,
        #[serde(default, deserialize_with = "optional_unsigned")]
        expires_ms: Option<u64>,
        #[serde(default, deserialize_with = "optional_unsigned")]
        #[allow(dead_code)]
        created_ms: Option<u64>,
        #[serde(default)]
        note: Option<String>,
    }

    #[derive(Default)]
    struct Labels(Vec<(String, String)>);

    impl<'de> Deserialize<'de> for Labels {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Labels;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("labels")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Labels, A::Error> {
                    let mut labels = Vec::new();
                    while let Some(pair) = map.next_entry::<String, String>()? {
                        labels.push(pair);
                    }
                    Ok(Labels(labels))
                }
            }
            d.deserialize_map(V)
        }
    }

    /// serde_json would also take `-0` for a u64; JSON integers in the
    /// format are written without a sign.
    fn unsigned<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = u64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an unsigned integer")
            }
            fn visit_u64<E>(self, v: u64) -> Result<u64, E> {
                Ok(v)
            }
        }
        d.deserialize_any(V)
    }

    fn optional_unsigned<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Option<u64>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("null or an unsigned integer")
            }
            fn visit_unit<E>(self) -> Result<Option<u64>, E> {
                Ok(None)
            }
            fn visit_none<E>(self) -> Result<Option<u64>, E> {
                Ok(None)
            }
            fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<u64>, D::Error> {
                unsigned(d).map(Some)
            }
        }
        d.deserialize_option(V)
    }

    /// `None` when the reference refuses the file.
    pub fn parse(bytes: &[u8]) -> Option<Vec<Entry>> {
        let raw: RawFile = serde_json::from_slice(bytes).ok()?;
        if raw.version != 1 {
            return None;
        }
        let mut entries: Vec<Entry> = Vec::new();
        for e in raw.keys {
            let principal = match e.principal.as_str() {
                "user" => Principal::User,
                "service" => Principal::Service,
                "agent" => Principal::Agent,
                _ => return None,
            };
            rules::check_subject(&e.subject).ok()?;
            if e.scopes.len() > rules::MAX_SCOPES || e.labels.0.len() > rules::MAX_LABELS {
                return None;
            }
            for scope in &e.scopes {
                rules::check_scope(scope).ok()?;
            }
            for (i, (k, v)) in e.labels.0.iter().enumerate() {
                rules::check_label_key(k).ok()?;
                rules::check_text(v, rules::MAX_LABEL_VALUE_BYTES).ok()?;
                if e.labels.0.iter().take(i).any(|(earlier, _)| earlier == k) {
                    return None;
                }
            }
            if let Some(note) = &e.note {
                rules::check_text(note, rules::MAX_NOTE_BYTES).ok()?;
            }
            let sha256 = rules::decode_hex(&e.sha256)?;
            if entries.iter().any(|earlier| earlier.sha256 == sha256) {
                return None;
            }
            entries.push(Entry { sha256, subject: e.subject, principal, scopes: e.scopes, labels: e.labels.0, revoked: e.revoked, expires_ms: e.expires_ms });
        }
        Some(entries)
    }
}

/// Seeds that use every feature of the format, mutated byte by byte (flip,
/// insert, delete, copy a span): the reader and the reference must agree on
/// every result, and on the entries when both accept.
#[test]
fn agrees_with_the_serde_reference_on_mutated_files() {
    let seeds = [
        format!(
            r#"{{"version":1,"keys":[{{"sha256":"{H1}","subject":"svc-billing","type":"service","scopes":["read","write"],"labels":{{"team":"billing","env":"prod"}},"revoked":false,"expiresMs":1900000000000,"createdMs":1,"note":"ci"}}]}}"#
        ),
        format!(
            "{{\n  \"version\": 1,\n  \"keys\": [\n    {{\"sha256\":\"{H1}\",\"subject\":\"caf\\u00e9\",\"type\":\"user\",\"note\":null}},\n    {{\"sha256\":\"{H2}\",\"subject\":\"b\\\"\\\\\",\"type\":\"agent\",\"revoked\":true,\"expiresMs\":null}}\n  ]\n}}\n"
        ),
        r#"{"keys":[],"version":1}"#.to_owned(),
    ];
    let alphabet = br#"{}[]":,\ 0123456789-.eEtrufalsn/abcdu"#;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: usize| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(state >> 33).unwrap() % n.max(1)
    };
    let mut accepted = 0;
    for round in 0..30_000 {
        let mut bytes = seeds[round % seeds.len()].clone().into_bytes();
        for _ in 0..=next(3) {
            let at = next(bytes.len() + 1);
            let byte = match next(4) {
                0 => [0x00, 0x1f, 0x7f, 0x80, 0xc3, 0xff][next(6)],
                _ => alphabet[next(alphabet.len())],
            };
            match next(5) {
                0 if at < bytes.len() => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                2 if at < bytes.len() => {
                    bytes.remove(at);
                }
                3 => {
                    let from = next(bytes.len());
                    let len = next(24).min(bytes.len() - from);
                    let span = bytes[from..from + len].to_vec();
                    bytes.splice(at..at, span);
                }
                _ => {}
            }
        }
        let ours = parse(&bytes).ok().map(|f| f.entries);
        let theirs = reference::parse(&bytes);
        assert_eq!(ours, theirs, "disagree on {:?}", String::from_utf8_lossy(&bytes));
        accepted += usize::from(ours.is_some());
    }
    // Mutations that keep the file valid must occur, or the test shows little.
    assert!(accepted > 1_000, "{accepted}");
}
