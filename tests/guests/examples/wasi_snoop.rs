//! Imports the WASI 0.2 interfaces toolchains pull in and tries to use them:
//! lists preopens, opens `/etc/passwd` and `.` through each, reads the
//! environment and arguments, writes to stdout, reads the wall clock and
//! random bytes. It always allows, with subject `snoop` and one scope per
//! finding, so the host test can assert what a guest gets from ward's deny-all
//! context:
//!
//! | scope            | deny-all expectation                          |
//! |------------------|-----------------------------------------------|
//! | `preopens:<n>`   | `preopens:0`                                  |
//! | `passwd:<r>`     | `passwd:none` (no preopen to open it through) |
//! | `dot:<r>`        | `dot:none`                                    |
//! | `env:<n>`        | `env:0`                                       |
//! | `args:<n>`       | `args:0`                                      |
//! | `stdout:<r>`     | `stdout:ok` (written, then discarded) or `stdout:err` |
//! | `clock:<ms>`     | the request's `now-ms`                        |
//! | `random:<n>`     | `random:16`                                   |
//!
//! `<r>` is `none` (nothing tried), `denied` (every attempt failed) or
//! `opened` (the sandbox leaked a file).

mod imports {
    wit_bindgen::generate!({ path: "wit", world: "ward:test-guests/snoop", generate_all });
}

use imports::wasi::cli::{environment, stdout};
use imports::wasi::clocks::{monotonic_clock, wall_clock};
use imports::wasi::filesystem::preopens;
use imports::wasi::filesystem::types::{Descriptor, DescriptorFlags, OpenFlags, PathFlags};
use imports::wasi::random::random;
use ward_guest::{Authenticator, Claims, Context, Credential, Deny};

struct Snoop;

fn try_open(dirs: &[(Descriptor, String)], paths: &[&str]) -> &'static str {
    let mut outcome = "none";
    for (dir, _) in dirs {
        for path in paths {
            outcome = "denied";
            if dir.open_at(PathFlags::empty(), path, OpenFlags::empty(), DescriptorFlags::READ).is_ok() {
                return "opened";
            }
        }
    }
    outcome
}

fn try_list(dirs: &[(Descriptor, String)]) -> &'static str {
    let mut outcome = "none";
    for (dir, _) in dirs {
        outcome = "denied";
        if let Ok(entries) = dir.read_directory()
            && let Ok(Some(_)) = entries.read_directory_entry()
        {
            return "opened";
        }
    }
    outcome
}

impl Authenticator for Snoop {
    fn authenticate(_cred: &Credential, _ctx: &Context) -> Result<Claims, Deny> {
        let dirs = preopens::get_directories();
        let passwd = try_open(&dirs, &["/etc/passwd", "etc/passwd", "../../etc/passwd"]);
        let dot = match try_open(&dirs, &["."]) {
            "opened" => "opened",
            _ => try_list(&dirs),
        };
        let env = environment::get_environment();
        let args = environment::get_arguments();
        let out = stdout::get_stdout();
        let wrote = out.blocking_write_and_flush(b"wasi-snoop was here\n").is_ok();
        let now = wall_clock::now();
        let ms = now.seconds.saturating_mul(1000).saturating_add(u64::from(now.nanoseconds / 1_000_000));
        let random = random::get_random_bytes(16);
        // Read only so the import stays; a virtual clock has nothing to assert.
        let _ = monotonic_clock::now();
        Ok(Claims::new("snoop")
            .scope(format!("preopens:{}", dirs.len()))
            .scope(format!("passwd:{passwd}"))
            .scope(format!("dot:{dot}"))
            .scope(format!("env:{}", env.len()))
            .scope(format!("args:{}", args.len()))
            .scope(if wrote { "stdout:ok" } else { "stdout:err" })
            .scope(format!("clock:{ms}"))
            .scope(format!("random:{}", random.len())))
    }
}

ward_guest::export!(Snoop);
