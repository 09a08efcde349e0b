#!/usr/bin/env python3
"""Validates every request moto recorded against botocore's service models.

Reads moto's recording (one JSON object per line) from the file named on the command line.
For each request it finds the operation (X-Amz-Target, Action=, or the REST path template),
rebuilds the input parameters the way the protocol serialized them, and checks them with
botocore's ParamValidator plus an enum walk (ParamValidator skips enums).
Prints a JSON report: {"checked": N, "operations": {...}, "operations_by_key": {access key: {...}}, "invalid": [...]} and exits 1 if any is invalid.
"""
import base64, json, re, sys
from urllib.parse import parse_qsl, unquote, urlsplit

import botocore.session
from botocore.validate import ParamValidator

session = botocore.session.get_session()
MODELS = {}


def model(service):
    if service not in MODELS:
        MODELS[service] = session.get_service_model(service)
    return MODELS[service]


def service_of(entry):
    headers = {k.lower(): v for k, v in entry["headers"].items()}
    auth = headers.get("authorization", "")
    m = re.search(r"Credential=[^/]+/\d+/[^/]+/([^/]+)/aws4_request", auth)
    if not m:
        return None
    return {"elasticfilesystem": "efs"}.get(m.group(1), m.group(1))


def body_of(entry):
    body = entry.get("body") or ""
    return base64.b64decode(body) if entry.get("body_encoded") else body.encode()


def check_enums(shape, value, path, problems):
    if shape is None or value is None:
        return
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                check_enums(member, value[name], f"{path}.{name}", problems)
    elif shape.type_name == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            check_enums(shape.member, item, f"{path}[{i}]", problems)
    elif shape.type_name == "map" and isinstance(value, dict):
        for k, v in value.items():
            check_enums(shape.value, v, f"{path}.{k}", problems)
    elif shape.type_name == "string" and shape.enum and value not in shape.enum:
        problems.append(f"{path}: {value!r} is not one of {shape.enum}")


def unflatten_query(shape, pairs, prefix, ec2):
    """Rebuild params from query-protocol pairs (EC2 and awsQuery list/struct encoding)."""
    params = {}
    for name, member in shape.members.items():
        if ec2:
            key = member.serialization.get("queryName") or (member.serialization.get("name") or name)
            key = key[0].upper() + key[1:]
        else:
            key = member.serialization.get("name") or name
        full = f"{prefix}{key}"
        if member.type_name == "list":
            items = []
            flattened = ec2 or member.serialization.get("flattened")
            inner = full if flattened else f"{full}.member"
            i = 1
            while any(k == f"{inner}.{i}" or k.startswith(f"{inner}.{i}.") for k in pairs):
                if member.member.type_name == "structure":
                    items.append(unflatten_query(member.member, pairs, f"{inner}.{i}.", ec2))
                else:
                    items.append(convert(member.member, pairs[f"{inner}.{i}"]))
                i += 1
            if items or f"{full}" in pairs:
                params[name] = items
        elif member.type_name == "structure":
            sub = unflatten_query(member, pairs, f"{full}.", ec2)
            if sub:
                params[name] = sub
        elif full in pairs:
            params[name] = convert(member, pairs[full])
    return params


def convert(shape, text):
    if shape.type_name in ("integer", "long"):
        return int(text)
    if shape.type_name == "boolean":
        return text == "true"
    if shape.type_name in ("float", "double"):
        return float(text)
    return text


def match_rest(service_model, method, path, query):
    for op_name in service_model.operation_names:
        op = service_model.operation_model(op_name)
        http = op.http
        if http["method"] != method:
            continue
        template, _, fixed_query = http["requestUri"].partition("?")
        regex = "^" + re.sub(r"\{([^}+]+)(\+?)\}", lambda m: f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)", template) + "$"
        m = re.match(regex, path)
        if not m:
            continue
        required_query = [q.split("=")[0] for q in fixed_query.split("&") if q]
        if any(q not in query for q in required_query):
            continue
        # Prefer the operation whose fixed query keys appear (e.g. ?uploads, ?list-type=2).
        yield (len(required_query), op, {k: unquote(v) for k, v in m.groupdict().items()})


