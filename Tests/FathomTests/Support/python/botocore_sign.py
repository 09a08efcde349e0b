#!/usr/bin/env python3
"""Signs requests with botocore's own SigV4 signer, for comparison with Fathom's.

Reads a JSON list of cases on stdin:
  {"method", "url", "headers": [[name, value]], "body_b64", "service", "region",
   "timestamp": "YYYYmmddTHHMMSSZ", "access_key", "secret_key", "token", "unsigned_payload"}
Writes a JSON list of {"authorization", "canonical_request"} to stdout.
"""
import base64, datetime, json, sys

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

results = []
for case in json.load(sys.stdin):
    fixed = datetime.datetime.strptime(case["timestamp"], "%Y%m%dT%H%M%SZ")
    botocore.auth.get_current_datetime = lambda fixed=fixed: fixed
    body = base64.b64decode(case["body_b64"])
    request = AWSRequest(method=case["method"], url=case["url"], data=body)
    for name, value in case["headers"]:
        request.headers.add_header(name, value) if hasattr(request.headers, "add_header") else request.headers.__setitem__(name, value)
    credentials = Credentials(case["access_key"], case["secret_key"], case.get("token"))
    if case["service"] == "s3":
        signer = botocore.auth.S3SigV4Auth(credentials, "s3", case["region"])
        if case.get("unsigned_payload"):
            request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    else:
        signer = botocore.auth.SigV4Auth(credentials, case["service"], case["region"])
    signer.add_auth(request)
    results.append({
        "authorization": request.headers["Authorization"],
        "canonical_request": signer.canonical_request(request),
        "content_sha256": request.headers.get("X-Amz-Content-SHA256"),
    })
json.dump(results, sys.stdout)
