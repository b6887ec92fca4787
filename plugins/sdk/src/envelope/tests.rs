use super::*;

fn response(status: u16, body: &str) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    }
}

const GATEWAY_30: &str = "<OpenAPI_ServiceResponse><cmmMsgHeader><errMsg>SERVICE ERROR</errMsg><returnAuthMsg>SERVICE_KEY_IS_NOT_REGISTERED_ERROR</returnAuthMsg><returnReasonCode>30</returnReasonCode></cmmMsgHeader></OpenAPI_ServiceResponse>";

#[test]
fn many_items_as_an_array() {
    let env = read(&response(200, r#"{"response":{"header":{"resultCode":"00","resultMsg":"NORMAL SERVICE."},"body":{"items":{"item":[{"rcNo":1},{"rcNo":2}]},"numOfRows":10,"pageNo":1,"totalCount":2}}}"#)).expect("ok");
    assert_eq!(env.items.len(), 2);
    assert_eq!(env.items[1].int("rcNo"), Some(2));
    assert_eq!((env.total_count, env.page_no, env.num_of_rows), (2, 1, 10));
}

#[test]
fn one_item_as_an_object() {
    let env = read(&response(200, r#"{"response":{"header":{"resultCode":"00","resultMsg":"NORMAL SERVICE."},"body":{"items":{"item":{"rcNo":7}},"numOfRows":10,"pageNo":1,"totalCount":1}}}"#)).expect("ok");
    assert_eq!(env.items.len(), 1);
    assert_eq!(env.items[0].int("rcNo"), Some(7));
}

#[test]
fn zero_items_in_every_shape() {
    for items in [r#""items":"","#, r#""items":{},"#, r#""items":null,"#, ""] {
        let body = format!(
            r#"{{"response":{{"header":{{"resultCode":"00","resultMsg":"NORMAL SERVICE."}},"body":{{{items}"numOfRows":10,"pageNo":1,"totalCount":0}}}}}}"#
        );
        let env = read(&response(200, &body)).unwrap_or_else(|e| panic!("{items}: {e}"));
        assert!(env.items.is_empty(), "{items}");
    }
}

#[test]
fn kspo_counters_as_strings_and_code_zero() {
    let env = read(&response(200, r#"{"response":{"header":{"resultCode":"0","resultMsg":"NORMAL SERVICE"},"body":{"items":{"item":[{"race_no":"01"}]},"numOfRows":"1000","pageNo":"1","totalCount":"1"}}}"#)).expect("ok");
    assert_eq!((env.total_count, env.num_of_rows), (1, 1000));
    assert!(
        read(&response(200, r#"{"response":{"header":{"resultCode":"INFO-0","resultMsg":"ok"},"body":{"items":""}}}"#))
            .is_ok()
    );
}

#[test]
fn xml_gateway_errors_with_http_200() {
    assert!(
        matches!(read(&response(200, GATEWAY_30)), Err(SourceError::Auth(m)) if m.contains("code 30") && m.contains("NOT_REGISTERED"))
    );
    let quota = GATEWAY_30
        .replace(">30<", ">22<")
        .replace("SERVICE_KEY_IS_NOT_REGISTERED_ERROR", "LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR");
    assert!(matches!(read(&response(200, &quota)), Err(SourceError::QuotaExhausted(_))));
    let prolog = format!("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>{GATEWAY_30}");
    assert!(matches!(read(&response(200, &prolog)), Err(SourceError::Auth(_))));
}

#[test]
fn json_rendering_of_a_gateway_error() {
    let body = r#"{"OpenAPI_ServiceResponse":{"cmmMsgHeader":{"errMsg":"SERVICE ERROR","returnAuthMsg":"SERVICE_ACCESS_DENIED_ERROR","returnReasonCode":"20"}}}"#;
    assert!(matches!(read(&response(200, body)), Err(SourceError::Auth(m)) if m.contains("20")));
}

#[test]
fn result_codes_map_to_error_kinds() {
    let with_code = |code: &str| format!(r#"{{"response":{{"header":{{"resultCode":"{code}","resultMsg":"X"}}}}}}"#);
    assert!(read(&response(200, &with_code("03"))).expect("no data is normal").items.is_empty());
    assert!(matches!(read(&response(200, &with_code("01"))), Err(SourceError::Transient(_))));
    assert!(matches!(read(&response(200, &with_code("99"))), Err(SourceError::Transient(_))));
    assert!(matches!(read(&response(200, &with_code("11"))), Err(SourceError::BadRequest(_))));
    assert!(matches!(read(&response(200, &with_code("336"))), Err(SourceError::BadRequest(_))));
    assert!(matches!(read(&response(200, &with_code("22"))), Err(SourceError::QuotaExhausted(_))));
    assert!(matches!(read(&response(200, &with_code("31"))), Err(SourceError::Auth(_))));
    assert!(matches!(read(&response(200, &with_code("77"))), Err(SourceError::Malformed(m)) if m.contains("77")));
}

#[test]
fn http_statuses() {
    assert!(matches!(read(&response(503, "")), Err(SourceError::Transient(m)) if m == "HTTP 503"));
    assert!(matches!(read(&response(403, "Forbidden")), Err(SourceError::Auth(_))));
    assert!(matches!(read(&response(429, "")), Err(SourceError::QuotaExhausted(_))));
    let mut limited = response(429, "");
    limited.headers.push(("Retry-After".into(), "2".into()));
    assert_eq!(read(&limited), Err(SourceError::RateLimited(Some(2))));
    assert!(matches!(read(&response(429, &GATEWAY_30.replace(">30<", ">22<"))), Err(SourceError::QuotaExhausted(_))));
    assert!(matches!(read(&response(404, "")), Err(SourceError::BadRequest(_))));
}

#[test]
fn xml_success_envelope_reads_like_json() {
    let body = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><response><header><resultCode>00</resultCode><resultMsg>NORMAL SERVICE.</resultMsg></header><body><items><item><chulNo>3</chulNo><hrName>올라운드원 &amp; co</hrName></item><item><chulNo>4</chulNo><hrName>B</hrName></item></items><numOfRows>10</numOfRows><pageNo>1</pageNo><totalCount>2</totalCount></body></response>"#;
    let env = read(&response(200, body)).expect("ok");
    assert_eq!(env.items.len(), 2);
    assert_eq!(env.items[0].int("chulNo"), Some(3));
    assert_eq!(env.items[0].text("hrName").as_deref(), Some("올라운드원 & co"));
    assert_eq!(env.total_count, 2);
}

#[test]
fn broken_bodies_are_malformed_with_a_reason() {
    let cases = [
        ("", "empty body"),
        ("{\"response\":", "not JSON"),
        ("[1,2]", "`response`"),
        (r#"{"response":{"body":{"items":{"item":5}}}}"#, "items.item"),
        (r#"{"response":{"body":{"items":{"item":[1]}}}}"#, "item[0]"),
        (r#"{"response":{"body":{"items":"","totalCount":"many"}}}"#, "totalCount"),
        ("<html><body>502 Bad Gateway</body>", "XML"),
        ("<a><b></a>", "XML"),
    ];
    for (body, wanted) in cases {
        match read(&response(200, body)) {
            Err(SourceError::Malformed(m)) => assert!(m.contains(wanted), "{body:?} gave {m:?}, wanted {wanted:?}"),
            other => panic!("{body:?} gave {other:?}"),
        }
    }
    let bad_utf8 = HttpResponse { status: 200, headers: vec![], body: vec![b'{', 0xff, b'}'] };
    assert!(matches!(read(&bad_utf8), Err(SourceError::Malformed(m)) if m.contains("UTF-8")));
}

const NORMAL: &str = r#""header":{"resultCode":"00","resultMsg":"NORMAL SERVICE."}"#;

#[test]
fn the_order_of_keys_does_not_matter() {
    let body_first = format!(
        r#"{{"response":{{"body":{{"totalCount":2,"items":{{"item":[{{"rcNo":1}},{{"rcNo":2}}]}}}},{NORMAL}}}}}"#
    );
    let env = read(&response(200, &body_first)).expect("ok");
    assert_eq!((env.items.len(), env.total_count), (2, 2));
    let code_last =
        r#"{"response":{"body":{"items":{"item":[{"rcNo":1}]}},"header":{"resultCode":"22","resultMsg":"LIMITED"}}}"#;
    assert!(matches!(read(&response(200, code_last)), Err(SourceError::QuotaExhausted(_))));
    let gateway_last =
        r#"{"response":{"body":{"items":""}},"OpenAPI_ServiceResponse":{"cmmMsgHeader":{"returnReasonCode":"30"}}}"#;
    assert!(matches!(read(&response(200, gateway_last)), Err(SourceError::Auth(_))));
    let shape_before_code = r#"{"response":{"body":{"items":5},"header":{"resultCode":"01","resultMsg":"APP ERROR"}}}"#;
    assert!(
        matches!(read(&response(200, shape_before_code)), Err(SourceError::Transient(_))),
        "the code is checked first"
    );
}

#[test]
fn a_repeated_key_keeps_the_last_value() {
    let body = format!(
        r#"{{"response":{{{NORMAL},"body":{{"items":{{"item":[{{"rcNo":1}}]}},"items":{{"item":{{"rcNo":9}}}},"pageNo":3,"pageNo":"2"}}}}}}"#
    );
    let env = read(&response(200, &body)).expect("ok");
    assert_eq!((env.items.len(), env.items[0].int("rcNo"), env.page_no), (1, Some(9), 2));
}

#[test]
fn non_objects_where_the_envelope_has_objects() {
    for empty in
        [r#"{"response":5}"#, r#"{"response":null}"#, r#"{"response":{"body":"x"}}"#, r#"{"response":{"body":[1]}}"#]
    {
        let env = read(&response(200, empty)).unwrap_or_else(|e| panic!("{empty}: {e:?}"));
        assert_eq!((env.items.len(), env.total_count, env.page_no, env.num_of_rows), (0, 0, 1, 0), "{empty}");
    }
    let cases = [
        (r#"{"x":1}"#, r#"unexpected shape at `response`: an object {"x":1}"#),
        ("\"text\"", r#"unexpected shape at `response`: a string "text""#),
        (
            r#"{"response":{"body":{"items":{"item":[{"rcNo":1},[2],{"rcNo":3}]}}}}"#,
            "`response.body.items.item[1]`: an array [2]",
        ),
        (r#"{"response":{"body":{"items":" x "}}}"#, r#"`response.body.items`: a string " x ""#),
        (r#"{"response":{"body":{"items":{"item":true}}}}"#, "`response.body.items.item`: a boolean true"),
        (r#"{"response":{"body":{"items":"","pageNo":[1]}}}"#, "`response.body.pageNo`: an array [1]"),
        (r#"{"response":{"header":null,"body":{"items":""}}}"#, "unknown result code \"\""),
        (r#"{"response":{"body":{"items":{"item":[{"rcNo":1},"x",{"rcNo":}]}}}}"#, "not JSON"),
    ];
    for (body, wanted) in cases {
        match read(&response(200, body)) {
            Err(SourceError::Malformed(m)) => assert!(m.contains(wanted), "{body:?} gave {m:?}, wanted {wanted:?}"),
            other => panic!("{body:?} gave {other:?}"),
        }
    }
}

#[test]
fn keys_written_with_escapes() {
    let body =
        r#"{"\u0072esponse":{"header":{"resultCode":"00"},"body":{"it\u0065ms":{"item":{"rcNo":4}},"totalCount":1}}}"#;
    let env = read(&response(200, body)).expect("ok");
    assert_eq!(env.items[0].int("rcNo"), Some(4));
}

/// `read_with` and `Only` give what `read` does: the same rows, counters and errors.
#[test]
fn reading_only_some_fields_gives_the_same_pages_and_errors() {
    use crate::fields::Only;
    const KEYS: [&str; 3] = ["rcNo", "chulNo", "hrName"];
    let xml = r#"<response><header><resultCode>00</resultCode></header><body><items><item><chulNo>3</chulNo><hrName>A &amp; B</hrName></item></items><totalCount>1</totalCount></body></response>"#;
    let bodies = [
        format!(
            r#"{{"response":{{{NORMAL},"body":{{"items":{{"item":[{{"rcNo":1,"chulNo":"03","hrName":"올라운드원","x":[1]}},{{"rcNo":"-","chulNo":null,"hrName":" \u0041 "}}]}},"numOfRows":10,"pageNo":1,"totalCount":2}}}}}}"#
        ),
        format!(
            r#"{{"response":{{{NORMAL},"body":{{"items":{{"item":{{"rcNo":7.0,"hrName":true}}}},"totalCount":"1"}}}}}}"#
        ),
        format!(r#"{{"response":{{{NORMAL},"body":{{"items":"","totalCount":0}}}}}}"#),
        format!(r#"{{"response":{{{NORMAL},"body":{{"items":{{"item":[{{"rcNo":1}},4]}}}}}}}}"#),
        r#"{"response":{"header":{"resultCode":"30","resultMsg":"X"}}}"#.to_string(),
        GATEWAY_30.to_string(),
        xml.to_string(),
        "[1,2]".to_string(),
        "{\"response\":".to_string(),
    ];
    for body in &bodies {
        let response = response(200, body);
        match (read(&response), read_with(&response, Only(&KEYS))) {
            (Ok(all), Ok(some)) => {
                assert_eq!(
                    (all.total_count, all.page_no, all.num_of_rows, all.items.len()),
                    (some.total_count, some.page_no, some.num_of_rows, some.items.len()),
                    "{body}"
                );
                for (a, b) in all.items.iter().zip(&some.items) {
                    assert_eq!(a.index, b.index);
                    for key in KEYS {
                        assert_eq!(a.field(key), b.field(key), "{body}: {key}");
                    }
                }
            }
            (Err(a), Err(b)) => assert_eq!(a, b, "{body}"),
            (a, b) => panic!("{body}: {a:?} but {b:?}"),
        }
    }
}

/// The fields [`read_only`] is compared on: KRA's odds fields, a few others, one that no
/// fixture has.
const SOME_KEYS: [&str; 10] =
    ["meet", "rcDate", "rcNo", "pool", "odds", "chulNo", "chulNo2", "hrName", "racer_no", "none"];

/// `read_only` (the quick reader where the body allows it) answers exactly as `read_with`
/// (serde_json throughout): the same rows, fields, field names kept for drift, counters and
/// errors.
fn same_as_serde(body: &str) {
    use crate::fields::Only;
    let response = response(200, body);
    assert_eq!(read_only(&response, Only(&SOME_KEYS)), read_with(&response, Only(&SOME_KEYS)), "{body}");
}

/// Whether the quick reader takes `body` itself, rather than handing it to serde_json.
fn quick(body: &str) -> bool {
    flat::read(body.as_bytes(), crate::fields::Only(&SOME_KEYS)).is_some()
}

fn fixtures() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let mut bodies = Vec::new();
    for dir in ["kra", "kspo"] {
        let mut paths: Vec<_> =
            std::fs::read_dir(root.join(dir)).expect("fixtures").flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths.into_iter().filter(|p| p.extension().is_some_and(|e| e == "json" || e == "xml")) {
            let text = std::fs::read_to_string(&path).expect("a fixture");
            bodies.push((path.display().to_string(), text));
        }
    }
    bodies
}

#[test]
fn the_quick_reader_reads_every_fixture_as_serde_json_does() {
    let mut taken = 0;
    for (name, body) in fixtures() {
        same_as_serde(&body);
        taken += usize::from(quick(body.trim()));
        if name.ends_with("Dividend_rate_total_all_pools.json") {
            assert!(quick(body.trim()), "the page it exists for: {name}");
        }
    }
    assert!(taken >= 20, "most real-shaped pages are read quickly, {taken} were");
}

const SMALL: &str = r#"{"response":{"header":{"resultCode":"00","resultMsg":"NORMAL SERVICE."},"body":{"items":{"item":[{"chulNo":1,"chulNo2":0,"meet":"부산경남","odds":66.4,"pool":"WIN","rcDate":20250523,"rcNo":"1","x":null,"y":true},{"odds":0.5,"pool":"삼쌍승식","hrName":" A ","chulNo":12}]},"numOfRows":10,"pageNo":1,"totalCount":2}}}"#;

/// Items that write the same keys in the same order, with values that start like the item
/// before's (`1` then `12`, `"WIN"` then `"WINS"`): what the quick reader reuses from the
/// item before must be the whole value.
const RUNS: &str = r#"{"response":{"body":{"items":{"item":[{"rcNo":1,"pool":"WIN","odds":2.5,"meet":"서울"},{"rcNo":12,"pool":"WIN","odds":2.5,"meet":"서울 "},{"rcNo":1,"pool":"WINS","odds":2.55,"meet":"서울"},{"rcNo":1,"pool":"WIN","odds":2.5,"meet":null}]},"totalCount":4}}}"#;

#[test]
fn the_quick_reader_agrees_with_serde_json_on_every_small_change_of_a_page() {
    let swaps = [" ", "\"", "\\", "{", "}", "[", "]", ",", ":", "0", "1", "-", ".", "e", "n", "x", "\n", "\u{1}", "é"];
    let mut cases = 0;
    for page in [SMALL, RUNS] {
        assert!(quick(page));
        same_as_serde(page);
        for (at, c) in page.char_indices() {
            let (head, tail) = (&page[..at], &page[at + c.len_utf8()..]);
            same_as_serde(&format!("{head}{tail}"));
            for swap in swaps {
                same_as_serde(&format!("{head}{swap}{tail}"));
                same_as_serde(&format!("{head}{swap}{c}{tail}"));
                cases += 3;
            }
        }
    }
    assert!(cases > 20_000, "{cases} variations");
}

#[test]
fn the_quick_reader_makes_numbers_as_serde_json_does() {
    let spellings = [
        "0",
        "00",
        "01",
        "0.5",
        "66.4",
        "9999.9",
        "1.0",
        "3.000",
        "0.1",
        "0.7",
        "2.675",
        "123456789012345",
        "1234567890123456",
        "12345678901234.5",
        "0.123456789012345",
        "0.1234567890123456",
        "18446744073709551615",
        "18446744073709551616",
        "1e2",
        "1E2",
        "1.5e-3",
        "-1",
        "-0",
        "-0.0",
        "5.",
        ".5",
        "1.2.3",
        "7x",
        "true",
        "false",
        "null",
        "nul",
        "tru",
        "\"3\"",
        "\"-\"",
        "[1]",
        "{\"a\":1}",
    ];
    for n in spellings {
        let body = format!(
            r#"{{"response":{{"header":{{"resultCode":"00"}},"body":{{"items":{{"item":{{"odds":{n},"rcNo":{n}}}}},"totalCount":{n}}}}}}}"#
        );
        same_as_serde(&body);
    }
    // Decimals of up to 15 digits, every place of the point.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..5_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let digits = (seed % 999_999_999_999_999).to_string();
        let point = (seed >> 50) as usize % digits.len();
        let n = if point == 0 { digits.clone() } else { format!("{}.{}", &digits[..point], &digits[point..]) };
        let n = if n.starts_with('0') && n.len() > 1 && !n.starts_with("0.") { n[1..].to_string() } else { n };
        same_as_serde(&format!(r#"{{"response":{{"body":{{"items":{{"item":[{{"odds":{n}}}]}}}}}}}}"#));
    }
}

#[test]
fn the_quick_reader_leaves_other_shapes_to_serde_json() {
    for body in [
        r#"{"response":{"body":{"items":""}}}"#,
        r#"{"response":{"body":{"items":{"item":[{"a":[1]}]}}}}"#,
        r#"{"response":{"body":{"items":{"item":[{"a":"x\"y"}]}}}}"#,
        r#"{"response":{"body":{"items":{"item":[1]}}}}"#,
        r#"{"response":{"body":{"items":{"item":[]},"extra":{}}}}"#,
        r#"{"response":{"header":{"resultCode":{"a":1}}}}"#,
        r#"{"OpenAPI_ServiceResponse":{"cmmMsgHeader":{"returnReasonCode":"30"}}}"#,
        r#"{"response":{}} x"#,
        r#"[{"response":{}}]"#,
        "<response/>",
    ] {
        assert!(!quick(body), "{body}");
        same_as_serde(body);
    }
    for body in [r#"{"response":{"body":{"items":{"item":[]}}}}"#, r#"{ "response" : { } }"#, "{}"] {
        assert!(quick(body), "{body}");
        same_as_serde(body);
    }
}

/// [`same_as_serde`] on a body that need not be UTF-8, with any status.
fn same_bytes_as_serde(status: u16, body: &[u8]) {
    use crate::fields::Only;
    let response = HttpResponse { status, headers: vec![], body: body.to_vec() };
    let (quick, serde) = (read_only(&response, Only(&SOME_KEYS)), read_with(&response, Only(&SOME_KEYS)));
    assert_eq!(quick, serde, "{status} {}", String::from_utf8_lossy(body));
}

#[test]
fn the_quick_reader_checks_the_text_is_utf8_as_serde_json_does() {
    let mut cases = 0;
    for page in [SMALL, RUNS] {
        let bytes = page.as_bytes();
        for at in 0..bytes.len() {
            let mut cut = bytes.to_vec();
            cut.remove(at);
            same_bytes_as_serde(200, &cut);
            for bad in [0xff, 0x80, 0xc3, 0xed] {
                let mut changed = bytes.to_vec();
                changed[at] = bad;
                same_bytes_as_serde(200, &changed);
                cases += 1;
            }
        }
    }
    assert!(cases > 1_000, "{cases} variations");
    // A body the quick reader would take, under statuses other than success.
    for status in [204, 301, 401, 429, 500, 503] {
        same_bytes_as_serde(status, SMALL.as_bytes());
    }
    let with_bom = [b"\xef\xbb\xbf".as_slice(), SMALL.as_bytes()].concat();
    same_bytes_as_serde(200, &with_bom);
    same_bytes_as_serde(200, format!("\u{3000}{SMALL}\u{c} ").as_bytes());
}
