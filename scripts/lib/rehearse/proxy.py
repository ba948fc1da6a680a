"""The IAM-enforcing AWS proxy: every AWS call of every function comes here (the functions'
DynamoDB, S3 and KMS endpoints point at it).

For each request: SigV4 tells who (access key id: each function of each stack got its own, and
only it), the region and the service; the signature is checked with that function's secret (a
presigned URL too: a browser's upload acts with the role that presigned it). The request is
mapped to IAM actions and resource ARNs (a DynamoDB transaction is one action per contained
item, as IAM authorises it; `dynamodb:LeadingKeys` from the partition keys it touches;
`s3:prefix` of a listing), evaluated against the function's template policy (iam.py), and
logged as (stack, function, action, resource, allowed). A denied call gets AWS's answer
(DynamoDB/KMS 400 AccessDeniedException, S3 403 AccessDenied). An allowed one is forwarded:
DynamoDB to DynamoDB Local (re-signed with one key, so the namespace is the signing region: one
per stack), S3 to s3s-fs (re-signed with its keys), KMS to the KMS stand-in of the signing region.
S3 HEAD/GET of a missing key answers 403, not 404, to a caller without `s3:ListBucket` on the
bucket, as S3 does.
"""

import http.client
import json
import re
import threading
import time
import urllib.parse

import lambda_emulator

from . import iam, sigv4

ACCOUNT = "123456789012"
DDB_JSON = "application/x-amz-json-1.0"
KMS_JSON = "application/x-amz-json-1.1"
HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "expect"}


class Principal:
    def __init__(self, stack, logical_id, access_key, secret, statements):
        self.stack, self.logical_id = stack, logical_id
        self.access_key, self.secret, self.statements = access_key, secret, statements

    @property
    def role_arn(self):
        return f"arn:aws:sts::{ACCOUNT}:assumed-role/{self.stack}-{self.logical_id}Role/{self.logical_id}"


def read_body(handler):
    headers = handler.headers
    if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
        chunks = []
        for _ in range(100000):
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
        return b"".join(chunks)
    return handler.rfile.read(int(headers.get("Content-Length") or 0))


def decode_aws_chunked(body):
    """The payload of an `aws-chunked` body (the S3 SDK's streaming uploads), trailers dropped."""
    out, i = [], 0
    for _ in range(100000):
        end = body.find(b"\r\n", i)
        if end < 0:
            break
        size = int(body[i:end].split(b";")[0] or b"0", 16)
        i = end + 2
        if size == 0:
            break
        out.append(body[i : i + size])
        i += size + 2
    return b"".join(out)


class Denied(Exception):
    def __init__(self, action, resource):
        super().__init__(action)
        self.action, self.resource = action, resource


