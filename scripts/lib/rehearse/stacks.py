"""The two stacks the rehearsal resolves, from the repository's files.

infra/params/<stack>.json holds each stack's name, AWS region and parameter values: every
`parameter_overrides` entry of samconfig.toml's env of that name (a test keeps them equal), plus
the residency parameters infra/README.md ("Deploying a new region", step 5) says to set in every
stack (`Regions`, `RegionTables`, `RegionBuckets`, `OtherRegion*Arn`: the other stack's outputs,
as this resolver names them; a test keeps those equal too).
"""

import json
import os

from . import template

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TEMPLATE = os.path.join(ROOT, "template.yaml")
STACKS = ("us", "eu")
# Parameters infra/README.md step 5 adds for residency, beyond samconfig.toml's.
RESIDENCY_PARAMS = ("Regions", "RegionTables", "RegionBuckets", "OtherRegionTableArn", "OtherRegionBucketArn",
                    "OtherRegionSecretsKeyArn")


def params_path(name):
    return os.path.join(ROOT, "infra", "params", f"{name}.json")


def env_path(name):
    return os.path.join(ROOT, "infra", "env", f"{name}.json")


def load_stacks(template_path=TEMPLATE):
    tpl = template.load(template_path)
    out = {}
    for name in STACKS:
        p = template.load_params(params_path(name))
        out[name] = template.Stack(tpl, p["StackName"], p["Region"], p["Parameters"])
    return out


def env_document(stack):
    return json.dumps(template.env_vars_file(stack), indent=2, sort_keys=False) + "\n"


def write_env_files(stacks):
    for name, stack in stacks.items():
        with open(env_path(name), "w") as f:
            f.write(env_document(stack))


def check_env_files(stacks):
    """Problems as strings; empty when infra/env/<stack>.json match the template."""
    problems = []
    for name, stack in stacks.items():
        path = env_path(name)
        try:
            with open(path) as f:
                committed = f.read()
        except OSError as e:
            problems.append(f"{path}: {e}")
            continue
        if committed != env_document(stack):
            problems.append(f"{os.path.relpath(path, ROOT)} differs from template.yaml + "
                            f"infra/params/{name}.json: regenerate with scripts/rehearse --write-env")
    return problems


def show(stacks):
    """Both stacks as the rehearsal resolves them: per function its environment, binary, routes,
    schedules and IAM statements (`scripts/rehearse --show`)."""
    return json.dumps({n: {"stack": s.name, "region": s.region, "outputs": s.outputs(), "functions": s.functions()}
                       for n, s in stacks.items()}, indent=2)


if __name__ == "__main__":
    print(show(load_stacks()))
