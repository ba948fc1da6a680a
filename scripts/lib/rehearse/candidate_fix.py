"""A copy of template.yaml with the three known defects of issue 24 fixed, for a control run
(`python3 -m rehearse.candidate_fix OUT.json`, then `rehearse.run --template OUT.json`): the
rehearsal must pass on it, so that its failures on template.yaml are the template's, not the
harness's. template.yaml itself is fixed on another branch; this is no substitute.

1. RetentionFunction gets CANOPY_APP_KEY (its liveness probes sign with the app key).
2. Every function that opens tenant secrets gets CANOPY_REGIONS / _TABLES / _BUCKETS (a KMS
   client per region: a tenant moved in keeps its envelope from the other region).
3. The media and residency roles get s3:ListBucket on `tenants/*` of the buckets they read (a
   missing key answers 404, not 403).
"""

import json
import sys

from . import stacks, template

REGION_VARS = {"CANOPY_REGIONS": {"Ref": "Regions"}, "CANOPY_REGION_TABLES": {"Ref": "RegionTables"},
               "CANOPY_REGION_BUCKETS": {"Ref": "RegionBuckets"}}


def list_bucket(bucket_arn):
    return {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": "tenants/*"}}}


def fixed(tpl):
    res = tpl["Resources"]
    env = lambda lid: res[lid]["Properties"]["Environment"]["Variables"]  # noqa: E731
    env("RetentionFunction")["CANOPY_APP_KEY"] = {"Ref": "AppKey"}
    for lid in ("ContentFunction", "FeedbackFunction", "PrivacyFunction", "RetentionFunction"):
        env(lid).update(REGION_VARS)
    home = {"Fn::GetAtt": ["MediaBucket", "Arn"]}
    for lid in ("MediaFunction", "ResidencyFunction", "ResidencyWorkerFunction"):
        policies = res[lid]["Properties"]["Policies"]
        policies[0]["Statement"].append(list_bucket(home))
        for p in policies[1:]:
            if "Fn::If" in p and p["Fn::If"][0] == "HasOtherRegion":
                p["Fn::If"][1]["Statement"].append(list_bucket({"Ref": "OtherRegionBucketArn"}))
    return tpl


def main():
    tpl = fixed(template.load(stacks.TEMPLATE))
    with open(sys.argv[1], "w") as f:
        json.dump(tpl, f, indent=1)


if __name__ == "__main__":
    main()
