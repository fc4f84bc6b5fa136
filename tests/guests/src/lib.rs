//! Test guests live in `examples/`, one `cdylib` each; this library only
//! exists because cargo needs a target besides examples.
