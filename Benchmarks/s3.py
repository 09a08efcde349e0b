#!/usr/bin/env python3
"""S3 throughput: `fathom aws cp` against `aws s3 cp`, both against the same moto_server, same file, same run.

Usage: Benchmarks/s3.py [--size-mib 1024] [--repeat 2]
Needs a release build (swift build -c release) and moto[server] + awscli (pip).
"""
import argparse, hashlib, os, shutil, socket, subprocess, sys, tempfile, time, urllib.request

from common import free_port, get, pct, wait_http

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FATHOM = os.path.join(ROOT, ".build", "release", "fathom")




def timed(cmd, env):
    start = time.time()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.time() - start


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="s3-bench-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    moto = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = dict(os.environ, AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
               AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        subprocess.run(["aws", "--endpoint-url", url, "s3", "mb", "s3://bench"], env=env, check=True, stdout=subprocess.DEVNULL)
        source = os.path.join(work, "source.bin")
        with open(source, "wb") as f:
            block = os.urandom(1 << 20)
            for i in range(args.size_mib):
                f.write(block[: (1 << 20) - 8] + i.to_bytes(8, "little"))
        want = sha(source)
        rows = {"fathom up": [], "fathom down": [], "aws up": [], "aws down": []}
        for r in range(args.repeat):
            out = os.path.join(work, "out.bin")
            rows["fathom up"].append(timed([FATHOM, "aws", "cp", source, f"s3://bench/f{r}.bin"], env))
            rows["fathom down"].append(timed([FATHOM, "aws", "cp", f"s3://bench/f{r}.bin", out], env))
            assert sha(out) == want, "fathom download differs"
            os.remove(out)
            rows["aws up"].append(timed(["aws", "--endpoint-url", url, "s3", "cp", "--only-show-errors", source, f"s3://bench/a{r}.bin"], env))
            rows["aws down"].append(timed(["aws", "--endpoint-url", url, "s3", "cp", "--only-show-errors", f"s3://bench/a{r}.bin", out], env))
            assert sha(out) == want, "aws download differs"
            os.remove(out)
        mib = args.size_mib
        best = {k: min(v) for k, v in rows.items()}
        print(f"| direction | fathom aws cp | aws s3 cp | fathom ÷ aws throughput |")
        print("|---|---:|---:|---:|")
        for direction in ("up", "down"):
            f, a = best[f"fathom {direction}"], best[f"aws {direction}"]
            print(f"| {'upload' if direction == 'up' else 'download'} {mib} MiB | {mib / f:.0f} MiB/s ({f:.1f} s) | {mib / a:.0f} MiB/s ({a:.1f} s) | {a / f:.2f}× |")
        print("(best of", args.repeat, "runs each; both against the same moto_server)")
    finally:
        moto.terminate()
        moto.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
