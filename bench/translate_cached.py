"""`projection translate` run twice with the same arguments: first translates, second is served from the cache.

Measures what a user sees: wall time of the whole command (interpreter start, corpus
loading, detokenisation, cache lookups, writing) for both runs, the sentences/s of the
first, the line count of the output, and that the rerun reports ``cached`` = all lines
and writes byte-identical output. The rerun is repeated (``--repeats``, median reported)
because a sub-second command is at the mercy of other processes. Uses a fresh cache
folder under ``bench/out``.

    PROJECTION_DATA=../shared/data python -m bench.translate_cached                      # Apertium eng-spa, CoNLL-2003 train
    python -m bench.translate_cached --input sample:train --engine nllb -- --model DIR ...  # any engine / input
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import OUT, save

REPO = Path(__file__).resolve().parent.parent


def run_once(args: list[str], env: dict[str, str]) -> tuple[float, dict]:
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "projection", "translate", *args, "--json"], capture_output=True,
                         text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        sys.exit(f"projection translate failed:\n{res.stderr}")
    return wall, json.loads(res.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", default="apertium")
    ap.add_argument("--input", default="conll2003-en:train")
    ap.add_argument("--src-lang", default="en")
    ap.add_argument("--tgt-lang", default="es")
    ap.add_argument("--name", default=None, help="name of the result files (default: engine-input)")
    ap.add_argument("--repeats", type=int, default=3, help="cached reruns (the median is reported)")
    ap.add_argument("extra", nargs="*", help="further `projection translate` options, after --")
    a = ap.parse_args()
    name = a.name or f"{a.engine}-{a.input.replace(':', '.')}"
    cache = OUT / f"cache-{name}"
    shutil.rmtree(cache, ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    output = OUT / f"{name}.{a.tgt_lang}.txt"
    env = dict(os.environ, PROJECTION_CACHE=str(cache), PROJECTION_PROGRESS="0")
    args = ["--engine", a.engine, "--src-lang", a.src_lang, "--tgt-lang", a.tgt_lang, "--input", a.input,
            "--output", str(output), *a.extra]
    print("command: projection translate " + " ".join(args) + " --json", flush=True)
    wall1, s1 = run_once(args, env)
    first = output.read_bytes()
    lines = first.decode("utf-8").count("\n")
    reruns = [run_once(args, env) for _ in range(max(1, a.repeats))]
    walls = sorted(w for w, _ in reruns)
    wall2 = walls[len(walls) // 2]
    s2 = sorted((r for _, r in reruns), key=lambda r: r["seconds"])[len(reruns) // 2]
    assert all(r["cached"] == r["lines"] - r["empty"] for _, r in reruns)
    same = output.read_bytes() == first
    result = {
        "command": "projection translate " + " ".join(args) + " --json",
        "lines_out": lines, "first": {"wall_s": round(wall1, 2), **{k: s1[k] for k in ("lines", "translated", "cached", "empty", "seconds")}},
        "second": {"wall_s": round(wall2, 2), "wall_s_all_reruns": [round(w, 2) for w in walls],
                   **{k: s2[k] for k in ("lines", "translated", "cached", "empty", "seconds")}},
        "first_sentences_per_s": round(s1["lines"] / s1["seconds"], 1),
        "first_sentences_per_s_wall": round(s1["lines"] / wall1, 1),
        "speedup_wall": round(wall1 / wall2, 1), "speedup_seconds": round(s1["seconds"] / s2["seconds"], 1),
        "second_output_identical": same,
    }
    save(f"translate_cached-{name}.json", result)
    print(json.dumps(result, indent=2))
    print(f"first run: {s1['lines']:,} sentences in {wall1:.1f} s wall ({s1['seconds']:.1f} s in-command) = "
          f"{result['first_sentences_per_s_wall']:,} sentences/s; {lines:,} lines out")
    print(f"second run (median of {len(walls)}): cached {s2['cached']:,} of {s2['lines']:,}, {wall2:.2f} s wall "
          f"(all: {', '.join(f'{w:.2f}' for w in walls)}) = {result['speedup_wall']}x faster; output identical: {same}")


if __name__ == "__main__":
    main()
