#!/usr/bin/env python3
"""Coordinators on SQLite and PostgreSQL, measured in the same run (docs/benchmarks.md, "Several coordinators").

  * throughput: N runs of the `tally` test flow (a process that appends its run id to a file) created by 16
    concurrent clients spread over the coordinators, claimed by 8 agents (--max-runs 4 each, each knowing every
    coordinator), from the first create to the last Completed, in runs/min, for
      - 1 coordinator on SQLite (its own data directory),
      - 1 coordinator on PostgreSQL,
      - 4 coordinators on one PostgreSQL database;
  * where the CPU went, per run: PostgreSQL's processes, the coordinators, the agents with their flow processes
    (from /proc, utime + stime of each process and its waited-for children), and the rate the whole machine
    could give at that cost (cores × 60 s ÷ CPU seconds per run);
  * start: through one coordinator on PostgreSQL with an idle agent, one run at a time, the time from the
    run's creation to Running (its `startedAt - createdAt`), p50 and p95.

PostgreSQL is Debian's (apt-get install postgresql): a cluster made with initdb in a temporary directory (as the
`postgres` user when run as root), `postgres` on a free loopback port, a new database per configuration.

Usage: Benchmarks/coordinators.py [--runs 2000] [--starts 30]
Needs a release build: swift build -c release --product fathom && swift build -c release --product fathom-test-flows.
"""
import argparse, concurrent.futures, glob, json, os, pwd, shutil, statistics, subprocess, tempfile, time, urllib.request
from datetime import datetime

from common import free_port, get, pct, post, stop, wait_http


def cpu_seconds(pid):
    """utime + stime of a process and its waited-for children, in seconds (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds():
    """The CPU time of every `postgres` process (the postmaster, its backends and workers)."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "postgres":
                    total += cpu_seconds(pid)
        except OSError:
            pass
    return total

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, ".build", "release")
FATHOM = os.path.join(RELEASE, "fathom")
FLOWS = os.path.join(RELEASE, "fathom-test-flows")


