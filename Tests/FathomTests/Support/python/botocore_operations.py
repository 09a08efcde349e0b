#!/usr/bin/env python3
"""Prints each 'service:Operation' argument that is not an operation of that service in botocore's models.

Service names are botocore's (ecs, efs, ec2, s3, logs, sts, cloudformation). Exits 1 when any is missing.
"""
import sys

import botocore.session

session = botocore.session.get_session()
missing = []
for argument in sys.argv[1:]:
    service, _, operation = argument.partition(":")
    if operation not in session.get_service_model(service).operation_names:
        missing.append(argument)
for name in missing:
    print(name)
sys.exit(1 if missing else 0)
