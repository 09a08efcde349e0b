#!/usr/bin/env python3
"""The pages that sum and draw a flow's history (docs/benchmarks.md, "Usage and charts").

A release `fathom server` (SQLite) holds R finished runs of one flow (one in ten Failed), each with a cost and a
workspace size, made through the API by 8 threads (Pending, Running, a task run, facts, Completed or Failed). Then,
N requests each, one at a time:

  * usage API: GET /api/v1/flows/bench/usage?days=30 (every run of the window read and summed);
  * flow page: GET /flows/bench (the same sums and three SVG charts, HTML);
  * runs page: GET /runs (25 rows and the last day's runs per hour);
  * run page: GET /runs/{id} (its task-run timeline).

Usage: Benchmarks/usage.py [--runs 1000,5000,20000] [--requests 20]
Needs a release build: swift build -c release --product fathom.
"""
import argparse, os, shutil, subprocess, tempfile, time, urllib.request
from concurrent.futures import ThreadPoolExecutor

from common import free_port, pct, post, stop, wait_http

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FATHOM = os.path.join(ROOT, ".build", "release", "fathom")


def make_run(url, index):
    run = post(url + "/api/v1/flow-runs", {"flow": "bench"})
    post(url + f"/api/v1/flow-runs/{run['id']}/state", {"state": "Pending"})
    post(url + f"/api/v1/flow-runs/{run['id']}/state", {"state": "Running"})
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    post(url + f"/api/v1/flow-runs/{run['id']}/task-runs", {"taskRuns": [
        {"id": f"t-{index}", "name": "sort", "state": "Completed", "attempt": 1, "startedAt": now, "endedAt": now}]})
    post(url + f"/api/v1/flow-runs/{run['id']}/infrastructure",
         {"infrastructure": {"costUSD": "0.012345", "workspaceBytes": f"scratch={4096 * (index % 100 + 1)}"}})
    post(url + f"/api/v1/flow-runs/{run['id']}/state", {"state": "Failed" if index % 10 == 0 else "Completed"})
    return run["id"]


def timed(url, count):
    times = []
    for _ in range(count):
        start = time.perf_counter()
        with urllib.request.urlopen(url, timeout=120) as answer:
            answer.read()
        times.append(time.perf_counter() - start)
    return times


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", default="1000,5000,20000")
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    if not os.path.exists(FATHOM):
        raise SystemExit(f"{FATHOM} is missing: swift build -c release --product fathom")
    rows = []
    for total in [int(n) for n in args.runs.split(",")]:
        work = tempfile.mkdtemp(prefix="fathom-bench-usage-")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([FATHOM, "server", "--port", str(port), "--data-dir", work, "--allow-bundle-prefix", "file:///nowhere/"],
                                  stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "server.log"), "w"))
        try:
            wait_http(url + "/healthz")
            post(url + "/api/v1/flows", {"bundleSHA256": "ab" * 32, "storageURL": "file:///nowhere/bench",
                                         "flows": [{"name": "bench", "summary": "benchmark", "parameters": []}]})
            started = time.time()
            with ThreadPoolExecutor(8) as pool:
                ids = list(pool.map(lambda i: make_run(url, i), range(total)))
            made = time.time() - started
            measured = {}
            for name, path in [("usage API", "/api/v1/flows/bench/usage?days=30"), ("flow page", "/flows/bench"),
                               ("runs page", "/runs"), ("run page", f"/runs/{ids[-1]}")]:
                timed(url + path, 2)  # warm-up
                measured[name] = timed(url + path, args.requests)
            rows.append((total, made, measured))
            print(total, "runs made in", f"{made:.0f} s;",
                  ", ".join(f"{k} p50 {pct(v, 50) * 1000:.0f} ms" for k, v in measured.items()), flush=True)
        finally:
            stop([server])
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"release build, SQLite, {os.cpu_count()} cores; {args.requests} requests each, one at a time")
    print("| runs in 30 days | usage API p50 / p95 ms | flow page p50 / p95 ms | runs page p50 / p95 ms | run page p50 / p95 ms |")
    print("|---:|---:|---:|---:|---:|")
    for total, _, measured in rows:
        cells = [f"{pct(v, 50) * 1000:.0f} / {pct(v, 95) * 1000:.0f}" for v in measured.values()]
        print(f"| {total:,} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
