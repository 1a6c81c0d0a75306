//! Static files before the app (`--static-map`, `--static-map2`, `--check-static` and their
//! companions), as uWSGI serves them; and the traversal suite: no attempt ever gets a byte of
//! a file outside the mapped directories.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rwsgi_proto::static_file::{http_date, parse_http_date};
use rwsgi_testkit::prelude::*;

/// The secret a traversal would leak: it must never appear in any response.
const SECRET: &str = "TOP-SECRET-do-not-serve-7f3a";
/// What the test app answers for any path it has no route for.
const APP: &str = "srv ok";

/// A site: `static/` (served), `static-private/secret.txt` (a sibling, never served),
/// `other/`, and a custom mime file.
struct Site {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Site {
    fn new() -> Site {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(tmp.path()).expect("real tempdir");
        let site = Site { _tmp: tmp, root };
        site.write("static/app.css", b"body { color: red }\n");
        site.write("static/data.bin", &pattern(1000));
        site.write("static/sub/index.html", b"<h1>index</h1>");
        std::fs::create_dir_all(site.path("static/noindex")).unwrap();
        site.write("static-private/secret.txt", SECRET.as_bytes());
        site.write("other/app.css", b"other css");
        site.write(
            "mime.types",
            b"text/x-rwsgi-css css\napplication/x-rwsgi-bin bin\n",
        );
        site
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn dir(&self, rel: &str) -> String {
        self.path(rel).display().to_string()
    }

    fn write(&self, rel: &str, bytes: &[u8]) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    /// rwsgi (1 process) with `args` (and `--mimefile` of this site unless they name one).
    fn serve(&self, args: &[String]) -> Server {
        let mut rwsgi = Rwsgi::new()
            .http()
            .uwsgi()
            .stats()
            .test_app("srv_app")
            .master()
            .processes(1);
        if !args.iter().any(|a| a == "--mimefile") {
            rwsgi = rwsgi.args(["--mimefile".to_string(), self.dir("mime.types")]);
        }
        let server = rwsgi.args(args).start();
        wait_workers_ready(&server, server.ports.stats, 1);
        server
    }
}

/// Deterministic, position-dependent bytes (a misplaced range shows).
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

fn map(prefix: &str, dir: &str) -> Vec<String> {
    vec!["--static-map".into(), format!("{prefix}={dir}")]
}

fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    try_http(port, method, path, headers, b"").expect("HTTP request")
}

fn date_of(path: &Path) -> String {
    let mtime = std::fs::metadata(path).unwrap().mtime();
    let mut out = Vec::new();
    http_date(mtime, &mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn a_mapped_file_is_served_with_its_type_length_and_last_modified() {
    let site = Site::new();
    let server = site.serve(&map("/static", &site.dir("static")));
    let port = server.ports.http;
    let r = http(port, "GET", "/static/app.css", &[]);
    assert_eq!(r.status, 200, "{}", server.log());
    assert_eq!(r.text(), "body { color: red }\n");
    assert_eq!(
        r.header("content-type"),
        Some("text/x-rwsgi-css"),
        "from --mimefile"
    );
    assert_eq!(r.header("content-length"), Some("20"));
    assert_eq!(
        r.header("last-modified").map(str::to_string),
        Some(date_of(&site.path("static/app.css")))
    );
    // Not under the prefix: the app.
    assert_eq!(http(port, "GET", "/app.css", &[]).text(), APP);
    // The request is logged like any other.
    server.wait_log(Duration::from_secs(10), |l| {
        l.contains("GET /static/app.css => generated") && l.contains("(HTTP/1.1 200)")
    });
}

#[test]
fn missing_files_directories_without_index_and_other_methods_go_to_the_app() {
    let site = Site::new();
    let mut args = map("/static", &site.dir("static"));
    args.extend(["--static-index".into(), "index.html".into()]);
    let server = site.serve(&args);
    let port = server.ports.http;
    assert_eq!(http(port, "GET", "/static/nope.css", &[]).text(), APP);
    assert_eq!(http(port, "GET", "/static/noindex/", &[]).text(), APP);
    assert_eq!(http(port, "GET", "/static/noindex", &[]).text(), APP);
    let post = try_http(port, "POST", "/static/app.css", &[], b"x=1").unwrap();
    assert_eq!(post.text(), APP, "only GET and HEAD are served");
    let index = http(port, "GET", "/static/sub/", &[]);
    assert_eq!(
        (index.status, index.text().as_str()),
        (200, "<h1>index</h1>")
    );
    assert_eq!(
        http(port, "GET", "/static/sub", &[]).text(),
        "<h1>index</h1>"
    );
}

/// A FIFO in a mapped directory is not a file to send: the request goes to the app, and the
/// one-core server is not left waiting for a writer that never comes.
#[test]
fn a_fifo_in_a_mapped_directory_goes_to_the_app_without_blocking_the_core() {
    let site = Site::new();
    let fifo = site.path("static/pipe");
    let status = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(status.success());
    let server = site.serve(&map("/static", &site.dir("static")));
    let port = server.ports.http;
    assert_eq!(http(port, "GET", "/static/pipe", &[]).text(), APP);
    assert_eq!(
        http(port, "GET", "/static/app.css", &[]).text(),
        "body { color: red }\n"
    );
}

#[test]
fn the_longest_prefix_wins_and_equal_prefixes_are_tried_in_order() {
    let site = Site::new();
    site.write("img/logo.png", b"PNG");
    site.write("static2/only-here.txt", b"second dir");
    let mut args = map("/static", &site.dir("static"));
    args.extend(map("/static", &site.dir("static2")));
    args.extend(map("/static/img", &site.dir("img")));
    let server = site.serve(&args);
    let port = server.ports.http;
    assert_eq!(http(port, "GET", "/static/img/logo.png", &[]).text(), "PNG");
    assert_eq!(
        http(port, "GET", "/static/app.css", &[]).text(),
        "body { color: red }\n"
    );
    assert_eq!(
        http(port, "GET", "/static/only-here.txt", &[]).text(),
        "second dir"
    );
}

#[test]
fn static_map2_appends_the_whole_path_and_check_static_serves_from_a_docroot() {
    let site = Site::new();
    site.write("root2/assets/a.txt", b"whole uri");
    site.write("docroot/robots.txt", b"User-agent: *");
    let args = vec![
        "--static-map2".into(),
        format!("/assets={}", site.dir("root2")),
        "--check-static".into(),
        site.dir("docroot"),
    ];
    let server = site.serve(&args);
    let port = server.ports.http;
    assert_eq!(http(port, "GET", "/assets/a.txt", &[]).text(), "whole uri");
    assert_eq!(
        http(port, "GET", "/robots.txt", &[]).text(),
        "User-agent: *"
    );
    assert_eq!(http(port, "GET", "/nothing.txt", &[]).text(), APP);
}

#[test]
fn a_single_file_can_be_mapped() {
    let site = Site::new();
    site.write("favicon.ico", b"ICO");
    let server = site.serve(&map("/favicon.ico", &site.dir("favicon.ico")));
    let r = http(server.ports.http, "GET", "/favicon.ico", &[]);
    assert_eq!((r.status, r.text().as_str()), (200, "ICO"));
}

#[test]
fn if_modified_since_answers_304_and_head_sends_no_body() {
    let site = Site::new();
    let server = site.serve(&map("/static", &site.dir("static")));
    let port = server.ports.http;
    let lm = date_of(&site.path("static/app.css"));
    let r = http(
        port,
        "GET",
        "/static/app.css",
        &[("If-Modified-Since", &lm)],
    );
    assert_eq!((r.status, r.body.len()), (304, 0));
    let old = "Mon, 01 Jan 2001 00:00:00 GMT";
    let r = http(
        port,
        "GET",
        "/static/app.css",
        &[("If-Modified-Since", old)],
    );
    assert_eq!(r.status, 200);
    let r = http(
        port,
        "GET",
        "/static/app.css",
        &[("If-Modified-Since", "garbage")],
    );
    assert_eq!(r.status, 200, "an unreadable date is ignored");

    // HEAD: the GET's headers, no body (the strict client checks nothing follows).
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"HEAD /static/app.css HTTP/1.1\r\nHost: x\r\n\r\nGET /static/app.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw);
    let (head_resp, rest) = text.split_at(text.find("\r\n\r\n").unwrap() + 4);
    assert!(head_resp.contains("Content-Length: 20"), "{head_resp}");
    assert!(
        rest.starts_with("HTTP/1.1 200 OK"),
        "the HEAD carried no body: {rest}"
    );
    assert!(rest.ends_with("body { color: red }\n"));
}

#[test]
fn byte_ranges_send_exactly_the_requested_bytes_and_keep_the_connection_in_step() {
    let site = Site::new();
    let server = site.serve(&map("/static", &site.dir("static")));
    let port = server.ports.http;
    let data = pattern(1000);
    let r = http(port, "GET", "/static/data.bin", &[("Range", "bytes=10-19")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &data[10..20]);
    assert_eq!(r.header("content-range"), Some("bytes 10-19/1000"));
    assert_eq!(r.header("content-length"), Some("10"));
    let r = http(port, "GET", "/static/data.bin", &[("Range", "bytes=-5")]);
    assert_eq!((r.status, &r.body[..]), (206, &data[995..]));
    let r = http(port, "GET", "/static/data.bin", &[("Range", "bytes=990-")]);
    assert_eq!((r.status, &r.body[..]), (206, &data[990..]));
    let r = http(port, "GET", "/static/data.bin", &[("Range", "bytes=1000-")]);
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */1000"));
    assert!(r.body.is_empty());
    let r = http(
        port,
        "GET",
        "/static/data.bin",
        &[("Range", "bytes=0-1,5-6")],
    );
    assert_eq!(
        (r.status, r.body.len()),
        (200, 1000),
        "several ranges: the whole file"
    );

    // Keep-alive: a range, an unsatisfiable range and a whole file on one connection, each
    // framed exactly (uWSGI 2.0.31 with offload threads sends the rest of the file here).
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        b"GET /static/data.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\n\r\n\
          GET /static/data.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=5000-\r\n\r\n\
          GET /static/data.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let rs = split_responses(&raw);
    let got: Vec<(u16, usize)> = rs.iter().map(|r| (r.status, r.body.len())).collect();
    assert_eq!(got, [(206, 10), (416, 0), (200, 1000)]);
    assert_eq!(rs[0].body, &data[..10]);
    assert_eq!(rs[2].body, data);
}

#[test]
fn skip_ext_and_expires_options() {
    let site = Site::new();
    site.write("static/settings.py", b"SECRET_KEY = 1");
    let mut args = map("/static", &site.dir("static"));
    args.extend([
        "--static-skip-ext".into(),
        ".py".into(),
        "--static-expires-type-mtime".into(),
        "text/x-rwsgi-css=3600".into(),
        "--static-expires-uri".into(),
        r"\.bin$=600".into(),
        "--static-expires".into(),
        r"/sub/index\.html$=120".into(),
    ]);
    let server = site.serve(&args);
    let port = server.ports.http;
    assert_eq!(http(port, "GET", "/static/settings.py", &[]).text(), APP);

    let css = http(port, "GET", "/static/app.css", &[]);
    let mtime = std::fs::metadata(site.path("static/app.css"))
        .unwrap()
        .mtime();
    let expires = parse_http_date(css.header("expires").expect("Expires").as_bytes());
    assert_eq!(expires, Some(mtime + 3600), "type rule, from the mtime");

    let before = unix_now();
    let bin = http(port, "GET", "/static/data.bin", &[]);
    let after = unix_now();
    let expires = parse_http_date(bin.header("expires").expect("Expires").as_bytes()).unwrap();
    assert!(
        (before + 600..=after + 600).contains(&expires),
        "uri rule, from the request: {expires} not in {before}+600..={after}+600"
    );

    let before = unix_now();
    let index = http(port, "GET", "/static/sub/index.html", &[]);
    let after = unix_now();
    let expires = parse_http_date(index.header("expires").expect("Expires").as_bytes()).unwrap();
    assert!((before + 120..=after + 120).contains(&expires), "path rule");
    assert_eq!(
        http(port, "GET", "/static/noindex/", &[]).header("expires"),
        None
    );
}

#[test]
fn gzip_all_and_gzip_dir_pick_the_precompressed_file() {
    let site = Site::new();
    site.write("static/a.css.gz", b"gz css");
    site.write("other/app.css.gz", b"gz other");
    let mut args = map("/static", &site.dir("static"));
    args.extend(map("/other", &site.dir("other")));
    args.extend(["--static-gzip-dir".into(), site.dir("other")]);
    let server = site.serve(&args);
    let gz = [("Accept-Encoding", "gzip")];
    let port = server.ports.http;
    assert_eq!(http(port, "GET", "/other/app.css", &gz).text(), "gz other");
    site.write("static/app.css.gz", b"gz static");
    assert_eq!(
        http(port, "GET", "/static/app.css", &gz).text(),
        "body { color: red }\n",
        "not under a --static-gzip-dir"
    );
    drop(server);
    let mut args = map("/static", &site.dir("static"));
    args.push("--static-gzip-all".into());
    let server = site.serve(&args);
    let r = http(server.ports.http, "GET", "/static/app.css", &gz);
    assert_eq!(
        (r.text().as_str(), r.header("content-encoding")),
        ("gz static", Some("gzip"))
    );
    assert_eq!(
        r.header("content-type"),
        Some("text/x-rwsgi-css"),
        "the original's type"
    );
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn precompressed_variants_are_served_when_accepted_brotli_first() {
    let site = Site::new();
    site.write("static/app.js", b"plain js");
    site.write("static/app.js.gz", b"gzip bytes");
    site.write("static/app.js.br", b"brotli bytes");
    site.write("static/only-gz.js", b"plain");
    site.write("static/only-gz.js.gz", b"gz only");
    let mut args = map("/static", &site.dir("static"));
    args.extend(["--static-gzip-ext".into(), ".js".into()]);
    // No readable mime file: the built-in table.
    args.extend(["--mimefile".into(), "/nonexistent/mime.types".into()]);
    let server = site.serve(&args);
    let port = server.ports.http;
    let r = http(
        port,
        "GET",
        "/static/app.js",
        &[("Accept-Encoding", "gzip, br")],
    );
    assert_eq!(r.text(), "brotli bytes");
    assert_eq!(r.header("content-encoding"), Some("br"));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert_eq!(r.header("content-type"), Some("application/javascript"));
    let r = http(
        port,
        "GET",
        "/static/app.js",
        &[("Accept-Encoding", "gzip")],
    );
    assert_eq!(
        (r.text().as_str(), r.header("content-encoding")),
        ("gzip bytes", Some("gzip"))
    );
    let r = http(
        port,
        "GET",
        "/static/only-gz.js",
        &[("Accept-Encoding", "br, gzip")],
    );
    assert_eq!(r.text(), "gz only");
    let r = http(port, "GET", "/static/app.js", &[]);
    assert_eq!(
        (r.text().as_str(), r.header("content-encoding")),
        ("plain js", None)
    );
    let r = http(
        port,
        "GET",
        "/static/app.js",
        &[("Accept-Encoding", "gzip;q=0")],
    );
    assert_eq!(r.text(), "plain js");
}

#[test]
fn file_serve_mode_x_accel_redirect_names_the_file_for_the_front_server() {
    let site = Site::new();
    let mut args = map("/static", &site.dir("static"));
    args.extend(["--file-serve-mode".into(), "x-accel-redirect".into()]);
    let server = site.serve(&args);
    let r = http(server.ports.http, "GET", "/static/app.css", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("x-accel-redirect").map(PathBuf::from),
        Some(site.path("static/app.css"))
    );
    assert!(r.body.is_empty());
}

#[test]
fn traversal_attempts_never_get_a_byte_outside_the_mapped_directory() {
    let site = Site::new();
    symlink(site.path("static-private"), site.path("static/link-out")).unwrap();
    symlink(
        site.path("static-private/secret.txt"),
        site.path("static/secret-link.txt"),
    )
    .unwrap();
    let server = site.serve(&map("/static", &site.dir("static")));
    let port = server.ports.http;
    let attempts = [
        "/static/../static-private/secret.txt",
        "/static/%2e%2e/static-private/secret.txt",
        "/static/%2E%2E/static-private/secret.txt",
        "/static/..%2fstatic-private/secret.txt",
        "/static/%2e%2e%2fstatic-private%2fsecret.txt",
        "/static/.%2e/static-private/secret.txt",
        "/static//../static-private/secret.txt",
        "/static/./../static-private/secret.txt",
        "/static/sub/../../static-private/secret.txt",
        "/static/..//..//static-private/secret.txt",
        "/static%2f..%2fstatic-private/secret.txt",
        "/static/../static-private/secret.txt%00.css",
        "/static/secret.txt%00",
        "/static/%00../static-private/secret.txt",
        "/static/link-out/secret.txt",
        "/static/secret-link.txt",
        "/static-private/secret.txt",
        "/static/%252e%252e/static-private/secret.txt",
        "/static/....//static-private/secret.txt",
        "/static/\\..\\static-private\\secret.txt",
    ];
    for path in attempts {
        let raw = raw_exchange(
            port,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .expect("exchange");
        let text = String::from_utf8_lossy(&raw);
        assert!(!text.contains(SECRET), "{path} leaked the secret:\n{text}");
        let r = parse_response(&raw);
        assert!(
            r.text() == APP || (400..500).contains(&r.status),
            "{path}: neither the app nor refused: {} {}",
            r.status,
            r.text()
        );
    }
    // The same over keep-alive, pipelined, in case state leaks between requests.
    let mut pipelined = Vec::new();
    for path in attempts {
        pipelined.extend_from_slice(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    }
    pipelined
        .extend_from_slice(b"GET /static/app.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let raw = raw_exchange(port, &pipelined).expect("pipelined exchange");
    assert!(!String::from_utf8_lossy(&raw).contains(SECRET));
    assert_eq!(split_responses(&raw).len(), attempts.len() + 1);
    server.wait_log(Duration::from_secs(10), |l| {
        l.contains("[uwsgi-fileserve] security error") && l.contains("secret.txt")
    });
}

#[test]
fn static_safe_lets_symlinks_point_into_an_allowed_directory() {
    let site = Site::new();
    site.write("shared/lib.js", b"shared lib");
    symlink(site.path("shared"), site.path("static/shared")).unwrap();
    symlink(site.path("static-private"), site.path("static/private")).unwrap();
    let mut args = map("/static", &site.dir("static"));
    args.extend(["--static-safe".into(), site.dir("shared")]);
    let server = site.serve(&args);
    let port = server.ports.http;
    assert_eq!(
        http(port, "GET", "/static/shared/lib.js", &[]).text(),
        "shared lib"
    );
    let r = http(port, "GET", "/static/private/secret.txt", &[]);
    assert_eq!(
        r.text(),
        APP,
        "a symlink out of DIR and the safe dirs is not followed"
    );
}

#[test]
fn stats_count_static_requests_and_their_bytes() {
    let site = Site::new();
    site.write("static/big.bin", &pattern(3 << 20));
    let server = site.serve(&map("/static", &site.dir("static")));
    let port = server.ports.http;
    for _ in 0..3 {
        assert_eq!(http(port, "GET", "/static/app.css", &[]).status, 200);
    }
    let big = http(port, "GET", "/static/big.bin", &[]);
    assert_eq!(big.body.len(), 3 << 20);
    assert_eq!(http(port, "GET", "/", &[]).text(), APP);
    let s = wait_stats(
        &server,
        server.ports.stats,
        Duration::from_secs(10),
        "5 requests",
        |s| sum_workers(s, "requests") == 5,
    );
    assert_eq!(cores_sum(&s, "static_requests"), 4);
    assert!(
        sum_workers(&s, "tx") >= (3 << 20) + 60,
        "tx counts static bytes: {s}"
    );
}

/// A 1-process, 1-core server: one client reads a 50 MiB file slowly (then not at all for a
/// while), and other requests are answered meanwhile; the slow client still gets every byte.
#[test]
fn a_slow_reader_of_a_large_file_does_not_block_the_server() {
    const SIZE: usize = 50 << 20;
    let site = Site::new();
    site.write("static/huge.bin", &pattern(SIZE));
    let server = site.serve(&map("/static", &site.dir("static")));
    let port = server.ports.http;
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    slow.write_all(b"GET /static/huge.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut first = vec![0u8; 64 * 1024];
    slow.read_exact(&mut first).unwrap();
    // The slow client now reads nothing; the core must still answer everyone else.
    for _ in 0..20 {
        assert_eq!(http(port, "GET", "/", &[]).text(), APP);
        assert_eq!(http(port, "GET", "/static/app.css", &[]).status, 200);
    }
    let s = try_stats(server.ports.stats).unwrap();
    assert!(cores_sum(&s, "offloaded_requests") >= 1, "{s}");
    let mut rest = Vec::with_capacity(SIZE + 1024);
    slow.read_to_end(&mut rest).unwrap();
    first.extend_from_slice(&rest);
    let r = parse_response(&first);
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), SIZE);
    assert!(r.body == pattern(SIZE), "every byte, in order");
}

#[test]
fn files_are_served_over_the_uwsgi_protocol_too() {
    let site = Site::new();
    let server = site.serve(&map("/static", &site.dir("static")));
    let r = uwsgi_call(server.ports.uwsgi, "GET", "/static/app.css", "", &[], b"");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "body { color: red }\n")
    );
    assert_eq!(r.header("content-type"), Some("text/x-rwsgi-css"));
    let range: &[u8] = b"bytes=1-3";
    let r = uwsgi_call(
        server.ports.uwsgi,
        "GET",
        "/static/data.bin",
        "",
        &[("HTTP_RANGE", range)],
        b"",
    );
    assert_eq!((r.status, &r.body[..]), (206, &pattern(1000)[1..4]));
    let r = uwsgi_call(
        server.ports.uwsgi,
        "GET",
        "/static/../static-private/secret.txt",
        "",
        &[],
        b"",
    );
    assert_eq!(r.text(), APP);
}

/// A real uWSGI 2.0.31, stopped with SIGINT by pid when dropped.
struct Uwsgi {
    child: std::process::Child,
}

impl Drop for Uwsgi {
    fn drop(&mut self) {
        stop_child(&mut self.child, libc::SIGINT);
    }
}

/// The reference: uWSGI falls through to the app for a missing file and a directory without
/// index as rwsgi does, but compares real paths as strings, so `%2e%2e` reaches a sibling
/// directory whose name starts with the mapped one's. rwsgi answers that with the app.
#[test]
fn uwsgi_2_0_31_agrees_on_fall_through_and_leaks_the_sibling_that_rwsgi_protects() {
    let site = Site::new();
    let args = map("/static", &site.dir("static"));
    let server = site.serve(&args);
    let port = free_port();
    let log = std::fs::File::create(site.path("uwsgi.log")).expect("log");
    let child = Command::new(which("uwsgi"))
        .args([
            "--http-socket",
            &format!("127.0.0.1:{port}"),
            "--master",
            "--processes",
            "1",
        ])
        .args([
            "--module",
            "srv_app",
            "--chdir",
            &apps_dir().display().to_string(),
        ])
        .args(["--mimefile", &site.dir("mime.types")])
        .args(&args)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup"))
        .stderr(log)
        .spawn()
        .expect("spawn uwsgi");
    let _uwsgi = Uwsgi { child };
    eventually(Duration::from_secs(30), "uWSGI answering", || {
        try_http(port, "GET", "/", &[], b"")
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    for path in ["/static/app.css", "/static/nope.css", "/static/noindex/"] {
        let (ours, theirs) = (
            http(server.ports.http, "GET", path, &[]),
            http(port, "GET", path, &[]),
        );
        assert_eq!(
            (ours.status, ours.text()),
            (theirs.status, theirs.text()),
            "{path}"
        );
    }
    let sibling = "/static/%2e%2e/static-private/secret.txt";
    assert_eq!(
        http(port, "GET", sibling, &[]).text(),
        SECRET,
        "uWSGI 2.0.31's known leak"
    );
    assert_eq!(http(server.ports.http, "GET", sibling, &[]).text(), APP);
}

/// `wsgi.file_wrapper` over a regular file goes out with sendfile(2): the length is known, so
/// it is announced (no chunking), the app's read position is respected, and a file-like
/// object without a descriptor is still read in blocks.
#[test]
fn file_wrapper_responses_use_sendfile_from_the_apps_position() {
    let srv = WsgiServer::start(&conformance_app(), 1);
    let data = pattern(200_000);
    std::fs::write(srv.dir().join("payload.bin"), &data).unwrap();
    let r = get(srv.http, "/file_wrapper?name=payload.bin");
    assert_eq!(r.header("content-length"), Some("200000"));
    assert_eq!(r.header("transfer-encoding"), None);
    assert!(r.body == data);
    let r = get(srv.http, "/file_wrapper_offset?name=payload.bin&skip=1000");
    assert_eq!(r.header("content-length"), Some("199000"));
    assert!(r.body == data[1000..]);
    let r = http(srv.http, "HEAD", "/file_wrapper?name=payload.bin", &[]);
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(get(srv.http, "/file_wrapper_bytesio").text(), "from memory");
    // Keep-alive stays in step after a sendfile body.
    let mut s = TcpStream::connect(("127.0.0.1", srv.http)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        b"GET /file_wrapper_offset?name=payload.bin&skip=199990 HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /file_wrapper_bytesio HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let rs = split_responses(&raw);
    assert_eq!(rs.len(), 2);
    assert_eq!(rs[0].body, &data[199_990..]);
    assert_eq!(rs[1].text(), "from memory");
}

#[test]
fn static_requests_count_toward_max_requests() {
    let site = Site::new();
    let mut args = map("/static", &site.dir("static"));
    args.extend(["--max-requests".into(), "3".into()]);
    let server = site.serve(&args);
    for _ in 0..3 {
        assert_eq!(
            http(server.ports.http, "GET", "/static/app.css", &[]).status,
            200
        );
    }
    server.wait_log(Duration::from_secs(10), |l| {
        l.contains("max requests reached: 3")
    });
}
