//! The seed command line serves the example app.
use rwsgi_testkit::prelude::*;

#[test]
fn seed_command_line_serves_hello_world_over_http_socket() {
    let examples = examples_dir().display().to_string();
    let server = Rwsgi::new()
        .http()
        .stats()
        .args(["--module", "welcome", "--chdir", &examples])
        .master()
        .processes(2)
        .start();
    let Ports {
        http,
        stats: stats_port,
        ..
    } = server.ports;
    server.wait_http_ready(http, 2);
    let r = get(http, "/");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Hello World");
    let s = stats(stats_port);
    assert_eq!(s["workers"].as_array().map(Vec::len), Some(2));
}

#[test]
fn curl_gets_hello_world_from_the_http_socket() {
    let examples = examples_dir().display().to_string();
    let server = Rwsgi::new()
        .http()
        .args(["--module", "welcome", "--chdir", &examples])
        .master()
        .processes(2)
        .start();
    let http = server.ports.http;
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
