//! The seed command line serves the example app.
mod common;
use common::*;

#[test]
fn seed_command_line_serves_hello_world_over_http_socket() {
    let http = free_port();
    let stats_port = free_port();
    let examples = examples_dir();
    let server = Server::start(&[
        "--http-socket".to_string(),
        format!("127.0.0.1:{http}"),
        "--stats".into(),
        format!("127.0.0.1:{stats_port}"),
        "--module".into(),
        "welcome".into(),
        "--chdir".into(),
        examples.display().to_string(),
        "--master".into(),
        "--processes".into(),
        "2".into(),
    ]);
    server.wait_http_ready(http, 2);
    let r = get(http, "/");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Hello World");
    let s = stats(stats_port);
    assert_eq!(s["workers"].as_array().map(Vec::len), Some(2));
}

#[test]
fn curl_gets_hello_world_from_the_http_socket() {
    let http = free_port();
    let server = Server::start(&[
        "--http-socket".to_string(),
        format!("127.0.0.1:{http}"),
        "--module".into(),
        "welcome".into(),
        "--chdir".into(),
        examples_dir().display().to_string(),
        "--master".into(),
        "--processes".into(),
        "2".into(),
    ]);
    server.wait_http_ready(http, 2);
    let out = std::process::Command::new(which("curl"))
        .args([
            "-sS",
            "--max-time",
            "10",
            "-i",
            &format!("http://127.0.0.1:{http}/"),
        ])
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nHello World"), "{text}");
}
