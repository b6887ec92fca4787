//! Reading a data.go.kr response into items, or into the right [`SourceError`].
//!
//! What it copes with (dossier §1.2, §1.3, §7):
//! - `items.item` as an object for one row, an array otherwise; `items` as `""`, `{}`, null
//!   or missing for zero rows;
//! - gateway errors as XML `OpenAPI_ServiceResponse` with HTTP 200 even when JSON was asked
//!   for (and the rare JSON rendering of the same);
//! - service errors inside the normal envelope (`header.resultCode` ≠ `00`; KSPO's `0` and
//!   `INFO-0` are normal too);
//! - HTTP 401/403 (unapproved), 429 (quota, or rate with `Retry-After`), 5xx;
//! - XML success envelopes (`_type` omitted), read into the same rows as JSON.
//!
//! JSON is read in one pass straight into the items (`envelope/json.rs`), with no tree of the
//! whole body in between: a page of odds has thousands of rows.

use std::marker::PhantomData;

use quick_xml::events::Event;
use serde::de::DeserializeSeed;
use serde_json::{Map, Value};

use crate::fields::{Lookup, Only, Picked, Row, clip};
use crate::{HttpResponse, SourceError};

/// The rows of one page and its paging counters.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope<R = Row> {
    pub items: Vec<R>,
    pub total_count: u64,
    pub page_no: u64,
    pub num_of_rows: u64,
}

impl<R> Envelope<R> {
    fn empty() -> Self {
        Envelope { items: Vec::new(), total_count: 0, page_no: 1, num_of_rows: 0 }
    }
}

