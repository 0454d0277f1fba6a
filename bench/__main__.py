"""Run the benchmarks: ``python -m bench [NAME ...]`` (``make bench``; ``make bench BENCH="align_aer"``).

Each benchmark is a module of this folder with its own options (``python -m bench.NAME --help``);
each writes its figures to ``bench/out/`` and prints a summary. They read the real data from
``PROJECTION_DATA`` and the offline encoder from ``models/e5-small`` (``make e5``). They are
heavy (minutes to an hour each on 2 cores), which is why they are not part of ``make test``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Cheap first; the same order as the stages.
ORDER = [
    "translate_cached",
    "translate_speed",
    "sentence_match",
    "align_aer",
    "align_speed",
    "align_long",
    "project_speed",
    "project_europarl",
    "kernels",
    "lowercase_conventions",
    "composed_input",
    "rejoin_marks",
    "diacritic_recall",
    "ray_overhead",
    "train_profile",
    "train_speed",
    "learning_curve",
    "train_quality",
    "teacher_select",
]
# Benchmarks that take sub-commands: each argument list is one call, in order.
CALLS: dict[str, list[list[str]]] = {"translate_speed": [["build"], ["run"]]}


def available() -> list[str]:
    found = {p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_") and p.stem != "align_data"}
    return [n for n in ORDER if n in found] + sorted(found - set(ORDER))


def main(argv: list[str]) -> int:
    names = argv or available()
    unknown = [n for n in names if n not in available()]
    if unknown:
        sys.stderr.write(f"error: unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(available())}\n")
        return 2
    if not os.environ.get("PROJECTION_DATA"):
        sys.stderr.write("note: PROJECTION_DATA is not set; benchmarks that need real data will say so\n")
    failed = []
    for name in names:
        print(f"== bench.{name}", flush=True)
        t0 = time.perf_counter()
        rc = 0
        for args in CALLS.get(name, [[]]):
            rc = rc or subprocess.call([sys.executable, "-m", f"bench.{name}", *args], cwd=HERE.parent)
        print(f"== bench.{name}: {'ok' if rc == 0 else f'exit {rc}'} in {time.perf_counter() - t0:.0f} s", flush=True)
        if rc != 0:
            failed.append(name)
    if failed:
        sys.stderr.write(f"failed: {', '.join(failed)}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
