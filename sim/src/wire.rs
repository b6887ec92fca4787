//! The bytes on the wire: field values, the data.go.kr envelope in JSON and XML, and the
//! gateway's XML errors.
//!
//! Written by hand rather than through `serde_json::Value` because the quirks are the point:
//! integral decimals without `.0`, numbers and strings mixed in one field, keys in a fixed
//! order whatever features `serde_json` is built with.

use std::fmt::Write;

/// One field value as served.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum V {
    /// A JSON number without decimals.
    Int(i64),
    /// A decimal with one digit, in tenths; integral values are written without `.0`.
    Tenths(i64),
    /// A JSON string.
    Str(String),
}

/// A row: field names and values in serving order.
pub(crate) type Item = Vec<(&'static str, V)>;

pub(crate) fn s(x: impl Into<String>) -> V {
    V::Str(x.into())
}

pub(crate) fn n(x: impl Into<i64>) -> V {
    V::Int(x.into())
}

pub(crate) fn tenths(x: impl Into<i64>) -> V {
    V::Tenths(x.into())
}

/// Tenths as text, `"2.5"` or `"3"`.
pub(crate) fn tenths_text(t: i64) -> String {
    let sign = if t < 0 { "-" } else { "" };
    let t = t.unsigned_abs();
    if t.is_multiple_of(10) { format!("{sign}{}", t / 10) } else { format!("{sign}{}.{}", t / 10, t % 10) }
}

/// Response format, chosen by `_type=json` (KRA) or `resultType=json` (KSPO).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Xml,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json;charset=UTF-8",
            Format::Xml => "application/xml;charset=UTF-8",
        }
    }
}

/// A page of rows with its paging numbers.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    pub items: Vec<Item>,
    pub num_of_rows: u32,
    pub page_no: u32,
    pub total: usize,
    /// KSPO writes `numOfRows`, `pageNo` and `totalCount` as strings (assumed, per Swagger).
    pub counts_as_strings: bool,
}

const XML_PROLOG: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#;
const NORMAL: (&str, &str) = ("00", "NORMAL SERVICE.");