class Postgres:
    """A throwaway PostgreSQL cluster on a free loopback port."""

    def __init__(self):
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        if not binaries:
            raise SystemExit("PostgreSQL is not installed: apt-get install -y postgresql")
        self.bin = binaries[-1]
        self.dir = tempfile.mkdtemp(prefix="fathom-bench-pg-")
        self.port = free_port()
        as_root = os.getuid() == 0
        prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
        if as_root:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
        data = os.path.join(self.dir, "data")
        subprocess.run(prefix + [f"{self.bin}/initdb", "-D", data, "-U", "fathom", "--auth=trust", "-E", "UTF8", "--no-sync"],
                       check=True, stdout=subprocess.DEVNULL)
        # Durable as a production server is (fsync on): the comparison with SQLite is fair.
        self.process = subprocess.Popen(
            prefix + [f"{self.bin}/postgres", "-D", data, "-p", str(self.port), "-k", self.dir,
                      "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            if subprocess.run([f"{self.bin}/pg_isready", "-h", "127.0.0.1", "-p", str(self.port)], stdout=subprocess.DEVNULL).returncode == 0:
                return
            time.sleep(0.1)
        raise SystemExit("postgres did not start")

    def database(self, name):
        subprocess.run([f"{self.bin}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "fathom", name], check=True)
        return f"postgres://fathom@127.0.0.1:{self.port}/{name}?sslmode=disable"

    def stop(self):
        stop([self.process])
        shutil.rmtree(self.dir, ignore_errors=True)


class Fleet:
    """`count` coordinators (SQLite when `database` is None) and `agents` agents that know every coordinator."""

    def __init__(self, count, database, agents=8, max_runs=4):
        self.work = tempfile.mkdtemp(prefix="fathom-bench-coord-")
        os.makedirs(f"{self.work}/bundles")
        self.urls, self.processes = [], []
        self.coordinators = count
        for index in range(count):
            port = free_port()
            env = dict(os.environ)
            if database:
                env["FATHOM_DATABASE_URL"] = database
            self.processes.append(subprocess.Popen(
                [FATHOM, "server", "--port", str(port), "--data-dir", f"{self.work}/server-{index}", "--storage", f"{self.work}/bundles"],
                env=env, stdout=subprocess.DEVNULL, stderr=open(f"{self.work}/server-{index}.log", "w")))
            self.urls.append(f"http://127.0.0.1:{port}")
        for url in self.urls:
            wait_http(url + "/healthz")
        env = dict(os.environ, FATHOM_API_URL=self.urls[0])
        subprocess.run([FATHOM, "register", FLOWS], env=env, check=True, stdout=subprocess.DEVNULL)
        for index in range(agents):
            rotated = ",".join(self.urls[(index + k) % count] for k in range(count))
            self.processes.append(subprocess.Popen(
                [FATHOM, "agent", "--name", f"bench-{index}", "--max-runs", str(max_runs), "--cache-dir", f"{self.work}/cache"],
                env=dict(os.environ, FATHOM_API_URL=rotated), stdout=subprocess.DEVNULL,
                stderr=open(f"{self.work}/agent-{index}.log", "w")))
        time.sleep(1)

    def stop(self):
        stop(self.processes)
        shutil.rmtree(self.work, ignore_errors=True)


def cpu_split(fleet):
    """CPU seconds so far: PostgreSQL, the coordinators, the agents with their flow processes."""
    times = [cpu_seconds(p.pid) for p in fleet.processes]
    return postgres_cpu_seconds(), sum(times[:fleet.coordinators]), sum(times[fleet.coordinators:])


def throughput(fleet, runs):
    tally = f"{fleet.work}/tally.txt"
    cpu_before = cpu_split(fleet)
    started = time.time()

    def create(index):
        url = fleet.urls[index % len(fleet.urls)]
        return post(url + "/api/v1/flow-runs", {"flow": "tally", "parameters": {"file": tally}, "idempotencyKey": f"bench-{index}"})["id"]

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        ids = list(pool.map(create, range(runs)))
    created = time.time()
    while True:
        active = get(fleet.urls[0] + "/api/v1/flow-runs?flow=tally&active=true&limit=1")["total"]
        scheduled = get(fleet.urls[0] + "/api/v1/flow-runs?flow=tally&state=Scheduled&limit=1")["total"]
        if active == 0 and scheduled == 0:
            break
        time.sleep(0.2)
    ended = time.time()
    cpu = [after - before for before, after in zip(cpu_before, cpu_split(fleet))]
    completed = get(fleet.urls[0] + "/api/v1/flow-runs?flow=tally&state=Completed&limit=1")["total"]
    with open(tally) as f:
        starts = len(f.read().split())
    return {"runs": len(set(ids)), "completed": completed, "starts": starts, "create_s": created - started,
            "total_s": ended - started, "per_min": completed / (ended - started) * 60,
            "cpu_ms_per_run": {"postgres": cpu[0] / runs * 1000, "coordinators": cpu[1] / runs * 1000, "agents_and_flows": cpu[2] / runs * 1000}}


def parse(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def start_latency(fleet, count):
    latencies = []
    for _ in range(count):
        run = post(fleet.urls[0] + "/api/v1/flow-runs", {"flow": "tally", "parameters": {"file": f"{fleet.work}/starts.txt"}})
        while True:
            current = get(fleet.urls[0] + f"/api/v1/flow-runs/{run['id']}")
            if current.get("startedAt"):
                latencies.append(parse(current["startedAt"]) - parse(current["createdAt"]))
                break
            time.sleep(0.005)
        while get(fleet.urls[0] + f"/api/v1/flow-runs/{run['id']}")["state"] != "Completed":
            time.sleep(0.02)
    return latencies


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--starts", type=int, default=30)
    args = parser.parse_args()
    for path in (FATHOM, FLOWS):
        if not os.path.exists(path):
            raise SystemExit(f"{path} is missing: swift build -c release --product fathom && swift build -c release --product fathom-test-flows")
    postgres = Postgres()
    results = {}
    try:
        for name, count, database in [("1 coordinator, SQLite", 1, None), ("1 coordinator, PostgreSQL", 1, postgres.database("one")),
                                      ("4 coordinators, PostgreSQL", 4, postgres.database("four"))]:
            fleet = Fleet(count, database)
            try:
                results[name] = throughput(fleet, args.runs)
            finally:
                fleet.stop()
            print(name, json.dumps(results[name]), flush=True)
        fleet = Fleet(1, postgres.database("start"), agents=1, max_runs=1)
        try:
            latencies = start_latency(fleet, args.starts)
        finally:
            fleet.stop()
    finally:
        postgres.stop()
    print()
    print(f"{args.runs} runs of `tally`, 8 agents × 4, 16 creating clients; {os.cpu_count()} cores")
    print("| configuration | runs/min | ÷ 1 coordinator on SQLite | completed | flow processes started "
          "| CPU ms per run: PostgreSQL / coordinators / agents and flows | the machine's limit at that cost, runs/min |")
    print("|---|---:|---:|---:|---:|---|---:|")
    base = results["1 coordinator, SQLite"]["per_min"]
    for name, r in results.items():
        cpu = r["cpu_ms_per_run"]
        per_run = sum(cpu.values())
        limit = os.cpu_count() * 60_000 / per_run if per_run else 0
        print(f"| {name} | {r['per_min']:,.0f} | {r['per_min'] / base:.2f} | {r['completed']} of {r['runs']} | {r['starts']} "
              f"| {cpu['postgres']:.1f} / {cpu['coordinators']:.1f} / {cpu['agents_and_flows']:.1f} | {limit:,.0f} |")
    print()
    print(f"start through a PostgreSQL coordinator (created → Running, {len(latencies)} runs one at a time): "
          f"p50 {pct(latencies, 50) * 1000:.0f} ms, p95 {pct(latencies, 95) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
