#!/usr/bin/env python3
"""Resume from a checkpoint against starting again, on the seed's sort-compress job, in the same run.

    swift build -c release --product fathom
    python3 Benchmarks/resume.py [--gib 2] [--memory 512M]

The job is the production flow's two steps as the toolkit runs them: `fathom sort --checkpoint` of GiB of random
lines (larger than --memory, so it spills sorted runs), then `fathom bzip2 --resume` of the sorted file. Each step is
killed with SIGKILL after a share of its uninterrupted time and started again: the sort once while it spills sorted
runs (--sort-share, 25%) and once in its final merge (75%), bzip2 halfway (--share). The resumed step's time is
compared with the work that was left (the uninterrupted step's time minus the time it ran before the kill). Goal:
resumed ≤ left + 5%. The outputs are compared byte for byte with the uninterrupted ones.
"""
import argparse, os, signal, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "bench-data", "resume")
FATHOM = os.path.join(ROOT, ".build", "release", "fathom")


def sh(command):
    subprocess.run(command, shell=True, check=True, executable="/bin/bash")


def timed(argv):
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def killed_after(argv, seconds):
    """Starts `argv`, SIGKILLs it after `seconds`; returns how long it ran (it must not have finished)."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        process.wait(timeout=seconds)
        raise SystemExit(f"{argv[1]} finished before the kill at {seconds:.1f} s; use a larger --gib")
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
    return time.perf_counter() - start


def scenario(name, whole_argv, resumed_argv, whole_seconds, share, output, reference, clean):
    clean()
    ran = killed_after(resumed_argv, whole_seconds * share)
    resumed = timed(resumed_argv)
    left = whole_seconds - ran
    same = subprocess.run(["cmp", "-s", output, reference]).returncode == 0
    ratio = resumed / left
    print(f"| {name} | {whole_seconds:.1f} s | {ran:.1f} s | {left:.1f} s | {resumed:.1f} s | {ratio:.2f} | {'yes' if ratio <= 1.05 else 'NO'} | {'yes' if same else 'NO'} |")
    sys.stdout.flush()
    return ratio, same


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gib", type=float, default=2)
    parser.add_argument("--memory", default="512M")
    parser.add_argument("--share", type=float, default=0.5, help="the share of bzip2's time after which it is killed")
    parser.add_argument("--steps", default="sort,bzip2", help="which steps to measure: sort, bzip2 or both")
    parser.add_argument("--sort-share", type=float, default=0.25, help="the share of the sort's time after which it is killed (while spilling)")
    args = parser.parse_args()
    if not os.path.exists(FATHOM):
        raise SystemExit("build first: swift build -c release --product fathom")
    os.makedirs(DATA, exist_ok=True)
    lines = os.path.join(DATA, f"lines-{args.gib:g}g.txt")
    if not os.path.exists(lines):
        sh(f"head -c {int(args.gib * 3 / 4 * 2**30)} /dev/urandom | base64 -w0 | tr '+/' '\\n ' > {lines}.tmp && echo >> {lines}.tmp && mv {lines}.tmp {lines}")
    tmp = os.path.join(DATA, "tmp")
    os.makedirs(tmp, exist_ok=True)
    sorted_path = os.path.join(DATA, "sorted.txt")
    reference_sorted = os.path.join(DATA, "sorted.reference.txt")
    archive = sorted_path + ".bz2"
    reference_archive = os.path.join(DATA, "reference.bz2")
    sort_argv = [FATHOM, "sort", "--checkpoint", "-S", args.memory, "--parallel", "2", "-T", tmp, "-o", sorted_path, lines]
    bzip2_argv = [FATHOM, "bzip2", "--resume", "-k", "-f", "-9", "-p", "2", sorted_path]

    def clean_sort():
        sh(f"rm -rf {tmp}/.fathom-sort-* {sorted_path} {DATA}/.sorted.txt.fathom-sort-partial")

    def clean_bzip2():
        sh(f"rm -f {archive} {DATA}/.sorted.txt.bz2.fathom-partial*")

    steps = set(args.steps.split(","))
    # Uninterrupted: the reference times and outputs.
    clean_sort()
    whole_sort = timed(sort_argv)
    os.replace(sorted_path, reference_sorted)
    sh(f"cp {reference_sorted} {sorted_path}")
    whole_bzip2 = 0.0
    if "bzip2" in steps:
        clean_bzip2()
        whole_bzip2 = timed(bzip2_argv)
        os.replace(archive, reference_archive)

    print(f"nproc {os.cpu_count()}; {args.gib:g} GiB of random lines; sort -S {args.memory}; bzip2 -9, 2 threads\n")
    print("| step | uninterrupted | ran before SIGKILL | work left | resumed | resumed ÷ left | ≤ 1.05 | identical |")
    print("|---|---:|---:|---:|---:|---:|:---:|:---:|")
    results = [] if "sort" not in steps else [
        scenario(f"sort --checkpoint, killed while spilling ({args.sort_share:.0%})", sort_argv, sort_argv, whole_sort, args.sort_share,
                 sorted_path, reference_sorted, clean_sort),
        scenario("sort --checkpoint, killed in its final merge (75%)", sort_argv, sort_argv, whole_sort, 0.75,
                 sorted_path, reference_sorted, clean_sort),
    ]
    sh(f"cp {reference_sorted} {sorted_path}")
    if "bzip2" in steps:
        results.append(scenario(f"bzip2 --resume, killed at {args.share:.0%}", bzip2_argv, bzip2_argv, whole_bzip2, args.share, archive, reference_archive, clean_bzip2))
    whole = whole_sort + whole_bzip2
    print(f"\nthe job uninterrupted: {whole:.1f} s (sort {whole_sort:.1f} s, bzip2 {whole_bzip2:.1f} s)")
    sh(f"rm -f {reference_sorted} {sorted_path} {archive} {reference_archive}")
    if not all(same for _, same in results):
        raise SystemExit("a resumed output differs from the uninterrupted one")


if __name__ == "__main__":
    main()
