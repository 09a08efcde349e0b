#!/usr/bin/env python3
"""Web UI and scheduler benchmark: Fathom against Prefect 3's server, measured in the same run.

Both servers hold the same data: R runs of one flow (every other one Completed, the rest Failed) and
one run with L log lines. Then, over N requests each:
  * runs page: Fathom renders /runs?state=Completed (25 rows, HTML); Prefect answers what its UI's
    runs page asks, POST /api/flow_runs/filter (25 rows, state COMPLETED, newest first) and
    POST /api/flow_runs/count
  * run page: Fathom renders /runs/{id} (HTML, with the newest 1,000 of the L log lines); Prefect answers
    what its UI's run page asks for first, GET /api/flow_runs/{id} and POST /api/logs/filter (200 lines)
  * live log: Fathom only, from POST of a line to its Server-Sent Event on /runs/{id}/events
    (Prefect's UI polls for new lines; there is no push to time)
  * schedules: S interval schedules created at once; the time until the server holds every run they
    make ahead (Fathom: 100 each, within the next hour; Prefect: its scheduler's defaults)

Usage: Benchmarks/ui.py [--runs 2000] [--lines 5000] [--requests 50] [--schedules 20] [--skip-prefect]
Needs a release build: swift build -c release. Prefect comes from .build-bench/prefect-venv (spine.py makes it).
"""
import argparse, http.client, os, shutil, subprocess, tempfile, threading, time, urllib.error, urllib.request
from datetime import datetime, timezone

from common import free_port, get, pct, post, print_comparison, stop, wait_http

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, ".build", "release")


def timed(fn, count):
    times = []
    for _ in range(count):
        begin = time.perf_counter()
        fn()
        times.append(time.perf_counter() - begin)
    return pct(times, 50) * 1000, pct(times, 95) * 1000


