"""The evaluator against AWS's documented evaluation cases (IAM User Guide: policy evaluation
logic, condition operators, multivalued context keys)."""

import unittest

from .iam import evaluate

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/canopy-us-Table"
BUCKET = "arn:aws:s3:::canopy-us-mediabucket"


def allow(action, resource, **extra):
    return dict(Effect="Allow", Action=action, Resource=resource, **extra)


def deny(action, resource, **extra):
    return dict(Effect="Deny", Action=action, Resource=resource, **extra)


LEADING = {"ForAnyValue:StringEquals": {"dynamodb:LeadingKeys": ["T#_operator"]}}
ONLY_OPERATOR = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["T#_operator"]}}

# (case, statements, action, resource, context, expected decision reason)
CASES = [
    ("default deny: no statement", [], "s3:GetObject", BUCKET + "/k", {}, "implicit deny"),
    ("default deny: other action", [allow("s3:PutObject", BUCKET + "/*")], "s3:GetObject", BUCKET + "/k", {},
     "implicit deny"),
    ("allow", [allow("s3:GetObject", BUCKET + "/*")], "s3:GetObject", BUCKET + "/k", {}, "allow"),
    ("explicit deny wins over allow", [allow("s3:*", "*"), deny("s3:GetObject", BUCKET + "/*")], "s3:GetObject",
     BUCKET + "/k", {}, "explicit deny"),
    ("explicit deny wins whatever the order", [deny("s3:*", "*"), allow("s3:GetObject", "*")], "s3:GetObject",
     BUCKET + "/k", {}, "explicit deny"),
    ("action wildcard *", [allow("dynamodb:*", TABLE)], "dynamodb:Query", TABLE, {}, "allow"),
    ("action wildcard prefix", [allow("s3:Get*", "*")], "s3:GetObject", BUCKET + "/k", {}, "allow"),
    ("action wildcard ?", [allow("s3:?etObject", "*")], "s3:GetObject", BUCKET + "/k", {}, "allow"),
    ("actions are case-insensitive", [allow("DynamoDB:getitem", TABLE)], "dynamodb:GetItem", TABLE, {}, "allow"),
    ("resources are case-sensitive", [allow("s3:GetObject", BUCKET.upper() + "/*")], "s3:GetObject",
     BUCKET + "/k", {}, "implicit deny"),
    ("resource wildcard under a prefix", [allow("s3:GetObject", BUCKET + "/tenants/*")], "s3:GetObject",
     BUCKET + "/tenants/a/b.png", {}, "allow"),
    ("resource wildcard: other prefix", [allow("s3:GetObject", BUCKET + "/tenants/*")], "s3:GetObject",
     BUCKET + "/other/b.png", {}, "implicit deny"),
    ("object grant is not a bucket grant", [allow("s3:GetObject", BUCKET + "/*")], "s3:ListBucket", BUCKET, {},
     "implicit deny"),
    ("table grant is not an index grant", [allow("dynamodb:Query", TABLE)], "dynamodb:Query", TABLE + "/index/due",
     {}, "implicit deny"),
    ("NotAction allows the rest", [dict(Effect="Allow", NotAction="s3:DeleteObject", Resource="*")],
     "s3:GetObject", BUCKET + "/k", {}, "allow"),
    ("NotAction excludes", [dict(Effect="Allow", NotAction="s3:DeleteObject", Resource="*")], "s3:DeleteObject",
     BUCKET + "/k", {}, "implicit deny"),
    ("NotResource", [dict(Effect="Deny", Action="s3:*", NotResource=BUCKET + "/tenants/*"), allow("s3:*", "*")],
     "s3:GetObject", BUCKET + "/x", {}, "explicit deny"),
    ("ForAnyValue deny on the operator partition", [deny("dynamodb:GetItem", TABLE, Condition=LEADING),
                                                    allow("dynamodb:GetItem", TABLE)],
     "dynamodb:GetItem", TABLE, {"dynamodb:LeadingKeys": ["T#_operator"]}, "explicit deny"),
    ("ForAnyValue deny: another partition passes", [deny("dynamodb:GetItem", TABLE, Condition=LEADING),
                                                    allow("dynamodb:GetItem", TABLE)],
     "dynamodb:GetItem", TABLE, {"dynamodb:LeadingKeys": ["T#abc"]}, "allow"),
    ("ForAnyValue: one of several values", [deny("dynamodb:BatchWriteItem", TABLE, Condition=LEADING),
                                            allow("dynamodb:*", TABLE)],
     "dynamodb:BatchWriteItem", TABLE, {"dynamodb:LeadingKeys": ["T#a", "T#_operator"]}, "explicit deny"),
    ("ForAnyValue: missing key is false", [deny("dynamodb:Query", TABLE, Condition=LEADING),
                                           allow("dynamodb:Query", TABLE)], "dynamodb:Query", TABLE, {}, "allow"),
    ("ForAllValues allow: every value listed", [allow("dynamodb:PutItem", TABLE, Condition=ONLY_OPERATOR)],
     "dynamodb:PutItem", TABLE, {"dynamodb:LeadingKeys": ["T#_operator"]}, "allow"),
    ("ForAllValues allow: one value not listed", [allow("dynamodb:PutItem", TABLE, Condition=ONLY_OPERATOR)],
     "dynamodb:PutItem", TABLE, {"dynamodb:LeadingKeys": ["T#_operator", "T#x"]}, "implicit deny"),
    ("ForAllValues: missing key is true (documented pitfall)",
     [allow("dynamodb:PutItem", TABLE, Condition=ONLY_OPERATOR)], "dynamodb:PutItem", TABLE, {}, "allow"),
    ("StringLike s3:prefix", [allow("s3:ListBucket", BUCKET, Condition={"StringLike": {"s3:prefix": "tenants/*"}})],
     "s3:ListBucket", BUCKET, {"s3:prefix": "tenants/T1/"}, "allow"),
    ("StringLike s3:prefix: outside", [allow("s3:ListBucket", BUCKET,
                                             Condition={"StringLike": {"s3:prefix": "tenants/*"}})],
     "s3:ListBucket", BUCKET, {"s3:prefix": "other/"}, "implicit deny"),
    ("plain operator: missing key is false", [allow("s3:ListBucket", BUCKET,
                                                    Condition={"StringLike": {"s3:prefix": "tenants/*"}})],
     "s3:ListBucket", BUCKET, {}, "implicit deny"),
    ("IfExists: missing key is true", [allow("s3:ListBucket", BUCKET,
                                             Condition={"StringLikeIfExists": {"s3:prefix": "tenants/*"}})],
     "s3:ListBucket", BUCKET, {}, "allow"),
    ("negated operator: missing key is true", [deny("s3:*", "*", Condition={"StringNotEquals": {"aws:x": "1"}}),
                                               allow("s3:*", "*")], "s3:GetObject", BUCKET + "/k", {},
     "explicit deny"),
    ("conditions in one statement are ANDed",
     [allow("s3:ListBucket", BUCKET, Condition={"StringLike": {"s3:prefix": "tenants/*"},
                                                "Bool": {"aws:SecureTransport": "true"}})],
     "s3:ListBucket", BUCKET, {"s3:prefix": "tenants/", "aws:SecureTransport": "false"}, "implicit deny"),
    ("values of one key are ORed", [allow("kms:Decrypt", "*", Condition={"StringEquals": {"k": ["a", "b"]}})],
     "kms:Decrypt", "arn:aws:kms:us-east-1:1:key/x", {"k": "b"}, "allow"),
]


class Evaluation(unittest.TestCase):
    def test_documented_cases(self):
        for name, statements, action, resource, context, expected in CASES:
            with self.subTest(name):
                self.assertEqual(evaluate(statements, action, resource, context).reason, expected)


if __name__ == "__main__":
    unittest.main()
