//! The payload of a verified token: claim types first, then the checks.
//!
//! Every claim this plugin reads is type-checked before any comparison, so a
//! token with `"exp":"1700000000"` is `Malformed` whatever else it gets
//! wrong. NumericDates must be JSON numbers (RFC 7519 §2); a numeric string
//! is a type error, not a date.

use std::collections::BTreeSet;

use serde_json::{Map, Value};
use ward_guest::PrincipalType;

use crate::json;
use crate::refusal::Refusal;
use crate::settings::{self, Settings};
use crate::verify::SignatureValid;

/// NumericDates beyond this many seconds either side of 1970 (~31 million
/// years) are refused: they can only be mistakes or attempts to overflow.
const MAX_NUMERIC_DATE_SECONDS: i64 = 1_000_000_000_000_000;

/// What a valid token says about its holder.
pub struct Accepted {
    pub subject: String,
    pub issuer: String,
    pub scopes: Vec<String>,
    pub principal_type: PrincipalType,
}

/// Checks the claims of a token whose signature verified.
pub fn check(payload: &[u8], settings: &Settings<'_>, now_ms: u64, _verified: SignatureValid) -> Result<Accepted, Refusal> {
    let claims = json::parse_object(payload).ok_or(Refusal::Malformed)?;

    let subject = match claims.get("sub") {
        Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
        _ => return Err(Refusal::Malformed),
    };
    let issuer = optional_string(&claims, "iss")?;
    let audiences = audiences(claims.get("aud"))?;
    let expires_ms = numeric_date_ms(claims.get("exp"))?.ok_or(Refusal::Malformed)?;
    let not_before_ms = numeric_date_ms(claims.get("nbf"))?;
    let issued_ms = numeric_date_ms(claims.get("iat"))?;
    let scopes = scopes(&claims)?;
    let principal_type = principal_type(&claims, settings)?;

    let issuer = issuer.filter(|iss| *iss == settings.issuer).ok_or(Refusal::WrongIssuer)?;
    if !audiences.iter().any(|aud| settings.audiences.contains(aud)) {
        return Err(Refusal::WrongAudience);
    }
    let now = i128::from(now_ms);
    let leeway = i128::from(settings.leeway_ms);
    // RFC 7519 §4.1.4: valid only *before* exp; at exp + leeway it is over.
    if now >= expires_ms + leeway {
        return Err(Refusal::Expired);
    }
    // §4.1.5: valid from nbf on; an iat in the future is no better.
    if [not_before_ms, issued_ms].into_iter().flatten().any(|from| now < from - leeway) {
        return Err(Refusal::NotYetValid);
    }

    Ok(Accepted { subject, issuer: issuer.to_owned(), scopes, principal_type })
}

fn optional_string<'a>(claims: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, Refusal> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Refusal::Malformed),
    }
}

/// `aud` as a string or an array of strings (RFC 7519 §4.1.3); absent is
/// an empty list, which matches no configured audience.
fn audiences(aud: Option<&Value>) -> Result<Vec<&str>, Refusal> {
    match aud {
        None => Ok(Vec::new()),
        Some(Value::String(one)) => Ok(vec![one.as_str()]),
        Some(Value::Array(many)) => many.iter().map(|v| v.as_str().ok_or(Refusal::Malformed)).collect(),
        Some(_) => Err(Refusal::Malformed),
    }
}

/// A NumericDate in milliseconds. Integers are exact; fractional seconds
/// are allowed by RFC 7519 and rounded down to the millisecond.
fn numeric_date_ms(value: Option<&Value>) -> Result<Option<i128>, Refusal> {
    let Some(value) = value else { return Ok(None) };
    let Value::Number(number) = value else { return Err(Refusal::Malformed) };
    let bound = i128::from(MAX_NUMERIC_DATE_SECONDS);
    let ms = if let Some(seconds) = number.as_i64().map(i128::from).or_else(|| number.as_u64().map(i128::from)) {
        if seconds.abs() > bound {
            return Err(Refusal::Malformed);
        }
        seconds * 1000
    } else {
        let seconds = number.as_f64().filter(|s| s.is_finite() && s.abs() <= bound as f64).ok_or(Refusal::Malformed)?;
        // Within the bound, seconds * 1000 fits an i128 with room to spare.
        (seconds * 1000.0).floor() as i128
    };
    Ok(Some(ms))
}

/// `scope` (space-separated string, RFC 8693 §4.2) and `scp` (array of
/// strings, or a space-separated string as some IdPs send it), merged in
/// order without duplicates. The host then checks each scope token.
fn scopes(claims: &Map<String, Value>) -> Result<Vec<String>, Refusal> {
    let mut seen = BTreeSet::new();
    let mut scopes = Vec::new();
    let mut add = |scope: &str| {
        if !scope.is_empty() && seen.insert(scope.to_owned()) {
            scopes.push(scope.to_owned());
        }
    };
    for name in ["scope", "scp"] {
        match claims.get(name) {
            None => {}
            Some(Value::String(list)) => list.split(' ').for_each(&mut add),
            Some(Value::Array(items)) if name == "scp" => {
                for item in items {
                    add(item.as_str().ok_or(Refusal::Malformed)?);
                }
            }
            Some(_) => return Err(Refusal::Malformed),
        }
    }
    Ok(scopes)
}

/// From the claim the operator named, if the token has it; else the default.
fn principal_type(claims: &Map<String, Value>, settings: &Settings<'_>) -> Result<PrincipalType, Refusal> {
    let Some(name) = settings.principal_type_claim else { return Ok(settings.default_principal_type) };
    match claims.get(name) {
        None => Ok(settings.default_principal_type),
        Some(Value::String(value)) => settings::principal_type(value).ok_or(Refusal::Malformed),
        Some(_) => Err(Refusal::Malformed),
    }
}