class Proxy:
    def __init__(self, principals, ddb_endpoint, s3_endpoint, s3_keys, kms_by_stack_region, hash_keys, log_path):
        self.principals = {p.access_key: p for p in principals}
        self.ddb = urllib.parse.urlsplit(ddb_endpoint)
        self.s3 = urllib.parse.urlsplit(s3_endpoint)
        self.s3_keys = s3_keys
        self.kms = kms_by_stack_region
        self.hash_keys = hash_keys  # {"": "pk", "due": "duePk"}
        self.calls = []
        self.lock = threading.Lock()
        self.log = open(log_path, "a", buffering=1)
        proxy = self

        class Handler(lambda_emulator.QuietHandler):
            def handle_any(self):
                try:
                    body = read_body(self)
                    status, headers, payload = proxy.handle(self.command, self.path, self.headers, body)
                except Exception as e:  # noqa: BLE001 (a proxy bug must show, not hang the function)
                    status, headers, payload = 500, [("Content-Type", "text/plain")], f"proxy error: {e!r}".encode()
                    proxy.record({"error": repr(e), "path": self.path})
                self.send_response(status)
                length = str(len(payload))
                for k, v in headers:
                    if k.lower() == "x-upstream-content-length":
                        length = v  # HEAD: the object's length, not the empty body's
                        continue
                    self.send_header(k, v)
                self.send_header("Content-Length", length)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any  # noqa: N815

        self.server = lambda_emulator.QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.log.close()

    def record(self, entry):
        entry["t"] = round(time.time(), 3)
        with self.lock:
            self.calls.append(entry)
            self.log.write(json.dumps(entry) + "\n")

    # ---- entry ----------------------------------------------------------------------------
    def handle(self, method, raw_path, headers, body):
        split = urllib.parse.urlsplit(raw_path)
        path, query = split.path, split.query
        lower = {k.lower(): v for k, v in headers.items()}
        auth = sigv4.parse(lower, query)
        if auth is None:
            self.record({"function": None, "denied": "unsigned", "path": path})
            return 403, [("Content-Type", "application/xml")], b"<Error><Code>AccessDenied</Code></Error>"
        principal = self.principals.get(auth.access_key)
        if principal is None:
            self.record({"function": None, "denied": f"unknown key {auth.access_key}", "path": path})
            return 403, [("Content-Type", "application/xml")], b"<Error><Code>InvalidAccessKeyId</Code></Error>"
        reason = sigv4.verify(method, path, query, lower, body, auth, principal.secret)
        if reason:
            self.record({"stack": principal.stack, "function": principal.logical_id, "denied": reason, "path": path})
            return 403, [("Content-Type", "application/xml")], \
                f"<Error><Code>SignatureDoesNotMatch</Code><Message>{reason}</Message></Error>".encode()
        if auth.service == "dynamodb":
            return self.dynamodb(principal, auth, lower, body)
        if auth.service == "s3":
            return self.s3_call(principal, auth, method, path, query, lower, body)
        if auth.service == "kms":
            return self.kms_call(principal, auth, lower, body)
        self.record({"stack": principal.stack, "function": principal.logical_id, "denied": f"service {auth.service}"})
        return 400, [], b"unsupported service"

    def authorize(self, principal, auth, checks, via=None):
        """checks: [(action, resource, context)]; raises Denied at the first denied one, after
        logging every evaluated check."""
        denied = None
        for action, resource, context in checks:
            decision = iam.evaluate(principal.statements, action, resource, context)
            entry = {"stack": principal.stack, "function": principal.logical_id, "region": auth.region,
                     "action": action, "resource": resource, "allowed": decision.allowed, "reason": decision.reason}
            if context:
                entry["context"] = context
            if via:
                entry["via"] = via
            self.record(entry)
            if not decision.allowed and denied is None:
                denied = Denied(action, resource)
        if denied:
            raise denied

    def deny_message(self, principal, e):
        return (f"User: {principal.role_arn} is not authorized to perform: {e.action} on resource: {e.resource} "
                f"because no identity-based policy allows the {e.action} action")

    # ---- DynamoDB -------------------------------------------------------------------------
    def table_arn(self, region, table, index=None):
        arn = f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{table}"
        return f"{arn}/index/{index}" if index else arn

    def leading(self, item, index=None):
        name = self.hash_keys.get(index or "", "pk")
        value = (item or {}).get(name) or {}
        return value.get("S")

    def query_leading(self, req):
        names = req.get("ExpressionAttributeNames") or {}
        values = req.get("ExpressionAttributeValues") or {}
        want = self.hash_keys.get(req.get("IndexName") or "", "pk")
        for name, ref in re.findall(r"([#\w]+)\s*=\s*(:\w+)", req.get("KeyConditionExpression", "")):
            if names.get(name, name) == want:
                return (values.get(ref) or {}).get("S")
        return None

    def dynamodb_checks(self, region, op, req):
        def ctx(keys):
            keys = [k for k in keys if k is not None]
            return {"dynamodb:LeadingKeys": keys} if keys else {}

        single = {"GetItem": "Key", "DeleteItem": "Key", "UpdateItem": "Key", "PutItem": "Item"}
        if op in single:
            return [(f"dynamodb:{op}", self.table_arn(region, req["TableName"]),
                     ctx([self.leading(req.get(single[op]))]))]
        if op in ("Query", "Scan"):
            index = req.get("IndexName")
            keys = [self.query_leading(req)] if op == "Query" else []
            return [(f"dynamodb:{op}", self.table_arn(region, req["TableName"], index), ctx(keys))]
        if op == "BatchWriteItem":
            out = []
            for table, writes in req.get("RequestItems", {}).items():
                keys = [self.leading((w.get("PutRequest") or {}).get("Item") or (w.get("DeleteRequest") or {}).get("Key"))
                        for w in writes]
                out.append(("dynamodb:BatchWriteItem", self.table_arn(region, table), ctx(keys)))
            return out
        if op == "BatchGetItem":
            return [("dynamodb:BatchGetItem", self.table_arn(region, table), ctx([self.leading(k) for k in spec["Keys"]]))
                    for table, spec in req.get("RequestItems", {}).items()]
        if op == "TransactWriteItems":
            kinds = {"Put": ("PutItem", "Item"), "Delete": ("DeleteItem", "Key"), "Update": ("UpdateItem", "Key"),
                     "ConditionCheck": ("ConditionCheckItem", "Key")}
            out = []
            for entry in req.get("TransactItems", []):
                (kind, spec), = entry.items()
                action, field = kinds[kind]
                out.append((f"dynamodb:{action}", self.table_arn(region, spec["TableName"]),
                            ctx([self.leading(spec.get(field))])))
            return out
        if op == "TransactGetItems":
            return [("dynamodb:GetItem", self.table_arn(region, e["Get"]["TableName"]), ctx([self.leading(e["Get"]["Key"])]))
                    for e in req.get("TransactItems", [])]
        table = req.get("TableName")
        return [(f"dynamodb:{op}", self.table_arn(region, table) if table else "*", {})]

    def dynamodb(self, principal, auth, headers, body):
        op = headers.get("x-amz-target", "").rpartition(".")[2]
        req = json.loads(body or b"{}")
        try:
            self.authorize(principal, auth, self.dynamodb_checks(auth.region, op, req))
        except Denied as e:
            doc = {"__type": "com.amazon.coral.service#AccessDeniedException", "Message": self.deny_message(principal, e)}
            return 400, [("Content-Type", DDB_JSON)], json.dumps(doc).encode()
        fwd = {"host": self.ddb.netloc, "content-type": headers.get("content-type", DDB_JSON),
               "x-amz-target": headers.get("x-amz-target", "")}
        signed = sigv4.sign("POST", "/", "", fwd, body, "rehearse", "rehearse", auth.region, "dynamodb")
        return self.forward(self.ddb, "POST", "/", signed, body)

    # ---- KMS ------------------------------------------------------------------------------
    def kms_call(self, principal, auth, headers, body):
        from .kms import Kms

        op = headers.get("x-amz-target", "").rpartition(".")[2]
        req = json.loads(body or b"{}")
        key = req.get("KeyId")
        if not key and req.get("CiphertextBlob"):
            import base64

            key = Kms.blob_key(base64.b64decode(req["CiphertextBlob"]))
        resource = key if key and key.startswith("arn:") else f"arn:aws:kms:{auth.region}:{ACCOUNT}:key/{key}"
        try:
            self.authorize(principal, auth, [(f"kms:{op}", resource, {})])
        except Denied as e:
            doc = {"__type": "AccessDeniedException", "message": self.deny_message(principal, e)}
            return 400, [("Content-Type", KMS_JSON)], json.dumps(doc).encode()
        kms = self.kms.get(auth.region)
        if kms is None:
            return 400, [("Content-Type", KMS_JSON)], b'{"__type":"UnrecognizedClientException"}'
        status, doc = kms.call(auth.region, op, req)
        return status, [("Content-Type", KMS_JSON)], json.dumps(doc).encode()

    # ---- S3 -------------------------------------------------------------------------------
    def s3_checks(self, method, bucket, key, query, headers):
        q = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        bucket_arn = f"arn:aws:s3:::{bucket}"
        if not key:
            if method == "GET" and ("list-type" in q or not q):
                return [("s3:ListBucket", bucket_arn, {"s3:prefix": q["prefix"]} if "prefix" in q else {})]
            if method == "HEAD":
                return [("s3:ListBucket", bucket_arn, {})]
            if method == "POST" and "delete" in q:
                return None  # per key, from the body
            return [(f"s3:{method}Bucket", bucket_arn, {})]
        obj = f"{bucket_arn}/{key}"
        if method in ("GET", "HEAD"):
            return [("s3:GetObject", obj, {})]
        if method == "PUT":
            checks = [("s3:PutObject", obj, {})]
            source = headers.get("x-amz-copy-source")
            if source:
                source = urllib.parse.unquote(source.lstrip("/").split("?")[0])
                checks.insert(0, ("s3:GetObject", f"arn:aws:s3:::{source}", {}))
            return checks
        if method == "DELETE":
            return [("s3:DeleteObject", obj, {})]
        return [(f"s3:{method}Object", obj, {})]

    def s3_call(self, principal, auth, method, path, query, headers, body):
        parts = path.lstrip("/").split("/", 1)
        bucket = urllib.parse.unquote(parts[0])
        key = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ""
        if "aws-chunked" in headers.get("content-encoding", "") or \
                headers.get("x-amz-content-sha256", "").startswith("STREAMING-"):
            body = decode_aws_chunked(body)
        checks = self.s3_checks(method, bucket, key, query, headers)
        if checks is None:
            keys = re.findall(rb"<Key>(.*?)</Key>", body)
            checks = [("s3:DeleteObject", f"arn:aws:s3:::{bucket}/{k.decode()}", {}) for k in keys]
        via = "presigned" if auth.presigned else None
        try:
            self.authorize(principal, auth, checks, via)
        except Denied:
            return 403, [("Content-Type", "application/xml")], \
                b"<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
        keep = {"content-type", "content-md5", "cache-control", "content-disposition", "x-amz-copy-source",
                "if-match", "if-none-match", "range", "x-amz-metadata-directive"}
        fwd = {k: v for k, v in headers.items() if k in keep or k.startswith("x-amz-meta-")}
        fwd["host"] = self.s3.netloc
        # The query without any presigned-URL parameters.
        q = "&".join(p for p in query.split("&") if p and not p.startswith("X-Amz-") and not p.startswith("x-id="))
        signed = sigv4.sign(method, path, q, fwd, body, self.s3_keys[0], self.s3_keys[1], auth.region, "s3")
        status, out_headers, payload = self.forward(self.s3, method, path + (f"?{q}" if q else ""), signed, body)
        if status == 404 and method in ("GET", "HEAD") and key:
            listing = iam.evaluate(principal.statements, "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": key})
            if not listing.allowed:
                self.record({"stack": principal.stack, "function": principal.logical_id, "region": auth.region,
                             "action": "s3:GetObject", "resource": f"arn:aws:s3:::{bucket}/{key}", "allowed": True,
                             "reason": "missing key: 404 becomes 403 without s3:ListBucket", "status": 403})
                return 403, [("Content-Type", "application/xml")], \
                    b"<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
        return status, out_headers, payload

    # ---- forwarding -----------------------------------------------------------------------
    def forward(self, upstream, method, path, headers, body):
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
        try:
            conn.request(method, path, body if method not in ("GET", "HEAD") or body else None, headers)
            answer = conn.getresponse()
            payload = answer.read()
            out = [(k, v) for k, v in answer.getheaders() if k.lower() not in HOP]
            if method == "HEAD" and answer.getheader("Content-Length"):
                out.append(("x-upstream-content-length", answer.getheader("Content-Length")))
            return answer.status, out, payload
        finally:
            conn.close()
