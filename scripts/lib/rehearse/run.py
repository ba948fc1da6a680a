"""The rehearsal: both stacks up, the scenario through the gateways, the reports.

    python3 -m rehearse.run --bin-dir DIR --run-dir DIR --dynamodb-jar JAR --s3s-fs BIN

Exit status 0 only if every scenario check passed and no call was denied that the scenario did
not expect. Reports in the run directory: calls.jsonl (every AWS call: stack, function, action,
resource, allowed), unused-grants.txt, product-calls.jsonl, summary.txt, and one log per function.
"""

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

from . import atlassian as atl
from . import gateway, iam, kms, proxy, sigv4, stacks

# The rehearsal's own parameter values on top of infra/params (documented in docs/rehearse.md):
# a real Marketplace app key is never the template's default, and with the default every
# function signs with the right `iss` by accident (defect 1 would not show).
# ProductHosts: the Atlassian stand-in serves its sites on http://127.0.0.1, which the default
# (Atlassian's domains, https only) refuses; the rehearsal says so the way an operator would.
REHEARSAL_PARAMS = {"AppKey": "io.canopy.rehearsal",
                    "ProductHosts": "atlassian.net,jira.com,jira-dev.com,atlassian-dev.net,http-loopback"}
# Dates are reached by moving a function's clock (kernel::clock::clock_offset_from): honoured only
# beside a loopback store endpoint, which no deployed function has.
CLOCK_OFFSET_VAR = "CANOPY_TEST_CLOCK_OFFSET_SECS"
DAY = 86_400
# Denied calls the scenario expects (function logical id, action); any other denial fails.
EXPECTED_DENIALS = set()
MAX_WORKER_FIRES = 15
# The operator's IAM credentials (the `AWS_IAM` routes' caller).
OPERATOR = ("AKIAREHEARSALOPERATOR", secrets.token_urlsafe(30))


class Checks:
    def __init__(self, out):
        self.out = out
        self.failures = []
        self.passed = 0

    def line(self, text):
        print(text, flush=True)
        self.out.write(text + "\n")
        self.out.flush()

    def check(self, ok, what, detail=""):
        if ok:
            self.passed += 1
            self.line(f"ok    {what}")
        else:
            self.failures.append(f"{what}: {detail}")
            self.line(f"FAIL  {what}: {detail}")
        return ok


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port, proc, seconds, name):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/")
            c.getresponse().read()
            c.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not answer within {seconds} s")


def aws_call(endpoint, service, region, target, doc, key=("rehearse", "rehearse")):
    """A signed JSON call (the harness's own, as CloudFormation or the operator)."""
    u = urllib.parse.urlsplit(endpoint)
    body = json.dumps(doc).encode()
    headers = sigv4.sign("POST", "/", "", {"host": u.netloc, "content-type": "application/x-amz-json-1.0",
                                           "x-amz-target": target}, body, key[0], key[1], region, service)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("POST", "/", body, headers)
    r = c.getresponse()
    out = r.read()
    c.close()
    return r.status, json.loads(out or b"{}")


def s3_request(endpoint, keys, method, path, query="", body=b"", region="us-east-1"):
    u = urllib.parse.urlsplit(endpoint)
    headers = sigv4.sign(method, path, query, {"host": u.netloc}, body, keys[0], keys[1], region, "s3")
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request(method, path + (f"?{query}" if query else ""), body or None, headers)
    r = c.getresponse()
    out = r.read()
    c.close()
    return r.status, out


def create_table(ddb, stack):
    """The table as the template declares it (CloudFormation's part)."""
    props = stack.resolve(stack.resources["Table"]["Properties"])
    doc = {"TableName": stack.physical_id("Table"), "BillingMode": props["BillingMode"],
           "AttributeDefinitions": props["AttributeDefinitions"], "KeySchema": props["KeySchema"],
           "GlobalSecondaryIndexes": props["GlobalSecondaryIndexes"]}
    status, out = aws_call(ddb, "dynamodb", stack.region, "DynamoDB_20120810.CreateTable", doc)
    if status != 200:
        raise RuntimeError(f"CreateTable {doc['TableName']}: {status} {out}")


def scan_tenant(ddb, stack, client_key):
    """Items of the tenant's partition (and any item naming it) in the stack's table."""
    items, start = [], None
    for _ in range(100):
        doc = {"TableName": stack.physical_id("Table")}
        if start:
            doc["ExclusiveStartKey"] = start
        status, out = aws_call(ddb, "dynamodb", stack.region, "DynamoDB_20120810.Scan", doc)
        if status != 200:
            raise RuntimeError(f"Scan: {status} {out}")
        items += out.get("Items", [])
        start = out.get("LastEvaluatedKey")
        if not start:
            break
    mine = [i for i in items if client_key in json.dumps(i)]
    return mine, items


