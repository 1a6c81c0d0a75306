-- Loaded into every wrk run by bench.py.
--
-- BENCH_POST_BYTES=N (environment): send POST requests with an N-byte body (wrk adds the
-- Content-Length header) instead of GETs.
-- done(): prints one line "BENCH_JSON {...}" with the run's counts, errors and latency
-- percentiles (microseconds), which bench.py parses instead of wrk's human-readable text.

local post_bytes = tonumber(os.getenv("BENCH_POST_BYTES") or "")
if post_bytes and post_bytes > 0 then
  wrk.method = "POST"
  wrk.body = string.rep("x", post_bytes)
  wrk.headers["Content-Type"] = "application/octet-stream"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
