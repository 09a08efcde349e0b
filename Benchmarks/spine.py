#!/usr/bin/env python3
"""Spine benchmark: Fathom against Prefect 3, measured in the same run on the same machine.

Quantities (see docs/benchmarks.md):
  * time to start: from launching `fathom run` to the flow's first log line, p50 and p95 over N runs
  * task overhead: one flow run with 1,000 no-op tasks, ms per task until all are recorded
  * ingest: log lines per second, until all are stored
  * memory: RSS of the server and of the agent, idle and after the load

Usage: Benchmarks/spine.py [--runs 20] [--tasks 1000] [--lines 100000] [--skip-prefect]
Needs a release build: swift build -c release. Prefect is installed into .build-bench/prefect-venv.
"""
import argparse, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time, urllib.request
from datetime import datetime

from common import free_port, get, pct, post, print_comparison, stop, wait_http

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, ".build", "release")




def rss_kib(pid):
    """Resident set of a process and its descendants (the server may fork helpers)."""
    total = 0
    for p in [pid] + descendants(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def descendants(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout.split()
    kids = [int(x) for x in out]
    return kids + [g for k in kids for g in descendants(k)]




def parse_ts(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()






# ---------------------------------------------------------------- Fathom

def bench_fathom(args):
    fathom = os.path.join(RELEASE, "fathom")
    bundle = os.path.join(RELEASE, "fathom-test-flows")
    hello = os.path.join(RELEASE, "fathom-examples")
    for path in (fathom, bundle, hello):
        if not os.path.exists(path):
            raise SystemExit(f"missing {path}: run `swift build -c release` first")
    work = tempfile.mkdtemp(prefix="fathom-bench-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, FATHOM_API_URL=url, FATHOM_BUNDLE_CACHE=os.path.join(work, "cache"))
    t0 = time.time()
    server = subprocess.Popen([fathom, "server", "--port", str(port), "--data-dir", os.path.join(work, "data")],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(url + "/healthz")
    server_start = time.time() - t0
    time.sleep(1)
    fresh_rss = rss_kib(server.pid) / 1024
    agent = subprocess.Popen([fathom, "agent", "--volume", f"scratch={work}/scratch", "--max-runs", "4"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = {"server_start_s": server_start, "server_rss_fresh_mib": fresh_rss}
    try:
        for b in (bundle, hello):
            subprocess.run([fathom, "register", b], env=env, check=True, capture_output=True)
        time.sleep(1.5)
        results["server_rss_idle_mib"] = rss_kib(server.pid) / 1024
        results["agent_rss_idle_mib"] = rss_kib(agent.pid) / 1024

        starts = []
        for i in range(args.runs):
            begin = time.time()
            out = subprocess.run([fathom, "run", "hello"], env=env, check=True, capture_output=True, text=True).stdout
            run_id = out.split()[2]
            while True:
                page = get(f"{url}/api/v1/flow-runs/{run_id}/logs?after=0&limit=1&wait=20")
                if page["lines"]:
                    starts.append(parse_ts(page["lines"][0]["timestamp"]) - begin)
                    break
            wait_final(url, run_id)
        results["start_p50_ms"] = pct(starts, 50) * 1000
        results["start_p95_ms"] = pct(starts, 95) * 1000

        begin = time.time()
        out = subprocess.run([fathom, "run", "noop-tasks", "--param", f"count={args.tasks}"], env=env, check=True,
                             capture_output=True, text=True).stdout
        run_id = out.split()[2]
        run = wait_final(url, run_id)
        assert run["state"] == "Completed", run
        while len(get(f"{url}/api/v1/flow-runs/{run_id}/task-runs")["taskRuns"]) < args.tasks:
            time.sleep(0.01)
        recorded = time.time()
        in_flow = parse_ts(run["endedAt"]) - parse_ts(run["startedAt"])
        results["tasks_ms_per_task_in_flow"] = in_flow * 1000 / args.tasks
        results["tasks_ms_per_task_recorded"] = (recorded - begin) * 1000 / args.tasks
        results["server_rss_after_tasks_mib"] = rss_kib(server.pid) / 1024

        begin = time.time()
        out = subprocess.run([fathom, "run", "log-lines", "--param", f"count={args.lines}"], env=env, check=True,
                             capture_output=True, text=True).stdout
        run_id = out.split()[2]
        wait_final(url, run_id)
        stored = 0
        after = 0
        while stored < args.lines:
            page = get(f"{url}/api/v1/flow-runs/{run_id}/logs?after={after}&limit=10000")
            stored += sum(1 for l in page["lines"] if l["message"].startswith("line "))
            after = page["next"]
            if not page["lines"]:
                time.sleep(0.01)
        results["ingest_lines_per_s"] = args.lines / (time.time() - begin)
        results["server_rss_loaded_mib"] = rss_kib(server.pid) / 1024
        results["agent_rss_loaded_mib"] = rss_kib(agent.pid) / 1024
    finally:
        stop([agent, server])
        shutil.rmtree(work, ignore_errors=True)
    return results


def wait_final(url, run_id):
    while True:
        run = get(f"{url}/api/v1/flow-runs/{run_id}")
        if run["state"] in ("Completed", "Failed", "Crashed", "Cancelled"):
            return run
        time.sleep(0.005)


# ---------------------------------------------------------------- Prefect

PREFECT_FLOWS = '''
import sys
from prefect import flow, task, get_run_logger

@flow
def hello():
    get_run_logger().info("hello")

@task
def noop(i):
    return i

@flow
def noop_tasks(count: int = 1000):
    futures = [noop.submit(i) for i in range(count)]
    [f.result() for f in futures]

@flow
def log_lines(count: int = 10000):
    logger = get_run_logger()
    for i in range(count):
        logger.info("line %d", i)
'''


def prefect_env(args):
    venv = os.path.join(ROOT, ".build-bench", "prefect-venv")
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "prefect"], check=True)
    return venv


def bench_prefect(args):
    venv = prefect_env(args)
    prefect = os.path.join(venv, "bin", "prefect")
    py = os.path.join(venv, "bin", "python")
    work = tempfile.mkdtemp(prefix="prefect-bench-")
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = dict(os.environ, PREFECT_HOME=work, PREFECT_API_URL=api, PREFECT_SERVER_API_PORT=str(port),
               PREFECT_UI_ENABLED="false", PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_WORKER_QUERY_SECONDS="1")
    with open(os.path.join(work, "flows.py"), "w") as f:
        f.write(PREFECT_FLOWS)
    t0 = time.time()
    server = subprocess.Popen([prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(api + "/health", deadline=120)
    results = {"server_start_s": time.time() - t0}
    time.sleep(1)
    results["server_rss_fresh_mib"] = rss_kib(server.pid) / 1024
    worker = None
    try:
        subprocess.run([prefect, "work-pool", "create", "bench", "--type", "process"], env=env, cwd=work,
                       check=True, capture_output=True)
        deploy = (
            "from flows import hello, noop_tasks, log_lines\n"
            "for fl in (hello, noop_tasks, log_lines):\n"
            "    fl.from_source(source='.', entrypoint=f'flows.py:{fl.fn.__name__}').deploy(name='bench', work_pool_name='bench')\n")
        subprocess.run([py, "-c", deploy], env=env, cwd=work, check=True, capture_output=True)
        worker = subprocess.Popen([prefect, "worker", "start", "--pool", "bench", "--type", "process"],
                                  env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(5)
        results["server_rss_idle_mib"] = rss_kib(server.pid) / 1024
        results["agent_rss_idle_mib"] = rss_kib(worker.pid) / 1024

        starts = []
        for i in range(args.runs):
            begin = time.time()
            run_id = prefect_run(prefect, env, work, "hello/bench")
            while True:
                logs = prefect_logs(api, run_id, 200)
                flow_logs = [l for l in logs if l["message"] == "hello"]
                if flow_logs:
                    starts.append(parse_ts(flow_logs[0]["timestamp"]) - begin)
                    break
                time.sleep(0.02)
            prefect_wait(api, run_id)
        results["start_p50_ms"] = pct(starts, 50) * 1000
        results["start_p95_ms"] = pct(starts, 95) * 1000

        begin = time.time()
        run_id = prefect_run(prefect, env, work, "noop-tasks/bench", f"count={args.tasks}")
        run = prefect_wait(api, run_id)
        while prefect_count_task_runs(api, run_id) < args.tasks:
            time.sleep(0.2)
        results["tasks_ms_per_task_recorded"] = (time.time() - begin) * 1000 / args.tasks
        results["tasks_ms_per_task_in_flow"] = run["total_run_time"] * 1000 / args.tasks
        results["server_rss_after_tasks_mib"] = rss_kib(server.pid) / 1024

        lines = args.prefect_lines
        begin = time.time()
        run_id = prefect_run(prefect, env, work, "log-lines/bench", f"count={lines}")
        prefect_wait(api, run_id)
        while prefect_count_logs(api, run_id) < lines:
            time.sleep(1.0)  # counting pages loads the server; poll gently
        results["ingest_lines_per_s"] = lines / (time.time() - begin)
        results["server_rss_loaded_mib"] = rss_kib(server.pid) / 1024
        results["agent_rss_loaded_mib"] = rss_kib(worker.pid) / 1024
    finally:
        stop([worker, server])
        shutil.rmtree(work, ignore_errors=True)
    return results


def prefect_run(prefect, env, work, name, *params):
    cmd = [prefect, "deployment", "run", name]
    for p in params:
        cmd += ["--param", p]
    out = subprocess.run(cmd, env=env, cwd=work, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "UUID:" in line:
            return line.split("UUID:")[1].strip()
    raise SystemExit(f"no run id in: {out}")


def prefect_logs(api, run_id, limit):
    return post(f"{api}/logs/filter", {"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": limit, "sort": "TIMESTAMP_ASC"})


def prefect_count_logs(api, run_id):
    """Prefect caps a page at 200 logs: count by paging."""
    total, offset = 0, 0
    while True:
        page = post(f"{api}/logs/filter", {"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200, "offset": offset})
        total += sum(1 for l in page if l["message"].startswith("line "))
        if len(page) < 200:
            return total
        offset += 200


def prefect_count_task_runs(api, run_id):
    return post(f"{api}/task_runs/count", {"flow_runs": {"id": {"any_": [run_id]}}})


def prefect_wait(api, run_id):
    while True:
        run = get(f"{api}/flow_runs/{run_id}")
        if run["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return run
        time.sleep(0.1)


# ---------------------------------------------------------------- report

ROWS = [
    ("start_p50_ms", "time to start, p50 (ms)", False),
    ("start_p95_ms", "time to start, p95 (ms)", False),
    ("tasks_ms_per_task_in_flow", "1,000 no-op tasks, inside the flow (ms/task)", False),
    ("tasks_ms_per_task_recorded", "1,000 no-op tasks, until all recorded (ms/task)", False),
    ("ingest_lines_per_s", "log ingest (lines/s)", True),
    ("server_start_s", "server start (s)", False),
    ("server_rss_fresh_mib", "server RSS idle, just started (MiB)", False),
    ("server_rss_idle_mib", "server RSS idle, flows registered (MiB)", False),
    ("server_rss_loaded_mib", "server RSS after load (MiB)", False),
    ("agent_rss_idle_mib", "agent/worker RSS idle (MiB)", False),
    ("agent_rss_loaded_mib", "agent/worker RSS after load (MiB)", False),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=100000)
    parser.add_argument("--prefect-lines", type=int, default=10000)
    parser.add_argument("--skip-prefect", action="store_true")
    args = parser.parse_args()
    fathom = bench_fathom(args)
    prefect = {} if args.skip_prefect else bench_prefect(args)
    print_comparison(fathom, prefect, ROWS)
    print("\nraw:", json.dumps({"fathom": fathom, "prefect": prefect}, indent=1))


if __name__ == "__main__":
    main()
