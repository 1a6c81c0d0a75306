//! The HTTP front against RFC 9112/9110 and PEP 3333 (issue 10, rows 1-9, 11, 14, 15): for each
//! request, the exact status the client gets and the exact requests that reached the app (the
//! app of tests/apps/http_conformance.py logs each call), a request-smuggling suite, and rows 1
//! and 2 as Flask sees them (tests/apps/flask_app.py).
use rwsgi_testkit::prelude::*;

use serde_json::{json, Value};

/// One rwsgi (one worker, so every request is logged in order) running the logging app.
fn server() -> WsgiServer {
    WsgiServer::start(
        &[
            "--wsgi-file".to_string(),
            apps_dir().join("http_conformance.py").display().to_string(),
            "--processes".into(),
            "1".into(),
        ],
        1,
    )
}

/// Sends `bytes` on a fresh connection, half-closes it, and returns the responses the server
/// sent before closing and the requests its app logged meanwhile.
fn exchange(srv: &WsgiServer, bytes: &[u8]) -> (Vec<Response>, Vec<Value>) {
    let log = srv.dir().join("requests.log");
    let _ = std::fs::remove_file(&log);
    let raw = raw_exchange(srv.http, bytes).expect("exchange");
    // The server has closed: every request it was going to serve on this connection is done.
    let seen = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("log line is JSON"))
        .collect();
    (split_responses(&raw), seen)
}

/// A case: the request bytes, the statuses expected in order, and what each request that
/// reached the app must have seen (every key given must match; `null` means absent).
struct Case {
    name: &'static str,
    request: Vec<u8>,
    statuses: Vec<u16>,
    seen: Vec<Value>,
}

fn case(name: &'static str, request: impl AsRef<[u8]>, statuses: &[u16], seen: Vec<Value>) -> Case {
    Case {
        name,
        request: request.as_ref().to_vec(),
        statuses: statuses.to_vec(),
        seen,
    }
}

