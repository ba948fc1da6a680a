#!/usr/bin/env python3
"""Tenant setup and token minting for scripts/bench (Python 3 standard library only).

    setup.py canopy  --base URL --tenants N --state FILE [--workers W]
    setup.py ace     --base URL --tenants N --state FILE --keys-port PORT [--openssl CMD]
    setup.py floor   --from CANOPY_STATE --state FILE
    setup.py floor-check --base URL --state FILE
    setup.py tokens  --state FILE --pairs FILE --valid-for SECONDS [--workload read|write]

`canopy` and `ace` install N tenants on a running server, give each one site-config document,
check that every tenant reads back its own document (and not another tenant's), and write a
state file (JSON: the tenants, their document ids, secrets where the client holds them).
`tokens` mints load tokens per tenant, valid for at least --valid-for seconds, and writes the
pairs file: for reads one `<path> <token>` line per tenant, which bench/tokens.lua (wrk)
round-robins over; for writes `<path> <write token> <read token>` lines for the write_load
client (shared/examples/write_load.rs).

Canopy: tenants are installed with the local server's `POST /dev/install` (a real signed install
over HTTP + enable), their content is created through the public API with the admin token, and
load tokens are non-admin context JWTs from `POST /dev/token` (valid 1 h).

ACE peer: this script plays Atlassian as the peer's own load generator does (contract in
the peer's README, bench/README.md): an RSA key made with `openssl genpkey`, served as PEM at
http://127.0.0.1:<keys-port>/<kid> for the peer's CONNECT_KEYS_CDN_URL while installing, RS256
install JWTs signed with `openssl dgst -sha256 -sign`, installs strictly one at a time (ACE's
default sqlite store breaks under concurrent writes), one ~0.9 KB document PUT per tenant, and
HS256 load tokens minted here with each tenant's sharedSecret.

Floor (bench/floor, bench/README.md "The floor"): `floor` gives each tenant of a Canopy state the
same clientKey, site id and config (the bytes Canopy answers for that site, read with a dev token)
and a random secret of its own, and writes the floor's state, which the floor server reads at
start; `floor-check` then reads every tenant back from the running floor (byte-equal) and checks
that it refuses another tenant's site, an expired token and a forged one. Its load tokens are
minted here with the claims of Canopy's dev context tokens (`iss`, `sub`, `qsh`, `iat`, `exp`,
`context`), signed with the floor's secret: same shape and size, same wrk script.
"""

import argparse
import base64
import concurrent.futures
import hashlib
import hmac
import http.client
import http.server
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

ACE_ROUTE = "/site-config"
ACE_INSTALL_PATH = "/installed"
# What Atlassian's products give a product JWT; tokens are minted longer only when one run
# (warm-up + measured window) would outlive it.
PRODUCT_TOKEN_SECS = 180


class SetupError(Exception):
    pass


# ------------------------------------------------------------------------------------------------
# HTTP (one keep-alive connection per thread; loopback only)

_local = threading.local()


def _loopback(base):
    url = urllib.parse.urlsplit(base)
    if url.scheme != "http" or url.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SetupError(f"refusing non-loopback target {base}")
    return url


def request(base, method, path, token=None, body=None, expect=(200,), headers=None, answer_headers=None):
    """One request; answers (status, parsed JSON or None, raw bytes). Retries once on a dropped
    keep-alive connection. A status outside `expect` raises (unless expect is None). `headers`
    are sent too; `answer_headers`, a dict, receives the answer's headers (lower-case names)."""
    url = _loopback(base)
    headers = {"Accept": "application/json", **(headers or {})}
    if token:
        headers["Authorization"] = f"JWT {token}"
    data = None
    if body is not None:
        data = json.dumps(body, separators=(",", ":")).encode()
        headers["Content-Type"] = "application/json"
    for attempt in (1, 2):
        conn = getattr(_local, "conn", None)
        if conn is None or getattr(_local, "base", None) != base:
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
            _local.conn, _local.base = conn, base
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            status = resp.status
            if answer_headers is not None:
                answer_headers.update((k.lower(), v) for k, v in resp.getheaders())
            break
        except (ConnectionError, http.client.HTTPException):
            conn.close()
            _local.conn = None
            if attempt == 2:
                raise
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    if expect is not None and status not in expect:
        raise SetupError(f"{method} {path} answered {status} (expected {expect}): {raw[:300]!r}")
    return status, parsed, raw


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def qsh(method, path, query=""):
    return hashlib.sha256(f"{method.upper()}&{path}&{query}".encode()).hexdigest()


