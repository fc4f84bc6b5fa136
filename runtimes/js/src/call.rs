//! One `authenticate` call: the Haechi contract on a fresh instance of the
//! snapshot (harness.js holds the JavaScript side of it).

use rquickjs::{Array, Function, IntoJs, Object, Value};
use ward_guest::{Claims, Context as RequestContext, Credential, Deny, PrincipalType};

use crate::{ENGINE, clock, stack};

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
        let outcome = engine.context.with(|js| {
            let harness = engine.harness.clone().restore(&js).map_err(|_| Deny::Denied)?;
            let start: Function = harness.get("start").map_err(|_| Deny::Denied)?;
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
            read_outcome(&harness)
        });
        outcome
    })
}

fn read_outcome(harness: &Object<'_>) -> Result<Claims, Deny> {
    let outcome: Function = harness.get("outcome").map_err(|_| Deny::Denied)?;
    let value: Value = outcome.call(()).map_err(|_| Deny::Denied)?;
    let Some(reply) = value.as_array() else {
        // null (never settled), 0 (deny), 1 (invalid claims), 2 (stack).
        return match value.as_int() {
            Some(1) => Ok(invalid_claims()),
            Some(2) => stack::overflow(),
            _ => Err(Deny::Denied),
        };
    };
    Ok(claims(reply).unwrap_or_else(invalid_claims))
}

/// The harness's `[subject, issuer, type, scopes, labels]`, already checked
/// in JavaScript; anything else here is a broken harness, refused.
fn claims(reply: &Array<'_>) -> Option<Claims> {
    let subject: String = reply.get(0).ok()?;
    let issuer: String = reply.get(1).ok()?;
    let principal = match reply.get::<String>(2).ok()?.as_str() {
        "user" => PrincipalType::User,
        "service" => PrincipalType::Service,
        "agent" => PrincipalType::Agent,
        _ => return None,
    };
    let scopes: Vec<String> = reply.get(3).ok()?;
    let flat: Vec<String> = reply.get(4).ok()?;
    let mut pairs = flat.into_iter();
    let mut labels = Vec::new();
    while let Some(key) = pairs.next() {
        labels.push((key, pairs.next()?));
    }
    let mut claims = Claims::new(subject).principal(principal);
    claims.issuer = Some(issuer);
    claims.scopes = scopes;
    claims.labels = labels;
    Some(claims)
}
