//! Hostile guests written as WebAssembly text, componentized against the real
//! WIT world at test time. They reach corners a compiler would never emit
//! (a forged ten-MiB subject, out-of-bounds pointers, a looping start
//! function) and need no wasm toolchain.
// Test support: a fixture that does not parse or encode is a broken test,
// and stopping it at once is right.
#![allow(clippy::expect_used)]

use std::path::Path;

/// Where `authenticate` writes its result record (see `claims_at`).
const RESULT: u32 = 0x100;
/// Where fixed strings live.
const DATA: u32 = 0x200;

/// A core module exporting the authenticator ABI, with `body` as the body of
/// `authenticate` (which must leave a result pointer on the stack), `pages`
/// of initial memory, and `extra` fields (functions, a start section...).
pub fn core_module(pages: u32, body: &str, extra: &str) -> String {
    core_module_versioned("0.1.0", "", pages, body, extra)
}

/// `core_module` exporting the authenticator of WIT package version
/// `version`, with `imports` (which WAT wants before any definition).
pub fn core_module_versioned(version: &str, imports: &str, pages: u32, body: &str, extra: &str) -> String {
    format!(
        r#"(module
  {imports}
  (memory (export "memory") {pages})
  (global $bump (mut i32) (i32.const 0x1000))
  (global $calls (mut i32) (i32.const 0))
  (data (i32.const {DATA}) "wat-user")
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $bump) (i32.const 7)) (i32.const -8)))
    (global.set $bump (i32.add (local.get $p) (local.get 3)))
    (if (i32.gt_u (global.get $bump) (i32.mul (memory.size) (i32.const 65536)))
      (then (if (i32.eq (memory.grow (i32.add (i32.div_u (global.get $bump) (i32.const 65536)) (i32.const 1))) (i32.const -1))
        (then unreachable))))
    (local.get $p))
  (func (export "ward:auth/authenticator@{version}#authenticate")
    (param i32 i32 i32 i32 i64 i32 i32 i32 i32) (result i32)
    {body})
  {extra}
)"#
    )
}

/// Instructions that write an allow result with the given subject (pointer,
/// length) and scope list (pointer, length) and push the result pointer.
pub fn claims_at(subject_ptr: u32, subject_len: u32, scopes_ptr: u32, scopes_len: u32) -> String {
    format!(
        "(i32.store8 (i32.const {RESULT}) (i32.const 0))
    (i32.store (i32.const {s}) (i32.const {subject_ptr}))
    (i32.store (i32.const {sl}) (i32.const {subject_len}))
    (i32.store8 (i32.const {iss}) (i32.const 0))
    (i32.store8 (i32.const {pt}) (i32.const 0))
    (i32.store (i32.const {sc}) (i32.const {scopes_ptr}))
    (i32.store (i32.const {scl}) (i32.const {scopes_len}))
    (i32.store (i32.const {lb}) (i32.const 0))
    (i32.store (i32.const {lbl}) (i32.const 0))
    (i32.const {RESULT})",
        s = RESULT + 4,
        sl = RESULT + 8,
        iss = RESULT + 12,
        pt = RESULT + 24,
        sc = RESULT + 28,
        scl = RESULT + 32,
        lb = RESULT + 36,
        lbl = RESULT + 40,
    )
}

/// An allow with subject "wat-user".
pub fn allow_fixed() -> String {
    claims_at(DATA, 8, 0, 0)
}

/// A deny result with the raw enum discriminant `case` (0..=10 valid).
pub fn deny_case(case: u32) -> String {
    format!("(i32.store8 (i32.const {RESULT}) (i32.const 1)) (i32.store8 (i32.const {}) (i32.const {case})) (i32.const {RESULT})", RESULT + 4)
}

/// Embeds the `plugin` world's type information and encodes a component.
pub fn componentize(core_wat: &str) -> Vec<u8> {
    componentize_against(core_wat, "", "plugin")
}

/// Like `componentize`, against `world` of the WIT package in `wit/<wit_subdir>`.
pub fn componentize_against(core_wat: &str, wit_subdir: &str, world: &str) -> Vec<u8> {
    let wit_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit").join(wit_subdir);
    encode_with_worlds(core_wat, &[(wit_dir, world)])
}

/// Like `componentize`, with the imports of `world` from the test guests'
/// WIT package (`tests/guests/wit`, WASI 0.2.12) merged in, as wit-bindgen
/// guests get them: one `component-type` section per world.
pub fn componentize_importing(core_wat: &str, world: &str) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    encode_with_worlds(core_wat, &[(root.join("../../wit"), "plugin"), (root.join("../guests/wit"), world)])
}

/// Embeds each (WIT directory, world) pair's type information and encodes a component.
fn encode_with_worlds(core_wat: &str, worlds: &[(std::path::PathBuf, &str)]) -> Vec<u8> {
    let mut module = wat::parse_str(core_wat).expect("test WAT parses");
    for (dir, world) in worlds {
        let mut resolve = wit_parser::Resolve::default();
        let (package, _) = resolve.push_dir(dir).expect("wit parses");
        let world = resolve.select_world(&[package], Some(*world)).expect("the world exists");
        wit_component::embed_component_metadata(&mut module, &resolve, world, wit_component::StringEncoding::UTF8).expect("metadata embeds");
    }
    wit_component::ComponentEncoder::default().validate(true).module(&module).expect("module accepted").encode().expect("component encodes")
}

/// A component whose `authenticate` runs `body`.
pub fn component(body: &str) -> Vec<u8> {
    componentize(&core_module(1, body, ""))
}
