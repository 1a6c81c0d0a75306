//! PEP 3333 environ, over `--http-socket` and over `--socket` (the uwsgi protocol).
use rwsgi_testkit::prelude::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

fn hostname() -> String {
    rwsgi_os::system::hostname()
}

/// The value of a native-str environ key, asserting it is a `str`.
fn s<'a>(env: &'a Value, key: &str) -> &'a str {
    let entry = &env[key];
    assert_eq!(
        entry["type"], "str",
        "environ[{key:?}] must be a native str: {entry}"
    );
    entry["value"].as_str().expect("str value")
}

fn dump_json(r: &Response) -> Value {
    assert_eq!(r.status, 200, "environ dump failed: {}", r.text());
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("dump JSON: {e}: {}", r.text()))
}

/// The keys every environ must carry, whatever the protocol.
fn assert_wsgi_keys(env: &Value) {
    assert_eq!(
        env["wsgi.version"]["type"], "tuple",
        "{}",
        env["wsgi.version"]
    );
    assert_eq!(env["wsgi.version"]["value"], serde_json::json!([1, 0]));
    assert_eq!(env["wsgi.run_once"]["type"], "bool");
    assert_eq!(env["wsgi.run_once"]["value"], false);
    assert_eq!(
        env["_input_methods"],
        serde_json::json!(["read", "readline", "readlines", "__iter__"])
    );
    assert_eq!(
        env["_errors_methods"],
        serde_json::json!(["write", "writelines", "flush"])
    );
    assert!(
        env.get("wsgi.file_wrapper").is_some(),
        "wsgi.file_wrapper missing"
    );
    // Every CGI variable (upper-case key) is a native str.
    for (k, v) in env.as_object().expect("object") {
        if k.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
            assert_eq!(v["type"], "str", "environ[{k:?}] is not a str: {v}");
        }
    }
}

#[test]
fn environ_over_http_socket() {
    let srv = WsgiServer::start(
        &[conformance_app(), vec!["--processes".into(), "2".into()]].concat(),
        2,
    );
    let mut conn = TcpStream::connect(("127.0.0.1", srv.http)).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let client_port = conn.local_addr().unwrap().port();
    let target = "/env/a%20b%2Fc%C3%A9?x=1&y=%20z&errors_marker=ERRMARK-71";
    let mut req = Vec::new();
    req.extend_from_slice(format!("POST {target} HTTP/1.1\r\n").as_bytes());
    req.extend_from_slice(format!("Host: 127.0.0.1:{}\r\n", srv.http).as_bytes());
    req.extend_from_slice(b"Connection: close\r\n");
    req.extend_from_slice(b"Content-Type: text/plain; charset=latin-1\r\n");
    req.extend_from_slice(b"Content-Length: 5\r\n");
    req.extend_from_slice(b"X-Custom-Header: custom value\r\n");
    req.extend_from_slice(b"X-Second: second\r\n");
    req.extend_from_slice(b"Accept: text/html\r\n");
    // A non-ASCII byte: PEP 3333 wants it as the latin-1 character.
    req.extend_from_slice(b"X-Latin: caf\xe9\r\n");
    req.extend_from_slice(b"\r\nhello");
    conn.write_all(&req).unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).unwrap();
    let env = dump_json(&parse_response(&raw));

    assert_eq!(s(&env, "REQUEST_METHOD"), "POST");
    assert_eq!(s(&env, "SCRIPT_NAME"), "");
    // Percent-decoded (%2F included, as uWSGI does), then latin-1: é's UTF-8 bytes are 2 chars.
    assert_eq!(s(&env, "PATH_INFO"), "/env/a b/c\u{c3}\u{a9}");
    assert_eq!(
        s(&env, "QUERY_STRING"),
        "x=1&y=%20z&errors_marker=ERRMARK-71"
    );
    assert_eq!(s(&env, "REQUEST_URI"), target);
    assert_eq!(s(&env, "CONTENT_TYPE"), "text/plain; charset=latin-1");
    assert_eq!(s(&env, "CONTENT_LENGTH"), "5");
    assert!(
        env.get("HTTP_CONTENT_TYPE").is_none(),
        "CONTENT_TYPE doubled"
    );
    assert!(
        env.get("HTTP_CONTENT_LENGTH").is_none(),
        "CONTENT_LENGTH doubled"
    );
    assert_eq!(s(&env, "SERVER_NAME"), hostname());
    assert_eq!(s(&env, "SERVER_PORT"), srv.http.to_string());
    assert_eq!(s(&env, "SERVER_PROTOCOL"), "HTTP/1.1");
    assert_eq!(s(&env, "REMOTE_ADDR"), "127.0.0.1");
    assert_eq!(s(&env, "REMOTE_PORT"), client_port.to_string());
    assert_eq!(s(&env, "HTTP_HOST"), format!("127.0.0.1:{}", srv.http));
    assert_eq!(s(&env, "HTTP_X_CUSTOM_HEADER"), "custom value");
    assert_eq!(s(&env, "HTTP_X_SECOND"), "second");
    assert_eq!(s(&env, "HTTP_ACCEPT"), "text/html");
    assert_eq!(s(&env, "HTTP_X_LATIN"), "caf\u{e9}");
    assert_eq!(s(&env, "wsgi.url_scheme"), "http");
    assert_eq!(env["wsgi.multiprocess"]["value"], true);
    assert_eq!(env["wsgi.multithread"]["value"], false);
    assert_eq!(env["_body"], "hello");
    assert_wsgi_keys(&env);

    // wsgi.errors goes to the server's log.
    srv.server.wait_log(Duration::from_secs(20), |l| {
        l.contains("wsgi.errors says ERRMARK-71")
    });
}

