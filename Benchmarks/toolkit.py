#!/usr/bin/env python3
"""The big-file toolkit against GNU sort, pbzip2 and lbzip2, on the same files in the same run.

    swift build -c release --product fathom
    python3 Benchmarks/toolkit.py [--sort-gib 2] [--compress-gib 1] [--reps 1]

Reports wall time, peak RSS and the ratio reference ÷ Fathom for time (above 1: Fathom is faster).
Inputs are made once under bench-data/ (git-ignored) and reused.
"""
import argparse, os, shutil, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "bench-data")
FATHOM = os.path.join(ROOT, ".build", "release", "fathom")


def sh(command):
    subprocess.run(command, shell=True, check=True, executable="/bin/bash")


def need(tool, package):
    if shutil.which(tool) is None:
        sh(f"apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {package}")


def measure(argv, stdin=None, stdout=None, env=None):
    """Runs a command; returns (seconds, peak RSS in MiB)."""
    source = open(stdin, "rb") if stdin else subprocess.DEVNULL
    sink = open(stdout, "wb") if stdout else subprocess.DEVNULL
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdin=source, stdout=sink, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    for handle in (source, sink):
        if handle is not subprocess.DEVNULL:
            handle.close()
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{argv} failed with status {status}")
    return seconds, usage.ru_maxrss / 1024


def best(reps, argv, **kwargs):
    runs = [measure(argv, **kwargs) for _ in range(reps)]
    return min(runs, key=lambda run: run[0])


def make_inputs(sort_gib, compress_gib):
    os.makedirs(DATA, exist_ok=True)
    words = os.path.join(DATA, f"random-lines-{sort_gib}g.txt")
    if not os.path.exists(words):
        # Random text lines: base64 of random bytes, '+' ends a line and '/' separates words.
        sh(f"head -c {int(sort_gib * 3 / 4 * 2**30)} /dev/urandom | base64 -w0 | tr '+/' '\\n ' > {words}.tmp && echo >> {words}.tmp && mv {words}.tmp {words}")
    numbers = os.path.join(DATA, f"numbers-{sort_gib}g.txt")
    if not os.path.exists(numbers):
        count = int(sort_gib * 2**30 / 11)
        sh(f"shuf -r -i 0-4000000000 -n {count} > {numbers}.tmp && mv {numbers}.tmp {numbers}")
    text = os.path.join(DATA, f"text-{compress_gib}g.txt")
    if not os.path.exists(text):
        import random
        random.seed(7)
        vocabulary = ["".join(random.choice("etaoinshrdlucmfwypvbgkqjxz") for _ in range(random.randint(1, 9))) for _ in range(30000)]
        weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
        target = int(compress_gib * 2**30)
        with open(text + ".tmp", "w") as out:
            written = 0
            while written < target:
                chunk = random.choices(vocabulary, weights, k=200000)
                lines = []
                for start in range(0, len(chunk), 12):
                    lines.append(" ".join(chunk[start:start + 12]).capitalize() + ".")
                block = "\n".join(lines) + "\n"
                out.write(block)
                written += len(block)
        os.truncate(text + ".tmp", target)
        os.rename(text + ".tmp", text)
    return words, numbers, text


def row(name, fathom, reference, ref_name, extra=""):
    ratio = reference[0] / fathom[0]
    print(f"| {name} | {fathom[0]:.2f} s | {fathom[1]:.0f} MiB | {ref_name} {reference[0]:.2f} s | {reference[1]:.0f} MiB | {ratio:.2f}× {extra}|")
    sys.stdout.flush()


def own_pages():
    """Peak RSS of `fathom bzip2` on empty input: the binary's own pages (code, runtime, libraries)."""
    return measure([FATHOM, "bzip2", "-c"], stdin="/dev/null")[1]


def memory_row(name, fathom, reference, ref_name, baseline):
    working = fathom[1] - baseline
    print(f"| {name}: memory beyond the binary's own {baseline:.0f} MiB | {working:.0f} MiB | | {ref_name} | {reference[1]:.0f} MiB | {working / reference[1]:.2f}× of {ref_name}'s |")
    sys.stdout.flush()