impl Envelope {
    /// The same page with each item read again by `seed`: how an XML envelope, whose items
    /// are read into maps of text, reaches a service that reads its own item type.
    fn read_items<'a, D>(self, seed: D) -> Result<Envelope<Row<D::Value>>, SourceError>
    where
        D: DeserializeSeed<'a> + Clone,
    {
        let items = self
            .items
            .into_iter()
            .map(|row| {
                let index = row.index;
                seed.clone()
                    .deserialize(Value::Object(row.into_fields()))
                    .map(|fields| Row::new(index, fields))
                    .map_err(|e| SourceError::Malformed(format!("item {index}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Envelope { items, total_count: self.total_count, page_no: self.page_no, num_of_rows: self.num_of_rows })
    }
}

/// Reads a response: its status, then its body, each item into a map of all its fields.
pub fn read(response: &HttpResponse) -> Result<Envelope, SourceError> {
    read_with(response, PhantomData::<Map<String, Value>>)
}

/// Reads a response like [`read`], each item read by `seed` (e.g. [`crate::fields::Only`]
/// for the few fields a service reads, borrowed from the body where it can).
pub fn read_with<'a, D>(response: &'a HttpResponse, seed: D) -> Result<Envelope<Row<D::Value>>, SourceError>
where
    D: DeserializeSeed<'a> + Clone,
    D::Value: Lookup,
{
    let body = checked_body(response)?;
    if body.starts_with('<') { read_xml(body)?.read_items(seed) } else { read_json(body, seed) }
}

/// Reads a response like [`read_with`] with `only`, quicker for the common JSON page: items
/// that are flat objects of plain values, text without escapes (`envelope/flat.rs`). Any
/// other body, and any answer but a success, is read by [`read_with`]; the answer is the
/// same either way.
pub fn read_only<'a, const N: usize>(
    response: &'a HttpResponse,
    only: Only<N>,
) -> Result<Envelope<Row<Picked<'a, N>>>, SourceError> {
    // A body the quick reader takes is UTF-8 (it checks the text it reads), so only a
    // success needs to be known first; anything else is read, and its errors made, below.
    if (200..300).contains(&response.status)
        && let Some(root) = flat::read(&response.body, only)
    {
        return from_root(root, &response.body);
    }
    read_with(response, only)
}

/// The body as text once the status is a success, without a byte-order mark or surrounding
/// whitespace; an error when it is not UTF-8, is empty, or the status is not a success.
fn checked_body(response: &HttpResponse) -> Result<&str, SourceError> {
    let body = std::str::from_utf8(&response.body)
        .map_err(|e| SourceError::Malformed(format!("body is not UTF-8 (invalid byte at offset {})", e.valid_up_to())));
    check_status(response, body.as_deref().ok())?;
    let body = body?.trim_start_matches('\u{feff}').trim();
    if body.is_empty() {
        return Err(SourceError::Malformed("empty body".to_string()));
    }
    Ok(body)
}

fn header<'a>(response: &'a HttpResponse, name: &str) -> Option<&'a str> {
    response.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn check_status(response: &HttpResponse, body: Option<&str>) -> Result<(), SourceError> {
    let status = response.status;
    if (200..300).contains(&status) {
        return Ok(());
    }
    // A gateway message in the body is more precise than the status.
    if let Some(Err(e)) = body.filter(|b| b.trim_start().starts_with('<')).map(read_xml)
        && !matches!(e, SourceError::Malformed(_))
    {
        return Err(e);
    }
    let retry_after = header(response, "retry-after").and_then(|v| v.trim().parse::<u32>().ok());
    Err(match status {
        429 => match retry_after {
            Some(s) => SourceError::RateLimited(Some(s)),
            None => SourceError::QuotaExhausted("HTTP 429 Too Many Requests without Retry-After".to_string()),
        },
        401 | 403 => SourceError::Auth(format!("HTTP {status}: the key is not approved for this dataset")),
        408 | 500..=599 => SourceError::Transient(format!("HTTP {status}")),
        _ => SourceError::BadRequest(format!("HTTP {status}")),
    })
}

/// The error a data.go.kr result or reason code stands for; `None` for a normal answer.
/// Code 03 (no data) and KSPO 334 (page past the end) are normal answers with no rows.
pub fn code_error(code: &str, message: &str) -> Option<SourceError> {
    let code = code.trim();
    let what = || format!("code {code}: {}", clip(message.trim(), 120));
    let number = match code.strip_prefix("INFO-").unwrap_or(code).parse::<u32>() {
        Ok(n) => n,
        Err(_) => return Some(SourceError::Malformed(format!("unknown result code {:?}", clip(code, 20)))),
    };
    Some(match number {
        0 | 3 | 334 => return None,
        1 | 2 | 4 | 5 | 99 | 500 => SourceError::Transient(what()),
        10 | 11 | 12 | 301 | 336 | 340 | 601 => SourceError::BadRequest(what()),
        20 | 21 | 30..=33 => SourceError::Auth(what()),
        22 => SourceError::QuotaExhausted(what()),
        23 => SourceError::RateLimited(None),
        _ => SourceError::Malformed(format!("unknown result {}", what())),
    })
}

fn read_json<'a, D>(body: &'a str, seed: D) -> Result<Envelope<Row<D::Value>>, SourceError>
where
    D: DeserializeSeed<'a> + Clone,
    D::Value: Lookup,
{
    let root = json::read(body, seed)
        .map_err(|e| SourceError::Malformed(format!("body is not JSON: {e} (starts {:?})", clip(body, 40))))?;
    from_root(root, body.as_bytes())
}

/// The page a JSON body read into its levels stands for, or the error it carries: the
/// checks run in the order a parsed tree would be checked in.
fn from_root<T: Lookup>(root: json::Root<T>, body: &[u8]) -> Result<Envelope<Row<T>>, SourceError> {
    let (gateway, response) = match root {
        json::Root::NotAnObject(root) => return Err(malformed_at("response", &root)),
        json::Root::Object { gateway, response } => (gateway, response),
    };
    if let Some(gateway) = gateway {
        let head = gateway.get("cmmMsgHeader").unwrap_or(&gateway);
        let text = |k: &str| head.get(k).map(value_text).unwrap_or_default();
        return Err(gateway_error(&text("returnReasonCode"), &text("returnAuthMsg"), &text("errMsg")));
    }
    let Some(response) = response else {
        // Rare enough to parse again for the message: the object as it was.
        let root: Value = serde_json::from_slice(body).unwrap_or_default();
        return Err(malformed_at("response", &root));
    };
    if let Some(header) = response.header {
        let code = header.get("resultCode").map(value_text).unwrap_or_default();
        let message = header.get("resultMsg").map(value_text).unwrap_or_default();
        if let Some(err) = code_error(&code, &message) {
            return Err(err);
        }
    }
    let Some(body) = response.body else {
        return Ok(Envelope::empty());
    };
    let items = match body.items {
        json::Items::None => Vec::new(),
        json::Items::Rows(rows) => rows,
        json::Items::Unexpected(path, got) => return Err(malformed_at(&path, &got)),
    };
    let counter = |k: &str, v: Option<Value>| -> Result<Option<u64>, SourceError> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(v) => count(&v).map(Some).ok_or_else(|| malformed_at(&format!("response.body.{k}"), &v)),
        }
    };
    let item_count = items.len() as u64;
    Ok(Envelope {
        total_count: counter("totalCount", body.total_count)?.unwrap_or(item_count),
        page_no: counter("pageNo", body.page_no)?.unwrap_or(1),
        num_of_rows: counter("numOfRows", body.num_of_rows)?.unwrap_or(item_count),
        items,
    })
}

