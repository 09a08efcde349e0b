#!/usr/bin/env python3
"""From a run's state change to the webhook received, with 100 alert rules configured (docs/benchmarks.md, "Alerts").

A release `fathom server` (SQLite) and a webhook receiver in this process (a threaded http.server on loopback that
checks each signature). Runs of the `sleeper` test flow are driven through the API (claimed, Running, then
Failed); the clock starts when the Failed state is sent and stops when the receiver has the alert.

  * one-of-100: 99 rules for other flows and 1 for this one: one delivery per run, 50 runs one at a time;
  * all-100: 100 rules that all match: 100 deliveries per run, 10 runs, each delivery timed.

Goals (issue: operations): p50 <= 50 ms, p95 <= 200 ms.

Usage: Benchmarks/alerts.py [--runs 50]
Needs a release build: swift build -c release --product fathom && swift build -c release --product fathom-test-flows.
"""
import argparse, hashlib, hmac, http.server, json, os, shutil, subprocess, tempfile, threading, time

from common import free_port, pct, post, stop, wait_http

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, ".build", "release")
FATHOM = os.path.join(RELEASE, "fathom")
FLOWS = os.path.join(RELEASE, "fathom-test-flows")
SECRET = "benchmark-signing-secret-0123456789"


class Receiver:
    """Records the arrival time of each delivery id; refuses (and counts) a bad signature."""

    def __init__(self):
        self.arrivals, self.bad, self.lock = {}, 0, threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver behind a proxy would

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                now = time.time()
                parts = dict(p.split("=", 1) for p in self.headers.get("Fathom-Signature", "").split(",") if "=" in p)
                expected = hmac.new(SECRET.encode(), f"{parts.get('t', '')}.".encode() + body, hashlib.sha256).hexdigest()
                good = hmac.compare_digest(expected, parts.get("v1", ""))
                message = json.loads(body)
                with receiver.lock:
                    if good:
                        receiver.arrivals.setdefault(message["id"], (now, message["runID"]))
                    else:
                        receiver.bad += 1
                self.send_response(200 if good else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            request_queue_size = 128  # the default 5 drops SYNs of concurrent senders (a 1 s retransmit)
            daemon_threads = True

        self.server = Server(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def for_run(self, run_id):
        with self.lock:
            return [at for at, run in self.arrivals.values() if run == run_id]


def failed_run(url, agent):
    """A run driven to Failed; returns its id and when the Failed state was sent."""
    run = post(url + "/api/v1/flow-runs", {"flow": "sleeper"})
    post(url + f"/api/v1/agents/{agent}/claim", {"waitSeconds": 0, "capacity": 1})
    post(url + f"/api/v1/flow-runs/{run['id']}/state", {"state": "Running"})
    sent = time.time()
    post(url + f"/api/v1/flow-runs/{run['id']}/state", {"state": "Failed", "message": "benchmark"})
    return run["id"], sent


def measure(url, receiver, agent, runs, per_run):
    latencies = []
    for _ in range(runs):
        run_id, sent = failed_run(url, agent)
        deadline = time.time() + 30
        while len(receiver.for_run(run_id)) < per_run and time.time() < deadline:
            time.sleep(0.001)
        arrivals = receiver.for_run(run_id)
        if len(arrivals) < per_run:
            raise SystemExit(f"run {run_id}: {len(arrivals)} of {per_run} alerts arrived within 30 s")
        latencies += [at - sent for at in arrivals]
    return latencies


def rules(url, receiver, count, flow_of):
    for index in range(count):
        post(url + "/api/v1/alert-rules", {"name": f"rule-{index}", "on": ["Failed"], "flows": [flow_of(index)],
                                            "targets": [{"kind": "webhook", "url": receiver.url, "secret": SECRET}]})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    for path in (FATHOM, FLOWS):
        if not os.path.exists(path):
            raise SystemExit(f"{path} is missing: swift build -c release --product fathom && swift build -c release --product fathom-test-flows")
    receiver = Receiver()
    results = {}
    for name, runs, per_run, flow_of in [("one of 100 rules matches", args.runs, 1, lambda i: "sleeper" if i == 0 else f"other-{i}"),
                                          ("all 100 rules match", max(1, args.runs // 5), 100, lambda i: "sleeper")]:
        work = tempfile.mkdtemp(prefix="fathom-bench-alerts-")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([FATHOM, "server", "--port", str(port), "--data-dir", work], stdout=subprocess.DEVNULL,
                                  stderr=open(os.path.join(work, "server.log"), "w"))
        try:
            wait_http(url + "/healthz")
            subprocess.run([FATHOM, "register", FLOWS], env=dict(os.environ, FATHOM_API_URL=url), check=True, stdout=subprocess.DEVNULL)
            agent = post(url + "/api/v1/agents", {"name": "bench", "queue": "default", "labels": {}, "launcher": "local"})["id"]
            rules(url, receiver, 100, flow_of)
            measure(url, receiver, agent, 3, per_run)  # warm-up
            latencies = measure(url, receiver, agent, runs, per_run)
            results[name] = (runs, latencies)
            print(name, f"p50 {pct(latencies, 50) * 1000:.1f} ms, p95 {pct(latencies, 95) * 1000:.1f} ms", flush=True)
        finally:
            stop([server])
            shutil.rmtree(work, ignore_errors=True)
    receiver.server.shutdown()
    print()
    print(f"state change (Failed sent) -> webhook received and its signature checked; release build, {os.cpu_count()} cores")
    print("| rules | runs | deliveries | p50 ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (runs, latencies) in results.items():
        print(f"| {name} | {runs} | {len(latencies)} | {pct(latencies, 50) * 1000:.1f} | {pct(latencies, 95) * 1000:.1f} | {max(latencies) * 1000:.1f} |")
    if receiver.bad:
        raise SystemExit(f"{receiver.bad} deliveries had a bad signature")


if __name__ == "__main__":
    main()
