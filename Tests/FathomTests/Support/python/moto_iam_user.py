#!/usr/bin/env python3
"""Creates an IAM user with an admin policy and an access key in a moto_server whose auth is
enforced after a few unauthenticated actions. Prints {"key": ..., "secret": ...}.
An optional second argument, a JSON list of IAM actions, adds a statement denying them."""
import json, sys

import boto3

endpoint = sys.argv[1]
iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam.create_user(UserName="fathom")
statements = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
if len(sys.argv) > 2:
    statements.append({"Effect": "Deny", "Action": json.loads(sys.argv[2]), "Resource": "*"})
iam.put_user_policy(UserName="fathom", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": statements}))
key = iam.create_access_key(UserName="fathom")["AccessKey"]
print(json.dumps({"key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))
