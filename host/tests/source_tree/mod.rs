//! Reading `host/src` as text, for the tests that check the sources
//! themselves (`rooms.rs`, `wire_formats.rs`).

use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file below `dir`, in a stable order.
pub fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}
