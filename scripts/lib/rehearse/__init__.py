"""Rehearse the stack as it is deployed (issue 24): template resolver, IAM evaluator, SigV4,
the AWS stand-ins (IAM-checking proxy, KMS), the API Gateway stand-in and the scenario.

Python 3.11 standard library plus PyYAML (for `template.yaml`'s short-form tags: a loader with
one multi-constructor is all it takes; cfn-lint's decoder would tie this to the SAM venv's 300 MB
and its pins). scripts/rehearse runs it from a cached venv (scripts/lib/tools.sh).
"""