def bench_sort(path, flags, reps, label):
    out_gnu = os.path.join(DATA, "sort-gnu.out")
    out_fathom = os.path.join(DATA, "sort-fathom.out")
    env = dict(os.environ, LC_ALL="C")
    gnu = best(reps, ["sort", "--parallel=2", "-S", "256M", "-T", DATA, *flags, "-o", out_gnu, path], env=env)
    ours = best(reps, [FATHOM, "sort", "--parallel", "2", "-S", "256M", "-T", DATA, *flags, "-o", out_fathom, path])
    same = subprocess.run(["cmp", "-s", out_gnu, out_fathom]).returncode == 0
    within = ours[1] <= 256 * 1.1
    row(label, ours, gnu, "GNU sort", f"(identical: {'yes' if same else 'NO'}; RSS within 256 MiB + 10%: {'yes' if within else 'NO'}) ")
    os.remove(out_gnu)
    os.remove(out_fathom)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sort-gib", type=float, default=2)
    parser.add_argument("--compress-gib", type=float, default=1)
    parser.add_argument("--reps", type=int, default=3, help="runs of each bzip2 job; the best counts")
    parser.add_argument("--sort-reps", type=int, default=1, help="runs of each sort job; the best counts")
    parser.add_argument("--only", choices=["sort", "compress", "decompress"], action="append")
    args = parser.parse_args()
    need("pbzip2", "pbzip2")
    need("lbzip2", "lbzip2")
    if not os.path.exists(FATHOM):
        raise SystemExit("build first: swift build -c release --product fathom")
    words, numbers, text = make_inputs(args.sort_gib, args.compress_gib)
    only = set(args.only or ["sort", "compress", "decompress"])
    print(f"nproc {os.cpu_count()}; time = best of {args.sort_reps} (sort), {args.reps} (bzip2); ratio = reference time ÷ Fathom time (above 1: Fathom faster)\n")
    print("| job | Fathom | Fathom RSS | reference | reference RSS | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    if "sort" in only:
        bench_sort(words, [], args.sort_reps, f"sort {args.sort_gib:g} GiB random lines")
        bench_sort(numbers, ["-n"], args.sort_reps, f"sort -n {args.sort_gib:g} GiB numbers")
    packed = {"pbzip2": os.path.join(DATA, "text.pbzip2.bz2"), "bzip2": os.path.join(DATA, "text.bzip2.bz2")}
    if "compress" in only or not os.path.exists(packed["pbzip2"]):
        out = os.path.join(DATA, "text.fathom.bz2")
        ours = best(args.reps, [FATHOM, "bzip2", "-c", "-9", "-p", "2"], stdin=text)
        sh(f"{FATHOM} bzip2 -c -9 -p 2 < {text} > {out}")
        pbzip2 = best(args.reps, ["pbzip2", "-c", "-9", "-p2"], stdin=text, stdout=packed["pbzip2"])
        lbzip2 = best(args.reps, ["lbzip2", "-c", "-9", "-n2"], stdin=text, stdout=os.path.join(DATA, "text.lbzip2.bz2"))
        sh(f"head -c {2**28} {text} > {DATA}/text-256m.txt")
        single = best(1, [FATHOM, "bzip2", "-c", "-9", "-p", "1"], stdin=f"{DATA}/text-256m.txt")
        single_rate = os.path.getsize(f"{DATA}/text-256m.txt") / 2**20 / single[0]
        ours_rate = args.compress_gib * 1024 / ours[0]
        label = f"bzip2 -9 {args.compress_gib:g} GiB text, 2 threads"
        row(label, ours, pbzip2, "pbzip2")
        row(label, ours, lbzip2, "lbzip2")
        memory_row(label, ours, lbzip2, "lbzip2", own_pages())
        print(f"| (compression) | {ours_rate:.1f} MiB/s | | Fathom on 1 thread: {single_rate:.1f} MiB/s | | {ours_rate / single_rate:.2f}× of one thread |")
        # pbzip2 writes libbz2's blocks: the size to stay within 1 % of.
        ours_size, libbz2_size = os.path.getsize(out), os.path.getsize(packed["pbzip2"])
        print(f"| (size) | {ours_size:,} bytes | | pbzip2 (libbz2's blocks): {libbz2_size:,} bytes | | {ours_size / libbz2_size:.4f}× |")
        sh(f"bunzip2 -c {out} | cmp - {text}")
    if "decompress" in only:
        if not os.path.exists(packed["bzip2"]):
            sh(f"bzip2 -c -9 {text} > {packed['bzip2']}")
        for kind, path in packed.items():
            # Every tool writes to /dev/null while timed; Fathom's output is compared with the original after.
            ours = best(args.reps, [FATHOM, "bunzip2", "-c", "-p", "2"], stdin=path)
            sh(f"{FATHOM} bunzip2 -c {path} | cmp - {text}")
            pbzip2 = best(args.reps, ["pbzip2", "-d", "-c", "-p2"], stdin=path)
            lbzip2 = best(args.reps, ["lbzip2", "-d", "-c", "-n2"], stdin=path)
            label = f"bunzip2 of a {kind}-made file"
            row(label, ours, pbzip2, "pbzip2 -d")
            row(label, ours, lbzip2, "lbzip2 -d")
            memory_row(label, ours, lbzip2, "lbzip2 -d", own_pages())


if __name__ == "__main__":
    main()
