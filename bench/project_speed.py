"""Speed of the projection step alone, on the inputs of a finished run.

Reads a run directory's cached stage outputs (source corpus, target words, alignments and
similarity matrices when the run has them), builds the projector inputs once, and times
``projector.project(inputs)`` - spans, link weights, candidate scores, matching and the
records - for the ngram method (greedy and exact matching) and the heuristic, back to
back in one process (the machine is shared: contention hits every method alike). Both
wall-clock and CPU-time rates are printed: on a busy shared machine the CPU time of the
process is the fairer measure of the work done.

    python -m bench.project_speed [RUN_DIR] [--repeat 5]

Default RUN_DIR: runs/es-offline (``make project LANG=es PIPELINE=offline``).
Writes bench/out/project_speed.json and prints sentences/s (best and median of the repeats).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from bench import save

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def load_inputs(run_dir: Path):
    from projection.corpora import load_corpus
    from projection.store import StageStore, decode_alignments
    from projection.project import ProjectionInput
    from projection.rundir import STAGES, read_manifest

    m = read_manifest(run_dir)
    store = StageStore(run_dir / STAGES)
    sentences = load_corpus(m["source"]["corpus"] if m["source"]["corpus"] != "sample:train" else "sample:train")
    rows: list = []
    for chunk in sorted((run_dir / STAGES / f"translate-{m['stages']['translate']['key']}").glob("0*.jsonl")):
        rows.extend(store.read(str(chunk.relative_to(run_dir / STAGES))) or [])
    aligns, sims = [], []
    for chunk in sorted((run_dir / STAGES / f"align-{m['stages']['align']['key']}").glob("*.npz")):
        a, s = decode_alignments(store.read(str(chunk.relative_to(run_dir / STAGES))))
        aligns.extend(a)
        sims.extend(s or [])
    if len(rows) != len(sentences) or len(aligns) != len(sentences):
        raise SystemExit(f"{run_dir}: the stage cache does not match the source ({len(aligns)} alignments)")
    return [ProjectionInput(s, r["tokens"], a, sims[k] if sims else None, None, r["text"])
            for k, (s, r, a) in enumerate(zip(sentences, rows, aligns))], m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", nargs="?", default=str(REPO / "runs" / "es-offline"))
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    from projection.errors import ProjectionError
    from projection.project import projectors

    try:
        inputs, manifest = load_inputs(Path(args.run_dir))
    except ProjectionError as e:
        raise SystemExit(f"{e}\n(make it with: PROJECTION_DATA=... make project LANG=es PIPELINE=offline)") from None
    n_ent = sum(len(i.source.spans) for i in inputs)
    print(f"{args.run_dir}: {len(inputs):,} sentences, {n_ent:,} entities, "
          f"similarity matrices: {'yes' if inputs[0].similarity is not None else 'no'}")
    configs = {"ngram greedy": ("ngram", {}), "ngram exact": ("ngram", {"matching": "exact"}),
               "heuristic": ("heuristic", {})}
    # first call of a fresh projector on the whole corpus (as in a pipeline run): includes the
    # imports and building the token-feature table for every token type of the corpus
    first: dict[str, float] = {}
    for name, (m, o) in configs.items():
        t0 = time.perf_counter()
        projectors.create(m, **o).project(inputs)
        first[name] = time.perf_counter() - t0
    projs = {name: projectors.create(m, **o) for name, (m, o) in configs.items()}
    for p in projs.values():  # warm-up: the token-feature table
        p.project(inputs)
    times: dict[str, list[float]] = {name: [] for name in projs}
    cpu: dict[str, list[float]] = {name: [] for name in projs}
    for _ in range(args.repeat):
        for name, p in projs.items():
            t0, c0 = time.perf_counter(), time.process_time()
            p.project(inputs)
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    results = {}
    for name, ts in times.items():
        results[name] = {"first_call_sentences_per_s": round(len(inputs) / first[name]),
                         "best_sentences_per_s": round(len(inputs) / min(ts)),
                         "median_sentences_per_s": round(len(inputs) / statistics.median(ts)),
                         "median_cpu_sentences_per_s": round(len(inputs) / statistics.median(cpu[name])),
                         "seconds": [round(t, 3) for t in ts], "cpu_seconds": [round(t, 3) for t in cpu[name]]}
        print(f"{name:13s} first call {results[name]['first_call_sentences_per_s']:>8,} sent/s; "
              f"then wall: best {results[name]['best_sentences_per_s']:>8,} sent/s, "
              f"median {results[name]['median_sentences_per_s']:>8,} sent/s;  "
              f"CPU time: median {results[name]['median_cpu_sentences_per_s']:>8,} sent/s")
    path = save("project_speed.json",
                {"run_dir": args.run_dir, "sentences": len(inputs), "entities": n_ent, "results": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
