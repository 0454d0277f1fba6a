"""How much a projection depends on the CPU's numeric kernels (docs/project.md, *Across machines*).

    PROJECTION_DATA=../shared/data python -m bench.kernels [--lang es] [--pipeline given] [--only NAME ...]

The same code, inputs and settings, run once per kernel path: the machine's own, then MKL and
CTranslate2 forced onto older instruction sets (``MKL_ENABLE_INSTRUCTIONS``, ``CT2_FORCE_CPU_ISA``,
as on a CPU without them), in int8 (the default) and float32 (``--set align.compute_type=float32``).
Each run is a fresh process with an empty stage cache and its own run folder. Per run: sentences
kept, entities projected, the alignment's seconds, and the sentences of ``projected.conll`` (tokens
and tags) that differ from the reference, the first run of its compute type (the machine's own kernels
unless ``--only`` leaves them out), and, for a float32 run, from int8's. A variant whose instruction set this CPU lacks is skipped (the libraries would fall back).
Prints one JSON line per run and writes bench/out/kernels.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import emit, save

REPO = Path(__file__).resolve().parent.parent
# name, compute type, environment; the first of each compute type is the reference of that type.
VARIANTS: list[tuple[str, str, dict[str, str]]] = [
    ("int8, own kernels", "int8", {}),
    ("int8, MKL AVX-512 without VNNI", "int8", {"MKL_ENABLE_INSTRUCTIONS": "AVX512"}),
    ("int8, MKL AVX2", "int8", {"MKL_ENABLE_INSTRUCTIONS": "AVX2"}),
    ("int8, MKL AVX", "int8", {"MKL_ENABLE_INSTRUCTIONS": "AVX"}),
    ("int8, CTranslate2 AVX-512", "int8", {"CT2_FORCE_CPU_ISA": "AVX512"}),
    ("float32, own kernels", "float32", {}),
    ("float32, MKL AVX2", "float32", {"MKL_ENABLE_INSTRUCTIONS": "AVX2"}),
]
# the /proc/cpuinfo flag a forced instruction set needs (forcing a newer one than the CPU has does nothing)
NEEDS = {"AVX512": "avx512f", "AVX2": "avx2", "AVX": "avx"}


def sentences(path: Path) -> list[tuple]:
    """The sentences of a CoNLL file, each as its tokens and tags."""
    from projection.corpus import read_conll

    return [(tuple(s.tokens), tuple(s.tags)) for s in read_conll(path)]


def differ(a: list[tuple], b: list[tuple]) -> int:
    """Sentences in one file and not the other (the larger side: a changed sentence counts once)."""
    sa, sb = set(a), set(b)
    return max(len(sa - sb), len(sb - sa))


def run(lang: str, pipeline: str, compute: str, env: dict[str, str], out: Path) -> dict:
    cmd = [sys.executable, "-m", "projection", "run", "--lang", lang, "--pipeline", pipeline, "--out", str(out)]
    if compute != "int8":
        cmd += ["--set", f"align.compute_type={compute}"]
    full = {**os.environ, "PROJECTION_CACHE": str(out.parent / f"{out.name}-cache"), "PROJECTION_PROGRESS": "0", **env}
    done = subprocess.run(cmd, cwd=REPO, env=full, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lang", default="es")
    ap.add_argument("--pipeline", default="given")
    ap.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    args = ap.parse_args(argv)
    from projection.devices import hardware

    hw = hardware()
    rows: list[dict] = []
    refs: dict[str, tuple[str, list[tuple]]] = {}  # compute type -> its first run (the reference): name, sentences
    with tempfile.TemporaryDirectory(prefix="bench-kernels-") as tmp:
        for k, (name, compute, env) in enumerate(VARIANTS):
            if args.only and name not in args.only:
                continue
            lacking = [v for v in env.values() if NEEDS.get(v) and NEEDS[v] not in hw["isa"]]
            if lacking:
                emit(rows, {"variant": name, "skipped": f"this CPU lacks {', '.join(lacking)}"})
                continue
            out = Path(tmp) / f"run{k}"
            m = run(args.lang, args.pipeline, compute, env, out)
            got = sentences(out / "projected.conll")
            refs.setdefault(compute, (name, got))
            row = {"variant": name, "lang": args.lang, "pipeline": args.pipeline, "compute_type": compute, "env": env,
                   "sentences_kept": m["counts"]["sentences_out"], "entities_projected": m["counts"]["projected"],
                   "align_seconds": m["timings"]["align"],
                   "reference": refs[compute][0], "differ_from_reference": differ(got, refs[compute][1]),
                   "sha256": m["files"]["projected.conll"]["sha256"]}
            if compute != "int8" and "int8" in refs:  # an int8 row's reference is int8's already
                row |= {"int8_reference": refs["int8"][0], "differ_from_int8_reference": differ(got, refs["int8"][1])}
            emit(rows, row)
    save("kernels.json", {"hardware": hw, "runs": rows})
    return rows


if __name__ == "__main__":
    main()