def fetch(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read()


def retried(job, attempts=12):
    """A seeding call, tried again when the server is busy (Prefect answers 503 under write load)."""
    def run():
        for attempt in range(attempts):
            try:
                return job()
            except urllib.error.HTTPError as error:
                if error.code != 503 or attempt == attempts - 1:
                    raise
                time.sleep(0.25 * (attempt + 1))
    return run


def in_parallel(jobs, workers=8):
    """Runs the callables on a few threads (seeding only), each tried again while the server is busy."""
    jobs = list(jobs)
    lock = threading.Lock()

    def work():
        while True:
            with lock:
                if not jobs:
                    return
                job = jobs.pop()
            retried(job)()
    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def bench_fathom(args):
    fathom = os.path.join(RELEASE, "fathom")
    bundle = os.path.join(RELEASE, "fathom-test-flows")
    work = tempfile.mkdtemp(prefix="fathom-ui-bench-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, FATHOM_API_URL=url)
    server = subprocess.Popen([fathom, "server", "--port", str(port), "--data-dir", os.path.join(work, "data")],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = {}
    try:
        wait_http(url + "/healthz")
        subprocess.run([fathom, "register", bundle], env=env, check=True, capture_output=True)
        api = url + "/api/v1"

        def make_run(i):
            def job():
                run = post(f"{api}/flow-runs", {"flow": "sleeper"})
                for state in ("Pending", "Running", "Completed" if i % 2 == 0 else "Failed"):
                    post(f"{api}/flow-runs/{run['id']}/state", {"state": state, "message": "" if state != "Failed" else "boom"})
            return job
        in_parallel(make_run(i) for i in range(args.runs))
        results["runs_held"] = get(f"{api}/flow-runs?limit=1")["total"]
        logged = post(f"{api}/flow-runs", {"flow": "sleeper"})
        now = datetime.now(timezone.utc).isoformat()
        for start in range(0, args.lines, 1000):
            post(f"{api}/flow-runs/{logged['id']}/logs",
                 {"logs": [{"timestamp": now, "level": "info", "message": f"line {i} of the benchmark", "source": "flow"}
                           for i in range(start, min(args.lines, start + 1000))]})

        results["runs_page_p50_ms"], results["runs_page_p95_ms"] = timed(lambda: fetch(f"{url}/runs?state=Completed"), args.requests)
        results["run_page_p50_ms"], results["run_page_p95_ms"] = timed(lambda: fetch(f"{url}/runs/{logged['id']}"), args.requests)

        # Live log: a line posted, then seen on the run page's event stream.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", f"/runs/{logged['id']}/events?after={args.lines}")
        stream = conn.getresponse()
        delays = []
        for i in range(args.requests):
            begin = time.perf_counter()
            post(f"{api}/flow-runs/{logged['id']}/logs",
                 {"logs": [{"timestamp": now, "level": "info", "message": f"live {i}", "source": "flow"}]})
            while True:
                line = stream.fp.readline().decode()
                if f"live {i}" in line:
                    delays.append(time.perf_counter() - begin)
                    break
        conn.close()
        results["live_log_p50_ms"], results["live_log_p95_ms"] = pct(delays, 50) * 1000, pct(delays, 95) * 1000

        begin = time.perf_counter()
        for i in range(args.schedules):
            post(f"{api}/schedules", {"flow": "sleeper", "name": f"every-{i}", "intervalSeconds": 60})
        want = args.schedules * 60  # every minute for the next hour
        while get(f"{api}/flow-runs?state=Scheduled&limit=1")["total"] < want:
            time.sleep(0.01)
        results["schedules_s"] = time.perf_counter() - begin
        results["scheduled_runs"] = want
    finally:
        stop([server])
        shutil.rmtree(work, ignore_errors=True)
    return results


def bench_prefect(args):
    venv = os.path.join(ROOT, ".build-bench", "prefect-venv")
    prefect = os.path.join(venv, "bin", "prefect")
    if not os.path.exists(prefect):
        raise SystemExit("no Prefect: run Benchmarks/spine.py once (it installs .build-bench/prefect-venv), or pass --skip-prefect")
    work = tempfile.mkdtemp(prefix="prefect-ui-bench-")
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = dict(os.environ, PREFECT_HOME=work, PREFECT_API_URL=api, PREFECT_UI_ENABLED="false",
               PREFECT_SERVER_ANALYTICS_ENABLED="false")
    server = subprocess.Popen([prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = {}
    try:
        wait_http(api + "/health", deadline=120)
        flow = post(f"{api}/flows/", {"name": "sleeper"})

        def make_run(i):
            def job():
                post(f"{api}/flow_runs/", {"flow_id": flow["id"], "state": {"type": "COMPLETED" if i % 2 == 0 else "FAILED"}})
            return job
        in_parallel((make_run(i) for i in range(args.runs)), workers=4)
        results["runs_held"] = post(f"{api}/flow_runs/count", {})
        logged = post(f"{api}/flow_runs/", {"flow_id": flow["id"]})
        now = datetime.now(timezone.utc).isoformat()
        for start in range(0, args.lines, 1000):
            post(f"{api}/logs/", [{"name": "bench", "level": 20, "message": f"line {i} of the benchmark", "timestamp": now,
                                   "flow_run_id": logged["id"]} for i in range(start, min(args.lines, start + 1000))])

        def runs_page():
            query = {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}
            post(f"{api}/flow_runs/filter", dict(query, limit=25, offset=0, sort="START_TIME_DESC"))
            post(f"{api}/flow_runs/count", query)

        def run_page():
            get(f"{api}/flow_runs/{logged['id']}")
            post(f"{api}/logs/filter", {"logs": {"flow_run_id": {"any_": [logged["id"]]}}, "limit": 200, "sort": "TIMESTAMP_ASC"})
        results["runs_page_p50_ms"], results["runs_page_p95_ms"] = timed(runs_page, args.requests)
        results["run_page_p50_ms"], results["run_page_p95_ms"] = timed(run_page, args.requests)
    finally:
        stop([server])
        shutil.rmtree(work, ignore_errors=True)
    return results


ROWS = [
    ("runs_page_p50_ms", "runs page, p50 (ms)", False),
    ("runs_page_p95_ms", "runs page, p95 (ms)", False),
    ("run_page_p50_ms", "run page, p50 (ms)", False),
    ("run_page_p95_ms", "run page, p95 (ms)", False),
    ("live_log_p50_ms", "live log line to the browser's stream, p50 (ms)", False),
    ("live_log_p95_ms", "live log line to the browser's stream, p95 (ms)", False),
    ("schedules_s", "schedules: every run ahead created (s)", False),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--schedules", type=int, default=20)
    parser.add_argument("--skip-prefect", action="store_true")
    args = parser.parse_args()
    fathom = bench_fathom(args)
    prefect = {} if args.skip_prefect else bench_prefect(args)
    print(f"{args.runs} runs (held: Fathom {fathom['runs_held']}, Prefect {prefect.get('runs_held', '–')}), {args.lines} log lines, "
          f"{args.requests} requests each, {args.schedules} schedules ({fathom['scheduled_runs']} runs ahead)")
    print_comparison(fathom, prefect, ROWS)


if __name__ == "__main__":
    main()