fn count(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn malformed_at(path: &str, got: &Value) -> SourceError {
    let kind = match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    SourceError::Malformed(format!("unexpected shape at `{path}`: {kind} {}", clip(&got.to_string(), 60)))
}

fn gateway_error(code: &str, auth_msg: &str, err_msg: &str) -> SourceError {
    let message = if auth_msg.trim().is_empty() { err_msg } else { auth_msg };
    code_error(code, message).unwrap_or_else(|| {
        SourceError::Malformed(format!("gateway error without a reason code: {}", clip(message, 120)))
    })
}

/// Reads an XML body: a gateway error, or an XML rendering of the normal envelope whose
/// rows become objects of strings.
fn read_xml(body: &str) -> Result<Envelope, SourceError> {
    let mut reader = quick_xml::Reader::from_str(body);
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut leaves: Map<String, Value> = Map::new();
    let mut rows: Vec<Row> = Vec::new();
    let mut row: Option<Map<String, Value>> = None;
    loop {
        let event = reader.read_event().map_err(|e| {
            SourceError::Malformed(format!("body is not well-formed XML at byte {}: {e}", reader.buffer_position()))
        })?;
        match event {
            Event::Start(e) => {
                path.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                text.clear();
                if is_item(&path) {
                    row = Some(Map::new());
                }
            }
            Event::Text(t) => text.push_str(&t.decode().unwrap_or_default()),
            Event::CData(t) => text.push_str(&String::from_utf8_lossy(&t)),
            Event::GeneralRef(r) => text.push_str(&entity(&String::from_utf8_lossy(&r))),
            Event::End(_) => {
                let Some(name) = path.last().cloned() else { break };
                if is_item(&path) {
                    if let Some(fields) = row.take() {
                        rows.push(Row::new(rows.len(), fields));
                    }
                } else if let Some(fields) = row.as_mut().filter(|_| path.len() == 5) {
                    fields.insert(name, Value::String(text.trim().to_string()));
                } else {
                    leaves.insert(name, Value::String(text.trim().to_string()));
                }
                text.clear();
                path.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let leaf = |k: &str| leaves.get(k).map(value_text).unwrap_or_default();
    if leaves.contains_key("returnReasonCode") || leaves.contains_key("returnAuthMsg") {
        return Err(gateway_error(&leaf("returnReasonCode"), &leaf("returnAuthMsg"), &leaf("errMsg")));
    }
    if !leaves.contains_key("resultCode") {
        return Err(SourceError::Malformed(format!(
            "XML body is neither an envelope nor a gateway error: {}",
            clip(body, 60)
        )));
    }
    if let Some(err) = code_error(&leaf("resultCode"), &leaf("resultMsg")) {
        return Err(err);
    }
    let counter = |k: &str| leaves.get(k).and_then(count);
    let item_count = rows.len() as u64;
    Ok(Envelope {
        total_count: counter("totalCount").unwrap_or(item_count),
        page_no: counter("pageNo").unwrap_or(1),
        num_of_rows: counter("numOfRows").unwrap_or(item_count),
        items: rows,
    })
}

fn is_item(path: &[String]) -> bool {
    path.len() == 4 && path[1] == "body" && path[2] == "items" && path[3] == "item"
}

fn entity(name: &str) -> String {
    match name {
        "amp" => "&".to_string(),
        "lt" => "<".to_string(),
        "gt" => ">".to_string(),
        "quot" => "\"".to_string(),
        "apos" => "'".to_string(),
        _ => name
            .strip_prefix("#x")
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
            .and_then(char::from_u32)
            .map(String::from)
            .unwrap_or_default(),
    }
}

mod flat;
mod json;

#[cfg(test)]
mod tests;
