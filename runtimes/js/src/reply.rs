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
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
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
/// order: `JSON.stringify` writes keys in that order), or refused: not an
/// object, or more than [`MAX_LABELS`] keys.
enum Labels {
    Pairs(Vec<(String, Value)>),
    Refused,
}

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LabelsVisitor)
    }
}

struct LabelsVisitor;

impl<'de> Visitor<'de> for LabelsVisitor {
    type Value = Labels;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Labels, A::Error> {
        let mut pairs = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if pairs.len() == MAX_LABELS {
                // The rest is read only to finish the text.
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                return Ok(Labels::Refused);
            }
            pairs.push((key, map.next_value::<Value>()?));
        }
        Ok(Labels::Pairs(pairs))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Labels, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Labels::Refused)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Labels, E> {
        Ok(Labels::Refused)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Labels, E> {
        Ok(Labels::Refused)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Labels, E> {
        Ok(Labels::Refused)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Labels, E> {
        Ok(Labels::Refused)
    }

    fn visit_str<E>(self, _: &str) -> Result<Labels, E> {
        Ok(Labels::Refused)
    }

    fn visit_unit<E>(self) -> Result<Labels, E> {
        Ok(Labels::Refused)
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
    let subject = bounded(reply.subject)?;
    let issuer = bounded(reply.issuer)?;
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
        Some(Value::Array(items)) if items.len() <= MAX_SCOPES => items.into_iter().map(|item| bounded(Some(item))).collect::<Result<_, _>>()?,
        Some(_) => return Err(Invalid),
    };
    let labels = match reply.labels {
        None => Vec::new(),
        Some(Labels::Pairs(pairs)) => pairs.into_iter().map(|(key, value)| Ok((key, bounded(Some(value))?))).collect::<Result<_, _>>()?,
        Some(Labels::Refused) => return Err(Invalid),
    };
    let mut claims = Claims::new(subject).principal(principal);
    claims.issuer = Some(issuer);
    claims.scopes = scopes;
    claims.labels = labels;
    Ok(claims)
}

/// Haechi's `isBoundedString`: a non-empty string of at most 1024 UTF-16 units.
fn bounded(value: Option<Value>) -> Result<String, Invalid> {
    let Some(Value::String(text)) = value else { return Err(Invalid) };
    // UTF-16 units never outnumber UTF-8 bytes: count them only when it matters.
    let too_long = text.len() > MAX_STRING_LEN && text.encode_utf16().count() > MAX_STRING_LEN;
    if text.is_empty() || too_long {
        return Err(Invalid);
    }
    Ok(text)
}
