"""Helpers the benchmark scripts share."""
import json, signal, socket, subprocess, time, urllib.request


def free_port():
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=60):
    """GET a JSON document."""
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def wait_http(url, deadline=60):
    """Wait until `url` answers."""
    end = time.time() + deadline
    while time.time() < end:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except Exception:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not answer within {deadline} s")


def pct(values, p):
    """The p-th percentile, interpolated."""
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def post(url, body, method="POST"):
    """Send a JSON body and read the JSON answer."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def stop(processes, timeout=30):
    """SIGTERM each process (None is skipped), then SIGKILL what has not ended within `timeout`."""
    for p in processes:
        if p is None:
            continue
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()


def fmt(v):
    return "" if v is None else (f"{v:,.0f}" if v >= 100 else f"{v:.2f}")


def print_comparison(fathom, prefect, rows):
    """A Markdown table of Fathom against Prefect; rows are (key, label, higher_is_better)."""
    print("| quantity | Fathom | Prefect 3 | Prefect ÷ Fathom (higher is better for Fathom) |")
    print("|---|---:|---:|---:|")
    for key, label, higher_is_better in rows:
        f, p = fathom.get(key), prefect.get(key)
        ratio = "" if f is None or p is None or f == 0 or p == 0 else f"{(f / p if higher_is_better else p / f):.1f}×"
        print(f"| {label} | {fmt(f)} | {fmt(p)} | {ratio} |")
