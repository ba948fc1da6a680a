"""A small IAM identity-policy evaluator: what AWS decides for one (action, resource, context)
against one role's statements. Written here (no maintained pure-Python evaluator fits: the
candidates model whole accounts or need boto3); tested against AWS's documented cases in
test_iam.py.

Evaluation as AWS documents it for a single account and identity policies only: an explicit Deny
in any matching statement wins; otherwise an Allow in any matching statement allows; otherwise
the default (implicit) deny. A statement matches when its Action (or NotAction) matches the
action (case-insensitive, `*` and `?` wildcards), its Resource (or NotResource) matches the ARN
(case-sensitive wildcards), and every condition holds.

Conditions: String{Equals,NotEquals,EqualsIgnoreCase,Like,NotLike}, Arn{Equals,Like,NotEquals,
NotLike}, Bool, Null, with the `ForAnyValue:` / `ForAllValues:` set prefixes and `...IfExists`.
A missing key makes a plain operator false (IfExists: true), `ForAnyValue` false and
`ForAllValues` true (the documented pitfall of ForAllValues on an absent key).
"""

import re


def _wild(pattern, value, ignore_case):
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


def _list(x):
    if x is None:
        return []
    return x if isinstance(x, list) else [x]


def action_matches(patterns, action):
    return any(_wild(p, action, True) for p in _list(patterns))


def resource_matches(patterns, resource):
    return any(_wild(p, resource, False) for p in _list(patterns))


def _op(name, expected, actual):
    e, a = str(expected), str(actual)
    if name in ("StringEquals", "ArnEquals"):
        return a == e
    if name == "StringEqualsIgnoreCase":
        return a.lower() == e.lower()
    if name in ("StringLike", "ArnLike"):
        return _wild(e, a, False)
    if name == "Bool":
        return a.lower() == e.lower()
    raise ValueError(f"condition operator {name} is not modelled")


NEGATED = {"StringNotEquals": "StringEquals", "StringNotLike": "StringLike", "ArnNotEquals": "ArnEquals",
           "ArnNotLike": "ArnLike", "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase"}


def condition_holds(operator, key, expected, context):
    expected = [str(e) for e in _list(expected)]
    qualifier = None
    if ":" in operator:
        qualifier, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    if if_exists:
        operator = operator[: -len("IfExists")]
    present = key in context and context[key] is not None
    values = [str(v) for v in _list(context.get(key))] if present else []
    if operator == "Null":
        is_null = not present or values == []
        return any((e.lower() == "true") == is_null for e in expected)
    negated = operator in NEGATED
    base = NEGATED.get(operator, operator)

    def one(value):
        hit = any(_op(base, e, value) for e in expected)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(v) for v in values)  # true for a missing key or an empty set
    if qualifier == "ForAnyValue":
        return any(one(v) for v in values)
    if qualifier is not None:
        raise ValueError(f"condition qualifier {qualifier} is not modelled")
    if not present:
        # Absent key: the values do not match; a negated operator is then true.
        return if_exists or negated
    return any(one(v) for v in values) if not negated else all(one(v) for v in values)


def statement_matches(st, action, resource, context):
    if "Action" in st and not action_matches(st["Action"], action):
        return False
    if "NotAction" in st and action_matches(st["NotAction"], action):
        return False
    if "Resource" in st and not resource_matches(st["Resource"], resource):
        return False
    if "NotResource" in st and resource_matches(st["NotResource"], resource):
        return False
    for operator, pairs in (st.get("Condition") or {}).items():
        for key, expected in pairs.items():
            if not condition_holds(operator, key, expected, context):
                return False
    return True


class Decision:
    def __init__(self, allowed, reason, statement=None):
        self.allowed, self.reason, self.statement = allowed, reason, statement

    def __repr__(self):
        return f"Decision({self.allowed}, {self.reason})"


def evaluate(statements, action, resource, context=None):
    """Decision(allowed, "explicit deny" | "allow" | "implicit deny", statement)."""
    context = context or {}
    allow = None
    for st in statements:
        if not statement_matches(st, action, resource, context):
            continue
        if st.get("Effect") == "Deny":
            return Decision(False, "explicit deny", st)
        if st.get("Effect") == "Allow" and allow is None:
            allow = st
    if allow is not None:
        return Decision(True, "allow", allow)
    return Decision(False, "implicit deny")


def granted_pairs(statements):
    """(action, resource) pairs the Allow statements name, for the unused-grants report."""
    out = []
    for st in statements:
        if st.get("Effect") != "Allow":
            continue
        for a in _list(st.get("Action")):
            for r in _list(st.get("Resource")):
                out.append((a, r, st.get("_source", "")))
    return out

