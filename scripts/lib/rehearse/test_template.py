"""The resolver, the parameter files and the generated env-vars files (run by scripts/rehearse)."""

import json
import os
import tomllib
import unittest

from . import stacks as stacks_mod
from . import template


def samconfig_overrides(env):
    with open(os.path.join(stacks_mod.ROOT, "samconfig.toml"), "rb") as f:
        config = tomllib.load(f)
    section = config[env]["deploy"]["parameters"]
    overrides = section["parameter_overrides"]
    if isinstance(overrides, str):
        overrides = overrides.split()
    return section, dict(item.split("=", 1) for item in overrides)


class ParamsMatchSamconfig(unittest.TestCase):
    def test_each_stack_mirrors_its_samconfig_env(self):
        for name in stacks_mod.STACKS:
            section, overrides = samconfig_overrides(name)
            params = template.load_params(stacks_mod.params_path(name))
            self.assertEqual(params["StackName"], section["stack_name"], name)
            self.assertEqual(params["Region"], section["region"], name)
            for key, value in overrides.items():
                self.assertEqual(params["Parameters"].get(key), value, f"{name}: {key}")
            extra = set(params["Parameters"]) - set(overrides)
            self.assertLessEqual(extra, set(stacks_mod.RESIDENCY_PARAMS),
                                 f"{name}: parameters neither in samconfig.toml nor residency ones")

    def test_residency_params_name_the_other_stack(self):
        stacks = stacks_mod.load_stacks()
        for name, stack in stacks.items():
            other = stacks["eu" if name == "us" else "us"]
            p = stack.params
            self.assertEqual(p["OtherRegionTableArn"], other.get_att("Table", "Arn"))
            self.assertEqual(p["OtherRegionBucketArn"], other.get_att("MediaBucket", "Arn"))
            self.assertEqual(p["OtherRegionSecretsKeyArn"], other.outputs()["SecretsKeyArn"])
            tables = dict(x.split("=") for x in p["RegionTables"].split(","))
            buckets = dict(x.split("=") for x in p["RegionBuckets"].split(","))
            for n, s in stacks.items():
                self.assertEqual(tables[n], s.outputs()["TableName"])
                self.assertEqual(buckets[n], s.outputs()["MediaBucketName"])


class EnvFiles(unittest.TestCase):
    def test_committed_env_files_match_the_template(self):
        self.assertEqual(stacks_mod.check_env_files(stacks_mod.load_stacks()), [])

    def test_env_file_shape_is_sam_local_env_vars(self):
        with open(stacks_mod.env_path("us")) as f:
            doc = json.load(f)
        self.assertIn("LifecycleFunction", doc)
        for fn, variables in doc.items():
            self.assertTrue(fn.endswith("Function"))
            self.assertTrue(all(isinstance(v, str) for v in variables.values()))


class Intrinsics(unittest.TestCase):
    TPL = """
Parameters:
  P: {Type: String, Default: "a,b,c"}
  E: {Type: String, Default: ""}
Conditions:
  HasE: !Not [!Equals [!Ref E, ""]]
Mappings:
  M: {us-east-1: {x: found}}
Resources:
  T: {Type: AWS::DynamoDB::Table}
  F:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          SUB: !Sub "${AWS::Region}/${T}/${T.Arn}/${!Literal}"
          SUB2: !Sub ["${X}-${AWS::StackName}", {X: !Select [1, !Split [",", !Ref P]]}]
          JOIN: !Join ["-", [a, !Ref AWS::AccountId]]
          IF: !If [HasE, yes-e, no-e]
          MAP: !FindInMap [M, !Ref "AWS::Region", x]
          GONE: !If [HasE, x, !Ref AWS::NoValue]
      Policies:
        - Statement: [{Effect: Allow, Action: "s3:GetObject", Resource: !Sub "arn:aws:s3:::b/*"}]
        - DynamoDBReadPolicy: {TableName: !Ref T}
        - !If [HasE, {Statement: [{Effect: Allow, Action: "*", Resource: "*"}]}, !Ref AWS::NoValue]
"""

    def test_short_forms_resolve(self):
        import yaml

        tpl = yaml.load(self.TPL, Loader=template.CfnLoader)  # noqa: S506
        stack = template.Stack(tpl, "s", "us-east-1", {})
        env = stack.function("F")["environment"]
        self.assertEqual(env["SUB"], "us-east-1/s-T/arn:aws:dynamodb:us-east-1:123456789012:table/s-T/${Literal}")
        self.assertEqual(env["SUB2"], "b-s")
        self.assertEqual(env["JOIN"], "a-123456789012")
        self.assertEqual(env["IF"], "no-e")
        self.assertEqual(env["MAP"], "found")
        self.assertNotIn("GONE", env)
        sts = stack.function("F")["statements"]
        self.assertEqual(sts[0]["Resource"], "arn:aws:s3:::b/*")
        self.assertIn("dynamodb:Query", sts[1]["Action"])
        self.assertEqual(sts[1]["Resource"][1], "arn:aws:dynamodb:us-east-1:123456789012:table/s-T/index/*")
        self.assertFalse(any(st.get("Action") == "*" for st in sts))
        with_e = template.Stack(tpl, "s", "us-east-1", {"E": "1"})
        self.assertTrue(any(st.get("Action") == "*" for st in with_e.function("F")["statements"]))

    def test_real_template_functions(self):
        stacks = stacks_mod.load_stacks()
        us = stacks["us"].functions()
        self.assertEqual(len(us), 10)
        self.assertEqual(us["LifecycleFunction"]["binary"], "lifecycle")
        self.assertIn("POST /lifecycle/installed", [r["routeKey"] for r in us["LifecycleFunction"]["routes"]])
        ops = {r["routeKey"]: r["authorizer"] for r in us["OpsFunction"]["routes"]}
        self.assertEqual(ops["GET /ops/usage"], "AWS_IAM")
        self.assertEqual(us["RetentionFunction"]["schedules"][0]["schedule"], "rate(1 hour)")
        self.assertEqual(us["ContentFunction"]["environment"]["CANOPY_TABLE"], "canopy-us-Table")


if __name__ == "__main__":
    unittest.main()
