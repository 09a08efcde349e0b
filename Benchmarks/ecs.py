#!/usr/bin/env python3
"""ECS launcher latency against moto: from `fathom run` to RunTask sent, and from a task's STOPPED
to the run's Crashed; p50 and p95 over N runs.

Usage: Benchmarks/ecs.py [--runs 20] [--poll-interval 1] [--build-dir .build/release] [--bundle fathom-test-flows --flow sleeper]
Needs a release build (swift build -c release; the static one in .build-static/release works too) and
moto[server] + boto3 (pip).
"""
import argparse, json, os, shutil, signal, socket, subprocess, tempfile, time, urllib.request

import boto3

from common import free_port, get, pct, stop, wait_http

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))










def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument("--build-dir", default=os.path.join(ROOT, ".build", "release"))
    parser.add_argument("--bundle", default="fathom-test-flows", help="a bundle in --build-dir")
    parser.add_argument("--flow", default="sleeper", help="a flow of --bundle (its task never runs: the script stops it)")
    args = parser.parse_args()
    fathom, bundle = os.path.join(args.build_dir, "fathom"), os.path.join(args.build_dir, args.bundle)
    work = tempfile.mkdtemp(prefix="ecs-bench-")
    moto_port, api_port = free_port(), free_port()
    moto_url, api = f"http://127.0.0.1:{moto_port}", f"http://127.0.0.1:{api_port}"
    aws_env = dict(AWS_ENDPOINT_URL=moto_url, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_REGION="eu-west-1",
                   AWS_DEFAULT_REGION="eu-west-1", AWS_EC2_METADATA_DISABLED="true")
    env = dict(os.environ, FATHOM_API_URL=api, **aws_env)
    procs = [subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(moto_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        wait_http(moto_url + "/moto-api/")
        req = urllib.request.Request(moto_url + "/moto-api/state-manager/set-transition", method="POST",
                                     data=json.dumps({"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1000000}}).encode())
        urllib.request.urlopen(req)
        session = boto3.session.Session(aws_access_key_id="bench", aws_secret_access_key="bench", region_name="eu-west-1")
        ec2 = session.client("ec2", endpoint_url=moto_url)
        ecs = session.client("ecs", endpoint_url=moto_url)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # moto needs it for awsvpc tasks
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24", AvailabilityZone="eu-west-1a")["Subnet"]["SubnetId"]
        sg = ec2.create_security_group(GroupName="b", Description="b", VpcId=vpc)["GroupId"]
        ecs.create_cluster(clusterName="fathom")
        with open(os.path.join(work, "ecs.yaml"), "w") as f:
            f.write(f"""ecs:
  cluster: fathom
  taskDefinition: {{family: fathom-bench, cpu: "256", memory: "512", containerDefinitions: [{{name: flow, image: "runner:1", memory: 512}}]}}
  network: {{subnets: [{subnet}], securityGroups: [{sg}]}}
""")
        procs.append(subprocess.Popen([fathom, "server", "--port", str(api_port), "--data-dir", os.path.join(work, "data")],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_http(api + "/healthz")
        procs.append(subprocess.Popen([fathom, "agent", "--launcher", "ecs", "--runner-api-url", "http://fathom.internal:4200",
                                       "--poll-interval", str(args.poll_interval), "--name", "bench"],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        subprocess.run([fathom, "register", bundle, "--run-config", os.path.join(work, "ecs.yaml")], env=env, check=True,
                       capture_output=True)
        to_runtask, to_crashed = [], []
        for i in range(args.runs):
            begin = time.time()
            out = subprocess.run([fathom, "run", args.flow], env=env, check=True, capture_output=True, text=True).stdout
            run_id = out.split()[2]
            while True:
                tasks = ecs.list_tasks(cluster="fathom", startedBy="fathom")["taskArns"]
                described = ecs.describe_tasks(cluster="fathom", tasks=tasks, include=["TAGS"])["tasks"] if tasks else []
                mine = [t for t in described if {"key": "fathom:flow-run-id", "value": run_id} in t.get("tags", [])]
                run = get(f"{api}/api/v1/flow-runs/{run_id}")
                if run["state"] in ("Crashed", "Failed", "Completed", "Cancelled"):
                    raise SystemExit(f"run {run_id} ended {run['state']} before its task appeared: {run['stateMessage']}")
                if mine:
                    # moto stamps createdAt when it handles RunTask.
                    created = mine[0].get("createdAt")
                    to_runtask.append((created.timestamp() if created else time.time()) - begin)
                    arn = mine[0]["taskArn"]
                    break
                time.sleep(0.005)
            stopped = time.time()
            ecs.stop_task(cluster="fathom", task=arn, reason="Essential container in task exited")
            while get(f"{api}/api/v1/flow-runs/{run_id}")["state"] != "Crashed":
                time.sleep(0.005)
            to_crashed.append(time.time() - stopped)
        print(f"| quantity (ms, {args.runs} runs, poll interval {args.poll_interval:g} s) | p50 | p95 |")
        print("|---|---:|---:|")
        print(f"| `fathom run` → RunTask received by ECS (moto) | {pct(to_runtask, 50) * 1000:.0f} | {pct(to_runtask, 95) * 1000:.0f} |")
        print(f"| task STOPPED → run Crashed | {pct(to_crashed, 50) * 1000:.0f} | {pct(to_crashed, 95) * 1000:.0f} |")
    finally:
        stop(reversed(procs), timeout=20)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
