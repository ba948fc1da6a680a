"""The policies SAM puts on a function's role besides the inline documents.

- `expand(name, args, stack)`: SAM policy templates (`- DynamoDBCrudPolicy: {TableName: ...}`),
  as SAM's policy_templates.json defines them (the ones a Canopy template could use; an unknown
  template is an error, never silently nothing).
- `managed(name)`: the AWS managed policies SAM attaches (`AWSLambdaBasicExecutionRole` always,
  `AWSXrayWriteOnlyAccess` for `Tracing: Active`), as their documents read.
"""

MANAGED = {
    "AWSLambdaBasicExecutionRole": [
        {"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": "*"},
    ],
    "AWSXrayWriteOnlyAccess": [
        {"Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
                                       "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries"],
         "Resource": "*"},
    ],
}


def managed(name):
    name = name.rsplit("/", 1)[-1]
    if name not in MANAGED:
        raise ValueError(f"managed policy {name} is not modelled")
    return MANAGED[name]


def _table(stack, args):
    return stack.sub("arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${t}",
                     {"t": args["TableName"]})


def _bucket(stack, args):
    return stack.sub("arn:${AWS::Partition}:s3:::${b}", {"b": args["BucketName"]})


def expand(name, args, stack):
    args = stack.resolve(args)
    if name in ("DynamoDBCrudPolicy", "DynamoDBReadPolicy", "DynamoDBWritePolicy"):
        table = _table(stack, args)
        actions = {
            "DynamoDBCrudPolicy": ["dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:Scan",
                                   "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem",
                                   "dynamodb:BatchGetItem", "dynamodb:DescribeTable",
                                   "dynamodb:ConditionCheckItem"],
            "DynamoDBReadPolicy": ["dynamodb:GetItem", "dynamodb:Scan", "dynamodb:Query", "dynamodb:BatchGetItem",
                                   "dynamodb:DescribeTable"],
            "DynamoDBWritePolicy": ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"],
        }[name]
        return [{"Effect": "Allow", "Action": actions, "Resource": [table, table + "/index/*"]}]
    if name in ("S3ReadPolicy", "S3CrudPolicy", "S3WritePolicy"):
        bucket = _bucket(stack, args)
        actions = {
            "S3ReadPolicy": ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObjectVersion",
                             "s3:GetLifecycleConfiguration"],
            "S3CrudPolicy": ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation", "s3:GetObjectVersion",
                             "s3:PutObject", "s3:PutObjectAcl", "s3:GetLifecycleConfiguration",
                             "s3:PutLifecycleConfiguration", "s3:DeleteObject"],
            "S3WritePolicy": ["s3:PutObject", "s3:PutObjectAcl", "s3:PutLifecycleConfiguration"],
        }[name]
        return [{"Effect": "Allow", "Action": actions, "Resource": [bucket, bucket + "/*"]}]
    if name == "KMSDecryptPolicy":
        key = stack.sub("arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/${k}", {"k": args["KeyId"]})
        return [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key}]
    if name == "SQSSendMessagePolicy":
        queue = stack.sub("arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${q}", {"q": args["QueueName"]})
        return [{"Effect": "Allow", "Action": ["sqs:SendMessage*"], "Resource": queue}]
    raise ValueError(f"SAM policy template {name} is not modelled")
