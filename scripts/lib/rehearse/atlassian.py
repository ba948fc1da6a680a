"""Playing Atlassian: the install-keys service (the committed dev install key, dev/), signed
lifecycle callbacks, context tokens, and a fake product site per tenant that verifies every app
JWT Canopy sends it (HS256 with the tenant's shared secret, `iss` the configured app key, `qsh`
of the request as Connect computes it) and answers like Confluence.
"""

import base64
import hashlib
import hmac
import http.server
import json
import os
import subprocess
import threading
import time
import urllib.parse

import lambda_emulator

DEV_KID = "canopy-dev-install-key"
CONTEXT_QSH = "context-qsh"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _encode(value):
    return urllib.parse.quote(value, safe="-_.~")


def canonical_request(method, path, query, base_path=""):
    base = base_path.rstrip("/")
    if base and (path == base or path.startswith(base + "/")):
        path = path[len(base):]
    if len(path) > 1:
        path = path.rstrip("/")
    path = path.replace("&", "%26") or "/"
    if not path.startswith("/"):
        path = "/" + path
    params = {}
    for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
        if k != "jwt":
            params.setdefault(_encode(k), []).append(v)
    q = "&".join(f"{k}={','.join(_encode(v) for v in sorted(vs))}" for k, vs in sorted(params.items()))
    return f"{method.upper()}&{path}&{q}"


def qsh(method, path, query="", base_path=""):
    return hashlib.sha256(canonical_request(method, path, query, base_path).encode()).hexdigest()


def hs256(claims, secret):
    head = b64url(json.dumps({"typ": "JWT", "alg": "HS256"}, separators=(",", ":")).encode())
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(sig)}"


def rs256(claims, key_path, kid=DEV_KID):
    head = b64url(json.dumps({"typ": "JWT", "alg": "RS256", "kid": kid}, separators=(",", ":")).encode())
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{head}.{body}".encode()
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key_path], input=signing_input, check=True,
                         capture_output=True, timeout=30).stdout
    return f"{head}.{body}.{b64url(sig)}"


class Tenant:
    def __init__(self, name, product_port, deny_all=False):
        self.client_key = f"rehearsal-{name}"
        self.name = name
        self.secret = hashlib.sha256(os.urandom(32)).hexdigest()
        self.base_path = f"/{name}/wiki"
        self.base_url = f"http://127.0.0.1:{product_port}{self.base_path}"
        self.admin = f"557058:{name}-admin"
        self.user = f"557058:{name}-user"
        self.deny_all = deny_all  # a site that refuses the app (e.g. deleted): 401 to everything

    def context_token(self, account, lifetime=600):
        now = int(time.time())
        return hs256({"iss": self.client_key, "sub": account, "qsh": CONTEXT_QSH, "iat": now, "exp": now + lifetime,
                      "context": {}}, self.secret)

    def lifecycle_token(self, method, path):
        now = int(time.time())
        return hs256({"iss": self.client_key, "sub": self.admin, "qsh": qsh(method, path), "iat": now,
                      "exp": now + 180, "context": {}}, self.secret)

    def payload(self, app_key, event):
        return {"key": app_key, "clientKey": self.client_key, "sharedSecret": self.secret, "baseUrl": self.base_url,
                "productType": "confluence", "description": f"Rehearsal tenant {self.name}", "eventType": event}


class Atlassian:
    """One loopback server: `/keys/<kid>` (install keys) and `/<tenant>/wiki/...` (product sites)."""

    def __init__(self, root, app_key):
        self.app_key = app_key
        self.private_key = os.path.join(root, "dev", "install-key.pem")
        with open(os.path.join(root, "dev", "install-key.pub.pem"), "rb") as f:
            self.public_pem = f.read()
        self.tenants = {}
        self.calls = []  # every product call: tenant, method, path, iss, verdict
        self.lock = threading.Lock()
        atlassian = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_):
                pass

            def reply(self, status, doc=None, ctype="application/json"):
                body = b"" if doc is None else (doc if isinstance(doc, bytes) else json.dumps(doc).encode())
                self.send_response(status)
                if body:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                split = urllib.parse.urlsplit(self.path)
                if self.command == "GET" and split.path == f"/keys/{DEV_KID}":
                    return self.reply(200, atlassian.public_pem, "application/x-pem-file")
                if split.path.startswith("/keys/"):
                    return self.reply(404, {"message": "unknown kid"})
                status, doc = atlassian.product(self.command, split.path, split.query, self.headers, body)
                self.reply(status, doc)

            do_GET = do_POST = do_PUT = do_DELETE = handle_any  # noqa: N815

        self.server = lambda_emulator.QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.keys_url = f"http://127.0.0.1:{self.port}/keys"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def tenant(self, name, deny_all=False):
        t = Tenant(name, self.port, deny_all)
        self.tenants[name] = t
        return t

    def verify_app_jwt(self, tenant, method, path, query, headers):
        auth = headers.get("Authorization", "")
        if not auth.startswith("JWT "):
            return None, "no JWT"
        token = auth[4:]
        try:
            head, body, sig = token.split(".")
            claims = json.loads(b64url_decode(body))
        except ValueError:
            return None, "malformed JWT"
        expected = hmac.new(tenant.secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
        iss = claims.get("iss")
        if not hmac.compare_digest(expected, b64url_decode(sig)):
            return iss, "bad signature"
        if iss != self.app_key:
            return iss, f"iss {iss!r} is not the app key {self.app_key!r}"
        if claims.get("qsh") != qsh(method, path, query, tenant.base_path):
            return iss, "qsh does not match the request"
        if claims.get("exp", 0) < time.time():
            return iss, "expired"
        return iss, None

    def product(self, method, path, query, headers, body):
        name = path.split("/")[1] if path.count("/") >= 2 else ""
        tenant = self.tenants.get(name)
        if tenant is None or not path.startswith(tenant.base_path):
            return 404, {"message": "no such site"}
        iss, problem = self.verify_app_jwt(tenant, method, path, query, headers)
        rel = path[len(tenant.base_path):]
        status = 401 if (problem or tenant.deny_all) else None
        if status is None:
            if method == "GET" and rel == "/rest/api/user":
                q = dict(urllib.parse.parse_qsl(query))
                ops = [{"operation": "administer", "targetType": "application"}] \
                    if q.get("accountId") == tenant.admin else []
                status, doc = 200, {"accountId": q.get("accountId"), "operations": ops}
            elif method == "GET" and rel in ("/rest/api/space", "/rest/api/3/serverInfo"):
                status, doc = 200, {"results": [], "size": 0}
            elif method == "POST" and rel == "/rest/atlassian-connect/latest/report-accounts":
                status, doc = 204, None
            else:
                status, doc = 404, {"message": f"not modelled: {method} {rel}"}
        else:
            doc = {"message": problem or "the app has no access to this site"}
        with self.lock:
            self.calls.append({"tenant": name, "method": method, "path": rel, "iss": iss, "problem": problem,
                               "status": status, "t": time.time()})
        return status, doc
