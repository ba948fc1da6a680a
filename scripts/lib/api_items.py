"""Part of the `api` step: one item of every content kind through the running local server, and
every answer checked against its schema in docs/openapi.json. Schemathesis's random ids mostly
meet 404s; this makes sure the documented shapes of real items (201/200, lists) are right too.

usage: api_items.py DOCUMENT BASE_URL CONTEXT_JWT   (run with the schemathesis venv's python,
which has jsonschema_rs)
"""

import json
import sys
import urllib.error
import urllib.request

import jsonschema_rs

THEME = {"name": "Brand", "colors": {"primary": "#0052CC", "background": "#FFFFFF", "text": "#172B4D"},
         "fonts": {"body": "Inter, sans-serif"}}
LAYOUT = {"title": "Home", "sections": [{"id": "s1", "columns": [{"width": 12, "blocks": [
    {"type": "text", "markup": "Hi"},
    {"type": "container", "blocks": [{"type": "pageList", "limit": 5, "spaceKey": "DOC"}]}]}]}]}
REPORT = {"name": "Open bugs", "jql": "type = Bug", "columns": ["summary"]}
NAVIGATION = {"items": [{"id": "n1", "label": "Docs", "target": {"type": "space", "spaceKey": "DOC"},
                         "children": [{"id": "n2", "label": "Start", "target": {"type": "page", "pageId": "123"}}]}]}
ANNOUNCEMENT = {"title": "Hello", "body": "Read **this**", "severity": "info", "audience": "everyone",
                "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2099-12-31T00:00:00Z", "dismissible": True}
SEARCH = {"keywords": ["vpn"], "targets": [{"title": "VPN", "target": {"type": "url", "url": "https://example.com/vpn"}}]}


def main(document_path, base, token):
    document = json.load(open(document_path))
    failures = []
    checked = 0

    def call(method, path, body=None, if_match=None):
        headers = {"authorization": "JWT " + token, "content-type": "application/json"}
        if if_match:
            headers["if-match"] = if_match
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(base + path, method=method, headers=headers, data=data)
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def check(method, path, template, expected, body=None, if_match=None):
        nonlocal checked
        status, answer = call(method, path, body, if_match)
        if status != expected:
            failures.append(f"{method} {path}: {status}, expected {expected}: {answer}")
            return answer
        content = document["paths"][template][method.lower()]["responses"][str(status)]["content"]
        schema = content["application/json"]["schema"]
        validator = jsonschema_rs.Draft202012Validator({**schema, "components": document["components"]})
        errors = [str(e).splitlines()[0] for e in validator.iter_errors(answer)]
        if errors:
            failures.append(f"{method} {path} ({status}) does not match its schema: {errors[:3]}")
        checked += 1
        return answer

    theme = check("POST", "/api/themes", "/api/themes", 201, THEME)
    layout = check("POST", "/api/layouts", "/api/layouts", 201, LAYOUT)
    check("POST", "/api/reports", "/api/reports", 201, REPORT)
    site = check("POST", "/api/sites", "/api/sites", 201,
                 {"name": "Docs", "spaces": ["DOC"], "visibility": "public", "themeId": theme.get("id"),
                  "homeLayoutId": layout.get("id")})
    site_id = site.get("id", "missing")
    check("PUT", f"/api/sites/{site_id}/navigation", "/api/sites/{site_id}/navigation", 201, NAVIGATION)
    check("POST", f"/api/sites/{site_id}/announcements", "/api/sites/{site_id}/announcements", 201, ANNOUNCEMENT)
    check("POST", f"/api/sites/{site_id}/promoted-searches", "/api/sites/{site_id}/promoted-searches", 201, SEARCH)
    check("PUT", "/api/pages/12345/metadata", "/api/pages/{page_id}/metadata", 201, {"description": "About"})
    check("PUT", f"/api/sites/{site_id}", "/api/sites/{site_id}", 200,
          {"name": "Docs 2", "visibility": "licensed"}, if_match='"1"')
    check("GET", f"/api/sites/{site_id}", "/api/sites/{site_id}", 200)
    for template in ["/api/sites", "/api/themes", "/api/layouts", "/api/reports", "/api/pages",
                     "/api/sites/{site_id}/announcements", "/api/sites/{site_id}/promoted-searches"]:
        check("GET", template.replace("{site_id}", site_id), template, 200)
    check("GET", "/api/sites/01JB7ZZZZZZZZZZZZZZZZZZZZZ", "/api/sites/{site_id}", 404)

    for failure in failures:
        print("FAILED", failure)
    print(f"==== api: {checked} answers with real items checked against their schemas, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
