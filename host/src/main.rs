//! The `ward` command line: a thin layer over the `ward` library.
#![forbid(unsafe_code)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