def rest_params(op, labels, query, headers, body):
    params = {}
    shape = op.input_shape
    if shape is None:
        return params
    payload = shape.serialization.get("payload")
    for name, member in shape.members.items():
        loc = member.serialization.get("location")
        key = member.serialization.get("name") or name
        if loc == "uri" and key in labels:
            params[name] = labels[key]
        elif loc == "querystring" and key in query:
            params[name] = convert(member, query[key])
        elif loc == "header" and key.lower() in headers:
            params[name] = convert(member, headers[key.lower()])
        elif loc == "headers":
            prefix = key.lower()
            found = {k[len(prefix):]: v for k, v in headers.items() if k.startswith(prefix)}
            if found:
                params[name] = found
    if payload:
        member = shape.members[payload]
        if member.type_name == "blob" or member.type_name == "string":
            params[payload] = body
    elif body and op.metadata["protocol"] == "rest-json":
        params.update(json.loads(body))
    return params


def main():
    report = {"checked": 0, "operations": {}, "operations_by_key": {}, "invalid": [], "unidentified": []}
    validator = ParamValidator()
    for line in open(sys.argv[1]):
        if not line.strip():
            continue
        entry = json.loads(line)
        url = urlsplit(entry["url"])
        if url.path.startswith("/moto-api"):
            continue
        service = service_of(entry)
        headers = {k.lower(): v for k, v in entry["headers"].items()}
        body = body_of(entry)
        if service is None:
            report["unidentified"].append(f"{entry['method']} {entry['url']} (unsigned)")
            continue
        sm = model(service)
        protocol = sm.metadata["protocol"]
        op, params = None, None
        if protocol == "json":
            target = headers.get("x-amz-target", "")
            op = sm.operation_model(target.split(".")[-1])
            params = json.loads(body or b"{}")
            if headers.get("content-type") != "application/x-amz-json-" + sm.metadata.get("jsonVersion", "1.1"):
                report["invalid"].append({"request": target, "problems": [f"content-type {headers.get('content-type')}"]})
        elif protocol in ("query", "ec2"):
            form = dict(parse_qsl(body.decode(), keep_blank_values=True))
            form.update(dict(parse_qsl(url.query, keep_blank_values=True)))
            op = sm.operation_model(form.pop("Action"))
            if form.pop("Version", None) != sm.api_version:
                report["invalid"].append({"request": op.name, "problems": ["wrong or missing Version"]})
            params = unflatten_query(op.input_shape, form, "", protocol == "ec2") if op.input_shape else {}
        else:
            query = dict(parse_qsl(url.query, keep_blank_values=True))
            path = url.path
            if service == "s3" and "content-type" in headers and headers["content-type"].startswith("application/x-www-form-urlencoded"):
                report["invalid"].append({"request": f"{entry['method']} {path}", "problems": ["S3 body sent as form-urlencoded"]})
            scored = []
            for fixed, candidate, labels in match_rest(sm, entry["method"], path, query):
                candidate_params = rest_params(candidate, labels, query, headers, body)
                required = candidate.input_shape.required_members if candidate.input_shape else []
                if any(r not in candidate_params for r in required):
                    continue
                located = sum(1 for m in (candidate.input_shape.members.values() if candidate.input_shape else [])
                              if m.serialization.get("location") in ("querystring", "header"))
                present = sum(1 for n, m in (candidate.input_shape.members.items() if candidate.input_shape else [])
                              if m.serialization.get("location") in ("querystring", "header") and n in candidate_params)
                scored.append(((fixed, present, -located), candidate, candidate_params))
            if not scored:
                report["unidentified"].append(f"{entry['method']} {entry['url']}")
                continue
            scored.sort(key=lambda c: c[0], reverse=True)
            _, op, params = scored[0]
        report["checked"] += 1
        name = f"{service}:{op.name}"
        report["operations"][name] = report["operations"].get(name, 0) + 1
        key = re.search(r"Credential=([^/]+)/", headers.get("authorization", ""))
        by_key = report["operations_by_key"].setdefault(key.group(1) if key else "", {})
        by_key[name] = by_key.get(name, 0) + 1
        problems = []
        if op.input_shape is not None:
            result = validator.validate(params, op.input_shape)
            if result.has_errors():
                problems.append(result.generate_report())
            check_enums(op.input_shape, params, op.name, problems)
        if problems:
            report["invalid"].append({"request": name, "params": str(params)[:500], "problems": problems})
    json.dump(report, sys.stdout, indent=1)
    sys.exit(1 if report["invalid"] or report["unidentified"] else 0)


main()
