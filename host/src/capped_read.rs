//! Reading at most `max` bytes from any reader (a file that may be a FIFO or
//! `/dev/zero`, a socket body): one byte past the cap is how "too large" is
//! seen, so nothing huge or endless is ever held in memory. Every room maps
//! the two outcomes onto its own error.

use std::io::Read;

/// Why a capped read stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CappedReadError {
    /// The reader failed (its `ErrorKind`).
    Io(std::io::ErrorKind),
    /// There was more than `max` bytes.
    TooLarge,
}

/// All of `reader`, if it holds at most `max` bytes.
pub(crate) fn read_capped(reader: impl Read, max: u64) -> Result<Vec<u8>, CappedReadError> {
    let mut bytes = Vec::new();
    reader.take(max.saturating_add(1)).read_to_end(&mut bytes).map_err(|err| CappedReadError::Io(err.kind()))?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > max {
        return Err(CappedReadError::TooLarge);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_up_to_the_cap_and_refuses_one_byte_more() {
        assert_eq!(read_capped(&b"abcd"[..], 4), Ok(b"abcd".to_vec()));
        assert_eq!(read_capped(&b"abcde"[..], 4), Err(CappedReadError::TooLarge));
        // An endless reader stops one byte past the cap.
        assert_eq!(read_capped(std::io::repeat(0), 1024), Err(CappedReadError::TooLarge));
    }
}