/// The normal envelope around a page.
pub(crate) fn render(format: Format, page: &Page) -> String {
    let counts = [
        ("numOfRows", i64::from(page.num_of_rows)),
        ("pageNo", i64::from(page.page_no)),
        ("totalCount", i64::try_from(page.total).unwrap_or(i64::MAX)),
    ];
    let count = |v: i64| if page.counts_as_strings { V::Str(v.to_string()) } else { V::Int(v) };
    let mut out = String::with_capacity(256 + page.items.len() * 256);
    match format {
        Format::Json => {
            out.push_str(r#"{"response":{"header":"#);
            json_header(&mut out, NORMAL);
            out.push_str(r#","body":{"items":"#);
            match page.items.as_slice() {
                [] => out.push_str(r#""""#),
                [one] => {
                    out.push_str(r#"{"item":"#);
                    json_object(&mut out, one);
                    out.push('}');
                }
                many => {
                    out.push_str(r#"{"item":["#);
                    for (i, item) in many.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        json_object(&mut out, item);
                    }
                    out.push_str("]}");
                }
            }
            for (key, v) in counts {
                let _ = write!(out, r#","{key}":"#);
                json_value(&mut out, &count(v));
            }
            out.push_str("}}}");
        }
        Format::Xml => {
            out.push_str(XML_PROLOG);
            out.push_str("<response>");
            xml_header(&mut out, NORMAL);
            out.push_str("<body>");
            if page.items.is_empty() {
                out.push_str("<items/>");
            } else {
                out.push_str("<items>");
                for item in &page.items {
                    out.push_str("<item>");
                    xml_fields(&mut out, item.iter().map(|(k, v)| (*k, v)));
                    out.push_str("</item>");
                }
                out.push_str("</items>");
            }
            let counts: Vec<(&str, V)> = counts.iter().map(|(k, v)| (*k, count(*v))).collect();
            xml_fields(&mut out, counts.iter().map(|(k, v)| (*k, v)));
            out.push_str("</body></response>");
        }
    }
    out
}

/// A service-level error inside the normal envelope: a header and no body.
pub(crate) fn render_error(format: Format, code: &str, msg: &str) -> String {
    let mut out = String::new();
    match format {
        Format::Json => {
            out.push_str(r#"{"response":{"header":"#);
            json_header(&mut out, (code, msg));
            out.push_str("}}");
        }
        Format::Xml => {
            out.push_str(XML_PROLOG);
            out.push_str("<response>");
            xml_header(&mut out, (code, msg));
            out.push_str("</response>");
        }
    }
    out
}

/// The gateway's own error (bad key, quota, …): always XML, whatever format was asked.
pub(crate) fn gateway_xml(code: &str, auth_msg: &str) -> String {
    format!(
        "<OpenAPI_ServiceResponse><cmmMsgHeader><errMsg>SERVICE ERROR</errMsg>\
         <returnAuthMsg>{auth_msg}</returnAuthMsg><returnReasonCode>{code}</returnReasonCode>\
         </cmmMsgHeader></OpenAPI_ServiceResponse>"
    )
}

fn json_header(out: &mut String, (code, msg): (&str, &str)) {
    out.push_str(r#"{"resultCode":"#);
    json_string(out, code);
    out.push_str(r#","resultMsg":"#);
    json_string(out, msg);
    out.push('}');
}

fn json_object(out: &mut String, item: &Item) {
    out.push('{');
    for (i, (key, v)) in item.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_string(out, key);
        out.push(':');
        json_value(out, v);
    }
    out.push('}');
}

fn json_value(out: &mut String, v: &V) {
    match v {
        V::Int(i) => {
            let _ = write!(out, "{i}");
        }
        V::Tenths(t) => out.push_str(&tenths_text(*t)),
        V::Str(s) => json_string(out, s),
    }
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn xml_header(out: &mut String, (code, msg): (&str, &str)) {
    let _ = write!(
        out,
        "<header><resultCode>{}</resultCode><resultMsg>{}</resultMsg></header>",
        xml_escape(code),
        xml_escape(msg)
    );
}

fn xml_fields<'a>(out: &mut String, fields: impl Iterator<Item = (&'a str, &'a V)>) {
    for (key, v) in fields {
        let text = match v {
            V::Int(i) => i.to_string(),
            V::Tenths(t) => tenths_text(*t),
            V::Str(s) => xml_escape(s),
        };
        let _ = write!(out, "<{key}>{text}</{key}>");
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(items: Vec<Item>, strings: bool) -> Page {
        let total = items.len();
        Page { items, num_of_rows: 10, page_no: 1, total, counts_as_strings: strings }
    }

    #[test]
    fn zero_one_many_rows() {
        let row: Item = vec![("a", n(1)), ("b", tenths(30)), ("c", tenths(25)), ("d", s("x\"y"))];
        assert_eq!(
            render(Format::Json, &page(vec![], false)),
            r#"{"response":{"header":{"resultCode":"00","resultMsg":"NORMAL SERVICE."},"body":{"items":"","numOfRows":10,"pageNo":1,"totalCount":0}}}"#
        );
        let one = render(Format::Json, &page(vec![row.clone()], true));
        assert!(one.contains(r#""items":{"item":{"a":1,"b":3,"c":2.5,"d":"x\"y"}},"numOfRows":"10""#), "{one}");
        let two = render(Format::Json, &page(vec![row.clone(), row], false));
        assert!(two.contains(r#""items":{"item":[{"#), "{two}");
    }

    #[test]
    fn xml_envelope_escapes_and_keeps_order() {
        let row: Item = vec![("meet", s("서울 & 제주")), ("odds", tenths(12))];
        let xml = render(Format::Xml, &page(vec![row], false));
        assert!(xml.ends_with(
            "<items><item><meet>서울 &amp; 제주</meet><odds>1.2</odds></item></items>\
             <numOfRows>10</numOfRows><pageNo>1</pageNo><totalCount>1</totalCount></body></response>"
        ));
    }
}
