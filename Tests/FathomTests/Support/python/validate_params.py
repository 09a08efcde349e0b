#!/usr/bin/env python3
"""Validates request parameters against botocore's model: validate_params.py SERVICE OPERATION < params.json.
Checks types, required members and (which ParamValidator skips) enum values. Prints problems; exit 1 if any."""
import json, sys

import botocore.session
from botocore.validate import ParamValidator

service, operation = sys.argv[1], sys.argv[2]
shape = botocore.session.get_session().get_service_model(service).operation_model(operation).input_shape
params = json.load(sys.stdin)
problems = []
report = ParamValidator().validate(params, shape)
if report.has_errors():
    problems.append(report.generate_report())


def walk(shape, value, path):
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                walk(member, value[name], f"{path}.{name}")
    elif shape.type_name == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            walk(shape.member, item, f"{path}[{i}]")
    elif shape.type_name == "map" and isinstance(value, dict):
        for k, v in value.items():
            walk(shape.value, v, f"{path}.{k}")
    elif shape.type_name == "string" and shape.enum and value not in shape.enum:
        problems.append(f"{path}: {value!r} is not one of {shape.enum}")


walk(shape, params, operation)
print("\n".join(problems) if problems else "valid")
sys.exit(1 if problems else 0)
