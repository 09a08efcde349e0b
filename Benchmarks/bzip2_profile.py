#!/usr/bin/env python3
"""Per-block profile of bzip2's stages (first pass, BWT, MTF, Huffman; and the decoder's), Fathom's codec against
libbz2 (`FATHOM_BZIP2_ENGINE=libbz2`) in the same binary, on one thread, sampled with `perf record`.

    swift build -c release --product fathom && python3 Benchmarks/bzip2_profile.py [--mib 30] [--libbz2-dir DIR]

Debian's libbz2 carries no symbols for its internal stages; `--libbz2-dir` points at a libbz2.so.1.0 built with
symbols (`gcc -O2 -g -fPIC -shared -Wl,-soname,libbz2.so.1.0 blocksort.c huffman.c crctable.c randtable.c compress.c
decompress.c bzlib.c -o libbz2.so.1.0` in bzip2's sources), loaded for the libbz2 runs only.

Prints milliseconds per 900k block for each stage: the stage's share of the samples times the run's CPU time,
divided by the blocks. Needs `perf` (linux-perf) and the text file made by Benchmarks/toolkit.py (or any text).
"""
import argparse, os, re, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FATHOM = os.path.join(ROOT, ".build", "release", "fathom")
DATA = os.path.join(ROOT, "bench-data")

# Symbol patterns per stage (Swift names of Fathom's codec; libbz2's C functions).
STAGES = {
    "compress": {
        "first pass + CRC": [r"fillBlock", r"BZip2CRC", r"copy_input_until_stop", r"add_pair_to_block", r"handle_compress"],
        "BWT (suffix sorting)": [r"SuffixSorter", r"LMSComparisonSort", r"BurrowsWheeler", r"mainSort", r"fallbackSort", r"mainGtU", r"mainQSort3",
                                 r"mainSimpleSort", r"BZ2_blockSort", r"fallbackQSort3", r"fallbackSimpleSort"],
        "MTF + zero runs": [r"moveToFront", r"generateMTFValues"],
        "Huffman (tables, coding)": [r"HuffmanTables", r"HuffmanCode", r"BitSink", r"sendMTFValues", r"BZ2_hbMakeCodeLengths",
                                     r"BZ2_hbAssignCodes", r"bsW", r"BZ2_compressBlock"],
    },
    "decompress": {
        # libbz2 links its rows (the tt vector) at the end of BZ2_decompress; Fathom in inverseTransform.
        "Huffman + MTF": [r"decodeSymbols", r"SymbolSink", r"HuffmanDecoder", r"BZ2_decompress$"],
        "inverse BWT + first pass + CRC": [r"inverseTransform", r"InverseWalk", r"undoRuns", r"BZip2CRC", r"unRLE_obuf_to_output_FAST",
                                           r"unRLE_obuf_to_output_SMALL", r"BZ2_bzDecompress$"],
    },
}


def profile(argv, env, stdin_path):
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "perf.data")
        times = os.path.join(tmp, "time")
        with open(stdin_path, "rb") as source, open(os.devnull, "wb") as sink:
            subprocess.run(["perf", "record", "-q", "-o", data, "/usr/bin/time", "-f", "%U", "-o", times, *argv],
                           stdin=source, stdout=sink, env=env, check=True)
        user = float(open(times).read().split()[-1])
        report = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio", "--sort", "symbol"],
                                capture_output=True, text=True).stdout
    shares = []
    for line in report.splitlines():
        match = re.match(r"\s+([0-9.]+)%\s+\[\.\]\s+(\S+)", line)
        if match:
            shares.append((float(match.group(1)), match.group(2)))
    return user, shares


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=30)
    parser.add_argument("--libbz2-dir", help="a directory with a libbz2.so.1.0 that has symbols")
    args = parser.parse_args()
    text = os.path.join(DATA, "text-1g.txt")
    if not os.path.exists(text):
        raise SystemExit("make the text first: python3 Benchmarks/toolkit.py --only compress (or put a text in bench-data/text-1g.txt)")
    with tempfile.TemporaryDirectory() as tmp:
        sample = os.path.join(tmp, "sample.txt")
        subprocess.run(f"head -c {args.mib << 20} {text} > {sample}", shell=True, check=True)
        packed = sample + ".bz2"
        subprocess.run(f"bzip2 -9 -c {sample} > {packed}", shell=True, check=True)
        blocks = (args.mib << 20) / 899_981
        print(f"{args.mib} MiB of text, {blocks:.0f} blocks at -9, one thread; ms per block\n")
        print("| stage | libbz2 | Fathom | libbz2 ÷ Fathom |")
        print("|---|---:|---:|---:|")
        for direction, argv, source in [("compress", [FATHOM, "bzip2", "-c", "-9", "-p", "1"], sample),
                                        ("decompress", [FATHOM, "bunzip2", "-c", "-p", "1"], packed)]:
            results = {}
            for engine in ["libbz2", "fathom"]:
                env = dict(os.environ, FATHOM_BZIP2_ENGINE=engine)
                if engine == "libbz2" and args.libbz2_dir:
                    env["LD_LIBRARY_PATH"] = args.libbz2_dir
                user, shares = profile(argv, env, source)
                per_stage = {}
                for stage, patterns in STAGES[direction].items():
                    share = sum(p for p, name in shares if any(re.search(pattern, name) for pattern in patterns))
                    per_stage[stage] = user * share / 100 / blocks * 1000
                per_stage["total (CPU time)"] = user / blocks * 1000
                results[engine] = per_stage
            for stage in list(STAGES[direction]) + ["total (CPU time)"]:
                old, new = results["libbz2"][stage], results["fathom"][stage]
                ratio = f"{old / new:.2f}×" if new > 0 else "—"
                print(f"| {direction}: {stage} | {old:.1f} | {new:.1f} | {ratio} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
