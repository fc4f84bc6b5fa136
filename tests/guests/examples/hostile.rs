//! One guest, many misbehaviours, chosen by the credential's token, so a
//! single component (one load) serves the whole hostile suite:
//!
//! | token               | behaviour                                           | host expects |
//! |---------------------|-----------------------------------------------------|--------------|
//! | `ok:<user>`         | allow, subject `<user>`                             | allow        |
//! | `deny:<reason>`     | deny with that kebab-case reason (`denied` if unknown) | `plugin:<reason>` |
//! | `loop`              | spins forever                                       | `timeout` / `fuel-exhausted` |
//! | `alloc-bomb`        | allocates 1 MiB chunks, touched, without bound      | `memory-limit` |
//! | `recurse`           | unbounded fan-out recursion                         | `stack-overflow` |
//! | `panic`             | `panic!` (aborts: `unreachable`)                    | `trap` |
//! | `unreachable`       | executes `unreachable`                              | `trap` |
//! | `huge-subject`      | 10 MiB subject                                      | `invalid-claims` (or `memory-limit`) |
//! | `many-scopes`       | 1,000,000 scopes                                    | `invalid-claims` (or `memory-limit`) |
//! | `too-many-scopes`   | 65 scopes                                           | `invalid-claims` |
//! | `long-scope`        | one 257-byte scope                                  | `invalid-claims` |
//! | `too-many-labels`   | 33 labels                                           | `invalid-claims` |
//! | `empty-subject`     | subject `""`                                        | `invalid-claims` |
//! | `subject-crlf`      | subject with `\r\n`                                 | `invalid-claims` |
//! | `label-crlf`        | label `team` = `a\r\nb`                             | `invalid-claims` |
//! | `label-nul`         | label `team` = `a\0b`                               | `invalid-claims` |
//! | `label-unknown-key` | label `evil` = `x`                                  | `invalid-claims` |
//! | `echo-now`          | allow, subject = the context's `now-ms`             | allow        |
//! | `echo-setting:<k>`  | allow, subject = setting `<k>` (deny `denied` if unset) | allow    |
//! | anything else       | deny `malformed`                                    | `plugin:malformed` |

use std::hint::black_box;

use ward_guest::{Authenticator, Claims, Context, Credential, Deny};

struct Hostile;

impl Authenticator for Hostile {
    fn authenticate(cred: &Credential, ctx: &Context) -> Result<Claims, Deny> {
        let token = cred.token.as_str();
        if let Some(user) = token.strip_prefix("ok:") {
            return Ok(Claims::new(user));
        }
        if let Some(reason) = token.strip_prefix("deny:") {
            return Err(deny_reason(reason));
        }
        if let Some(name) = token.strip_prefix("echo-setting:") {
            return ctx.setting(name).map(Claims::new).ok_or(Deny::Denied);
        }
        match token {
            "loop" => spin(),
            "alloc-bomb" => alloc_bomb(),
            "recurse" => Ok(Claims::new(format!("depth-{}", recurse(black_box(1), black_box(0))))),
            "panic" => panic!("hostile guest panics on purpose"),
            "unreachable" => core::arch::wasm32::unreachable(),
            "huge-subject" => Ok(Claims::new("x".repeat(10 * 1024 * 1024))),
            "many-scopes" => Ok(with_scopes(1_000_000, "s")),
            "too-many-scopes" => Ok(with_scopes(65, "s")),
            "long-scope" => Ok(Claims::new("hostile").scope("s".repeat(257))),
            "too-many-labels" => Ok((0..33).fold(Claims::new("hostile"), |c, i| c.label("team", format!("t{i}")))),
            "empty-subject" => Ok(Claims::new("")),
            "subject-crlf" => Ok(Claims::new("alice\r\nX-Injected: 1")),
            "label-crlf" => Ok(Claims::new("hostile").label("team", "a\r\nb")),
            "label-nul" => Ok(Claims::new("hostile").label("team", "a\0b")),
            "label-unknown-key" => Ok(Claims::new("hostile").label("evil", "x")),
            "echo-now" => Ok(Claims::new(ctx.now_ms.to_string())),
            _ => Err(Deny::Malformed),
        }
    }
}

fn with_scopes(n: usize, scope: &str) -> Claims {
    let mut claims = Claims::new("hostile");
    claims.scopes = vec![scope.to_owned(); n];
    claims
}

fn spin() -> ! {
    let mut n = 0u64;
    loop {
        // black_box makes each iteration observable, so the loop stays a loop.
        n = black_box(n.wrapping_add(1));
    }
}

fn alloc_bomb() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        // Filled with non-zero bytes so every page is really touched.
        hoard.push(vec![0xa5; 1024 * 1024]);
        black_box(&hoard);
    }
}

/// Two recursive calls whose results are combined: neither tail-call nor
/// accumulator elimination applies, so every level costs a real wasm frame.
/// It returns only if `depth` wraps around to `stop`, i.e. never within any
/// stack limit. No locals have their address taken, so the frames live on
/// the wasm stack (caught by the engine's max stack) rather than the 64 KiB
/// shadow stack in linear memory.
#[inline(never)]
fn recurse(depth: u64, stop: u64) -> u64 {
    if depth == stop {
        return 1;
    }
    let a = recurse(depth.wrapping_add(1), stop);
    let b = recurse(depth.wrapping_add(2), stop);
    a.wrapping_mul(31).wrapping_add(b) ^ depth
}

fn deny_reason(code: &str) -> Deny {
    match code {
        "missing-credential" => Deny::MissingCredential,
        "malformed" => Deny::Malformed,
        "bad-signature" => Deny::BadSignature,
        "expired" => Deny::Expired,
        "not-yet-valid" => Deny::NotYetValid,
        "wrong-issuer" => Deny::WrongIssuer,
        "wrong-audience" => Deny::WrongAudience,
        "unknown-key" => Deny::UnknownKey,
        "revoked" => Deny::Revoked,
        "insufficient-scope" => Deny::InsufficientScope,
        _ => Deny::Denied,
    }
}

ward_guest::export!(Hostile);
