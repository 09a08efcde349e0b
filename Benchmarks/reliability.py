#!/usr/bin/env python3
"""Reliability figures of the core (docs/benchmarks.md, "The core under load and faults").

  * throughput: N `hello` runs through one agent with the default --max-runs 8, from the first
    create to the last Completed (runs/s); the goal is 2,000 in under 2 minutes
  * claim head-of-line: 100 Scheduled runs need a label the agent lacks; the time until the agent
    claims one run it can serve, created after them
  * outage: a Running flow while the coordinator is SIGKILLed and restarted after 2x the heartbeat
    timeout; whether the run still completes
  * bundle transfer: a 1 GiB bundle uploaded (PUT, streamed) and fetched (GET) through the coordinator;
    its peak RSS before and after (VmHWM), and each transfer's time as a ratio to `cp` of the same
    file in the same run

Usage: Benchmarks/reliability.py [--runs 2000] [--throughput-only | --bundle-only]
Needs a release build: swift build -c release.
"""
import argparse, concurrent.futures, json, os, signal, subprocess, tempfile, time, urllib.request

from common import free_port, get, post, stop, wait_http

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, ".build", "release")
FATHOM = os.path.join(RELEASE, "fathom")


class Stack:
    """A release `fathom server` and `fathom agent` in a temporary directory."""

    def __init__(self, heartbeat_timeout=90, agent_args=()):
        self.work = tempfile.mkdtemp(prefix="fathom-reliability-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ, FATHOM_API_URL=self.url)
        self.heartbeat_timeout = heartbeat_timeout
        self.server = self.start_server()
        self.agent = subprocess.Popen(
            [FATHOM, "agent", "--volume", f"scratch={self.work}/scratch", "--cache-dir", f"{self.work}/cache", *agent_args],
            env=self.env, stdout=subprocess.DEVNULL, stderr=open(f"{self.work}/agent.log", "w"))

    def start_server(self):
        server = subprocess.Popen(
            [FATHOM, "server", "--port", str(self.port), "--data-dir", f"{self.work}/data",
             "--heartbeat-timeout", str(self.heartbeat_timeout)],
            env=self.env, stdout=subprocess.DEVNULL, stderr=open(f"{self.work}/server.log", "a"))
        wait_http(self.url + "/healthz")
        return server

    def register(self, bundle, *extra):
        subprocess.run([FATHOM, "register", os.path.join(RELEASE, bundle), *extra], env=self.env, check=True, capture_output=True)

    def run(self, flow, parameters=None):
        return post(self.url + "/api/v1/flow-runs", {"flow": flow, "parameters": parameters or {}})

    def state(self, run_id):
        return get(f"{self.url}/api/v1/flow-runs/{run_id}")["state"]

    def close(self):
        stop([self.agent, self.server])


def throughput(runs):
    stack = Stack()
    try:
        stack.register("fathom-examples")
        time.sleep(1)
        started = time.time()
        # Four clients create the runs at once, as a scheduler or a fan-out would.
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            ids = list(pool.map(lambda _: stack.run("hello")["id"], range(runs)))
        created = time.time() - started
        while True:
            active = get(f"{stack.url}/api/v1/flow-runs?active=true&limit=1")["total"]
            scheduled = get(f"{stack.url}/api/v1/flow-runs?state=Scheduled&limit=1")["total"]
            if active == 0 and scheduled == 0:
                break
            time.sleep(0.2)
        elapsed = time.time() - started
        completed = get(f"{stack.url}/api/v1/flow-runs?state=Completed&limit=1")["total"]
        others = {}
        for state in ("Failed", "Crashed", "Cancelled"):
            listed = get(f"{stack.url}/api/v1/flow-runs?state={state}&limit=3")
            if listed["total"]:
                others[state] = {"count": listed["total"], "examples": [r.get("stateMessage", "")[:300] for r in listed["runs"]]}
        return {"runs": runs, "completed": completed, "not_completed": others, "seconds": elapsed, "create_seconds": created,
                "runs_per_s": completed / elapsed}
    finally:
        stack.close()


def head_of_line():
    stack = Stack(agent_args=("--label", "zone=efs"))
    try:
        stack.register("fathom-test-flows", "--label", "gpu=a100")
        stack.register("fathom-examples", "--label", "zone=efs")
        time.sleep(1)
        for _ in range(100):
            stack.run("sleeper")
        started = time.time()
        run = stack.run("hello")["id"]
        while stack.state(run) == "Scheduled":
            time.sleep(0.01)
            if time.time() - started > 60:
                return {"claimed_after_s": None}
        return {"claimed_after_s": time.time() - started}
    finally:
        stack.close()


def outage(timeout=10):
    stack = Stack(heartbeat_timeout=timeout)
    try:
        stack.register("fathom-test-flows")
        time.sleep(1)
        run = stack.run("sleeper", {"seconds": 4 * timeout})["id"]
        while stack.state(run) != "Running":
            time.sleep(0.1)
        stack.server.send_signal(signal.SIGKILL)
        stack.server.wait()
        time.sleep(2 * timeout)
        stack.server = stack.start_server()
        deadline = time.time() + 6 * timeout
        while time.time() < deadline and stack.state(run) not in ("Completed", "Crashed", "Failed", "Cancelled"):
            time.sleep(0.5)
        final = get(f"{stack.url}/api/v1/flow-runs/{run}")
        return {"heartbeat_timeout_s": timeout, "outage_s": 2 * timeout, "state": final["state"], "message": final.get("stateMessage", "")}
    finally:
        stack.close()


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def timed(command):
    started = time.time()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.time() - started


def bundle_transfer(size_mib=1024):
    stack = Stack()
    try:
        source = f"{stack.work}/bundle"
        subprocess.run(["head", "-c", f"{size_mib}M", "/dev/urandom"], stdout=open(source, "wb"), check=True)
        sha = subprocess.run(["sha256sum", source], capture_output=True, text=True, check=True).stdout.split()[0]
        reference = timed(["cp", source, f"{stack.work}/copy"])
        before = peak_rss_mib(stack.server.pid)
        url = f"{stack.url}/api/v1/bundles/{sha}"
        upload = timed(["curl", "-sf", "-T", source, "-H", "Content-Type: application/octet-stream", url])
        after_upload = peak_rss_mib(stack.server.pid)
        download = timed(["curl", "-sf", "-o", f"{stack.work}/fetched", url])
        after_download = peak_rss_mib(stack.server.pid)
        fetched = subprocess.run(["sha256sum", f"{stack.work}/fetched"], capture_output=True, text=True, check=True).stdout.split()[0]
        return {
            "size_mib": size_mib, "identical": fetched == sha,
            "server_peak_rss_mib": {"before": round(before, 1), "after_upload": round(after_upload, 1), "after_download": round(after_download, 1)},
            "seconds": {"cp": round(reference, 2), "upload": round(upload, 2), "download": round(download, 2)},
            "ratio_to_cp": {"upload": round(upload / reference, 2), "download": round(download / reference, 2)},
        }
    finally:
        stack.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--throughput-only", action="store_true")
    parser.add_argument("--bundle-only", action="store_true")
    args = parser.parse_args()
    if not os.path.exists(FATHOM):
        raise SystemExit("missing .build/release/fathom: run `swift build -c release` first")
    if args.bundle_only:
        print(json.dumps({"bundle_transfer": bundle_transfer()}, indent=2))
        return
    results = {"throughput": throughput(args.runs)}
    if not args.throughput_only:
        results.update({"head_of_line": head_of_line(), "outage": outage(), "bundle_transfer": bundle_transfer()})
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
