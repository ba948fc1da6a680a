"""The stand-ins without servers behind them: the gateway's route choice, the proxy's mapping of
requests to IAM actions, the template's real policies through the evaluator, the KMS rules."""

import base64
import os
import tempfile
import unittest

from . import gateway, iam, kms, proxy, stacks


class Fixture(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stacks = stacks.load_stacks()
        cls.us = cls.stacks["us"]
        cls.fns = cls.us.functions()

    def statements(self, lid):
        return [{k: v for k, v in st.items() if not k.startswith("_")} for st in self.fns[lid]["statements"]]


class GatewayRoutes(Fixture):
    def test_most_specific_route_wins(self):
        gw = gateway.Gateway(self.us, {}, self.fns, lambda e: None)
        try:
            cases = {("GET", "/api/sites"): "ANY /api/sites",
                     ("GET", "/api/sites/01X/config"): "ANY /api/sites/{proxy+}",
                     ("GET", "/api/media"): "GET /api/media",
                     ("POST", "/api/media/uploads"): "ANY /api/media/{proxy+}",
                     ("GET", "/ops/usage"): "GET /ops/usage",
                     ("GET", "/ops/usage/2026-12-01"): "GET /ops/usage/{date}",
                     ("POST", "/api/residency/migrations"): "POST /api/residency/{proxy+}",
                     ("GET", "/api/me"): "GET /api/me"}
            for (method, path), key in cases.items():
                route, _ = gw.match(method, path)
                self.assertEqual(route.route_key if route else None, key, path)
            self.assertEqual(gw.match("DELETE", "/atlassian-connect.json"), (None, None))
            status, _, _ = gw.request("GET", "/ops/receipts", {"Host": "h"}, b"")
            self.assertEqual(status, 403)  # AWS_IAM route, no SigV4
        finally:
            gw.close()


class ProxyMapping(Fixture):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.proxy = proxy.Proxy([], "http://127.0.0.1:9", "http://127.0.0.1:9", ("a", "b"), {},
                                 {"": "pk", "due": "duePk"}, os.path.join(self.tmp, "calls.jsonl"))

    def tearDown(self):
        self.proxy.close()

    def test_transactions_are_one_action_per_item(self):
        t = "canopy-us-Table"
        checks = self.proxy.dynamodb_checks("us-east-1", "TransactWriteItems", {"TransactItems": [
            {"Put": {"TableName": t, "Item": {"pk": {"S": "T#a"}, "sk": {"S": "X"}}}},
            {"ConditionCheck": {"TableName": t, "Key": {"pk": {"S": "T#a"}, "sk": {"S": "RESIDENCY"}}}},
            {"Delete": {"TableName": t, "Key": {"pk": {"S": "T#_operator"}, "sk": {"S": "Y"}}}}]})
        self.assertEqual([c[0] for c in checks], ["dynamodb:PutItem", "dynamodb:ConditionCheckItem",
                                                  "dynamodb:DeleteItem"])
        self.assertEqual(checks[2][2], {"dynamodb:LeadingKeys": ["T#_operator"]})

    def test_query_on_the_index_names_the_index_and_its_partition(self):
        (action, resource, ctx), = self.proxy.dynamodb_checks("eu-central-1", "Query", {
            "TableName": "canopy-eu-Table", "IndexName": "due", "KeyConditionExpression": "#p = :p AND dueSk <= :n",
            "ExpressionAttributeNames": {"#p": "duePk"}, "ExpressionAttributeValues": {":p": {"S": "REG"}}})
        self.assertEqual(resource, "arn:aws:dynamodb:eu-central-1:123456789012:table/canopy-eu-Table/index/due")
        self.assertEqual(ctx, {"dynamodb:LeadingKeys": ["REG"]})

    def test_s3_listing_and_copy(self):
        checks = self.proxy.s3_checks("GET", "b", "", "list-type=2&prefix=tenants%2Fa%2F", {})
        self.assertEqual(checks, [("s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "tenants/a/"})])
        checks = self.proxy.s3_checks("PUT", "b", "tenants/x", "", {"x-amz-copy-source": "/o/tenants/x"})
        self.assertEqual([c[0] for c in checks], ["s3:GetObject", "s3:PutObject"])


class TemplatePolicies(Fixture):
    TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/canopy-us-Table"

    def test_tenant_facing_functions_are_denied_the_operator_partition(self):
        for lid in ("LifecycleFunction", "ContentFunction", "MediaFunction", "FeedbackFunction"):
            d = iam.evaluate(self.statements(lid), "dynamodb:GetItem", self.TABLE,
                             {"dynamodb:LeadingKeys": ["T#_operator"]})
            self.assertEqual(d.reason, "explicit deny", lid)
            self.assertTrue(iam.evaluate(self.statements(lid), "dynamodb:GetItem", self.TABLE,
                                         {"dynamodb:LeadingKeys": ["T#x"]}).allowed, lid)

    def test_usage_writes_only_the_operator_partition(self):
        st = self.statements("UsageFunction")
        self.assertTrue(iam.evaluate(st, "dynamodb:PutItem", self.TABLE, {"dynamodb:LeadingKeys": ["T#_operator"]}).allowed)
        self.assertFalse(iam.evaluate(st, "dynamodb:PutItem", self.TABLE, {"dynamodb:LeadingKeys": ["T#x"]}).allowed)

    def test_bucket_listing(self):
        bucket = "arn:aws:s3:::canopy-us-mediabucket"
        # Media and the residency functions HEAD objects that may be missing: without ListBucket
        # S3 answers 403, not 404 (issue 24, defect 3).
        for lid in ("MediaFunction", "ResidencyFunction", "ResidencyWorkerFunction"):
            self.assertTrue(iam.evaluate(self.statements(lid), "s3:ListBucket", bucket, {}).allowed, lid)
        self.assertFalse(iam.evaluate(self.statements("ContentFunction"), "s3:ListBucket", bucket, {}).allowed)
        self.assertTrue(iam.evaluate(self.statements("RetentionFunction"), "s3:ListBucket", bucket,
                                     {"s3:prefix": "tenants/a/"}).allowed)


class KmsRules(unittest.TestCase):
    def test_keys_live_in_their_region(self):
        us_key = "arn:aws:kms:us-east-1:1:key/u"
        k = kms.Kms({"us-east-1": us_key, "eu-central-1": "arn:aws:kms:eu-central-1:1:key/e"})
        status, doc = k.call("us-east-1", "GenerateDataKey", {"KeyId": us_key, "EncryptionContext": {"tenant": "a"}})
        self.assertEqual(status, 200)
        blob = doc["CiphertextBlob"]
        self.assertEqual(kms.Kms.blob_key(base64.b64decode(blob)), us_key)
        ok = k.call("us-east-1", "Decrypt", {"KeyId": us_key, "CiphertextBlob": blob, "EncryptionContext": {"tenant": "a"}})
        self.assertEqual(ok[1]["Plaintext"], doc["Plaintext"])
        other = k.call("eu-central-1", "Decrypt", {"KeyId": us_key, "CiphertextBlob": blob,
                                                   "EncryptionContext": {"tenant": "a"}})
        self.assertEqual(other[1]["__type"], "NotFoundException")
        moved = k.call("us-east-1", "Decrypt", {"KeyId": us_key, "CiphertextBlob": blob,
                                                "EncryptionContext": {"tenant": "b"}})
        self.assertEqual(moved[1]["__type"], "InvalidCiphertextException")


if __name__ == "__main__":
    unittest.main()
