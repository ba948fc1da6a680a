"""SigV4 against AWS's published example and round trips (header and presigned forms)."""

import datetime
import unittest

from . import sigv4

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


class SigV4(unittest.TestCase):
    def test_aws_documented_example(self):
        # IAM User Guide, "Signature Version 4 signing process" example (GET ListUsers).
        headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8",
                   "host": "iam.amazonaws.com", "x-amz-date": "20150830T123600Z",
                   "authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
                                    "SignedHeaders=content-type;host;x-amz-date, "
                                    "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"}
        query = "Action=ListUsers&Version=2010-05-08"
        auth = sigv4.parse(headers, query)
        self.assertEqual((auth.access_key, auth.region, auth.service), ("AKIDEXAMPLE", "us-east-1", "iam"))
        self.assertIsNone(sigv4.verify("GET", "/", query, headers, b"", auth, SECRET))
        self.assertEqual(sigv4.verify("GET", "/", query, headers, b"", auth, SECRET + "x"), "SignatureDoesNotMatch")

    def test_sign_then_verify(self):
        body = b'{"TableName":"t"}'
        headers = sigv4.sign("POST", "/", "", {"host": "127.0.0.1:1", "x-amz-target": "DynamoDB_20120810.GetItem"},
                             body, "AK", "SK", "eu-central-1", "dynamodb")
        auth = sigv4.parse(headers, "")
        self.assertEqual(auth.region, "eu-central-1")
        self.assertIsNone(sigv4.verify("POST", "/", "", headers, body, auth, "SK"))
        self.assertIsNotNone(sigv4.verify("POST", "/", "", headers, body + b" ", auth, "SK"))

    def test_presigned_expiry(self):
        now = datetime.datetime(2026, 12, 4, 12, 0, 0, tzinfo=datetime.timezone.utc)
        amz = now.strftime("%Y%m%dT%H%M%SZ")
        auth = sigv4.Auth("AK", amz[:8], "us-east-1", "s3", ["host"], "", True, amz, 60)
        query = (f"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F{amz[:8]}%2Fus-east-1%2Fs3%2Faws4_request"
                 f"&X-Amz-Date={amz}&X-Amz-Expires=60&X-Amz-SignedHeaders=host")
        headers = {"host": "h"}
        sts = sigv4.string_to_sign("PUT", "/b/k", query, headers, auth, sigv4.UNSIGNED)
        import hashlib
        import hmac
        sig = hmac.new(sigv4.signing_key("SK", amz[:8], "us-east-1", "s3"), sts.encode(), hashlib.sha256).hexdigest()
        full = query + "&X-Amz-Signature=" + sig
        parsed = sigv4.parse(headers, full)
        self.assertIsNone(sigv4.verify("PUT", "/b/k", full, headers, b"x", parsed, "SK", now=now))
        later = now + datetime.timedelta(seconds=61)
        self.assertEqual(sigv4.verify("PUT", "/b/k", full, headers, b"x", parsed, "SK", now=later),
                         "Request has expired")
        self.assertEqual(sigv4.verify("PUT", "/b/other", full, headers, b"x", parsed, "SK", now=now),
                         "SignatureDoesNotMatch")


if __name__ == "__main__":
    unittest.main()
