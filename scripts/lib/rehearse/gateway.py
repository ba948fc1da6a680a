"""One stack's functions and its API Gateway stand-in.

`FunctionHost`: a function's real binary under the repository's Runtime API stand-in
(scripts/lib/lambda_emulator.py), started with ONLY the environment the template gives it, the
variables Lambda itself sets, its own credentials, and endpoint overrides.

`Gateway`: an HTTP API (`$default` stage) built from the template's HttpApi routes: each request
becomes a payload-v2 event (`routeKey` as declared) for the function the template names; routes
with the `AWS_IAM` authorizer answer 403 to a request without a SigV4 signature. `scheduled()` is
the typed EventBridge "Scheduled Event" a Schedule rule delivers.
"""

import base64
import json
import os
import re
import subprocess
import threading
import time
import urllib.parse
import uuid

import lambda_emulator

from . import sigv4

ACCOUNT = "123456789012"


def die_with_parent():
    """preexec_fn: the child gets SIGKILL when the rehearsal dies, even by SIGKILL (PR_SET_PDEATHSIG)."""
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


class FunctionHost:
    def __init__(self, stack, fn, binary, env, log_dir):
        self.stack, self.fn = stack, fn
        self.logical_id = fn["logicalId"]
        self.api = lambda_emulator.RuntimeApi(fn["arn"])
        full_env = dict(env)
        full_env.update(lambda_emulator.lambda_env(self.api, fn["name"], fn["memory"]))
        self.env = full_env
        self.log_path = os.path.join(log_dir, f"{stack.name}-{self.logical_id}.log")
        self.log = open(self.log_path, "ab")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([binary], env=full_env, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log, start_new_session=True, preexec_fn=die_with_parent)
        self.lock = threading.Lock()
        self.invocations = 0

    def invoke(self, event: dict, timeout=None):
        """(kind, body bytes); kind "response", "error", "init-error" or "timeout"."""
        timeout = timeout or min(self.fn["timeout"], 60)
        with self.lock:
            self.invocations += 1
            if self.proc.poll() is not None:
                return "exited", f"process exited with {self.proc.returncode}".encode()
            return self.api.invoke(json.dumps(event).encode(), timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.api.close()
        self.log.close()


def _route_regex(path):
    out = []
    for seg in path.strip("/").split("/"):
        if seg.endswith("+}"):
            out.append(f"(?P<{seg[1:-2]}>.+)")
        elif seg.startswith("{"):
            out.append(f"(?P<{seg[1:-1]}>[^/]+)")
        else:
            out.append(re.escape(seg))
    return re.compile("^/" + "/".join(out) + "$")


class Route:
    def __init__(self, route, logical_id):
        self.route_key, self.method, self.path = route["routeKey"], route["method"], route["path"]
        self.authorizer, self.logical_id = route["authorizer"], logical_id
        self.regex = _route_regex(self.path)
        greedy = "+}" in self.path
        params = self.path.count("{")
        # HTTP APIs prefer the most specific route: fewer variables, no greedy variable, a method
        # over ANY.
        self.rank = (greedy, params, self.method == "ANY")


class Gateway:
    def __init__(self, stack, hosts, functions, record, operators=None):
        self.stack, self.hosts, self.record = stack, hosts, record
        self.operators = operators or {}  # access key id -> secret: the IAM users allowed to invoke
        self.api_id = stack.physical_id("HttpApi")
        self.domain = f"{self.api_id}.execute-api.{stack.region}.amazonaws.com"
        self.routes = sorted((Route(r, lid) for lid, fn in functions.items() for r in fn["routes"]),
                             key=lambda r: r.rank)
        gateway = self

        class Handler(lambda_emulator.QuietHandler):
            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = gateway.request(self.command, self.path, self.headers, body)
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = handle_any  # noqa: N815

        self.server = lambda_emulator.QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def match(self, method, path):
        for route in self.routes:
            if route.method not in ("ANY", method):
                continue
            m = route.regex.match(path)
            if m:
                return route, {k: urllib.parse.unquote(v) for k, v in m.groupdict().items()}
        return None, None

    def request(self, method, raw_path, headers, body):
        split = urllib.parse.urlsplit(raw_path)
        route, params = self.match(method, split.path)
        if route is None:
            return 404, [("Content-Type", "application/json")], b'{"message":"Not Found"}'
        lower = {}
        for k, v in headers.items():
            lower[k.lower()] = f"{lower[k.lower()]},{v}" if k.lower() in lower else v
        ctx_extra = {}
        if route.authorizer == "AWS_IAM":
            auth = sigv4.parse(lower, split.query)
            if auth is None:
                self.record({"gateway": self.stack.name, "route": route.route_key, "status": 403, "why": "no SigV4"})
                return 403, [("Content-Type", "application/json")], b'{"message":"Forbidden"}'
            secret = self.operators.get(auth.access_key)
            problem = "unknown access key" if secret is None else \
                sigv4.verify(method, split.path, split.query, lower, body, auth, secret)
            if problem or auth.service != "execute-api" or auth.region != self.stack.region:
                self.record({"gateway": self.stack.name, "route": route.route_key, "status": 403,
                             "why": problem or f"scope {auth.region}/{auth.service}"})
                return 403, [("Content-Type", "application/json")], \
                    b'{"message":"The request signature we calculated does not match the signature you provided."}'
            ctx_extra["authorizer"] = {"iam": {"accessKey": auth.access_key, "accountId": ACCOUNT,
                                               "callerId": auth.access_key, "userArn":
                                               f"arn:aws:iam::{ACCOUNT}:user/operator", "userId": auth.access_key}}
        text = True
        try:
            body_text = body.decode()
        except UnicodeDecodeError:
            text = False
        now = time.time()
        event = {
            "version": "2.0",
            "routeKey": route.route_key,
            "rawPath": split.path,
            "rawQueryString": split.query,
            "headers": {k: v for k, v in lower.items() if k != "cookie"},
            "requestContext": {
                "accountId": ACCOUNT, "apiId": self.api_id, "domainName": lower.get("host", self.domain),
                "domainPrefix": self.api_id,
                "http": {"method": method, "path": split.path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10",
                         "userAgent": lower.get("user-agent", "")},
                "requestId": str(uuid.uuid4()), "routeKey": route.route_key, "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), "timeEpoch": int(now * 1000),
                **ctx_extra,
            },
            "isBase64Encoded": not text,
        }
        if "cookie" in lower:
            event["cookies"] = [c.strip() for c in lower["cookie"].split(";")]
        if split.query:
            qs = {}
            for k, v in urllib.parse.parse_qsl(split.query, keep_blank_values=True):
                qs[k] = f"{qs[k]},{v}" if k in qs else v
            event["queryStringParameters"] = qs
        if params:
            event["pathParameters"] = params
        if body:
            event["body"] = body_text if text else base64.b64encode(body).decode()
        host = self.hosts[route.logical_id]
        kind, answer = host.invoke(event)
        self.record({"gateway": self.stack.name, "route": route.route_key, "function": route.logical_id,
                     "path": split.path, "outcome": kind})
        if kind != "response":
            return 500, [("Content-Type", "application/json")], b'{"message":"Internal Server Error"}'
        return self.to_http(answer)

    @staticmethod
    def to_http(answer):
        try:
            doc = json.loads(answer)
        except ValueError:
            return 200, [("Content-Type", "application/json")], answer
        if not isinstance(doc, dict) or "statusCode" not in doc:
            return 200, [("Content-Type", "application/json")], answer
        headers = [(k, str(v)) for k, v in (doc.get("headers") or {}).items() if k.lower() != "content-length"]
        for k, vs in (doc.get("multiValueHeaders") or {}).items():
            headers += [(k, str(v)) for v in vs]
        for c in doc.get("cookies") or []:
            headers.append(("Set-Cookie", c))
        body = doc.get("body") or ""
        payload = base64.b64decode(body) if doc.get("isBase64Encoded") else body.encode()
        return int(doc["statusCode"]), headers, payload


def scheduled(stack, fn, schedule, when=None):
    """The event an EventBridge Schedule rule delivers (aws_lambda_events' CloudWatchEvent)."""
    when = when or time.time()
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ACCOUNT, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when)), "region": stack.region,
        "resources": [f"arn:aws:events:{stack.region}:{ACCOUNT}:rule/{schedule['rule']}"], "detail": {},
    }
