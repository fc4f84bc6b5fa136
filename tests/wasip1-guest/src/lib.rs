//! A guest built the way mainstream toolchains build components: Rust's std
//! on `wasm32-wasip1` (on wasi-libc), turned into a component with the
//! preview1 adapter, so it imports WASI 0.2 (cli, io, clocks, filesystem).
//! It uses std as an ordinary program would and reports what it got; under
//! ward's deny-all context it must find nothing and still authenticate.
//!
//! Token `ok:<user>` → allow with subject `<user>` and scopes `env:<n>`,
//! `passwd:<bool>`, `dir:<bool>`, `clock:<ms>`; anything else → `malformed`.

use ward_guest::{Authenticator, Claims, Context, Credential, Deny};

struct Wasip1Std;

impl Authenticator for Wasip1Std {
    fn authenticate(cred: &Credential, _ctx: &Context) -> Result<Claims, Deny> {
        let user = cred.token.strip_prefix("ok:").ok_or(Deny::Malformed)?;
        let env = std::env::vars_os().count();
        let passwd = std::fs::read("/etc/passwd").is_ok();
        let dir = std::fs::read_dir(".").is_ok();
        println!("wasip1-std was here");
        eprintln!("and here");
        let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        Ok(Claims::new(user).scope(format!("env:{env}")).scope(format!("passwd:{passwd}")).scope(format!("dir:{dir}")).scope(format!("clock:{ms}")))
    }
}

ward_guest::export!(Wasip1Std);
