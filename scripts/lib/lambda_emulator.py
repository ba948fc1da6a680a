"""The Lambda Runtime API stand-in: the one copy in the repository (scripts/lambda-invoke,
bench/functions.py and scripts/rehearse import it). Stdlib only.

A `RuntimeApi` is one execution environment's Runtime API on a loopback port: the function's
binary (the `bootstrap` Lambda would run, with `AWS_LAMBDA_RUNTIME_API` pointing here) long-polls
`GET /2018-06-01/runtime/invocation/next`, gets the next event submitted with `invoke()` /
`submit()`, and posts `/invocation/<id>/response` or `/error` (or `/init/error`). Invocations are
served one at a time, in order, as Lambda does for one environment. `extra` lets a caller serve
more routes on the same port (bench/functions.py serves the dev install key and a KMS there).

Command line (scripts/lambda-invoke): one invocation of a binary, one JSON line out:

    python3 lambda_emulator.py BINARY EVENT_FILE [--function NAME] [--create-table]
prints {"function", "event", "cold_start_ms", "outcome", "status"}; --create-table makes the
table in DynamoDB Local first (boto3, from the SAM CLI venv).
"""

import argparse
import http.server
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid

PREFIX = "/2018-06-01/runtime"
TIMEOUT_SECS = 60


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive, no access log, and TCP_NODELAY: headers and body are two writes, and
    without it the body can wait for the peer's delayed ACK (~40 ms on loopback), which the
    timings would count."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *_):
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server that says nothing when a client goes away: the runtime is killed
    while its keep-alive connection waits, which is how every invocation here ends."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class Invocation:
    def __init__(self, event: bytes, deadline_secs: float):
        self.event = event
        self.request_id = str(uuid.uuid4())
        self.deadline_secs = deadline_secs
        self.submitted_at = time.perf_counter()
        self.delivered_at = None
        self.answered_at = None
        self.outcome = None  # ("response" | "error" | "init-error", body)
        self.done = threading.Event()

    def answer(self, kind, body):
        if self.outcome is None:
            self.answered_at = time.perf_counter()
            self.outcome = (kind, body)
            self.done.set()


class RuntimeApi:
    def __init__(self, function_arn="arn:aws:lambda:us-east-1:123456789012:function:local", extra=None):
        self.function_arn = function_arn
        self.extra = extra  # callable(method, path, headers, body) -> (status, body, headers) | None
        self.pending = queue.Queue()
        self.in_flight = {}
        self.first_next = None
        self.init_error = None
        self.closing = threading.Event()
        self.lock = threading.Lock()
        api = self

        class Handler(QuietHandler):
            def reply(self, status, body=b"", headers=()):
                try:
                    self.send_response(status)
                    for name, value in headers:
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the runtime was killed while it waited

            def try_extra(self, method, body):
                if api.extra is None:
                    return False
                answer = api.extra(method, self.path, self.headers, body)
                if answer is None:
                    return False
                self.reply(*answer)
                return True

            def do_GET(self):  # noqa: N802 (http.server's naming)
                if self.path != f"{PREFIX}/invocation/next":
                    if not self.try_extra("GET", b""):
                        self.reply(404)
                    return
                with api.lock:
                    if api.first_next is None:
                        api.first_next = time.perf_counter()
                invocation = None
                while invocation is None and not api.closing.is_set():
                    try:
                        invocation = api.pending.get(timeout=0.2)
                    except queue.Empty:
                        pass
                if invocation is None:
                    self.close_connection = True
                    return
                invocation.delivered_at = time.perf_counter()
                api.in_flight[invocation.request_id] = invocation
                deadline_ms = int((time.time() + invocation.deadline_secs) * 1000)
                self.reply(200, invocation.event, [
                    ("Content-Type", "application/json"),
                    ("Lambda-Runtime-Aws-Request-Id", invocation.request_id),
                    ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
                    ("Lambda-Runtime-Invoked-Function-Arn", api.function_arn),
                    ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
                ])

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path
                if path == f"{PREFIX}/init/error":
                    api.init_error = body
                    for inv in list(api.in_flight.values()):
                        inv.answer("init-error", body)
                    while not api.pending.empty():
                        try:
                            api.pending.get_nowait().answer("init-error", body)
                        except queue.Empty:
                            break
                    self.reply(202, b'{"status":"OK"}', [("Content-Type", "application/json")])
                    return
                if path.startswith(f"{PREFIX}/invocation/"):
                    rest = path[len(f"{PREFIX}/invocation/"):]
                    request_id, _, kind = rest.partition("/")
                    invocation = api.in_flight.pop(request_id, None)
                    if invocation is not None and kind in ("response", "error"):
                        invocation.answer(kind, body)
                        self.reply(202, b'{"status":"OK"}', [("Content-Type", "application/json")])
                        return
                if not self.try_extra("POST", body):
                    self.reply(404)

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.address = f"127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def submit(self, event: bytes, deadline_secs: float = TIMEOUT_SECS) -> Invocation:
        invocation = Invocation(event, deadline_secs)
        if self.init_error is not None:
            invocation.answer("init-error", self.init_error)
        else:
            self.pending.put(invocation)
        return invocation

    def invoke(self, event: bytes, timeout: float = TIMEOUT_SECS):
        """Hands one event to the function and waits for its answer: (kind, body), or
        ("timeout", b"") after `timeout` seconds."""
        invocation = self.submit(event, timeout)
        if not invocation.done.wait(timeout):
            invocation.answer("timeout", b"")
        return invocation.outcome

    def close(self):
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()


