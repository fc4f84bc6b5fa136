//! A `serde_json::Value` read with no repeated key in any object. A plain
//! reader keeps the last of two equal keys, so a document could show one
//! value to a reviewer and act on another: the trust gate refuses such an
//! envelope (parsers disagree on which value wins), the config such a
//! `ward.json` (a second `"revoked": {}` would cancel a revocation). Each room
//! maps the refusal onto its own error.

use std::convert::Infallible;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The message of a repeated key's error (serde_json appends the position).
pub(crate) const DUPLICATE_KEY: &str = "duplicate key";
/// The message of an integer beyond `MAX_INTEGER`.
pub(crate) const INTEGER_TOO_LARGE: &str = "integer too large";

/// The value; integers whose magnitude exceeds `MAX_INTEGER` are refused too
/// (the gate passes 2^53, beyond which JavaScript rounds; the config any u64).
/// Nesting is bounded by the deserializer (serde_json's recursion limit),
/// which every level goes through.
pub(crate) struct UniqueKeys<const MAX_INTEGER: u64>(pub(crate) Value);

impl<'de, const MAX_INTEGER: u64> Deserialize<'de> for UniqueKeys<MAX_INTEGER> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor::<MAX_INTEGER>)
    }
}

/// The repeated key's value: refused before it is read, so that a path
/// tracker (`serde_path_to_error`, which keeps the innermost failing value's
/// path) names the repeated key rather than the object that holds it.
struct Repeated;

impl<'de> DeserializeSeed<'de> for Repeated {
    type Value = Infallible;

    fn deserialize<D: Deserializer<'de>>(self, _: D) -> Result<Infallible, D::Error> {
        Err(de::Error::custom(DUPLICATE_KEY))
    }
}

struct UniqueKeysVisitor<const MAX_INTEGER: u64>;

impl<'de, const MAX_INTEGER: u64> Visitor<'de> for UniqueKeysVisitor<MAX_INTEGER> {
    type Value = UniqueKeys<MAX_INTEGER>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(UniqueKeys(Value::Bool(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        if v > MAX_INTEGER {
            return Err(E::custom(INTEGER_TOO_LARGE));
        }
        Ok(UniqueKeys(Value::Number(v.into())))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        if v.unsigned_abs() > MAX_INTEGER {
            return Err(E::custom(INTEGER_TOO_LARGE));
        }
        Ok(UniqueKeys(Value::Number(v.into())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // serde_json hands over finite numbers only (1e400 is a syntax error).
        Number::from_f64(v).map(|n| UniqueKeys(Value::Number(n))).ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(UniqueKeys(Value::String(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(UniqueKeys(Value::String(v)))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(UniqueKeys(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueKeys::<MAX_INTEGER>(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(UniqueKeys(Value::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = Map::new();
        // Keys are compared unescaped: `"a"` and `"\u0061"` are the same key.
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                match access.next_value_seed(Repeated)? {}
            }
            let UniqueKeys::<MAX_INTEGER>(value) = access.next_value()?;
            map.insert(key, value);
        }
        Ok(UniqueKeys(Value::Object(map)))
    }
}
