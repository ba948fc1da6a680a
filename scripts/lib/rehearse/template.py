"""template.yaml as CloudFormation and SAM would deploy it, for one stack.

`load(path)` parses the template with PyYAML, turning every short-form tag (`!Ref`, `!Sub`,
`!GetAtt`, `!If`, ...) into its long form (`{"Ref": ...}`, `{"Fn::Sub": ...}`). `Stack(template,
params)` resolves the intrinsics for one stack (stack name, AWS region, parameter values) and
describes each `AWS::Serverless::Function`: the environment Lambda would give it (Globals merged
with its own), its binary, its HttpApi routes, its schedules and its IAM statements (inline
policies, SAM policy templates expanded, and the managed policies SAM attaches).

Physical names are the ones this resolver chooses, deterministic per stack (CloudFormation
would add a random suffix): table `<stack>-Table`, bucket `<stack>-mediabucket`, function
`<stack>-<LogicalId>`, KMS key ids derived from the stack and logical id.
"""

import json
import uuid

import yaml

ACCOUNT = "123456789012"
PARTITION = "aws"
NO_VALUE = object()


class CfnLoader(yaml.SafeLoader):
    pass


def _construct_tag(loader, tag_suffix, node):
    name = tag_suffix
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if name == "Ref":
        return {"Ref": value}
    if name == "Condition":
        return {"Condition": value}
    if name == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Fn::" + name: value}


CfnLoader.add_multi_constructor("!", _construct_tag)
# YAML 1.1 reads `on`/`yes` as booleans and `0600` as octal; CloudFormation reads YAML 1.2-ish
# strings. The template has none of these, but keep timestamps as strings (dates in values).
CfnLoader.yaml_implicit_resolvers = {
    k: [(tag, regexp) for tag, regexp in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(path):
    with open(path) as f:
        return yaml.load(f, Loader=CfnLoader)  # noqa: S506 (SafeLoader subclass)


def load_params(path):
    """infra/params/<stack>.json: {"StackName", "Region", "Parameters": {name: value}}."""
    with open(path) as f:
        return json.load(f)


class ResolveError(Exception):
    pass


def key_id(stack_name, logical_id):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"canopy-rehearse/{stack_name}/{logical_id}"))


