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