class Client:
    """HTTP to a gateway."""

    def __init__(self, port, host):
        self.port, self.host = port, host

    def call(self, method, path, token=None, body=None, headers=None, raw=None):
        h = {"Host": self.host, "Accept": "application/json", "User-Agent": "rehearsal"}
        if token:
            h["Authorization"] = f"JWT {token}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=90)
        c.request(method, path, data, h)
        r = c.getresponse()
        out = r.read()
        c.close()
        try:
            doc = json.loads(out) if out else None
        except ValueError:
            doc = None
        return r.status, doc, out


class Rehearsal:
    def __init__(self, args):
        self.args = args
        self.run_dir = args.run_dir
        self.procs = []
        self.hosts = {}
        self.gateways = {}
        self.closers = []
        self.summary = open(os.path.join(self.run_dir, "summary.txt"), "w")
        self.checks = Checks(self.summary)
        self.t0 = time.monotonic()

    # ---- infrastructure -------------------------------------------------------------------
    def start_process(self, argv, log_name, **kw):
        log = open(os.path.join(self.run_dir, log_name), "ab")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                                preexec_fn=gateway.die_with_parent, **kw)
        self.procs.append((proc, log))
        return proc

    def up(self):
        a = self.args
        self.stacks = stacks.load_stacks(a.template)
        tpl = self.stacks["us"].template
        from .template import Stack

        for name in list(self.stacks):
            s = self.stacks[name]
            params = {k: v for k, v in s.params.items()}
            params.update(REHEARSAL_PARAMS)
            self.stacks[name] = Stack(tpl, s.name, s.region, {k: v for k, v in params.items()
                                                              if k in tpl["Parameters"]})
        self.functions = {n: s.functions() for n, s in self.stacks.items()}

        # DynamoDB Local: one database per (access key, region) = one per stack.
        port = free_port()
        jar = a.dynamodb_jar
        ddb = self.start_process(["java", "-Xms64m", "-Xmx512m", "-XX:TieredStopAtLevel=1",
                                  f"-Djava.library.path={os.path.dirname(jar)}/DynamoDBLocal_lib", "-jar", jar,
                                  "-inMemory", "-port", str(port), "-disableTelemetry"], "dynamodb-local.log",
                                 cwd=self.run_dir)
        wait_http(port, ddb, 90, "DynamoDB Local")
        self.ddb = f"http://127.0.0.1:{port}"
        for s in self.stacks.values():
            create_table(self.ddb, s)

        # s3s-fs: one bucket per stack, its own keys.
        s3_dir = os.path.join(self.run_dir, "s3")
        os.makedirs(s3_dir, exist_ok=True)
        self.s3_keys = ("rehearsals3" + secrets.token_hex(4), secrets.token_hex(16))
        port = free_port()
        s3 = self.start_process([a.s3s_fs, "--host", "127.0.0.1", "--port", str(port), "--access-key",
                                 self.s3_keys[0], "--secret-key", self.s3_keys[1], s3_dir], "s3s-fs.log")
        wait_http(port, s3, 20, "s3s-fs")
        self.s3 = f"http://127.0.0.1:{port}"
        for s in self.stacks.values():
            status, out = s3_request(self.s3, self.s3_keys, "PUT", "/" + s.physical_id("MediaBucket"))
            if status != 200:
                raise RuntimeError(f"CreateBucket: {status} {out[:200]!r}")

        # KMS: one key per region (each stack's SecretsKey).
        self.kms = {s.region: kms.Kms({s.region: s.get_att("SecretsKey", "Arn")}) for s in self.stacks.values()}

        # Principals: every function of every stack, its own key id and secret.
        principals = []
        self.creds = {}
        for n, s in self.stacks.items():
            for lid, fn in self.functions[n].items():
                key = f"ASIA{n.upper()}{lid.upper().replace('FUNCTION', '')}"[:20].ljust(20, "X")
                secret = secrets.token_urlsafe(30)
                self.creds[(n, lid)] = (key, secret)
                statements = [{k: v for k, v in st.items() if not k.startswith("_")} for st in fn["statements"]]
                principals.append(proxy.Principal(s.name, lid, key, secret, statements))
        self.proxy = proxy.Proxy(principals, self.ddb, self.s3, self.s3_keys, self.kms, {"": "pk", "due": "duePk"},
                                 os.path.join(self.run_dir, "calls.jsonl"))
        self.closers.append(self.proxy.close)

        self.atlassian = atl.Atlassian(stacks.ROOT, REHEARSAL_PARAMS["AppKey"])
        self.closers.append(self.atlassian.close)

        # The twenty functions.
        gw_log = open(os.path.join(self.run_dir, "gateway.jsonl"), "a", buffering=1)
        self.closers.append(gw_log.close)
        record = lambda e: gw_log.write(json.dumps(e) + "\n")  # noqa: E731
        start = time.perf_counter()
        for n, s in self.stacks.items():
            hosts = {}
            for lid, fn in self.functions[n].items():
                binary = os.path.join(a.bin_dir, fn["binary"])
                if not os.access(binary, os.X_OK):
                    raise RuntimeError(f"{binary} is missing (build with --profile perf)")
                hosts[lid] = gateway.FunctionHost(s, fn, binary, self.function_env(n, s, lid, fn), self.run_dir)
                self.hosts[(n, lid)] = hosts[lid]
            self.gateways[n] = gateway.Gateway(s, hosts, self.functions[n], record, {OPERATOR[0]: OPERATOR[1]})
            self.closers.append(self.gateways[n].close)
        self.checks.line(f"up: 2 stacks, {len(self.hosts)} functions started in "
                         f"{time.perf_counter() - start:.1f} s; DynamoDB Local {self.ddb}, s3s-fs {self.s3}, "
                         f"AWS proxy {self.proxy.endpoint}, Atlassian 127.0.0.1:{self.atlassian.port}")

    def function_env(self, n, stack, lid, fn):
        key, secret = self.creds[(n, lid)]
        env = dict(fn["environment"])
        env.update({
            # What Lambda gives every function (its role's session credentials, its region).
            "AWS_REGION": stack.region, "AWS_DEFAULT_REGION": stack.region,
            "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_SESSION_TOKEN": f"rehearsal-session-{n}-{lid}",
            "AWS_EC2_METADATA_DISABLED": "true",
            "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "en_US.UTF-8", "TZ": ":UTC",
            # Endpoint overrides: every AWS call goes to the IAM-checking proxy.
            "CANOPY_DYNAMODB_ENDPOINT": self.proxy.endpoint, "CANOPY_S3_ENDPOINT": self.proxy.endpoint,
            "AWS_ENDPOINT_URL_DYNAMODB": self.proxy.endpoint, "AWS_ENDPOINT_URL_S3": self.proxy.endpoint,
            "AWS_ENDPOINT_URL_KMS": self.proxy.endpoint, "AWS_ENDPOINT_URL": self.proxy.endpoint,
        })
        # Atlassian's install-keys service is the fake one (only where the template sets it).
        if "CANOPY_CONNECT_KEYS_URL" in env:
            env["CANOPY_CONNECT_KEYS_URL"] = self.atlassian.keys_url
        return env

    def down(self):
        for (n, lid), host in self.hosts.items():
            host.stop()
        for close in reversed(self.closers):
            try:
                close()
            except Exception:  # noqa: BLE001
                pass
        for proc, log in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)
            log.close()

    # ---- helpers for the scenario ---------------------------------------------------------
    def move_clock(self, lid, offset_secs):
        """Restarts `lid` in every stack with its clock `offset_secs` ahead, as a later day's run."""
        for n, s in self.stacks.items():
            self.hosts[(n, lid)].stop()
            fn = self.functions[n][lid]
            env = self.function_env(n, s, lid, fn)
            env[CLOCK_OFFSET_VAR] = str(offset_secs)
            host = gateway.FunctionHost(s, fn, os.path.join(self.args.bin_dir, fn["binary"]), env, self.run_dir)
            self.hosts[(n, lid)] = host
            self.gateways[n].hosts[lid] = host

    def gw(self, n):
        s = self.stacks[n]
        return Client(self.gateways[n].port, urllib.parse.urlsplit(s.params["AppBaseUrl"]).netloc)

    def fire(self, n, lid):
        """EventBridge delivers a Schedule rule's event; (kind, parsed answer)."""
        fn = self.functions[n][lid]
        event = gateway.scheduled(self.stacks[n], fn, fn["schedules"][0])
        kind, body = self.hosts[(n, lid)].invoke(event)
        try:
            doc = json.loads(body)
        except ValueError:
            doc = body.decode(errors="replace")
        return kind, doc

    def invoke(self, n, lid, payload):
        """An operator's `aws lambda invoke` of a function with a payload; (kind, parsed answer)."""
        kind, body = self.hosts[(n, lid)].invoke(payload)
        try:
            doc = json.loads(body)
        except ValueError:
            doc = body.decode(errors="replace")
        return kind, doc

    def uninstall(self, n, tenant):
        path = "/lifecycle/uninstalled"
        now = int(time.time())
        token = atl.rs256({"iss": tenant.client_key, "sub": tenant.admin, "qsh": atl.qsh("POST", path),
                           "aud": [self.stacks[n].params["AppBaseUrl"]], "iat": now, "exp": now + 180,
                           "context": {}}, self.atlassian.private_key)
        status, _, raw = self.gw(n).call("POST", path, token, tenant.payload(REHEARSAL_PARAMS["AppKey"], "uninstalled"))
        self.checks.check(status in (200, 204), f"{self.stacks[n].name}: uninstall {tenant.client_key}",
                          f"{status}: {raw[:300]!r}")

    def install(self, n, tenant):
        s = self.stacks[n]
        path = "/lifecycle/installed"
        now = int(time.time())
        token = atl.rs256({"iss": tenant.client_key, "sub": tenant.admin, "qsh": atl.qsh("POST", path),
                           "aud": [s.params["AppBaseUrl"]], "iat": now, "exp": now + 180, "context": {}},
                          self.atlassian.private_key)
        status, _, raw = self.gw(n).call("POST", path, token, tenant.payload(REHEARSAL_PARAMS["AppKey"], "installed"))
        self.checks.check(status in (200, 204), f"{s.name}: install {tenant.client_key} (signed install)",
                          f"answered {status}: {raw[:300]!r}")
        path = "/lifecycle/enabled"
        status, _, raw = self.gw(n).call("POST", path, tenant.lifecycle_token("POST", path),
                                         tenant.payload(REHEARSAL_PARAMS["AppKey"], "enabled"))
        self.checks.check(status in (200, 204), f"{s.name}: enable {tenant.client_key}", f"{status}: {raw[:300]!r}")

    def expect(self, n, what, method, path, token, want, body=None):
        status, doc, raw = self.gw(n).call(method, path, token, body)
        ok = status in (want if isinstance(want, tuple) else (want,))
        self.checks.check(ok, f"{self.stacks[n].name}: {what} ({method} {path}) answers {want}",
                          f"answered {status}: {raw[:300].decode(errors='replace')}")
        return status, doc

    def home_of(self, n, tenant):
        status, doc, raw = self.gw(n).call("GET", "/api/residency", tenant.context_token(tenant.admin))
        return status, doc

    def settled(self, tenant, region):
        """(finished, state): the tenant's residency as the target stack sees it."""
        status, doc = self.home_of(region, tenant)
        m = (doc or {}).get("migration") if isinstance(doc, dict) else None
        phase = str((m or {}).get("phase", "")).lower()
        if phase in ("failed", "cancelled"):
            return True, (status, doc)
        ok = status == 200 and doc.get("region") == region and (not m or phase == "switched")
        return ok, (status, doc)

    def migrate(self, tenant, region):
        self.expect("us", f"tenant {tenant.name}'s admin asks to migrate to {region}", "POST",
                    "/api/residency/migrations", tenant.context_token(tenant.admin), (200, 202), {"region": region})
        return self.drive_migration(lambda: self.settled(tenant, region), f"migration of tenant {tenant.name} to {region}")

    def drive_migration(self, done, label):
        """Fires the residency workers of both stacks (every minute on AWS) until `done()`; stops
        early when the same error repeats 3 times."""
        errors = {}
        state = None
        for i in range(MAX_WORKER_FIRES):
            for n in ("us", "eu"):
                kind, doc = self.fire(n, "ResidencyWorkerFunction")
                if kind != "response":
                    text = json.dumps(doc) if not isinstance(doc, str) else doc
                    key = (n, re.sub(r'date[^,]*GMT', "date", text))  # the same error at another second
                    errors[key] = errors.get(key, 0) + 1
                    if errors[key] == 1:
                        self.checks.line(f"      canopy-{n} ResidencyWorkerFunction answered {kind}: {text[:1500]}")
            if errors and max(errors.values()) >= 3:
                break
            finished, state = done()
            if finished:
                m = (state[1] or {}).get("migration") if isinstance(state[1], dict) else None
                phase = str((m or {}).get("phase", "")).lower()
                return self.checks.check(phase not in ("failed", "cancelled"),
                                         f"{label} finished after {i + 1} worker round(s)",
                                         f"phase {phase}: {json.dumps(m)[:500]}")
        _, state = done()
        self.checks.check(False, f"{label} finished",
                          f"not after {i + 1} worker round(s) (each stack's worker fired once a round): "
                          f"{json.dumps(state)[:600]}")
        return False

    # ---- the scenario ---------------------------------------------------------------------
    def scenario(self):
        c = self.checks
        A = self.atlassian.tenant("a")
        B = self.atlassian.tenant("b")
        C = self.atlassian.tenant("c")
        D = self.atlassian.tenant("d")
        admin, user = A.context_token(A.admin), A.context_token(A.user)

        c.line("-- install (us): tenant a (the scenario's), b (its site will deny the app), c (bystander), "
               "d (a second mover, without media)")
        self.expect("us", "descriptor", "GET", "/atlassian-connect.json", None, 200)
        for t in (A, B, C, D):
            self.install("us", t)
        B.deny_all = True  # B's site is deleted from now on: every app call answers 401

        c.line("-- admin builds a site, logo by presigned PUT")
        png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00\x00\x00\x01" * 2 + b"\x08\x06\x00\x00\x00" + \
            bytes(100)
        status, ticket = self.expect("us", "admin asks for a logo upload URL", "POST", "/api/media/uploads", admin,
                                     201, {"purpose": "logo", "contentType": "image/png", "size": len(png)})
        media_id = ((ticket or {}).get("media") or {}).get("id")
        upload = (ticket or {}).get("upload") or {}
        if media_id:
            self.expect("us", "complete before the upload", "POST", f"/api/media/{media_id}/complete", admin, 409)
        if upload.get("url"):
            hdrs = upload.get("headers") or []
            hdrs = hdrs.items() if isinstance(hdrs, dict) else hdrs
            u = urllib.parse.urlsplit(upload["url"])
            h = {k: v for k, v in hdrs}
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            conn.request(upload.get("method", "PUT"), u.path + "?" + u.query, png, h)
            r = conn.getresponse()
            out = r.read()
            conn.close()
            c.check(r.status == 200, "browser PUTs the logo to the presigned URL", f"{r.status} {out[:300]!r}")
            self.expect("us", "complete after the upload", "POST", f"/api/media/{media_id}/complete", admin, 200)
        theme = {"name": "Rehearsal theme", "colors": {"primary": "#0052CC", "background": "#FFFFFF", "text": "#172B4D"},
                 "fonts": {"body": "Inter, system-ui, sans-serif"}}
        if media_id:
            theme["header"] = {"logoMediaId": media_id}
        _, made = self.expect("us", "admin creates a theme with the logo", "POST", "/api/themes", admin, 201, theme)
        site_doc = {"name": "Rehearsal site", "visibility": "public"}
        if (made or {}).get("id"):
            site_doc["themeId"] = made["id"]
        _, site = self.expect("us", "admin creates a site with that theme", "POST", "/api/sites", admin, 201, site_doc)
        site_id = (site or {}).get("id")

        c.line("-- a visitor reads the site; feedback")
        if site_id:
            _, config = self.expect("us", "visitor reads the site config", "GET", f"/api/sites/{site_id}/config",
                                    user, 200)
            c.check(media_id is not None and media_id in json.dumps(config),
                    "the site config names the logo", f"{json.dumps(config)[:300]}")
            self.expect("us", "visitor sends feedback", "POST", "/api/feedback", user, 201,
                        {"siteId": site_id, "rating": 5, "text": "Rehearsed.", "contactable": True})
        self.expect("us", "visitor's own record", "GET", "/api/me", user, 200)
        self.expect("us", "operator route without SigV4", "GET", "/ops/receipts", None, 403)
        status = self.operator_get("us", "/ops/receipts", secret="not-the-operator's")[0]
        c.check(status == 403, "canopy-us: operator route with a wrong SigV4 signature answers 403", f"{status}")
        status = self.operator_get("us", "/ops/usage")[0]
        c.check(status == 200, "canopy-us: operator reads usage figures (SigV4)", f"{status}")

        c.line("-- jobs in us")
        for lid in ("UsageFunction", "PrivacyFunction"):
            kind, doc = self.fire("us", lid)
            c.check(kind == "response", f"canopy-us: {lid} schedule runs", f"{kind}: {str(doc)[:400]}")

        _, d_site = self.expect("us", "tenant d's admin creates a site", "POST", "/api/sites",
                                D.context_token(D.admin), 201, {"name": "D's site", "visibility": "public"})
        d_site_id = (d_site or {}).get("id")

        # Tenant d's visitor comes after the us privacy run: its report to Atlassian is due in eu.
        self.expect("us", "tenant d's visitor's own record", "GET", "/api/me", D.context_token(D.user), 200)

        c.line("-- migrate to eu: tenant d (no media) first, then tenant a (site, logo, feedback)")
        sites = {"a": site_id, "d": d_site_id}
        movers = [t for t in (D, A) if self.migrate(t, "eu")]
        if A not in movers:
            c.line("      tenant a did not move (above): the eu checks run with the tenants that did")

        c.line("-- the us sweep: liveness of b (401) and c")
        kind, doc = self.fire("us", "RetentionFunction")
        c.check(kind == "response", "canopy-us: RetentionFunction schedule runs", f"{kind}: {str(doc)[:400]}")
        c.line(f"      sweep report: {json.dumps(doc)[:400]}")
        self.liveness_report("canopy-us", must_probe="c", after_denied="b")

        for t in movers:
            # Atlassian keeps sending lifecycle events to the region a tenant left.
            path = "/lifecycle/enabled"
            status, _, raw = self.gw("us").call("POST", path, t.lifecycle_token("POST", path),
                                                t.payload(REHEARSAL_PARAMS["AppKey"], "enabled"))
            c.check(status in (200, 204), f"canopy-us: a lifecycle event for tenant {t.name}, now in eu, reaches it",
                    f"{status}: {raw[:300]!r}")
        for t in movers:
            c.line(f"-- every function serves tenant {t.name} in eu")
            admin, user = t.context_token(t.admin), t.context_token(t.user)
            if sites[t.name]:
                self.expect("eu", f"content: tenant {t.name}'s visitor reads the site config", "GET",
                            f"/api/sites/{sites[t.name]}/config", user, 200)
                self.expect("eu", f"feedback: tenant {t.name}'s visitor sends feedback", "POST", "/api/feedback",
                            user, 201, {"siteId": sites[t.name], "rating": 4, "text": "Still here.",
                                        "contactable": False})
            self.expect("eu", f"media: tenant {t.name}'s admin lists media", "GET", "/api/media", admin, 200)
            if media_id and t is A:
                self.expect("eu", "media: reads the logo", "GET", f"/api/media/{media_id}", user, 200)
            self.expect("eu", f"lifecycle: tenant {t.name}'s tenant endpoint", "GET", "/api/tenant", user, 200)
        if movers:
            product_calls_before = len(self.atlassian.calls)
            for lid in ("PrivacyFunction", "RetentionFunction", "UsageFunction"):
                kind, doc = self.fire("eu", lid)
                c.check(kind == "response", f"canopy-eu: {lid} schedule runs with tenant(s) "
                        f"{', '.join(t.name for t in movers)} there", f"{kind}: {str(doc)[:400]}")
                if lid == "RetentionFunction":
                    c.line(f"      sweep report: {json.dumps(doc)[:400]}")
            self.liveness_report("canopy-eu", must_probe=[t.name for t in movers])
            if D in movers:
                reports = [x for x in self.atlassian.calls[product_calls_before:]
                           if x["tenant"] == "d" and x["path"].endswith("/report-accounts")]
                c.check(any(x["status"] in (200, 204) for x in reports),
                        "canopy-eu: privacy reports tenant d's accounts to Atlassian (app JWT verified)",
                        f"report-accounts calls for d: {[(x['iss'], x['status'], x['problem']) for x in reports]}")

        for t in movers:
            c.line(f"-- rollback of tenant {t.name} to us")
            self.expect("eu", f"tenant {t.name}'s admin rolls back", "POST", "/api/residency/rollback",
                        t.context_token(t.admin), (200, 202))
            self.drive_migration(lambda t=t: self.settled(t, "us"), f"rollback of tenant {t.name} to us")
            if sites[t.name]:
                self.expect("us", f"content after tenant {t.name}'s rollback", "GET",
                            f"/api/sites/{sites[t.name]}/config", t.context_token(t.user), 200)

        self.delete_now(C)

        c.line("-- uninstall, purge")
        gone = [A, D]
        for t in gone:
            self.uninstall("us", t)
        # The next sweeps run 31 days later: past the 30-day purge date of the uninstalled tenants
        # and the 7-day rollback window of the copies their migrations left in the other region.
        self.move_clock("RetentionFunction", 31 * DAY)
        c.line("-- 31 days later (the retention functions' clocks moved: CANOPY_TEST_CLOCK_OFFSET_SECS)")
        for n in ("us", "eu"):
            kind, doc = self.fire(n, "RetentionFunction")
            c.check(kind == "response", f"{self.stacks[n].name}: retention sweep after the purge date",
                    f"{kind}: {str(doc)[:400]}")
            c.line(f"      sweep report: {json.dumps(doc)[:400]}")
        # Tenant b's site has answered 401 since the first sweep: 31 days on, past the 14-day
        # grace, the sweep treats it as uninstalled (its purge comes 30 days later).
        b_key = self.atlassian.tenants["b"].client_key
        b_items, _ = scan_tenant(self.ddb, self.stacks["us"], b_key)
        b_record = [i for i in b_items if i.get("sk", {}).get("S") == "TENANT"]
        b_state = json.loads(b_record[0]["body"]["S"]).get("state") if b_record else None
        c.check(b_state == "uninstalled", f"canopy-us: {b_key}, whose site denies the app, is uninstalled after the "
                "14-day liveness grace", f"state {b_state!r}")
        for n, s in self.stacks.items():
            status, out = s3_request(self.s3, self.s3_keys, "GET", "/" + s.physical_id("MediaBucket"),
                                     "list-type=2&prefix=tenants%2F")
            objects = [k.split("</Key>")[0] for k in out.decode(errors="replace").split("<Key>")[1:]]
            for t in gone:
                mine, _ = scan_tenant(self.ddb, s, t.client_key)
                left = [i for i in mine if not i.get("pk", {}).get("S", "").startswith("T#_operator")]
                # Expired items (`ttl` past when the sweep ran, 31 days on): DynamoDB's TTL deletes
                # them, DynamoDB Local never does, and reads (the purge's too) skip them.
                swept_at = time.time() + 31 * DAY
                expired = [i for i in left if "ttl" in i and int(float(i["ttl"].get("N", "0"))) < swept_at]
                if expired:
                    c.line(f"NOTE  {s.name}: {len(expired)} expired item(s) of {t.client_key} left for DynamoDB's TTL "
                           f"to delete (the purge skips expired items): "
                           f"{[(i['pk']['S'], i['sk']['S']) for i in expired][:4]}")
                    left = [i for i in left if i not in expired]
                objs = [o for o in objects if o.startswith(f"tenants/{t.client_key}/")]
                residency = [i for i in left if i.get("sk", {}).get("S") == "RESIDENCY"]
                c.check(not left, f"{s.name}: nothing of {t.client_key} left in the table",
                        f"{len(left)} item(s): {[(i['pk']['S'], i['sk']['S']) for i in left][:8]}"
                        + (f"; RESIDENCY item: {json.dumps(residency[0])[:600]}" if residency else ""))
                c.check(not objs, f"{s.name}: no media object of {t.client_key} left", f"{objs[:5]}")
        receipts = self.operator_get("us", "/ops/receipts")
        import hashlib

        hashes = {hashlib.sha256(x.encode()).hexdigest() for x in (A.client_key, f"T#{A.client_key}")}
        items = (receipts[1] or {}).get("items", []) if isinstance(receipts[1], dict) else []
        c.check(receipts[0] == 200 and any(i.get("tenantKeySha256") in hashes for i in items),
                f"canopy-us: a deletion receipt for {A.client_key} (operator, SigV4)",
                f"{receipts[0]} {receipts[2][:300]!r}")
        for n, s in self.stacks.items():
            _, everything = scan_tenant(self.ddb, s, A.client_key)
            c.line(f"      {s.name} table after the purge: {len(everything)} item(s) in all")

    def delete_now(self, t):
        """A customer asks for their data to go now: the operator invokes the retention function
        with `deleteTenantNow`, refused while the app is installed, done at once after uninstall."""
        c = self.checks
        c.line(f"-- tenant {t.name} asks to be deleted now (operator: RetentionFunction with deleteTenantNow)")
        self.expect("us", f"tenant {t.name}'s admin creates a site", "POST", "/api/sites",
                    t.context_token(t.admin), 201, {"name": "To be deleted", "visibility": "public"})
        request = {"deleteTenantNow": {"clientKey": t.client_key}}
        kind, doc = self.invoke("us", "RetentionFunction", request)
        c.check(kind == "error" and "tenant_installed" in json.dumps(doc),
                f"canopy-us: deleting {t.client_key} now while the app is installed is refused", f"{kind}: {doc}")
        self.uninstall("us", t)
        kind, doc = self.invoke("us", "RetentionFunction", request)
        receipt = doc.get("receipt", {}) if isinstance(doc, dict) else {}
        c.check(kind == "response" and doc.get("status") == "deleted" and receipt.get("reason") == "onRequest",
                f"canopy-us: {t.client_key} deleted now on request, with a receipt", f"{kind}: {str(doc)[:400]}")
        mine, _ = scan_tenant(self.ddb, self.stacks["us"], t.client_key)
        left = [i for i in mine if not i.get("pk", {}).get("S", "").startswith("T#_operator")]
        c.check(not left, f"canopy-us: nothing of {t.client_key} left in the table the day it asked",
                f"{[(i['pk']['S'], i['sk']['S']) for i in left][:8]}")

    def operator_get(self, n, path, secret=None):
        """An operator's SigV4-signed call through the gateway (the AWS_IAM authorizer)."""
        s = self.stacks[n]
        host = urllib.parse.urlsplit(s.params["AppBaseUrl"]).netloc
        headers = sigv4.sign("GET", path, "", {"host": host}, b"", OPERATOR[0], secret or OPERATOR[1], s.region,
                             "execute-api")
        headers = {k: v for k, v in headers.items() if k != "host"}
        return self.gw(n).call("GET", path, headers=headers)

    def liveness_report(self, stack_name, must_probe, after_denied=None):
        c = self.checks
        probes = [x for x in self.atlassian.calls if x["path"] in ("/rest/api/space", "/rest/api/3/serverInfo")]
        new = probes[getattr(self, "_probes_seen", 0):]
        self._probes_seen = len(probes)
        for p in new:
            c.line(f"      {stack_name} liveness probe of tenant {p['tenant']}: iss={p['iss']!r} -> {p['status']}"
                   + (f" ({p['problem']})" if p["problem"] else ""))
        for name in [must_probe] if isinstance(must_probe, str) else must_probe:
            c.check(any(p["tenant"] == name for p in new),
                    f"{stack_name}: the retention sweep probed tenant {name}'s site"
                    + (f" (tenant {after_denied}'s 401 did not stop it)" if after_denied else ""),
                    f"no liveness probe of tenant {name}; probes: {[p['tenant'] for p in new]}")
        bad = [p for p in new if p["iss"] != REHEARSAL_PARAMS["AppKey"]]
        c.check(not bad, f"{stack_name}: liveness probes carry iss = the app key {REHEARSAL_PARAMS['AppKey']!r}",
                "; ".join(f"tenant {p['tenant']} probed with iss={p['iss']!r}, product answered {p['status']}"
                          for p in bad))

    # ---- reports --------------------------------------------------------------------------
    def reports(self):
        c = self.checks
        calls = [x for x in self.proxy.calls if "action" in x]
        denied = [x for x in calls if not x["allowed"]]
        unexpected = [x for x in denied if (x["function"], x["action"]) not in EXPECTED_DENIALS]
        other = [x for x in self.proxy.calls if "action" not in x]
        c.line(f"-- IAM: {len(calls)} calls evaluated, {len(denied)} denied, {len(other)} refused before "
               f"evaluation")
        seen = set()
        for x in unexpected:
            k = (x["stack"], x["function"], x["action"], x["resource"])
            if k in seen:
                continue
            seen.add(k)
            c.check(False, f"{x['stack']}: {x['function']} {x['action']} on {x['resource']}",
                    f"DENIED ({x['reason']}), not expected by the scenario")
        for x in other[:10]:
            c.line(f"      refused: {json.dumps(x)[:300]}")
        # Grants never used: per Allow statement, the actions no allowed call used (on any of its
        # resources) and the resources no allowed call touched. The managed policies SAM adds
        # (logs, X-Ray) serve Lambda's own delivery, which is not modelled here: counted apart.
        lines = []
        total = 0
        for n, s in self.stacks.items():
            for lid, fn in self.functions[n].items():
                used = [x for x in calls if x["stack"] == s.name and x["function"] == lid and x["allowed"]]
                unused, lambda_own = [], 0
                for st in fn["statements"]:
                    if st.get("Effect") != "Allow":
                        continue
                    actions, resources = iam._list(st.get("Action")), iam._list(st.get("Resource"))
                    if str(st.get("_source", "")).startswith("SAM AWS"):
                        lambda_own += len(actions)
                        continue
                    for action in actions:
                        if not any(iam.action_matches(action, x["action"]) and
                                   iam.resource_matches(resources, x["resource"]) for x in used):
                            unused.append(f"action   {action} on {', '.join(resources)}  [{st.get('_source')}]")
                    for resource in resources:
                        if len(resources) > 1 and not any(iam.action_matches(actions, x["action"]) and
                                                          iam.resource_matches(resource, x["resource"]) for x in used):
                            unused.append(f"resource {resource} ({', '.join(actions)})  [{st.get('_source')}]")
                total += len(unused)
                lines.append(f"{s.name} {lid}: {len(used)} allowed call(s), {len(unused)} grant(s) never used"
                             f" (+{lambda_own} logs/X-Ray actions SAM adds for Lambda itself, not modelled)")
                lines += [f"    {u}" for u in unused]
        with open(os.path.join(self.run_dir, "unused-grants.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(self.run_dir, "product-calls.jsonl"), "w") as f:
            for x in self.atlassian.calls:
                f.write(json.dumps(x) + "\n")
        c.line(f"-- grants never used: {total} (unused-grants.txt)")
        for line in lines:
            if not line.startswith("    "):
                c.line("      " + line)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin-dir", required=True)
    p.add_argument("--run-dir", required=True)
    p.add_argument("--dynamodb-jar", required=True)
    p.add_argument("--s3s-fs", required=True)
    p.add_argument("--budget-secs", type=int, default=600)
    p.add_argument("--template", default=stacks.TEMPLATE,
                   help="another template (e.g. a candidate fix) instead of template.yaml")
    args = p.parse_args()
    for tool in ("java", "openssl"):
        if shutil.which(tool) is None:
            print(f"error: {tool} is missing", file=sys.stderr)
            return 2
    r = Rehearsal(args)

    def on_alarm(*_):
        raise TimeoutError(f"the rehearsal ran past its {args.budget_secs} s budget")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.alarm(args.budget_secs)
    status = 1
    try:
        r.up()
        try:
            r.scenario()
        except Exception as e:  # noqa: BLE001 (report, then the IAM reports still run)
            import traceback

            r.checks.check(False, "scenario ran to its end", f"{e!r}\n{traceback.format_exc()[-1500:]}")
        r.reports()
        status = 0 if not r.checks.failures else 1
    finally:
        signal.alarm(0)
        r.down()
    c = r.checks
    c.line(f"rehearse: {c.passed} passed, {len(c.failures)} failed in {time.monotonic() - r.t0:.1f} s "
           f"(run dir {args.run_dir})")
    r.summary.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