class Stack:
    def __init__(self, template, stack_name, region, parameters):
        self.template = template
        self.name = stack_name
        self.region = region
        self.resources = template.get("Resources", {})
        self.params = {}
        for pname, decl in template.get("Parameters", {}).items():
            if pname in parameters:
                value = str(parameters[pname])
            elif "Default" in decl:
                value = str(decl["Default"])
            else:
                raise ResolveError(f"parameter {pname} has no value and no default")
            allowed = decl.get("AllowedValues")
            if allowed is not None and value not in [str(a) for a in allowed]:
                raise ResolveError(f"parameter {pname}={value!r} is not one of {allowed}")
            self.params[pname] = value
        unknown = set(parameters) - set(self.params)
        if unknown:
            raise ResolveError(f"unknown parameters {sorted(unknown)}")
        self.conditions = {}
        for cname in template.get("Conditions", {}):
            self.condition(cname)

    # ---- physical ids and attributes -------------------------------------------------------
    def physical_id(self, logical_id):
        res = self.resources.get(logical_id)
        if res is None:
            raise ResolveError(f"Ref to unknown resource {logical_id}")
        kind = res["Type"]
        props = res.get("Properties", {})
        if kind == "AWS::DynamoDB::Table":
            return f"{self.name}-{logical_id}"
        if kind == "AWS::S3::Bucket":
            return f"{self.name}-{logical_id}".lower()
        if kind == "AWS::KMS::Key":
            return key_id(self.name, logical_id)
        if kind == "AWS::Serverless::Function":
            return f"{self.name}-{logical_id}"
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{ACCOUNT}/{self.name}-{logical_id}"
        if kind == "AWS::SNS::Topic":
            return f"arn:{PARTITION}:sns:{self.region}:{ACCOUNT}:{self.name}-{logical_id}"
        if kind == "AWS::Logs::LogGroup" and "LogGroupName" in props:
            return self.resolve(props["LogGroupName"])
        if kind == "AWS::Serverless::HttpApi":
            return key_id(self.name, logical_id).replace("-", "")[:10]
        return f"{self.name}-{logical_id}"

    def get_att(self, logical_id, attr):
        res = self.resources.get(logical_id)
        if res is None:
            raise ResolveError(f"GetAtt of unknown resource {logical_id}")
        kind = res["Type"]
        pid = self.physical_id(logical_id)
        arns = {
            "AWS::DynamoDB::Table": f"arn:{PARTITION}:dynamodb:{self.region}:{ACCOUNT}:table/{pid}",
            "AWS::S3::Bucket": f"arn:{PARTITION}:s3:::{pid}",
            "AWS::KMS::Key": f"arn:{PARTITION}:kms:{self.region}:{ACCOUNT}:key/{pid}",
            "AWS::Serverless::Function": f"arn:{PARTITION}:lambda:{self.region}:{ACCOUNT}:function:{pid}",
            "AWS::SQS::Queue": f"arn:{PARTITION}:sqs:{self.region}:{ACCOUNT}:{self.name}-{logical_id}",
            "AWS::IAM::Role": f"arn:{PARTITION}:iam::{ACCOUNT}:role/{pid}",
            "AWS::Logs::LogGroup": f"arn:{PARTITION}:logs:{self.region}:{ACCOUNT}:log-group:{pid}:*",
        }
        if attr == "Arn" and kind in arns:
            return arns[kind]
        if kind == "AWS::SQS::Queue" and attr == "QueueName":
            return f"{self.name}-{logical_id}"
        if kind == "AWS::KMS::Key" and attr == "KeyId":
            return pid
        raise ResolveError(f"GetAtt {logical_id}.{attr} is not modelled")

    def pseudo(self, name):
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": self.name,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:{PARTITION}:cloudformation:{self.region}:{ACCOUNT}:stack/{self.name}/"
            + key_id(self.name, "stack"),
            "AWS::NoValue": NO_VALUE,
        }.get(name)

    def ref(self, name):
        if name.startswith("AWS::"):
            value = self.pseudo(name)
            if value is None:
                raise ResolveError(f"unknown pseudo parameter {name}")
            return value
        if name in self.params:
            return self.params[name]
        return self.physical_id(name)

    # ---- conditions and intrinsics ---------------------------------------------------------
    def condition(self, name):
        if name not in self.conditions:
            decl = self.template.get("Conditions", {}).get(name)
            if decl is None:
                raise ResolveError(f"unknown condition {name}")
            self.conditions[name] = bool(self.resolve(decl))
        return self.conditions[name]

    def sub(self, text, variables):
        out, i = [], 0
        while i < len(text):
            start = text.find("${", i)
            if start < 0:
                out.append(text[i:])
                break
            out.append(text[i:start])
            end = text.find("}", start)
            if end < 0:
                raise ResolveError(f"unterminated ${{ in {text!r}")
            name = text[start + 2 : end]
            if name.startswith("!"):
                out.append("${" + name[1:] + "}")
            elif name in variables:
                out.append(str(variables[name]))
            elif "." in name and not name.startswith("AWS::"):
                logical, attr = name.split(".", 1)
                out.append(str(self.get_att(logical, attr)))
            else:
                out.append(str(self.ref(name)))
            i = end + 1
        return "".join(out)

    def resolve(self, node):
        if isinstance(node, list):
            items = [self.resolve(n) for n in node]
            return [n for n in items if n is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::GetAtt":
                logical, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(logical, self.resolve(attr))
            if key == "Fn::Sub":
                if isinstance(arg, list):
                    text, variables = arg
                    return self.sub(text, {k: self.resolve(v) for k, v in variables.items()})
                return self.sub(arg, {})
            if key == "Fn::If":
                cname, when_true, when_false = arg
                return self.resolve(when_true if self.condition(cname) else when_false)
            if key == "Fn::Equals":
                a, b = (self.resolve(x) for x in arg)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(x) for x in arg)
            if key == "Fn::Or":
                return any(self.resolve(x) for x in arg)
            if key == "Fn::Join":
                sep, items = arg
                return sep.join(str(x) for x in self.resolve(items))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                sep, text = arg
                return self.resolve(text).split(sep)
            if key == "Fn::FindInMap":
                m, k1, k2 = (self.resolve(x) for x in arg)
                return self.template["Mappings"][m][k1][k2]
            if key == "Fn::Base64":
                import base64

                return base64.b64encode(self.resolve(arg).encode()).decode()
            if key == "Fn::GetAZs":
                return [f"{self.region}{z}" for z in "abc"]
            if key.startswith("Fn::"):
                raise ResolveError(f"intrinsic {key} is not modelled")
        out = {}
        for k, v in node.items():
            value = self.resolve(v)
            if value is not NO_VALUE:
                out[k] = value
        return out

    # ---- functions -------------------------------------------------------------------------
    def function_ids(self):
        return [lid for lid, r in self.resources.items() if r["Type"] == "AWS::Serverless::Function"]

    def function(self, logical_id):
        res = self.resources[logical_id]
        props = res.get("Properties", {})
        glob = self.template.get("Globals", {}).get("Function", {})
        env = dict(self.resolve(glob.get("Environment", {}).get("Variables", {})))
        env.update(self.resolve(props.get("Environment", {}).get("Variables", {})))
        env = {k: str(v) for k, v in env.items()}
        routes, schedules = [], []
        for ename, event in props.get("Events", {}).items():
            eprops = self.resolve(event.get("Properties", {}))
            if event["Type"] == "HttpApi":
                auth = (eprops.get("Auth") or {}).get("Authorizer")
                method = eprops.get("Method", "ANY").upper()
                method = "ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method
                routes.append({"event": ename, "routeKey": f"{method} {eprops['Path']}", "method": method,
                               "path": eprops["Path"], "authorizer": auth or "NONE"})
            elif event["Type"] == "Schedule":
                schedules.append({"event": ename, "schedule": eprops["Schedule"],
                                  "rule": f"{self.name}-{logical_id}{ename}"})
        fn = {
            "logicalId": logical_id,
            "name": self.physical_id(logical_id),
            "arn": self.get_att(logical_id, "Arn"),
            "binary": res.get("Metadata", {}).get("BuildProperties", {}).get("Binary"),
            "timeout": int(self.resolve(props.get("Timeout", glob.get("Timeout", 3)))),
            "memory": int(self.resolve(props.get("MemorySize", glob.get("MemorySize", 128)))),
            "environment": env,
            "routes": routes,
            "schedules": schedules,
        }
        fn["statements"] = self.policy_statements(logical_id, props, glob)
        return fn

    def functions(self):
        return {lid: self.function(lid) for lid in self.function_ids()}

    def policy_statements(self, logical_id, props, glob):
        """Every statement of the function's role: inline documents and SAM policy templates
        from `Policies`, plus what SAM adds (basic execution, X-Ray for Tracing: Active, the
        dead-letter queue's send permission). Each statement carries `Sid`-like provenance in
        `_source` for the reports."""
        from . import sam_policies

        statements = []
        policies = props.get("Policies", [])
        if not isinstance(policies, list):
            policies = [policies]
        for i, policy in enumerate(policies):
            policy = self.resolve(policy)
            if policy is NO_VALUE:
                continue
            if isinstance(policy, str):
                for st in sam_policies.managed(policy):
                    statements.append(dict(st, _source=f"managed {policy}"))
            elif "Statement" in policy:
                sts = policy["Statement"]
                for j, st in enumerate(sts if isinstance(sts, list) else [sts]):
                    statements.append(dict(st, _source=f"Policies[{i}].Statement[{j}]"))
            else:
                (tname, targs), = policy.items()
                for st in sam_policies.expand(tname, targs or {}, self):
                    statements.append(dict(st, _source=f"SAM template {tname}"))
        for st in sam_policies.managed("AWSLambdaBasicExecutionRole"):
            statements.append(dict(st, _source="SAM AWSLambdaBasicExecutionRole"))
        tracing = self.resolve(props.get("Tracing", glob.get("Tracing")))
        if tracing == "Active":
            for st in sam_policies.managed("AWSXrayWriteOnlyAccess"):
                statements.append(dict(st, _source="SAM AWSXrayWriteOnlyAccess (Tracing: Active)"))
        dlq = self.resolve(props.get("DeadLetterQueue"))
        if dlq:
            action = "sqs:SendMessage" if dlq["Type"] == "SQS" else "sns:Publish"
            statements.append({"Effect": "Allow", "Action": action, "Resource": dlq["TargetArn"],
                               "_source": "SAM DeadLetterQueue"})
        return statements

    def outputs(self):
        return {k: self.resolve(v["Value"]) for k, v in self.template.get("Outputs", {}).items()}


def stack_from_files(template_path, params_path):
    params = load_params(params_path)
    return Stack(load(template_path), params["StackName"], params["Region"], params["Parameters"])


def env_vars_file(stack):
    """The `sam local invoke --env-vars` document: {FunctionLogicalId: {VAR: value}}."""
    return {lid: dict(sorted(fn["environment"].items())) for lid, fn in sorted(stack.functions().items())}
