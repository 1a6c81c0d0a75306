"""OpenTelemetry set up the way its documentation says for uWSGI: the tracer provider and its
BatchSpanProcessor (a background export thread) in a @postfork function, so each worker has a
live exporter thread. Spans are exported to $UMOD_DIR/spans-<pid> as JSON lines."""

import json
import os
import threading
import time

import uwsgi
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from uwsgidecorators import postfork

DIR = os.environ["UMOD_DIR"]


class FileExporter(SpanExporter):
    def export(self, spans):
        with open(os.path.join(DIR, "spans-%d" % os.getpid()), "a") as f:
            for span in spans:
                f.write(
                    json.dumps(
                        {
                            "name": span.name,
                            "worker_id": span.attributes.get("worker_id"),
                            "exported_by_pid": os.getpid(),
                            "exported_in_thread": threading.current_thread().name,
                        }
                    )
                    + "\n"
                )
        return SpanExportResult.SUCCESS

    def shutdown(self):
        pass


@postfork
def init_tracing():
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(FileExporter(), schedule_delay_millis=50))
    trace.set_tracer_provider(provider)


def application(environ, start_response):
    tracer = trace.get_tracer("otel_app")
    with tracer.start_as_current_span("request") as span:
        span.set_attribute("worker_id", uwsgi.worker_id())
        if environ["PATH_INFO"] == "/wait":
            # Keeps this worker's only core busy until the test says go, so the next request
            # goes to the other worker.
            deadline = time.time() + 20
            open(os.path.join(DIR, "waiting-%d" % os.getpid()), "w").close()
            while not os.path.exists(os.path.join(DIR, "go")) and time.time() < deadline:
                time.sleep(0.01)
        body = b"traced"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
