//! One `authenticate` call: the Haechi contract on a fresh instance of the
//! snapshot (harness.js holds the JavaScript side of it).

use rquickjs::{IntoJs, Value};
use ward_guest::{Claims, Context as RequestContext, Credential, Deny};

use crate::{ENGINE, clock, direct, reply, stack};

/// harness.js's outcomes besides a JSON string: the engine holds the
/// reply's text (src/direct.rs); the call hit QuickJS's stack limit.
const READ: i32 = 1;
const STACK: i32 = 2;

/// What the host's sanitizer refuses as `invalid-claims`: the WIT result
/// has no such deny, so a reply that fails Haechi's claims checks reaches
/// the host as claims the host's own check refuses (an empty subject).
fn invalid_claims() -> Claims {
    Claims::new("")
}

pub(crate) fn authenticate(cred: &Credential, ctx: &RequestContext) -> Result<Claims, Deny> {
    clock::set_request_time(ctx.now_ms);
    // Haechi passes the fetched key-material body as text, or null.
    let key_material = ctx.keys.first().map(|key| String::from_utf8_lossy(&key.data).into_owned());
    ENGINE.with(|engine| {
        let engine = engine.borrow();
        // Only a module the host never initialized gets here; the host
        // refuses such a module at load, so this is not reached in practice.
        let Some(engine) = engine.as_ref() else { return Err(Deny::Denied) };
        engine.context.with(|js| {
            let start = engine.start.clone().restore(&js).map_err(|_| Deny::Denied)?;
            let key_material = match key_material {
                Some(text) => text.into_js(&js).map_err(|_| Deny::Denied)?,
                None => Value::new_null(js.clone()),
            };
            start.call::<_, ()>((cred.token.as_str(), key_material)).map_err(|_| Deny::Denied)?;
            // Run the job queue dry: an async plugin settles here or never
            // (no timers, no I/O: nothing outside the queue can settle it).
            // A job that throws is a rejection the harness sees; the loop
            // ends when no job is left.
            while js.execute_pending_job() {}
            let harness = engine.harness.clone().restore(&js).map_err(|_| Deny::Denied)?;
            read_outcome(harness.get("outcome").map_err(|_| Deny::Denied)?)
        })
    })
}

fn read_outcome(outcome: Value<'_>) -> Result<Claims, Deny> {
    let json = match (outcome.as_string(), outcome.as_int()) {
        (Some(json), _) => json.to_string().map_err(|_| Deny::Denied)?,
        (None, Some(READ)) => direct::take().ok_or(Deny::Denied)?,
        (None, Some(STACK)) => stack::overflow(),
        // null (never settled), 0 (deny).
        _ => return Err(Deny::Denied),
    };
    // A reply that fails Haechi's claims checks: see `invalid_claims`.
    Ok(reply::claims(&json).unwrap_or_else(|_| invalid_claims()))
}
