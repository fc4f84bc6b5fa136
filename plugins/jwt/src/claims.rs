//! The payload of a verified token: claim types first, then the checks.
//!
//! Every claim this plugin reads is type-checked before any comparison, so a
//! token with `"exp":"1700000000"` is `Malformed` whatever else it gets
//! wrong. NumericDates must be JSON numbers (RFC 7519 §2); a numeric string
//! is a type error, not a date.

use std::collections::BTreeSet;

use ward_guest::PrincipalType;

use crate::json::{self, Json, Object};
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

    let subject = claims.get("sub").and_then(Json::as_str).filter(|sub| !sub.is_empty()).ok_or(Refusal::Malformed)?;
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
    // Last: a token that fails any other check is refused for that, so
    // `insufficient-scope` (a 403) is said only to a caller who is known.
    if !settings.required_scopes.iter().all(|required| scopes.contains(required)) {
        return Err(Refusal::InsufficientScope);
    }

    Ok(Accepted { subject: subject.to_owned(), issuer: issuer.to_owned(), scopes: scopes.into_iter().map(str::to_owned).collect(), principal_type })
}

fn optional_string<'a>(claims: &'a Object<'_>, name: &str) -> Result<Option<&'a str>, Refusal> {
    claims.get(name).map(|value| value.as_str().ok_or(Refusal::Malformed)).transpose()
}

/// `aud` as a string or an array of strings (RFC 7519 §4.1.3); absent is
/// an empty list, which matches no configured audience.
fn audiences<'a>(aud: Option<&'a Json<'_>>) -> Result<Vec<&'a str>, Refusal> {
    match aud {
        None => Ok(Vec::new()),
        Some(one @ Json::String(_)) => Ok(vec![one.as_str().ok_or(Refusal::Malformed)?]),
        Some(Json::Array(many)) => many.iter().map(|v| v.as_str().ok_or(Refusal::Malformed)).collect(),
        Some(_) => Err(Refusal::Malformed),
    }
}

/// A NumericDate in milliseconds. Integers are exact; fractional seconds
/// are allowed by RFC 7519 and rounded down to the millisecond.
fn numeric_date_ms(value: Option<&Json<'_>>) -> Result<Option<i128>, Refusal> {
    let Some(value) = value else { return Ok(None) };
    let Json::Number(number) = value else { return Err(Refusal::Malformed) };
    let bound = i128::from(MAX_NUMERIC_DATE_SECONDS);
    let ms = if number.is_integer() {
        // Exact. An integer that does not fit an i64 is far beyond the bound.
        let seconds = number.as_i64().map(i128::from).filter(|s| s.abs() <= bound).ok_or(Refusal::Malformed)?;
        seconds * 1000
    } else {
        let seconds = Some(number.as_f64()).filter(|s| s.is_finite() && s.abs() <= bound as f64).ok_or(Refusal::Malformed)?;
        // Within the bound, seconds * 1000 fits an i128 with room to spare.
        (seconds * 1000.0).floor() as i128
    };
    Ok(Some(ms))
}

/// `scope` (space-separated string, RFC 8693 §4.2) and `scp` (array of
/// strings, or a space-separated string as some IdPs send it), merged in
/// order without duplicates. The host then checks each scope token.
fn scopes<'a>(claims: &'a Object<'_>) -> Result<Vec<&'a str>, Refusal> {
    let mut seen = BTreeSet::new();
    let mut scopes = Vec::new();
    let mut add = |scope: &'a str| {
        if !scope.is_empty() && seen.insert(scope) {
            scopes.push(scope);
        }
    };
    for name in ["scope", "scp"] {
        match claims.get(name) {
            None => {}
            Some(list @ Json::String(_)) => list.as_str().ok_or(Refusal::Malformed)?.split(' ').for_each(&mut add),
            Some(Json::Array(items)) if name == "scp" => {
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
fn principal_type(claims: &Object<'_>, settings: &Settings<'_>) -> Result<PrincipalType, Refusal> {
    let Some(name) = settings.principal_type_claim else { return Ok(settings.default_principal_type) };
    match claims.get(name) {
        None => Ok(settings.default_principal_type),
        Some(value) => value.as_str().and_then(settings::principal_type).ok_or(Refusal::Malformed),
    }
}