fn run(srv: &WsgiServer, cases: &[Case]) {
    let mut failures = Vec::new();
    for c in cases {
        let (responses, seen) = exchange(srv, &c.request);
        let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
        let mut problems = Vec::new();
        if statuses != c.statuses {
            problems.push(format!("statuses {statuses:?}, want {:?}", c.statuses));
        }
        if seen.len() != c.seen.len() {
            problems.push(format!(
                "{} requests reached the app, want {}",
                seen.len(),
                c.seen.len()
            ));
        }
        for (got, want) in seen.iter().zip(&c.seen) {
            for (k, v) in want.as_object().expect("object") {
                if got.get(k).unwrap_or(&Value::Null) != v {
                    problems.push(format!("{k} = {}, want {v}", got[k]));
                }
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {}\n  request {:?}\n  seen {seen:?}",
                c.name,
                problems.join("; "),
                String::from_utf8_lossy(&c.request)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\nlog:\n{}",
        failures.join("\n"),
        srv.server.log()
    );
}

/// A second request hidden in the same bytes: it must never reach the app.
const HIDDEN: &str = "GET /hidden HTTP/1.1\r\nHost: h\r\n\r\n";

#[test]
fn environ_rows() {
    let srv = server();
    let big = "a".repeat(6000);
    run(
        &srv,
        &[
            // Row 1: a field on several lines is one var, joined in order; `; ` for Cookie.
            case(
                "row 1: repeated fields",
                "GET /r1 HTTP/1.1\r\nHost: h\r\nX-Dup: a\r\nCookie: c=1\r\nX-Forwarded-For: 10.0.0.1\r\n\
                 x-dup: b\r\nCookie: d=2\r\nX-Forwarded-For: 10.0.0.2, 10.0.0.3\r\nConnection: close\r\n\r\n",
                &[200],
                vec![json!({
                    "HTTP_X_DUP": "a, b",
                    "HTTP_COOKIE": "c=1; d=2",
                    "HTTP_X_FORWARDED_FOR": "10.0.0.1, 10.0.0.2, 10.0.0.3",
                })],
            ),
            // Row 2: a name with `_` cannot pass itself off as a proxy's `-` header.
            case(
                "row 2: underscore names dropped",
                "GET /r2 HTTP/1.1\r\nHost: h\r\nX-Auth-User: alice\r\nX_Auth_User: admin\r\n\r\n",
                &[200],
                vec![json!({"HTTP_X_AUTH_USER": "alice"})],
            ),
            case(
                "row 2: underscore name alone",
                "GET /r2b HTTP/1.1\r\nHost: h\r\nX_Auth_User: admin\r\n\r\n",
                &[200],
                vec![json!({"PATH_INFO": "/r2b", "HTTP_X_AUTH_USER": null})],
            ),
            // Row 4: absolute-form: path, query and host come from the target.
            case(
                "row 4: absolute-form",
                "GET http://good.example/x?q=1 HTTP/1.1\r\nHost: evil.example\r\n\r\n",
                &[200],
                vec![json!({
                    "PATH_INFO": "/x",
                    "QUERY_STRING": "q=1",
                    "REQUEST_URI": "/x?q=1",
                    "HTTP_HOST": "good.example",
                })],
            ),
            case(
                "row 4: asterisk-form for OPTIONS",
                "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
                &[200],
                vec![json!({"REQUEST_METHOD": "OPTIONS", "PATH_INFO": "*"})],
            ),
            // Row 8: never a fragment.
            case(
                "row 8: fragment",
                "GET /p?q=1#frag HTTP/1.1\r\nHost: h\r\n\r\n",
                &[200],
                vec![json!({"PATH_INFO": "/p", "QUERY_STRING": "q=1", "REQUEST_URI": "/p?q=1"})],
            ),
            case(
                "row 8: fragment without query",
                "GET /a%23b#frag HTTP/1.1\r\nHost: h\r\n\r\n",
                &[200],
                vec![json!({"PATH_INFO": "/a#b", "QUERY_STRING": ""})],
            ),
            // Row 9: a later HTTP/1.x is served as HTTP/1.1.
            case(
                "row 9: HTTP/1.2",
                "GET /v HTTP/1.2\r\nHost: h\r\n\r\n",
                &[200],
                vec![json!({"SERVER_PROTOCOL": "HTTP/1.1", "PATH_INFO": "/v"})],
            ),
            // Row 15: CGI's SERVER_SOFTWARE.
            case(
                "row 15: SERVER_SOFTWARE",
                "GET / HTTP/1.0\r\n\r\n",
                &[200],
                vec![json!({
                    "SERVER_SOFTWARE": format!("rwsgi/{}", env!("CARGO_PKG_VERSION")),
                    "SERVER_PROTOCOL": "HTTP/1.0",
                })],
            ),
            // Controls: what the rejections below are not.
            case(
                "HTTP/1.0 needs no Host",
                "GET /ten HTTP/1.0\r\n\r\n",
                &[200],
                vec![json!({"PATH_INFO": "/ten", "HTTP_HOST": null})],
            ),
            case(
                "long header within the limit",
                format!("GET /ok HTTP/1.1\r\nHost: h\r\nX-Long: {}\r\n\r\n", &big[..3000]),
                &[200],
                vec![json!({"HTTP_X_LONG": &big[..3000]})],
            ),
        ],
    );
}

#[test]
fn rejection_rows() {
    let srv = server();
    let big = "a".repeat(6000);
    let none = Vec::new;
    run(
        &srv,
        &[
            // Row 3: HTTP/1.1 needs exactly one valid Host.
            case("row 3: no Host", "GET / HTTP/1.1\r\n\r\n", &[400], none()),
            case(
                "row 3: two Hosts",
                "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                &[400],
                none(),
            ),
            case("row 3: Host a b", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", &[400], none()),
            case(
                "row 3: two Hosts in HTTP/1.0",
                "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
                &[400],
                none(),
            ),
            // Row 4: asterisk-form only for OPTIONS; other targets 400.
            case("row 4: GET *", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", &[400], none()),
            case("row 4: relative target", "GET x/y HTTP/1.1\r\nHost: h\r\n\r\n", &[400], none()),
            case(
                "row 4: userinfo",
                "GET http://u@h/x HTTP/1.1\r\nHost: h\r\n\r\n",
                &[400],
                none(),
            ),
            case(
                "row 4: other scheme",
                "GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n",
                &[400],
                none(),
            ),
            // Row 11: a long URI is 414; long headers stay 431.
            case(
                "row 11: 6000-byte URI",
                format!("GET /{big} HTTP/1.1\r\nHost: h\r\n\r\n"),
                &[414],
                none(),
            ),
            case(
                "row 11: 6000-byte header",
                format!("GET / HTTP/1.1\r\nHost: h\r\nX-Long: {big}\r\n\r\n"),
                &[431],
                none(),
            ),
            // Row 14: a coding the server does not implement.
            case(
                "row 14: gzip, chunked",
                "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                &[501],
                none(),
            ),
            // HTTP/2.0 in an HTTP/1 request line is not HTTP/1.x.
            case("HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", &[400], none()),
        ],
    );
}

/// RFC 9112 request smuggling: every case is refused outright, or delivers exactly one
/// request with the right body; a request hidden after it is never served. The controls show
/// a pipelined request is served when the framing is sound, so "not served" means something.
#[test]
fn smuggling_suite() {
    let srv = server();
    let none = Vec::new;
    let one_body = |body: &str| vec![json!({"PATH_INFO": "/", "_body": body})];
    run(
        &srv,
        &[
            // Controls.
            case(
                "control: chunked then pipelined",
                format!("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n{HIDDEN}"),
                &[200, 200],
                vec![json!({"_body": "abc"}), json!({"PATH_INFO": "/hidden"})],
            ),
            case(
                "control: Content-Length then pipelined",
                format!("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc{HIDDEN}"),
                &[200, 200],
                vec![json!({"_body": "abc"}), json!({"PATH_INFO": "/hidden"})],
            ),
            // §6.3: Content-Length with Transfer-Encoding.
            case(
                "CL.TE",
                format!("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{HIDDEN}"),
                &[400],
                none(),
            ),
            case(
                "TE.CL",
                format!("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n{HIDDEN}"),
                &[400],
                none(),
            ),
            case(
                "TE with space before the colon",
                format!("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n{HIDDEN}"),
                &[400],
                none(),
            ),
            case(
                "TE not ending in chunked",
                format!("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n{HIDDEN}"),
                &[400],
                none(),
            ),
            case(
                "TE chunked twice",
                format!("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{HIDDEN}"),
                &[400],
                none(),
            ),
            // §6.1, row 5: Transfer-Encoding in HTTP/1.0.
            case(
                "row 5: TE in HTTP/1.0",
                format!("POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n{HIDDEN}"),
                &[400],
                none(),
            ),
            // §2.2, row 6: bare LF.
            case(
                "row 6: bare LF before Content-Length",
                format!("POST / HTTP/1.1\r\nHost: h\r\nX-A: b\nContent-Length: {}\r\n\r\n{HIDDEN}", HIDDEN.len()),
                &[400],
                none(),
            ),
            case(
                "bare LF ending the request line",
                format!("GET / HTTP/1.1\nHost: h\r\n\r\n{HIDDEN}"),
                &[400],
                none(),
            ),
            case(
                "bare CR in a header",
                format!("GET / HTTP/1.1\r\nHost: h\r\nX-A: b\rContent-Length: 5\r\n\r\n{HIDDEN}"),
                &[400],
                none(),
            ),
            // §5.2: obs-fold.
            case(
                "obs-fold",
                format!("POST / HTTP/1.1\r\nHost: h\r\nX-A: b\r\n Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc{HIDDEN}"),
                &[400],
                none(),
            ),
            // §6.3, §8.6: Content-Length values.
            case(
                "duplicate CL, different",
                format!("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc{HIDDEN}"),
                &[400],
                none(),
            ),
            case(
                "duplicate CL, same: one request, one body",
                "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
                &[200],
                vec![json!({"_body": "abc", "CONTENT_LENGTH": "3"})],
            ),
            case(
                "CL list",
                format!("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc{HIDDEN}"),
                &[400],
                none(),
            ),
            case(
                "CL with a sign",
                format!("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc{HIDDEN}"),
                &[400],
                none(),
            ),
            case(
                "NUL in a header value",
                format!("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\0b\r\n\r\n{HIDDEN}"),
                &[400],
                none(),
            ),
            // Well-formed oddities that deliver exactly one request with the right body.
            case(
                "CL with surrounding whitespace",
                "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:  3 \r\nConnection: close\r\n\r\nabc",
                &[200],
                one_body("abc"),
            ),
            case(
                "chunk-ext with quoted value",
                "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3 ; a=\"x;y\\\"z\"\r\nabc\r\n0\r\n\r\n",
                &[200],
                one_body("abc"),
            ),
        ],
    );
}

/// Row 7: chunked grammar (RFC 9112 §7.1). The head is fine, so the app is called; its read of
/// the body fails, no body byte is delivered, the response is an error, and the request hidden
/// after it is never served.
#[test]
fn chunked_grammar_rows() {
    let srv = server();
    for (name, chunked) in [
        ("row 7: chunk size 5 SP", &b"5 \r\nhello\r\n0\r\n\r\n"[..]),
        (
            "row 7: chunk-ext with NUL",
            b"5;a\x00b\r\nhello\r\n0\r\n\r\n",
        ),
        ("row 7: empty chunk-ext", b"5;\r\nhello\r\n0\r\n\r\n"),
        (
            "row 7: chunk-ext value missing",
            b"5;a=\r\nhello\r\n0\r\n\r\n",
        ),
        (
            "row 7: trailer without colon",
            b"5\r\nhello\r\n0\r\nno colon here\r\n\r\n",
        ),
        (
            "row 7: obs-fold in trailers",
            b"5\r\nhello\r\n0\r\nX: a\r\n b\r\n\r\n",
        ),
        ("chunk size with bare LF", b"5\nhello\r\n0\r\n\r\n"),
        ("chunk data without CRLF", b"5\r\nhelloX\r\n0\r\n\r\n"),
        ("chunk size 0x", b"0x5\r\nhello\r\n0\r\n\r\n"),
    ] {
        let mut req = b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        req.extend_from_slice(chunked);
        req.extend_from_slice(HIDDEN.as_bytes());
        let (responses, seen) = exchange(&srv, &req);
        let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
        // One error answer: 400, the client's bad body, not an app failure (row 10).
        assert!(
            statuses == [400],
            "{name}: statuses {statuses:?}\n{}",
            srv.server.log()
        );
        assert_eq!(
            seen.len(),
            1,
            "{name}: exactly one request reaches the app: {seen:?}"
        );
        assert_eq!(seen[0]["PATH_INFO"], "/c", "{name}");
        assert!(
            seen[0]["_body"].is_null(),
            "{name}: no body delivered: {seen:?}"
        );
        assert!(
            seen[0]["_read_error"]
                .as_str()
                .is_some_and(|e| !e.is_empty()),
            "{name}: the read raised: {seen:?}"
        );
    }
}

/// Rows 1, 8 and 15 over the uwsgi protocol (what nginx's `uwsgi_pass` sends): repeated
/// `HTTP_*` vars joined, no fragment in QUERY_STRING, SERVER_SOFTWARE only when nginx sent none.
#[test]
fn environ_rows_over_uwsgi() {
    let srv = server();
    let dump = |extra: &[(&str, &[u8])], query: &str| {
        let r = uwsgi_call(srv.uwsgi, "GET", "/u", query, extra, b"");
        assert_eq!(r.status, 200, "{}", r.text());
        serde_json::from_slice::<Value>(&r.body).expect("JSON")
    };
    let env = dump(
        &[
            ("HTTP_X_DUP", b"a"),
            ("HTTP_COOKIE", b"c=1"),
            ("HTTP_X_FORWARDED_FOR", b"10.0.0.1"),
            ("HTTP_X_DUP", b"b"),
            ("HTTP_COOKIE", b"d=2"),
            ("HTTP_X_FORWARDED_FOR", b"10.0.0.2"),
        ],
        "q=1#frag",
    );
    assert_eq!(env["HTTP_X_DUP"], "a, b");
    assert_eq!(env["HTTP_COOKIE"], "c=1; d=2");
    assert_eq!(env["HTTP_X_FORWARDED_FOR"], "10.0.0.1, 10.0.0.2");
    assert_eq!(env["QUERY_STRING"], "q=1");
    assert_eq!(
        env["SERVER_SOFTWARE"],
        format!("rwsgi/{}", env!("CARGO_PKG_VERSION"))
    );
    let env = dump(&[("SERVER_SOFTWARE", b"nginx/1.26.0")], "");
    assert_eq!(
        env["SERVER_SOFTWARE"], "nginx/1.26.0",
        "nginx's own is kept"
    );
}

/// Rows 1 and 2 through a real framework: what Flask 3.1's own request object (from PyPI,
/// scripts/test-requirements.txt) makes of repeated and underscore header fields.
#[test]
fn flask_sees_joined_fields_and_no_underscore_spoof() {
    let srv = WsgiServer::start(
        &[
            "--wsgi-file".to_string(),
            apps_dir().join("flask_app.py").display().to_string(),
            "--processes".into(),
            "1".into(),
        ],
        1,
    );
    let raw = raw_exchange(
        srv.http,
        b"GET /headers HTTP/1.1\r\nHost: h\r\nX-Dup: a\r\nX-Dup: b\r\nCookie: sid=1\r\n\
          Cookie: theme=dark\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\n\
          X-Auth-User: alice\r\nX_Auth_User: admin\r\nConnection: close\r\n\r\n",
    )
    .expect("exchange");
    let r = parse_response(&raw);
    assert_eq!(r.status, 200, "{}\n{}", r.text(), srv.server.log());
    let got: Value = serde_json::from_slice(&r.body).expect("JSON");
    assert_eq!(
        got,
        json!({
            "x_dup": ["a, b"],
            "x_forwarded_for": "10.0.0.1, 10.0.0.2",
            "x_auth_user": ["alice"],
            "cookies": {"sid": ["1"], "theme": ["dark"]},
            "access_route": ["10.0.0.1", "10.0.0.2"],
        })
    );

    // The same through the uwsgi protocol, as nginx sends repeated fields: repeated vars.
    let r = uwsgi_call(
        srv.uwsgi,
        "GET",
        "/headers",
        "",
        &[
            ("HTTP_HOST", b"h"),
            ("HTTP_X_DUP", b"a"),
            ("HTTP_COOKIE", b"sid=1"),
            ("HTTP_X_DUP", b"b"),
            ("HTTP_COOKIE", b"theme=dark"),
        ],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let got: Value = serde_json::from_slice(&r.body).expect("JSON");
    assert_eq!(got["x_dup"], json!(["a, b"]));
    assert_eq!(got["cookies"], json!({"sid": ["1"], "theme": ["dark"]}));
}
