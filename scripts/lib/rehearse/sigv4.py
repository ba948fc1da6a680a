"""AWS Signature Version 4: parse, verify and sign requests (header and presigned-query forms).

What the IAM proxy needs: who signed (access key id), for which region and service, whether the
signature is right for the secret that key id was given, and a fresh signature with another key
(s3s-fs checks SigV4 with its own keys).
"""

import datetime
import hashlib
import hmac
import urllib.parse

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED = "UNSIGNED-PAYLOAD"


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signing_key(secret, date, region, service):
    k = _hmac(("AWS4" + secret).encode(), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def uri_encode(text, safe="-_.~"):
    return urllib.parse.quote(text, safe=safe)


def canonical_uri(path, service):
    # S3 signs the path as sent (encoded once); other services encode each segment again.
    if service == "s3":
        return path or "/"
    return "/".join(uri_encode(urllib.parse.unquote(seg)) for seg in (path or "/").split("/")) or "/"


def canonical_query(query, drop=()):
    pairs = []
    for part in query.split("&") if query else []:
        if not part:
            continue
        k, _, v = part.partition("=")
        k, v = urllib.parse.unquote(k), urllib.parse.unquote(v)
        if k in drop:
            continue
        pairs.append((uri_encode(k), uri_encode(v)))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


class Auth:
    """The signature a request carries."""

    def __init__(self, access_key, date, region, service, signed_headers, signature, presigned, amz_date,
                 expires=None):
        self.access_key, self.date, self.region, self.service = access_key, date, region, service
        self.signed_headers, self.signature, self.presigned = signed_headers, signature, presigned
        self.amz_date, self.expires = amz_date, expires


def parse(headers, query):
    """Auth of a request, or None when it carries no SigV4 signature. `headers` is a dict of
    lower-case names."""
    auth = headers.get("authorization", "")
    if auth.startswith(ALGORITHM + " "):
        fields = {}
        for item in auth[len(ALGORITHM) + 1:].split(","):
            k, _, v = item.strip().partition("=")
            fields[k] = v
        try:
            access_key, date, region, service, _ = fields["Credential"].split("/")
        except (KeyError, ValueError):
            return None
        return Auth(access_key, date, region, service, fields.get("SignedHeaders", "").split(";"),
                    fields.get("Signature", ""), False, headers.get("x-amz-date", ""))
    q = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
    if q.get("X-Amz-Algorithm") == ALGORITHM:
        try:
            access_key, date, region, service, _ = q["X-Amz-Credential"].split("/")
        except (KeyError, ValueError):
            return None
        return Auth(access_key, date, region, service, q.get("X-Amz-SignedHeaders", "").split(";"),
                    q.get("X-Amz-Signature", ""), True, q.get("X-Amz-Date", ""), int(q.get("X-Amz-Expires", "0")))
    return None


def string_to_sign(method, path, query, headers, auth, payload_hash):
    drop = ("X-Amz-Signature",) if auth.presigned else ()
    canon_headers = "".join(f"{h}:{' '.join(headers.get(h, '').split())}\n" for h in auth.signed_headers)
    canonical = "\n".join([method, canonical_uri(path, auth.service), canonical_query(query, drop), canon_headers,
                           ";".join(auth.signed_headers), payload_hash])
    scope = f"{auth.date}/{auth.region}/{auth.service}/aws4_request"
    return "\n".join([ALGORITHM, auth.amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])


def payload_hash_of(headers, body, auth):
    if auth.presigned:
        return UNSIGNED
    declared = headers.get("x-amz-content-sha256")
    if declared:
        return declared
    return hashlib.sha256(body).hexdigest()


def verify(method, path, query, headers, body, auth, secret, now=None):
    """None if the signature is right (and a presigned URL unexpired), else the reason."""
    payload = payload_hash_of(headers, body, auth)
    if payload not in (UNSIGNED,) and not payload.startswith("STREAMING-") \
            and payload != hashlib.sha256(body).hexdigest():
        return "x-amz-content-sha256 does not match the body"
    sts = string_to_sign(method, path, query, headers, auth, payload)
    key = signing_key(secret, auth.date, auth.region, auth.service)
    expected = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, auth.signature):
        return "SignatureDoesNotMatch"
    if auth.presigned:
        now = now or datetime.datetime.now(datetime.timezone.utc)
        signed_at = datetime.datetime.strptime(auth.amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        if now > signed_at + datetime.timedelta(seconds=auth.expires or 0):
            return "Request has expired"
    return None


def sign(method, path, query, headers, body, access_key, secret, region, service, now=None):
    """Headers (lower-case dict) to send with a header-signed request: x-amz-date,
    x-amz-content-sha256 and authorization added; `headers` must hold `host`."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    out = {k.lower(): v for k, v in headers.items()}
    out["x-amz-date"] = amz_date
    payload = hashlib.sha256(body).hexdigest()
    out["x-amz-content-sha256"] = payload
    out.pop("authorization", None)
    signed = sorted(h for h in out if h in ("host", "content-type", "content-md5") or h.startswith("x-amz-"))
    auth = Auth(access_key, amz_date[:8], region, service, signed, "", False, amz_date)
    sts = string_to_sign(method, path, query, out, auth, payload)
    signature = hmac.new(signing_key(secret, auth.date, region, service), sts.encode(), hashlib.sha256).hexdigest()
    out["authorization"] = (f"{ALGORITHM} Credential={access_key}/{auth.date}/{region}/{service}/aws4_request, "
                            f"SignedHeaders={';'.join(signed)}, Signature={signature}")
    return out