class OneShot:
    """One invocation's Runtime API (bench/functions.py): the first `next` gets the event, later
    ones wait (as an idle execution environment does) until close()."""

    def __init__(self, event: bytes, function_arn="arn:aws:lambda:us-east-1:123456789012:function:local",
                 extra=None, deadline_secs=10):
        self.api = RuntimeApi(function_arn, extra)
        self.invocation = self.api.submit(event, deadline_secs)
        self.port = self.api.port
        self.done = self.invocation.done

    @property
    def first_next(self):
        return self.api.first_next

    @property
    def answered(self):
        return self.invocation.answered_at

    @property
    def outcome(self):
        return self.invocation.outcome

    def close(self):
        self.api.close()


def lambda_env(api: RuntimeApi, name, memory=256, log_group=None):
    """The variables Lambda sets for the runtime itself (not the function's configuration)."""
    return {
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
        "AWS_LAMBDA_LOG_GROUP_NAME": log_group or f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
    }


def create_table(endpoint: str, table: str):
    import boto3  # from the SAM CLI venv

    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    if table in client.list_tables()["TableNames"]:
        return
    strings = [{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "duePk", "dueSk")]
    client.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=strings,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "due",
                "KeySchema": [
                    {"AttributeName": "duePk", "KeyType": "HASH"},
                    {"AttributeName": "dueSk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("event")
    parser.add_argument("--function", default=None)
    parser.add_argument("--create-table", action="store_true")
    args = parser.parse_args()
    name = args.function or os.path.basename(os.path.dirname(args.binary)) or "function"
    with open(args.event, "rb") as f:
        event = f.read()
    if args.create_table:
        create_table(os.environ["CANOPY_DYNAMODB_ENDPOINT"], os.environ["CANOPY_TABLE"])

    api = RuntimeApi(f"arn:aws:lambda:us-east-1:000000000000:function:{name}")
    env = dict(os.environ)
    env.update(lambda_env(api, name))
    started = time.perf_counter()
    process = subprocess.Popen([args.binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # stderr is drained by a thread: a chatty function must not block on a full pipe.
    chunks = []
    reader = threading.Thread(target=lambda: chunks.append(process.stderr.read()), daemon=True)
    reader.start()
    invocation = api.submit(event, TIMEOUT_SECS)
    answered = invocation.done.wait(TIMEOUT_SECS)
    process.kill()
    process.wait()
    reader.join(5)
    api.close()
    stderr = b"".join(chunks)
    result = {"function": name, "event": args.event}
    if not answered:
        result.update(outcome="timeout", stderr=stderr.decode(errors="replace")[-2000:])
        print(json.dumps(result))
        sys.exit(1)
    kind, body = invocation.outcome
    result.update(cold_start_ms=round((invocation.answered_at - started) * 1000, 1), outcome=kind)
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and "statusCode" in answer:
        result["status"] = answer["statusCode"]
    if kind != "response":
        result["error"] = body.decode(errors="replace")[:500]
        result["stderr"] = stderr.decode(errors="replace")[-2000:]
    print(json.dumps(result))
    sys.exit(0 if kind == "response" else 1)


if __name__ == "__main__":
    main()
