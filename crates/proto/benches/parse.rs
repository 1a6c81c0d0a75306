//! Hot-path parse benchmarks: a typical nginx uwsgi packet and a typical
//! curl / wrk HTTP/1.1 request head.

// criterion_group! generates the undocumented entry point.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rwsgi_proto::http::{self, ChunkedDecoder};
use rwsgi_proto::httparse::EMPTY_HEADER;
use rwsgi_proto::uwsgi;

/// What nginx sends with the stock `uwsgi_params` for a browser-ish GET.
fn nginx_packet() -> Vec<u8> {
    let vars: &[(&[u8], &[u8])] = &[
        (b"QUERY_STRING", b"page=2&sort=desc"),
        (b"REQUEST_METHOD", b"GET"),
        (b"CONTENT_TYPE", b""),
        (b"CONTENT_LENGTH", b""),
        (b"REQUEST_URI", b"/api/items?page=2&sort=desc"),
        (b"PATH_INFO", b"/api/items"),
        (b"DOCUMENT_ROOT", b"/usr/share/nginx/html"),
        (b"SERVER_PROTOCOL", b"HTTP/1.1"),
        (b"REQUEST_SCHEME", b"http"),
        (b"REMOTE_ADDR", b"127.0.0.1"),
        (b"REMOTE_PORT", b"53422"),
        (b"SERVER_PORT", b"80"),
        (b"SERVER_NAME", b"localhost"),
        (b"HTTP_HOST", b"localhost"),
        (
            b"HTTP_USER_AGENT",
            b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        ),
        (
            b"HTTP_ACCEPT",
            b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        ),
        (b"HTTP_ACCEPT_LANGUAGE", b"en-US,en;q=0.5"),
        (b"HTTP_ACCEPT_ENCODING", b"gzip, deflate, br"),
        (b"HTTP_CONNECTION", b"keep-alive"),
    ];
    let mut pkt = Vec::new();
    uwsgi::encode_packet(0, 0, vars, &mut pkt).expect("fits in u16");
    pkt
}

const CURL_HEAD: &[u8] =
    b"GET /api/items?page=2&sort=desc HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";

const WRK_HEAD: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

fn bench(c: &mut Criterion) {
    let pkt = nginx_packet();
    let mut g = c.benchmark_group("uwsgi");
    g.throughput(Throughput::Bytes(pkt.len() as u64));
    g.bench_function("parse_head_nginx", |b| {
        b.iter(|| uwsgi::parse_head(black_box(&pkt), 4096).map(|h| h.map(|h| h.head_len)))
    });
    g.bench_function("parse_head_and_iterate", |b| {
        b.iter(|| {
            let head = uwsgi::parse_head(black_box(&pkt), 4096)
                .ok()
                .flatten()
                .expect("valid");
            head.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("http");
    for (name, head) in [("curl", CURL_HEAD), ("wrk", WRK_HEAD)] {
        g.throughput(Throughput::Bytes(head.len() as u64));
        g.bench_function(format!("parse_head_{name}"), |b| {
            b.iter(|| {
                let mut hdrs = [EMPTY_HEADER; 32];
                http::parse_head(black_box(head), &mut hdrs, 4096).map(|h| h.map(|h| h.head_len))
            })
        });
    }
    g.throughput(Throughput::Bytes(CURL_HEAD.len() as u64));
    g.bench_function("curl_head_to_environ_keys", |b| {
        let mut out = Vec::with_capacity(256);
        b.iter(|| {
            let mut hdrs = [EMPTY_HEADER; 32];
            let head = http::parse_head(black_box(CURL_HEAD), &mut hdrs, 4096)
                .ok()
                .flatten()
                .expect("valid");
            out.clear();
            http::percent_decode(head.path.as_bytes(), &mut out);
            for h in head.headers {
                http::header_to_cgi(h.name.as_bytes(), &mut out);
            }
            out.len()
        })
    });
    let mut body = Vec::new();
    for _ in 0..16 {
        http::write_chunk(&[b'x'; 4096], &mut body);
    }
    body.extend_from_slice(http::LAST_CHUNK);
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("chunked_decode_64k", |b| {
        let mut out = Vec::with_capacity(70_000);
        b.iter(|| {
            out.clear();
            ChunkedDecoder::new().decode(black_box(&body), &mut out)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