def hs256(claims, secret):
    head = b64url(json.dumps({"typ": "JWT", "alg": "HS256"}, separators=(",", ":")).encode())
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{head}.{body}".encode()
    sig = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(sig)}"


def jwt_exp(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"]


# ------------------------------------------------------------------------------------------------
# Canopy

def canopy_tenant(base, i):
    n = f"{i + 1:03d}"
    client_key = f"bench-tenant-{n}"
    _, installed, _ = request(base, "POST", "/dev/install", body={"clientKey": client_key})
    admin = installed["contextJwt"]
    _, theme, _ = request(base, "POST", "/api/themes", admin, expect=(201,), body={
        "name": f"Theme {n}",
        "colors": {"primary": "#0052CC", "background": "#FFFFFF", "text": "#172B4D"},
        "fonts": {"body": "Inter, system-ui, sans-serif"},
    })
    _, site, _ = request(base, "POST", "/api/sites", admin, expect=(201,), body={
        "name": f"Site {n}",
        "description": f"Benchmark site {n}",
        "spaces": ["DOC", "HB", "IT"],
        "visibility": "public",
        "themeId": theme["id"],
    })
    site_id = site["id"]
    request(base, "PUT", f"/api/sites/{site_id}/navigation", admin, expect=(200, 201),
            body=canopy_navigation(client_key))
    request(base, "POST", f"/api/sites/{site_id}/announcements", admin, expect=(201,), body={
        "title": "Scheduled maintenance",
        "body": "Saturday 02:00-03:00 UTC.",
        "severity": "info",
        "audience": "everyone",
        "dismissible": True,
    })
    tenant = {"clientKey": client_key, "path": f"/api/sites/{site_id}/config", "siteId": site_id,
              "writePath": f"/api/sites/{site_id}/navigation"}
    token = canopy_token(base, tenant)
    _, doc, raw = request(base, "GET", tenant["path"], token)
    if not isinstance(doc, dict) or doc.get("site", {}).get("id") != site_id:
        raise SetupError(f"{client_key}: config of site {site_id} is not that site's: {raw[:300]!r}")
    if not doc.get("theme") or not doc.get("navigation") or not doc.get("announcements"):
        raise SetupError(f"{client_key}: config lacks theme, navigation or announcement: {raw[:300]!r}")
    tenant["docBytes"] = len(raw)
    return tenant, token


def canopy_navigation(client_key):
    """The site's menu; as a write body (`{"items"}`) about as large as the peer's whole document
    (~0.9 KB), since the write workload PUTs one in place of the other."""
    site = f"https://{client_key}.atlassian.test/wiki"

    def page(item_id, label, space, page_id):
        return {"id": item_id, "label": label, "target": {"type": "url", "url": f"{site}/spaces/{space}/pages/{page_id}"},
                "children": []}

    return {"items": [
        {"id": "n1", "label": "Home", "target": {"type": "space", "spaceKey": "DOC"}, "children": []},
        {"id": "n2", "label": "Handbook", "target": {"type": "space", "spaceKey": "HB"}, "children": [
            page("n3", "Onboarding", "HB", 1001),
            page("n4", "Travel and expenses", "HB", 1002),
        ]},
        {"id": "n5", "label": "IT support", "target": {"type": "space", "spaceKey": "IT"}, "children": [
            page("n6", "Request a laptop", "IT", 2001),
        ]},
    ]}


def canopy_token(base, tenant, admin=False):
    _, minted, _ = request(base, "POST", "/dev/token", body={"clientKey": tenant["clientKey"], "admin": admin})
    return minted["contextJwt"]


def setup_canopy(args):
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
        results = list(pool.map(lambda i: canopy_tenant(args.base, i), range(args.tenants)))
    tenants = [t for t, _ in results]
    # Isolation: tenant A's token must not read tenant B's site (any 4xx is fine, 200 is not).
    if len(results) > 1:
        status, _, _ = request(args.base, "GET", tenants[1]["path"], results[0][1], expect=None)
        if not 400 <= status < 500:
            raise SetupError(f"tenant 1's token read tenant 2's site config: {status}")
    sizes = sorted(t["docBytes"] for t in tenants)
    info = {"target": "canopy", "base": args.base, "tenants": tenants, "setupSeconds": round(time.monotonic() - t0, 1),
            "docBytesMedian": sizes[len(sizes) // 2]}
    return info


# ------------------------------------------------------------------------------------------------
# ACE peer

class KeyServer:
    """Stands in for Atlassian's install-keys CDN: GET /<kid> -> the PEM public key."""

    def __init__(self, port, kid, pem):
        outer = self
        self.hits = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # headers and body in two writes: no delayed-ACK wait

            def do_GET(self):  # noqa: N802 (http.server's naming)
                if self.path == f"/{kid}":
                    outer.hits += 1
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(pem)))
                    self.end_headers()
                    self.wfile.write(pem)
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Rs256Signer:
    """RS256 with a new key made in `workdir`, or with an existing `key` (PEM file) and its `kid`."""

    def __init__(self, openssl, workdir=None, key=None, kid=None):
        self.openssl = openssl
        self.key = key or os.path.join(workdir, "install-key.pem")
        if key is None:
            subprocess.run([openssl, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
                            self.key], check=True, capture_output=True)
        self.public_pem = subprocess.run([openssl, "pkey", "-in", self.key, "-pubout"], check=True,
                                         capture_output=True).stdout
        self.kid = kid or f"bench-{secrets.token_hex(6)}"

    def sign(self, claims):
        head = b64url(json.dumps({"typ": "JWT", "alg": "RS256", "kid": self.kid}, separators=(",", ":")).encode())
        body = b64url(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{head}.{body}".encode()
        sig = subprocess.run([self.openssl, "dgst", "-sha256", "-sign", self.key], input=signing_input, check=True,
                             capture_output=True).stdout
        return f"{head}.{body}.{b64url(sig)}"


COLORS = ["#0052CC", "#00875A", "#DE350B", "#6554C0", "#FF991F", "#00B8D9", "#172B4D", "#36B37E"]


def ace_document(i, client_key, base_url):
    """The peer contract's per-tenant document (~0.9 KB; `tenant` detects cross-tenant answers)."""
    n = f"{i + 1:03d}"
    return {
        "schemaVersion": 1,
        "tenant": client_key,
        "theme": {"name": f"theme-{n}", "primaryColor": COLORS[i % len(COLORS)], "backgroundColor": "#FFFFFF",
                  "font": "Inter, system-ui, sans-serif", "logoUrl": f"https://static.example.invalid/{n}/logo.svg"},
        "layout": {"header": "compact" if i % 2 else "standard", "sidebar": "left" if i % 3 else "right",
                   "width": "fluid"},
        "navigation": [
            {"label": "Home", "url": f"{base_url}/spaces/HOME"},
            {"label": "Handbook", "url": f"{base_url}/spaces/HB/overview"},
            {"label": "IT support", "url": f"{base_url}/spaces/IT/pages/1234/Help"},
        ],
        "announcements": [{"id": f"ann-{n}-1", "level": "info",
                           "text": "Scheduled maintenance on Saturday 02:00-03:00 UTC.",
                           "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2026-12-31T23:59:59Z"}],
    }


def ace_product_token(tenant, method, path, lifetime=PRODUCT_TOKEN_SECS):
    now = int(time.time())
    claims = {"iss": tenant["clientKey"], "sub": tenant["accountId"], "iat": now, "exp": now + lifetime,
              "qsh": qsh(method, path)}
    return hs256(claims, tenant["sharedSecret"])


def setup_ace(args):
    t0 = time.monotonic()
    _, descriptor, _ = request(args.base, "GET", "/atlassian-connect.json")
    addon_key = descriptor["key"]
    app_base = descriptor.get("baseUrl", args.base).rstrip("/")
    if urllib.parse.urlsplit(app_base).path not in ("", "/"):
        raise SetupError(f"peer baseUrl {app_base} has a path prefix; this script assumes none")
    with tempfile.TemporaryDirectory() as workdir:
        signer = Rs256Signer(args.openssl, workdir)
        keys = KeyServer(args.keys_port, signer.kid, signer.public_pem)
        try:
            tenants = []
            for i in range(args.tenants):
                n = f"{i + 1:03d}"
                site_base = f"https://bench-tenant-{n}.atlassian.test/wiki"
                tenant = {"clientKey": str(uuid.uuid4()), "sharedSecret": b64url(secrets.token_bytes(32)),
                          "accountId": f"712020:{uuid.uuid4()}", "path": ACE_ROUTE, "writePath": ACE_ROUTE}
                now = int(time.time())
                install_jwt = signer.sign({
                    "iss": tenant["clientKey"], "sub": f"connect:{tenant['clientKey']}", "aud": [app_base],
                    "qsh": qsh("POST", ACE_INSTALL_PATH), "iat": now, "exp": now + 180, "context": {}})
                payload = {
                    "key": addon_key, "clientKey": tenant["clientKey"], "sharedSecret": tenant["sharedSecret"],
                    "serverVersion": "6452", "pluginsVersion": "1001.0.0-SNAPSHOT", "baseUrl": site_base,
                    "displayUrl": site_base, "productType": "confluence",
                    "description": f"Atlassian Confluence at {site_base}",
                    "serviceEntitlementNumber": f"SEN-{100000 + i}", "eventType": "installed",
                    "installationId": f"ari:cloud:ecosystem::installation/{uuid.uuid4()}",
                }
                request(args.base, "POST", ACE_INSTALL_PATH, install_jwt, payload, expect=(200, 204))
                doc = ace_document(i, tenant["clientKey"], site_base)
                request(args.base, "PUT", ACE_ROUTE, ace_product_token(tenant, "PUT", ACE_ROUTE), doc, expect=(200, 201, 204))
                tenants.append((tenant, doc))
        finally:
            keys.close()
    if keys.hits < args.tenants:
        raise SetupError(f"the peer fetched the install key {keys.hits} times for {args.tenants} installs")
    for tenant, doc in tenants:
        _, got, raw = request(args.base, "GET", ACE_ROUTE, ace_product_token(tenant, "GET", ACE_ROUTE))
        if got != doc:
            raise SetupError(f"tenant {tenant['clientKey']} read back another document: {raw[:300]!r}")
        tenant["docBytes"] = len(raw)
    # Isolation: A's token with B's iss must be refused.
    if len(tenants) > 1:
        a, b = tenants[0][0], tenants[1][0]
        forged = ace_product_token({**a, "clientKey": b["clientKey"]}, "GET", ACE_ROUTE)
        status, _, _ = request(args.base, "GET", ACE_ROUTE, forged, expect=None)
        if not 400 <= status < 500:
            raise SetupError(f"a token of tenant A with tenant B's iss answered {status}")
    sizes = sorted(t["docBytes"] for t, _ in tenants)
    return {"target": "ace", "base": args.base, "tenants": [t for t, _ in tenants],
            "setupSeconds": round(time.monotonic() - t0, 1), "docBytesMedian": sizes[len(sizes) // 2],
            "keyFetches": keys.hits}


# ------------------------------------------------------------------------------------------------
# Floor

FLOOR_ACCOUNT = "557058:canopy-dev-user"  # the account Canopy's non-admin dev tokens name
FLOOR_TOKEN_SECS = 3600  # as Canopy's dev context tokens


def floor_token(tenant, lifetime=FLOOR_TOKEN_SECS, now=None):
    now = int(time.time()) if now is None else now
    claims = {"iss": tenant["clientKey"], "sub": FLOOR_ACCOUNT, "qsh": "context-qsh", "iat": now,
              "exp": now + lifetime, "context": {}}
    return hs256(claims, tenant["secret"])


def setup_floor(args):
    t0 = time.monotonic()
    with open(args.source) as f:
        canopy = json.load(f)
    if canopy["target"] != "canopy":
        raise SetupError(f"--from must be a Canopy state, not {canopy['target']}")

    def copy(t):
        _, _, raw = request(canopy["base"], "GET", t["path"], canopy_token(canopy["base"], t))
        return {"clientKey": t["clientKey"], "secret": b64url(secrets.token_bytes(32)), "siteId": t["siteId"],
                "path": t["path"], "body": raw.decode(), "docBytes": len(raw)}

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        tenants = list(pool.map(copy, canopy["tenants"]))
    sizes = sorted(t["docBytes"] for t in tenants)
    return {"target": "floor", "tenants": tenants, "setupSeconds": round(time.monotonic() - t0, 1),
            "docBytesMedian": sizes[len(sizes) // 2]}


def check_floor(args):
    """Every tenant reads back its own body; another tenant's site, an expired token and a token
    signed with another tenant's secret are refused. Answers the setup summary."""
    t0 = time.monotonic()
    with open(args.state) as f:
        state = json.load(f)
    tenants = state["tenants"]
    for t in tenants:
        _, _, raw = request(args.base, "GET", t["path"], floor_token(t))
        if raw.decode() != t["body"]:
            raise SetupError(f"floor: {t['clientKey']} read back another body: {raw[:300]!r}")
    a = tenants[0]
    refusals = {"an expired token": (a["path"], floor_token(a, now=int(time.time()) - 2 * FLOOR_TOKEN_SECS)),
                "a forged token": (a["path"], floor_token({**a, "secret": a["secret"] + "x"}))}
    if len(tenants) > 1:
        refusals["another tenant's site"] = (tenants[1]["path"], floor_token(a))
    for what, (path, token) in refusals.items():
        status, _, _ = request(args.base, "GET", path, token, expect=None)
        if not 400 <= status < 500:
            raise SetupError(f"floor: {what} answered {status}")
    state["base"] = args.base
    with open(args.state, "w") as f:
        json.dump(state, f)
    return {"target": "floor", "base": args.base, "tenants": len(tenants),
            "setupSeconds": round(state["setupSeconds"] + time.monotonic() - t0, 1),
            "docBytesMedian": state["docBytesMedian"]}


# ------------------------------------------------------------------------------------------------
# Load tokens

def mint_tokens(args):
    """Read workload: `<path> <token>` per tenant (non-admin context JWT / GET product JWT).
    Write workload: `<path> <write token> <read token>` (Canopy: the admin's context JWT twice, it
    reads and writes the navigation; the peer: product JWTs for PUT and for GET /site-config)."""
    with open(args.state) as f:
        state = json.load(f)
    need_until = int(time.time()) + args.valid_for
    tenants = state["tenants"]
    write = args.workload == "write"
    if state["target"] == "canopy":
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            tokens = list(pool.map(lambda t: canopy_token(state["base"], t, admin=write), tenants))
        lines = [f"{t['writePath']} {token} {token}" if write else f"{t['path']} {token}"
                 for t, token in zip(tenants, tokens)]
    elif state["target"] == "floor":
        if write:
            raise SetupError("the floor serves reads only")
        tokens = [floor_token(t, max(FLOOR_TOKEN_SECS, args.valid_for + 60)) for t in tenants]
        lines = [f"{t['path']} {token}" for t, token in zip(tenants, tokens)]
    else:
        lifetime = max(PRODUCT_TOKEN_SECS, args.valid_for + 60)
        tokens = [ace_product_token(t, "PUT" if write else "GET", t["path"], lifetime) for t in tenants]
        lines = [f"{t['path']} {token} {ace_product_token(t, 'GET', t['path'], lifetime)}" if write
                 else f"{t['path']} {token}" for t, token in zip(tenants, tokens)]
    short = min(jwt_exp(t) for t in tokens)
    if short < need_until:
        raise SetupError(f"a {state['target']} token expires {need_until - short} s before the run ends: "
                         "shorten --warmup/--duration")
    tmp = args.pairs + ".tmp"
    with open(tmp, "w") as f:
        f.write("".join(line + "\n" for line in lines))
    os.replace(tmp, args.pairs)
    return {"tokens": len(tokens), "validForSeconds": short - int(time.time())}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("canopy", "ace"):
        p = sub.add_parser(name)
        p.add_argument("--base", required=True)
        p.add_argument("--tenants", type=int, default=100)
        p.add_argument("--state", required=True)
        if name == "canopy":
            p.add_argument("--workers", type=int, default=4)
        else:
            p.add_argument("--keys-port", type=int, required=True)
            p.add_argument("--openssl", default="openssl")
    p = sub.add_parser("floor")
    p.add_argument("--from", dest="source", required=True, help="a Canopy state file (bench/setup.py canopy)")
    p.add_argument("--state", required=True)
    p = sub.add_parser("floor-check")
    p.add_argument("--base", required=True)
    p.add_argument("--state", required=True)
    p = sub.add_parser("tokens")
    p.add_argument("--state", required=True)
    p.add_argument("--pairs", required=True)
    p.add_argument("--valid-for", type=int, required=True, help="seconds every token must stay valid")
    p.add_argument("--workload", choices=("read", "write"), default="read")
    args = parser.parse_args()
    try:
        if args.command == "tokens":
            out = mint_tokens(args)
        elif args.command == "floor-check":
            out = check_floor(args)
        else:
            if getattr(args, "tenants", 1) < 1:
                raise SetupError("--tenants must be at least 1")
            setup = {"canopy": setup_canopy, "ace": setup_ace, "floor": setup_floor}[args.command]
            state = setup(args)
            with open(args.state, "w") as f:
                json.dump(state, f)
            out = {k: v for k, v in state.items() if k != "tenants"}
            out["tenants"] = len(state["tenants"])
    except (SetupError, OSError, subprocess.CalledProcessError, KeyError, TypeError, ValueError) as e:
        print(f"error: setup.py {args.command}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
