//! The `file` source: bytes from a file the config room has already opened
//! inside its confined directory, with the same size cap as a fetch.

use super::error::KeyMaterialError;
use crate::operator_file::{FileRefusal, RegularFile};

/// Reads an opened key-material file, refusing anything but a regular file
/// (a FIFO or device would block or never end) and anything over
/// `max_bytes`. The size is checked before reading and again while reading,
/// since the file can grow in between. The check is the one every
/// operator-named file gets (`crate::operator_file`, which also opens
/// without blocking: open the file that way, or a FIFO waits at the open).
pub fn read_file(file: std::fs::File, max_bytes: u64) -> Result<Vec<u8>, KeyMaterialError> {
    RegularFile::check(file).and_then(|file| file.read(max_bytes)).map_err(|refusal| match refusal {
        FileRefusal::TooLarge(_) => KeyMaterialError::TooLarge { max_bytes },
        FileRefusal::Unreadable(kind) => KeyMaterialError::Read { reason: kind.to_string() },
        other => KeyMaterialError::Read { reason: other.to_string() },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn files_are_checked_by_size_and_kind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwks.json");
        std::fs::File::create(&path).unwrap().write_all(b"{\"keys\":[]}").unwrap();
        assert_eq!(read_file(std::fs::File::open(&path).unwrap(), 64).unwrap(), b"{\"keys\":[]}");
        let err = read_file(std::fs::File::open(&path).unwrap(), 4).unwrap_err();
        assert_eq!(err.code(), "keymaterial-too-large");
        let err = read_file(std::fs::File::open(dir.path()).unwrap(), 64).unwrap_err();
        assert_eq!(err.code(), "keymaterial-read");
    }
}