#[test]
fn environ_http_1_0_and_repeated_headers() {
    let srv = WsgiServer::start(&conformance_app(), 1);
    let raw = raw_exchange(
        srv.http,
        b"GET /env HTTP/1.0\r\nX-Multi: one\r\nX-Multi: two\r\n\r\n",
    )
    .expect("exchange");
    let env = dump_json(&parse_response(&raw));
    assert_eq!(s(&env, "SERVER_PROTOCOL"), "HTTP/1.0");
    assert_eq!(s(&env, "REQUEST_METHOD"), "GET");
    assert_eq!(s(&env, "PATH_INFO"), "/env");
    assert_eq!(s(&env, "QUERY_STRING"), "");
    assert!(env.get("CONTENT_LENGTH").is_none_or(|v| v["value"] == ""));
    // A repeated header is one CGI var, the values joined in order (RFC 9110 §5.3, RFC 3875
    // §4.1.18; issue 10 row 1 replaced uWSGI's last-value-wins here).
    assert_eq!(s(&env, "HTTP_X_MULTI"), "one, two");
    // One process, one thread.
    assert_eq!(env["wsgi.multiprocess"]["value"], false);
    assert_eq!(env["wsgi.multithread"]["value"], false);
}

#[test]
fn environ_over_uwsgi_socket() {
    let srv = WsgiServer::start(
        &[
            conformance_app(),
            vec![
                "--processes".into(),
                "1".into(),
                "--threads".into(),
                "2".into(),
            ],
        ]
        .concat(),
        1,
    );
    let r = uwsgi_call(
        srv.uwsgi,
        "PUT",
        "/env/raw path",
        "k=v&w=%41",
        &[
            ("CONTENT_TYPE", b"application/x-test"),
            ("HTTP_HOST", b"example.test"),
            ("HTTP_X_ONE", b"1"),
            ("HTTP_X_TWO", b"2"),
            ("HTTP_X_LATIN", b"\xe9t\xe9"),
            ("REMOTE_PORT", b"40000"),
        ],
        b"uwsgi body",
    );
    let env = dump_json(&r);
    assert_eq!(s(&env, "REQUEST_METHOD"), "PUT");
    assert_eq!(s(&env, "SCRIPT_NAME"), "");
    assert_eq!(s(&env, "PATH_INFO"), "/env/raw path");
    assert_eq!(s(&env, "QUERY_STRING"), "k=v&w=%41");
    assert_eq!(s(&env, "REQUEST_URI"), "/env/raw path?k=v&w=%41");
    assert_eq!(s(&env, "CONTENT_TYPE"), "application/x-test");
    assert_eq!(s(&env, "CONTENT_LENGTH"), "10");
    assert_eq!(s(&env, "SERVER_NAME"), "uwsgi-test-server");
    assert_eq!(s(&env, "SERVER_PORT"), "8080");
    assert_eq!(s(&env, "SERVER_PROTOCOL"), "HTTP/1.1");
    assert_eq!(s(&env, "REMOTE_ADDR"), "127.0.0.1");
    assert_eq!(s(&env, "HTTP_HOST"), "example.test");
    assert_eq!(s(&env, "HTTP_X_ONE"), "1");
    assert_eq!(s(&env, "HTTP_X_TWO"), "2");
    assert_eq!(s(&env, "HTTP_X_LATIN"), "\u{e9}t\u{e9}");
    assert_eq!(s(&env, "wsgi.url_scheme"), "http");
    assert_eq!(env["_body"], "uwsgi body");
    assert_eq!(env["wsgi.multithread"]["value"], true);
    assert_eq!(env["wsgi.multiprocess"]["value"], false);
    assert_wsgi_keys(&env);

    // HTTPS=on (nginx's `uwsgi_param HTTPS on`) and UWSGI_SCHEME both make the scheme https.
    for var in [("HTTPS", &b"on"[..]), ("UWSGI_SCHEME", &b"https"[..])] {
        let env = dump_json(&uwsgi_call(srv.uwsgi, "GET", "/env", "", &[var], b""));
        assert_eq!(s(&env, "wsgi.url_scheme"), "https", "with {var:?}");
        assert_eq!(s(&env, "REQUEST_METHOD"), "GET");
    }
    let env = dump_json(&uwsgi_call(
        srv.uwsgi,
        "GET",
        "/env",
        "",
        &[("HTTPS", b"off")],
        b"",
    ));
    assert_eq!(s(&env, "wsgi.url_scheme"), "http", "HTTPS=off");
    // As uWSGI: an explicit UWSGI_SCHEME wins over HTTPS.
    let env = dump_json(&uwsgi_call(
        srv.uwsgi,
        "GET",
        "/env",
        "",
        &[("HTTPS", b"on"), ("UWSGI_SCHEME", b"http")],
        b"",
    ));
    assert_eq!(
        s(&env, "wsgi.url_scheme"),
        "http",
        "UWSGI_SCHEME=http, HTTPS=on"
    );
}

#[test]
fn environ_multithread_and_multiprocess_together() {
    let srv = WsgiServer::start(
        &[
            conformance_app(),
            vec![
                "--processes".into(),
                "2".into(),
                "--threads".into(),
                "2".into(),
            ],
        ]
        .concat(),
        2,
    );
    let env = dump_json(&get(srv.http, "/env"));
    assert_eq!(env["wsgi.multithread"]["value"], true);
    assert_eq!(env["wsgi.multiprocess"]["value"], true);
    assert_eq!(env["wsgi.run_once"]["value"], false);
}
