//! uWSGI's internal routing (`--route*`), from the corpus configs `tests/configs/routing*.ini`
//! in the shapes real configs use: the redirects' statuses and `Location`, `break:` and
//! `return:`, headers added to and dropped from the app's response, `last:` ending the rules,
//! `donotlog:` keeping a request out of the log, `log:` lines; an action rwsgi does not run
//! stops start-up naming it, the file and the line.
use rwsgi_testkit::prelude::*;

use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// rwsgi on `routing.ini`, HTTP and stats on pre-bound ports.
fn start() -> Server {
    let server = Rwsgi::new()
        .http()
        .stats()
        .args(["--ini", &test_config("routing.ini")])
        .start();
    server.wait_http_ready(server.ports.http, 1);
    server
}

fn request(server: &Server, path: &str, headers: &[(&str, &str)]) -> Response {
    try_http(server.ports.http, "GET", path, headers, b"")
        .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", server.log()))
}

/// One raw request with this Host header (the client's own would come first).
fn with_host(server: &Server, host: &str, path: &str) -> Response {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let out = raw_exchange(server.ports.http, raw.as_bytes())
        .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", server.log()));
    parse_response(&out)
}

#[test]
fn redirects_send_uwsgi_statuses_and_locations() {
    let server = start();
    let r = with_host(&server, "www.example.com", "/a/b?c=1");
    assert_eq!(r.status, 301, "{}", server.log());
    assert_eq!(r.header("Location"), Some("https://example.com/a/b?c=1"));
    assert_eq!(r.text(), "Moved Permanently");
    assert_eq!(
        r.header("Content-Type"),
        None,
        "uWSGI sends none with a redirect"
    );
    // No rule after the redirect ran: the app's headers and the later ones are absent.
    assert_eq!(r.header("X-Frame-Options"), None);
    assert_eq!(r.header("X-App"), None);

    let r = request(&server, "/x?y", &[("X-Forwarded-Proto", "http")]);
    assert_eq!(r.status, 301);
    let port = server.ports.http;
    assert_eq!(
        r.header("Location").map(str::to_string),
        Some(format!("https://127.0.0.1:{port}/x?y"))
    );
    // Over https the rule does not match and the app answers.
    let r = request(&server, "/x", &[("X-Forwarded-Proto", "https")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("X-App"), Some("route_app"));

    let r = request(&server, "/old/page/1", &[]);
    assert_eq!(r.status, 302);
    assert_eq!(r.header("Location"), Some("/new/page/1"));
    assert_eq!(r.text(), "Moved");
}

#[test]
fn break_and_return_answer_without_the_app() {
    let server = start();
    let r = request(&server, "/gone/forever", &[]);
    assert_eq!(r.status, 410, "{}", server.log());
    assert_eq!(r.header("Connection"), Some("close"));
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
    assert_eq!(r.header("X-App"), None);
    assert!(r.body.is_empty());

    // break: without a status closes the connection with nothing sent.
    let r = request(&server, "/drop", &[]);
    assert_eq!((r.status, r.headers.len()), (0, 0), "{:?}", r.headers);

    let r = request(&server, "/secret", &[]);
    assert_eq!(r.status, 403);
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
    assert_eq!(r.text(), "Forbidden");

    let r = request(&server, "/", &[("User-Agent", "BadBot/2.1")]);
    assert_eq!(r.status, 403);
    let r = request(&server, "/", &[("User-Agent", "curl/8")]);
    assert_eq!(r.status, 200);
    // The router's responses are logged as requests, and counted as uWSGI's routed_requests.
    server.wait_log(WAIT, |l| {
        l.contains("GET /secret") && l.contains("GET /gone/forever")
    });
    let routed = eventually(WAIT, "routed_requests", || {
        let s = try_stats(server.ports.stats)?;
        match cores_sum(&s, "routed_requests") {
            4 => Ok(s),
            n => Err(format!("{n}: {s}")),
        }
    });
    assert!(sum_workers(&routed, "requests") >= 6, "{routed}");
}

#[test]
fn headers_reach_the_app_response_and_last_ends_the_rules() {
    let server = start();
    let r = request(&server, "/page", &[]);
    assert_eq!(r.status, 200, "{}", server.log());
    assert_eq!(r.header("X-Frame-Options"), Some("DENY"));
    assert_eq!(r.header("X-Chain"), Some("full"));
    assert_eq!(
        r.header("X-App"),
        Some("route_app"),
        "the app's other headers stay"
    );
    assert_eq!(r.header("X-Powered-By"), None, "delheader: dropped it");
    assert!(r.header("Content-Length").is_some(), "the framing stays");
    assert!(r.text().contains("\"path\": \"/page\""), "{}", r.text());

    let r = request(&server, "/static/app.css", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("X-Frame-Options"), Some("DENY"));
    assert_eq!(r.header("X-Chain"), None, "last: stopped before this rule");
}

#[test]
fn goto_and_labels_guard_admin_by_network() {
    let server = start();
    let r = request(&server, "/admin/users", &[]);
    assert_eq!(r.status, 403, "{}", server.log());
    assert_eq!(r.header("X-App"), None);
    let r = request(&server, "/admin/users", &[("X-Real-Ip", "192.168.0.9")]);
    assert_eq!(r.status, 403);
    // From inside, the rules go on after the label: the common headers, then the app.
    let r = request(&server, "/admin/users", &[("X-Real-Ip", "10.2.3.4")]);
    assert_eq!(r.status, 200, "{}", server.log());
    assert_eq!(r.header("X-Frame-Options"), Some("DENY"));
    assert_eq!(r.header("X-App"), Some("route_app"));
    // Other paths jump over the check.
    assert_eq!(request(&server, "/users", &[]).status, 200);
}

#[test]
fn a_redirect_keeps_the_connection_framed() {
    let server = start();
    // Two pipelined requests on one kept-alive connection: the router's response is framed
    // (Content-Length), so the app's answer to the second follows it intact.
    let raw = "GET /old/a HTTP/1.1\r\nHost: h\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    let out = raw_exchange(server.ports.http, raw.as_bytes()).expect("exchange");
    let rs = split_responses(&out);
    assert_eq!(rs.len(), 2, "{}", String::from_utf8_lossy(&out));
    assert_eq!(rs[0].status, 302);
    assert_eq!(rs[0].header("Location"), Some("/new/a"));
    assert_eq!(rs[1].status, 200);
    assert_eq!(rs[1].header("X-Chain"), Some("full"));
}

#[test]
fn donotlog_keeps_health_checks_out_of_the_log_and_log_writes_lines() {
    let server = start();
    for _ in 0..3 {
        assert_eq!(request(&server, "/health", &[]).status, 200);
    }
    request(&server, "/after-health?lang=it", &[]);
    // The same core logs in order: once the later request's line is there, the health
    // checks' lines would be too.
    server.wait_log(WAIT, |l| l.contains("GET /after-health?lang=it"));
    let log = server.log();
    assert!(!log.contains("GET /health"), "{log}");
    assert!(log.contains("routed query it\n"), "{log}");
}

#[test]
fn rules_see_the_vars_nginx_sends_over_uwsgi() {
    let server = Rwsgi::new()
        .uwsgi()
        .args(["--ini", &test_config("routing.ini")])
        .start();
    let port = server.ports.uwsgi;
    wait_uwsgi_ready(&server, port, "/");
    let r = uwsgi_call(
        port,
        "GET",
        "/p",
        "q=1",
        &[("HTTP_HOST", b"www.example.org")],
        b"",
    );
    assert_eq!(r.status, 301, "{}", server.log());
    assert_eq!(r.header("Location"), Some("https://example.org/p?q=1"));
    let r = uwsgi_call(port, "GET", "/p", "", &[("HTTP_HOST", b"example.org")], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("X-Frame-Options"), Some("DENY"));
    assert_eq!(r.header("X-Powered-By"), None);
}

#[test]
fn static_files_get_the_rules_too() {
    let server = start();
    let r = request(&server, "/files/routing.ini", &[]);
    assert_eq!(r.status, 200, "{}", server.log());
    assert!(r.text().starts_with("; Internal routing"), "{}", r.text());
    assert_eq!(r.header("X-Frame-Options"), Some("DENY"));
    assert_eq!(r.header("X-Chain"), Some("full"));
    // A file the rules answer for is never sent.
    let r = request(&server, "/files/secret.txt", &[]);
    assert_eq!(r.status, 403, "{}", server.log());
    assert_eq!(r.text(), "Forbidden");
    assert_eq!(request(&server, "/files/lines.txt", &[]).status, 200);
    request(&server, "/files/routing_refused.ini", &[]);
    server.wait_log(WAIT, |l| l.contains("GET /files/routing_refused.ini"));
    assert!(
        !server.log().contains("GET /files/lines.txt"),
        "{}",
        server.log()
    );
}

#[test]
fn rules_run_once_a_buffered_body_is_in() {
    let server = start();
    let port = server.ports.http;
    // Bodies under and over --post-buffering (memory, then a file): the router still answers,
    // and each request's rules run once (one `log:` line each).
    for (n, size) in [(1, 100), (2, 10_000)] {
        let body = vec![b'x'; size];
        let r = try_http(port, "POST", "/secret", &[], &body).expect("POST");
        assert_eq!(r.status, 403, "{}", server.log());
        assert_eq!(r.text(), "Forbidden");
        let path = format!("/post?lang=body{n}");
        let r = try_http(port, "POST", &path, &[], &body).expect("POST");
        assert_eq!(r.status, 200, "{}", server.log());
        assert_eq!(r.header("X-Chain"), Some("full"));
        server.wait_log(WAIT, |l| l.contains(&format!("POST {path}")));
        let line = format!("routed query body{n}\n");
        assert_eq!(server.log().matches(&line).count(), 1, "{}", server.log());
    }
}

#[test]
fn an_unsupported_action_stops_start_up_naming_it_and_the_line() {
    let ini = test_config("routing_refused.ini");
    let (code, log) = Rwsgi::new().http().args(["--ini", &ini]).run_to_exit(WAIT);
    assert!(matches!(code, Some(c) if c != 0), "{code:?}\n{log}");
    assert!(
        log.contains("route action 'rewrite' is not supported"),
        "{log}"
    );
    assert!(log.contains("routing_refused.ini:6"), "{log}");

    let (code, log) = Rwsgi::new()
        .http()
        .test_app("route_app")
        .args(["--final-route", ".* last:"])
        .run_to_exit(WAIT);
    assert!(matches!(code, Some(c) if c != 0), "{code:?}\n{log}");
    assert!(log.contains("final-route"), "{log}");
    assert!(log.contains("final chain"), "{log}");
}
