//! Haechi's `sanitizeClaims` on the reply's JSON text.
//!
//! Haechi's host sees a reply only after IPC, as the JSON its child wrote:
//! own enumerable data properties, no prototypes, no getters. The harness
//! serializes the reply the same way (`JSON.stringify`, inside the engine,
//! so `toJSON`, getters and unserializable replies behave as in Haechi) and
//! the checks run here, on the text. Parsing it back in JavaScript and
//! checking field by field cost more than the plugin's own work (each
//! JavaScript call is about a microsecond in this engine); serde_json does
//! the same in a fraction of that, and text has no prototype to pollute.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use ward_guest::{Claims, PrincipalType};

// Haechi's bounds (sandbox-common.mjs); ward's sanitizer applies its own after.
const MAX_SCOPES: usize = 64;
const MAX_LABELS: usize = 32;
/// In UTF-16 code units, as JavaScript's `length` counts.
const MAX_STRING_LEN: usize = 1024;

/// The fields `sanitizeClaims` reads; every other field is skipped unparsed.
/// `Some(Value::Null)` is a field present as `null`, `None` one absent: for
/// `type` the two differ (absent is "user", null is refused).
#[derive(Deserialize)]
struct Reply {
    #[serde(default, deserialize_with = "present")]
    subject: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    issuer: Option<Value>,
    #[serde(default, rename = "type", deserialize_with = "present")]
    principal: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    scopes: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    labels: Option<Labels>,
}

fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// `labels` in the order JavaScript's `Object.keys` gives them (the text's
/// order: `JSON.stringify` writes keys in that order). Anything but an
/// object of at most [`MAX_LABELS`] keys fails the parse, and so the reply.
struct Labels(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(LabelsVisitor)
    }
}

struct LabelsVisitor;

impl<'de> Visitor<'de> for LabelsVisitor {
    type Value = Labels;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object of at most {MAX_LABELS} labels")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Labels, A::Error> {
        let mut pairs = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if pairs.len() == MAX_LABELS {
                return Err(de::Error::invalid_length(MAX_LABELS + 1, &self));
            }
            pairs.push((key, map.next_value::<Value>()?));
        }
        Ok(Labels(pairs))
    }
}

/// Why a reply fails Haechi's checks; the host sees any of them as
/// `invalid-claims`, so the reason is not carried further.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Invalid;

/// The claims a reply's JSON text carries, under Haechi's checks.
pub(crate) fn claims(json: &str) -> Result<Claims, Invalid> {
    // Haechi refuses a reply that is not an object (an array, or what a
    // `toJSON` returned). serde's derived struct would take an array as
    // its fields in order, so look first: `JSON.stringify` without a
    // `space` argument writes no leading whitespace.
    if !json.starts_with('{') {
        return Err(Invalid);
    }
    let reply: Reply = serde_json::from_str(json).map_err(|_| Invalid)?;
    let subject = reply.subject.map_or(Err(Invalid), bounded)?;
    let issuer = reply.issuer.map_or(Err(Invalid), bounded)?;
    let principal = match reply.principal {
        None => PrincipalType::User,
        Some(Value::String(name)) => match name.as_str() {
            "user" => PrincipalType::User,
            "service" => PrincipalType::Service,
            "agent" => PrincipalType::Agent,
            _ => return Err(Invalid),
        },
        Some(_) => return Err(Invalid),
    };
    let scopes = match reply.scopes {
        None => Vec::new(),
        Some(Value::Array(items)) if items.len() <= MAX_SCOPES => items.into_iter().map(bounded).collect::<Result<_, _>>()?,
        Some(_) => return Err(Invalid),
    };
    let labels = match reply.labels {
        None => Vec::new(),
        Some(Labels(pairs)) => pairs.into_iter().map(|(key, value)| Ok((key, bounded(value)?))).collect::<Result<_, _>>()?,
    };
    let mut claims = Claims::new(subject).principal(principal);
    claims.issuer = Some(issuer);
    claims.scopes = scopes;
    claims.labels = labels;
    Ok(claims)
}

/// Haechi's `isBoundedString`: a non-empty string of at most 1024 UTF-16 units.
fn bounded(value: Value) -> Result<String, Invalid> {
    let Value::String(text) = value else { return Err(Invalid) };
    // UTF-16 units never outnumber UTF-8 bytes: count them only when it matters.
    let too_long = text.len() > MAX_STRING_LEN && text.encode_utf16().count() > MAX_STRING_LEN;
    if text.is_empty() || too_long {
        return Err(Invalid);
    }
    Ok(text)
}
