//! Envelope parsing + verification on arbitrary bytes: never panics, every
//! refusal carries one of the ten reason codes, and canonical JSON is a
//! fixed point (see `ward::trust::fuzzing::envelope`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ward::trust::fuzzing::envelope(data);
});
