//! serde reads a struct from a JSON array as well as from an object, field
//! by field in order, so `"route": ["X-Api-Key"]` would be taken as
//! `{"header": "X-Api-Key"}`. A config is written by hand and reviewed by
//! people reading field names; a value in the wrong shape is refused rather
//! than read by position.

use serde_json::Value;

/// Where a document may hold arrays.
pub(crate) struct ArrayPaths {
    /// The list-valued fields, `[]` standing for any index
    /// (`plugins[].keyMaterial`); `""` is the top level.
    pub lists: &'static [&'static str],
    /// Subtrees checked by their own parser, not entered here.
    pub opaque: &'static [&'static str],
}

/// `ward.json`. `trust` is checked by `trust.rs`, which also reads it alone.
pub(crate) const CONFIG: ArrayPaths = ArrayPaths {
    lists: &[
        "allowDirs",
        "plugins",
        "identity.labelKeys",
        "plugins[].keyMaterial",
        "keyMaterialFetch.allowHttpHosts",
        "keyMaterialFetch.allowCidrs",
        "routes.rules",
        "routes.rules[].methods",
        "routes.rules[].require.scopes",
        "routes.rules[].require.principalTypes",
        "assertion.keys",
    ],
    opaque: &["trust"],
};

/// The `trust` section; its anchors may be an object or an array of objects
/// and are checked entry by entry where they are read.
pub(crate) const TRUST: ArrayPaths = ArrayPaths { lists: &["revoked.signerKeyIds", "revoked.entrySha256", "allowCapabilities"], opaque: &["trustAnchors"] };

/// A conformance fixtures file: an array of case objects.
pub(crate) const FIXTURES: ArrayPaths = ArrayPaths { lists: &[""], opaque: &[] };

/// The JSON path of the first array outside `paths.lists`, if any (`""`
/// for the top level).
/// Recursion is bounded by serde_json's nesting limit (128).
pub(crate) fn misplaced_array(value: &Value, paths: &ArrayPaths) -> Option<String> {
    walk(value, "", "", paths)
}

fn walk(value: &Value, shape: &str, at: &str, paths: &ArrayPaths) -> Option<String> {
    if paths.opaque.contains(&shape) {
        return None;
    }
    let join = |base: &str, key: &str| if base.is_empty() { key.to_owned() } else { format!("{base}.{key}") };
    match value {
        Value::Object(fields) => fields.iter().find_map(|(key, field)| walk(field, &join(shape, key), &join(at, key), paths)),
        Value::Array(items) if paths.lists.contains(&shape) => {
            let item_shape = format!("{shape}[]");
            items.iter().enumerate().find_map(|(i, item)| walk(item, &item_shape, &format!("{at}[{i}]"), paths))
        }
        Value::Array(_) => Some(at.to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arrays_only_where_lists_belong() {
        let ok = json!({ "allowDirs": ["a"], "plugins": [{ "keyMaterial": [{ "name": "k" }], "settings": { "x": "y" } }], "trust": { "anything": [[1]] } });
        assert_eq!(misplaced_array(&ok, &CONFIG), None);
        let cases = [
            (json!({ "server": ["127.0.0.1:1"] }), "server"),
            (json!({ "plugins": [{ "route": ["X-Api-Key"] }] }), "plugins[0].route"),
            (json!({ "plugins": [{ "id": "a" }, ["b"]] }), "plugins[1]"),
            (json!({ "plugins": [{ "keyMaterial": [["k"]] }] }), "plugins[0].keyMaterial[0]"),
            (json!({ "plugins": [{ "settings": { "plugins": [] } }] }), "plugins[0].settings.plugins"),
            (json!(["trust"]), ""),
        ];
        for (doc, at) in cases {
            assert_eq!(misplaced_array(&doc, &CONFIG).as_deref(), Some(at), "{doc}");
        }
        assert_eq!(misplaced_array(&json!([{ "expect": "allow" }]), &FIXTURES), None);
        assert_eq!(misplaced_array(&json!([["x", "bearer"]]), &FIXTURES).as_deref(), Some("[0]"));
        assert_eq!(misplaced_array(&json!({ "pins": { "p": ["1.0.0"] } }), &TRUST).as_deref(), Some("pins.p"));
        assert_eq!(misplaced_array(&json!({ "trustAnchors": [{ "keyId": "a" }], "allowCapabilities": ["x"] }), &TRUST), None);
    }
}
