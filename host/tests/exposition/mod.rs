//! The Prometheus text format (0.0.4) as a scraper reads it, strictly enough
//! to catch what would make Prometheus drop a scrape: shared by the tests
//! that fetch `/metrics` (`server.rs`, `lockdown.rs`).

use std::collections::{BTreeMap, BTreeSet};

/// The process families Prometheus's client libraries export, which ward
/// serves on Linux.
pub const PROCESS_FAMILIES: [&str; 5] =
    ["process_resident_memory_bytes", "process_open_fds", "process_max_fds", "process_cpu_seconds_total", "process_start_time_seconds"];

/// Parses `text` and returns each family's sample values, by family name.
///
/// Every line is `# HELP name text`, `# TYPE name type`, another comment, or
/// a sample `name{label="value",...} value`; the text ends with a newline.
/// HELP and TYPE come at most once per family, before its samples; a
/// family's samples are together; a histogram's samples are `_bucket`
/// (with `le`), `_sum` and `_count`.
pub fn parse(text: &str) -> Result<BTreeMap<String, Vec<f64>>, String> {
    if !text.ends_with('\n') {
        return Err("the text does not end with a newline".into());
    }
    let mut types: BTreeMap<&str, &str> = BTreeMap::new();
    let mut helps: BTreeSet<&str> = BTreeSet::new();
    let mut families: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.trim_start().splitn(3, ' ');
            let (keyword, name, rest) = (words.next(), words.next(), words.next());
            let (Some(keyword @ ("HELP" | "TYPE")), Some(name)) = (keyword, name) else { continue };
            metric_name(name).map_err(|err| format!("{err}: {line:?}"))?;
            if families.contains_key(name) {
                return Err(format!("{keyword} after the samples of {name}: {line:?}"));
            }
            let fresh = if keyword == "HELP" {
                helps.insert(name)
            } else {
                let kind = rest.ok_or_else(|| format!("TYPE without a type: {line:?}"))?;
                if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                    return Err(format!("unknown type: {line:?}"));
                }
                types.insert(name, kind).is_none()
            };
            if !fresh {
                return Err(format!("a second {keyword} for {name}"));
            }
            continue;
        }
        let (name, labels, value) = sample(line).map_err(|err| format!("{err}: {line:?}"))?;
        let family = family_of(name, &types).ok_or_else(|| format!("{name} is not a sample name of its family's type: {line:?}"))?;
        if types.get(family) == Some(&"histogram") && name.ends_with("_bucket") && !labels.contains(&"le") {
            return Err(format!("a bucket without le: {line:?}"));
        }
        if current.as_deref() != Some(family) {
            if families.contains_key(family) {
                return Err(format!("the samples of {family} are not together: {line:?}"));
            }
            current = Some(family.to_owned());
        }
        families.entry(family.to_owned()).or_default().push(value);
    }
    Ok(families)
}

/// The family a sample belongs to, or `None` when its name cannot be one
/// of its family's (`_bucket` of a counter, say).
fn family_of<'a>(name: &'a str, types: &BTreeMap<&str, &str>) -> Option<&'a str> {
    if types.contains_key(name) {
        return Some(name);
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && let Some(&kind) = types.get(base)
        {
            let allowed = kind == "histogram" || (kind == "summary" && suffix != "_bucket");
            return allowed.then_some(base);
        }
    }
    Some(name)
}

/// `name{label="value",...} value`: the name, the label names and the value.
fn sample(line: &str) -> Result<(&str, Vec<&str>, f64), String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let (name, mut rest) = line.split_at(name_end);
    metric_name(name)?;
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        while !rest.starts_with('}') {
            let (label, after) = rest.split_once("=\"").ok_or("a label without =\"")?;
            label_name(label)?;
            if labels.contains(&label) {
                return Err(format!("label {label} twice"));
            }
            labels.push(label);
            rest = label_value_end(after)?;
            if let Some(after) = rest.strip_prefix(',') {
                rest = after;
            } else if !rest.starts_with('}') {
                return Err("labels not separated by ,".into());
            }
        }
        rest = rest.strip_prefix('}').ok_or("no closing }")?;
    }
    let value = rest.strip_prefix(' ').ok_or("no space before the value")?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        number => number.parse::<f64>().map_err(|_| format!("value {number:?} is not a number (or has a timestamp)"))?,
    };
    Ok((name, labels, value))
}

/// What follows a label value's closing quote; only `\\`, `\"` and `\n` escape.
fn label_value_end(value: &str) -> Result<&str, String> {
    let mut chars = value.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok(value.split_at(i + 1).1),
            '\\' => match chars.next() {
                Some((_, '\\' | '"' | 'n')) => {}
                other => return Err(format!("bad escape {other:?}")),
            },
            '\n' => return Err("a raw newline in a label value".into()),
            _ => {}
        }
    }
    Err("an unterminated label value".into())
}

fn metric_name(name: &str) -> Result<(), String> {
    let ok =
        name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == ':') && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if ok { Ok(()) } else { Err(format!("bad metric name {name:?}")) }
}

fn label_name(name: &str) -> Result<(), String> {
    let ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok { Ok(()) } else { Err(format!("bad label name {name:?}")) }
}
