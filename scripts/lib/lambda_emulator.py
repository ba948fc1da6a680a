"""A local Lambda Runtime API for one invocation: runs a built function binary (the `bootstrap`
Lambda would run) against it, hands it one event and reports the answer and the cold start
(process start to the first response). Docker-free; stdlib only, plus boto3 (from the SAM CLI
venv) to create the table in DynamoDB Local.

    python3 lambda_emulator.py BINARY EVENT_FILE [--function NAME] [--create-table]
prints one JSON line: {"function", "event", "cold_start_ms", "outcome", "status"}.
"""

import argparse
import http.server
import json
import os
import subprocess
import sys
import threading
import time

PREFIX = "/2018-06-01/runtime"
REQUEST_ID = "00000000-0000-4000-8000-000000000001"
TIMEOUT_SECS = 60


class Invocation:
    def __init__(self, event: bytes):
        self.event = event
        self.delivered = False
        self.outcome = None  # ("response" | "error" | "init-error", body)
        self.answered_at = None
        self.done = threading.Event()


def handler_for(invocation: Invocation):
    class Handler(http.server.BaseHTTPRequestHandler):
        # Headers and body are two writes: without TCP_NODELAY the body can wait for the
        # runtime's delayed ACK (~40 ms on loopback), which the cold start would count.
        disable_nagle_algorithm = True

        def log_message(self, *_):
            pass

        def do_GET(self):
            if self.path != f"{PREFIX}/invocation/next":
                self.send_error(404)
                return
            if invocation.delivered:
                # One invocation only: the runtime waits here until it is killed.
                invocation.done.wait(TIMEOUT_SECS)
                try:
                    self.send_error(410)
                except OSError:
                    pass  # the runtime was killed while it waited
                return
            invocation.delivered = True
            self.send_response(200)
            deadline_ms = int((time.time() + TIMEOUT_SECS) * 1000)
            for name, value in [
                ("Content-Type", "application/json"),
                ("Lambda-Runtime-Aws-Request-Id", REQUEST_ID),
                ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
                ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:local"),
                ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
                ("Content-Length", str(len(invocation.event))),
            ]:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(invocation.event)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            kinds = {
                f"{PREFIX}/invocation/{REQUEST_ID}/response": "response",
                f"{PREFIX}/invocation/{REQUEST_ID}/error": "error",
                f"{PREFIX}/init/error": "init-error",
            }
            kind = kinds.get(self.path)
            if kind is None:
                self.send_error(404)
                return
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            if invocation.outcome is None:
                invocation.answered_at = time.monotonic()
                invocation.outcome = (kind, body)
                invocation.done.set()

    return Handler


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
        invocation = Invocation(f.read())
    if args.create_table:
        create_table(os.environ["CANOPY_DYNAMODB_ENDPOINT"], os.environ["CANOPY_TABLE"])

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_for(invocation))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ)
    env.update(
        {
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        }
    )
    started = time.monotonic()
    process = subprocess.Popen([args.binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    answered = invocation.done.wait(TIMEOUT_SECS)
    process.kill()
    _, stderr = process.communicate()
    server.shutdown()
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
