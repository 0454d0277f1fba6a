"""Where the CPU time of the ``embed`` aligner goes, on the ``given`` pipeline's align step.

Aligns the first ``--pairs`` (default all 14,041) CoNLL-2003 train / DeepL es pairs the way
the ``given`` pipeline does (e5-small, layer 8, itermax, word similarity matrices too, in
chunks of 2,000 pairs, the pipeline's ``ALIGN_CHUNK``, through ``align_stream`` as the
pipeline's align stage does, each chunk's file written as it comes) and splits the process's
CPU time (user + system, all threads, from ``getrusage``; wall time is also given but means
little on a shared machine) into the parts of the aligner, each measured around the function
that does it (exclusive of the parts nested in it):

* ``tokenize``: the word-piece cache, the fast tokenizer for new words, the windows
  (``EncoderBackend.tokenize``); ``queue``: batching and queueing them (``EncodeStream.add``);
* ``stitch``: waiting for a batch, and a sentence's vectors from its windows
  (``EncodeStream.results``; with several threads its wall time is mostly this thread waiting);
* ``prepare``: per sentence, unit subword vectors and unit word vectors;
* ``similarity``, ``links`` (itermax/argmax/... on the subword matrix), ``links_other``
  (the rest of turning a pair into an ``Alignment``), ``word_sims`` (word matrices);
* ``python``: the rest of the aligner (deduplication across chunks, the per-pair loop: ``_stream``);
* ``write``: the pipeline's stage file (links and float16 similarity matrices, ``.npz``).

The encoder runs its batches in other threads (``--threads`` of them for CTranslate2 on a CPU,
one otherwise) while this thread does the rest: the parts are this thread's CPU time, and the
encoder's (CTranslate2's ``forward_batch``, the copy to numpy, the tokenizer's own threads) is the
remainder.

    PROJECTION_DATA=../shared/data python -m bench.align_profile [--pairs 14041] [--threads 2] \\
        [--save-links bench/out/links.npz] [--compare-links bench/out/links.npz]

``--save-links`` keeps the links and similarity matrices, ``--compare-links`` checks a run
against kept ones (pairs whose links differ; largest similarity difference). Writes
``bench/out/align_profile.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import save

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
ALIGN_CHUNK = 2000  # projection.pipeline.ALIGN_CHUNK


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Timer:
    """Exclusive CPU / wall seconds per section, sections nested by a stack (one thread only).

    ``clock`` is the process's CPU time (all threads: right when the encoder runs in the
    calling thread) or the calling thread's own (``time.thread_time``: when the encoder runs
    in other threads, whose share is then the process's total minus this thread's).
    """

    def __init__(self, clock=cpu):
        self.clock = clock
        self.cpu: dict[str, float] = {}
        self.wall: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.stack: list[list] = []  # [name, cpu0, wall0, child cpu, child wall]

    def enter(self, name: str) -> None:
        self.stack.append([name, self.clock(), time.perf_counter(), 0.0, 0.0])

    def leave(self) -> None:
        n, c0, w0, cc, cw = self.stack.pop()
        dc, dw = self.clock() - c0, time.perf_counter() - w0
        self.cpu[n] = self.cpu.get(n, 0.0) + dc - cc
        self.wall[n] = self.wall.get(n, 0.0) + dw - cw
        self.calls[n] = self.calls.get(n, 0) + 1
        if self.stack:
            self.stack[-1][3] += dc
            self.stack[-1][4] += dw

    def wrap(self, name: str, fn):
        def wrapped(*a, **k):
            self.enter(name)
            try:
                return fn(*a, **k)
            finally:
                self.leave()
        return wrapped

    def wrap_iter(self, name: str, fn):
        """A generator function whose every step is timed (the work between steps is the caller's)."""
        def wrapped(*a, **k):
            it = fn(*a, **k)
            while True:
                self.enter(name)
                try:
                    item = next(it)
                except StopIteration:
                    return
                finally:
                    self.leave()
                yield item
        return wrapped


def instrument(timer: Timer, aligner) -> None:
    from projection.align import embed, encoders

    for name, label in (("unit_similarity", "similarity"), ("apply_distortion", "similarity"),
                        ("subword_links", "links")):
        setattr(embed, name, timer.wrap(label, getattr(embed, name)))
    enc = aligner.encoder
    cls = type(enc)
    enc.tokenize = timer.wrap("tokenize", cls.tokenize.__get__(enc))
    stream = encoders.EncodeStream
    stream.add = timer.wrap("queue", stream.add)
    stream.results = timer.wrap("stitch", stream.results)
    aligner._prepare = timer.wrap("prepare", aligner._prepare)
    aligner._links = timer.wrap("links_other", aligner._links)
    aligner._sims = timer.wrap("word_sims", aligner._sims)
    aligner._stream = timer.wrap_iter("python", aligner._stream)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(REPO / "models" / "e5-small"))
    ap.add_argument("--pairs", type=int, default=14041)
    ap.add_argument("--method", default="itermax")
    ap.add_argument("--backend", default="auto", choices=["auto", "ct2", "torch"])
    ap.add_argument("--threads", type=int, default=None, help="encoder threads (default: the aligner's)")
    ap.add_argument("--no-similarity", action="store_true", help="links only (the given pipeline wants both)")
    ap.add_argument("--no-instrument", action="store_true", help="total CPU time only, no per-part timers")
    ap.add_argument("--save-links", type=Path)
    ap.add_argument("--compare-links", type=Path)
    ap.add_argument("--option", action="append", default=[], help="more aligner options KEY=VALUE (ints parsed)")
    args = ap.parse_args()
    os.environ.setdefault("PROJECTION_PROGRESS", "0")

    from bench import align_data
    from projection.align import aligners

    pairs = align_data.conll_deepl_es()[: args.pairs]
    opts = {"model": args.model, "layer": 8, "method": args.method, "backend": args.backend}
    if args.threads:
        opts["threads"] = args.threads
    for item in args.option:
        key, value = item.split("=", 1)
        opts[key] = int(value) if value.lstrip("-").isdigit() else value
    c0, w0 = cpu(), time.perf_counter()
    al = aligners.create("embed", **opts)
    al.align(pairs[:4])  # load (and convert, once) the encoder
    load = {"cpu": cpu() - c0, "wall": time.perf_counter() - w0}
    timer = Timer(time.thread_time)  # the encoder runs in other threads
    if not args.no_instrument:
        instrument(timer, al)
    store = None
    try:
        from projection.pipeline import StageStore

        tmp = tempfile.TemporaryDirectory()
        store = StageStore(Path(tmp.name))
        write = timer.wrap("write", store.write_alignments)
    except ImportError:
        write = None
    want_sim = not args.no_similarity
    links, sims = [], []
    c0, w0 = cpu(), time.perf_counter()
    load_start = os.getloadavg()
    starts = range(0, len(pairs), ALIGN_CHUNK)
    chunks = [pairs[start:start + ALIGN_CHUNK] for start in starts]
    for start, (a, s) in zip(starts, al.align_stream(chunks, want_sim)):  # as the pipeline's align stage
        if write is not None:
            write(f"align/{start:08d}.npz", a, s)
        links += a
        sims += s or []
    total = {"cpu": cpu() - c0, "wall": time.perf_counter() - w0}
    sig = al.signature()
    parts = sorted(timer.cpu, key=lambda k: -timer.cpu[k])
    result = {"pairs": len(pairs), "options": {k: v for k, v in opts.items() if k != "model"}, "similarity": want_sim,
              "backend": sig["backend"], "compute_type": sig["compute_type"], "total": total, "load": load,
              "parts": {k: {"cpu": timer.cpu[k], "wall": timer.wall[k], "calls": timer.calls[k]} for k in parts},
              "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
              "links": sum(len(x) for x in links), "signature": sig}
    print(f"== {len(pairs):,} pairs, {sig['backend']} ({sig['compute_type']}), {args.method}"
          f"{' + similarity' if want_sim else ''}, load avg {load_start[0]:.1f} -> {result['loadavg_end'][0]:.1f}")
    print(f"{'part':14s} {'CPU s':>8s} {'share':>6s} {'wall s':>8s} {'calls':>8s}")
    for k in parts:
        print(f"{k:14s} {timer.cpu[k]:8.2f} {timer.cpu[k] / total['cpu']:6.1%} {timer.wall[k]:8.2f} {timer.calls[k]:8,}")
    rest = total["cpu"] - sum(timer.cpu.values())
    label = "(other threads: the encoder)"
    result["other_threads_cpu"] = rest
    result["encoder_threads"] = getattr(al.encoder, "workers", None)
    print(f"{label:14s} {rest:8.2f} {rest / total['cpu']:6.1%}")
    print(f"{'total':14s} {total['cpu']:8.2f} {1:6.1%} {total['wall']:8.2f}   "
          f"({len(pairs) / total['wall']:.0f} pairs/s wall; model load {load['cpu']:.1f} s CPU, not counted)")
    print(f"links: {result['links']:,}")

    flat_links = [sorted(a.links) for a in links]
    if args.compare_links:
        z = np.load(args.compare_links)
        offsets, ref = z["link_offsets"], z["links"]
        differ = [k for k, got in enumerate(flat_links)
                  if [tuple(x) for x in ref[offsets[k]:offsets[k + 1]].tolist()] != got]
        result["compare"] = {"file": str(args.compare_links), "pairs_with_different_links": len(differ),
                             "differing": differ[:20]}
        if want_sim and "sim_data" in z:
            mine = np.concatenate([s.ravel() for s in sims]) if sims else np.zeros(0, np.float32)
            result["compare"]["max_similarity_difference"] = float(np.abs(mine - z["sim_data"]).max()) \
                if mine.shape == z["sim_data"].shape else None
        print(f"against {args.compare_links}: {len(differ)} of {len(links):,} pairs with different links"
              + (f"; largest similarity difference {result['compare'].get('max_similarity_difference')}" if want_sim else ""))
    if args.save_links:
        offsets = np.zeros(len(flat_links) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(x) for x in flat_links])
        flat = np.array([p for x in flat_links for p in x], dtype=np.int32).reshape(-1, 2)
        arrays = {"links": flat, "link_offsets": offsets}
        if want_sim:
            arrays["sim_data"] = np.concatenate([s.ravel() for s in sims]) if sims else np.zeros(0, np.float32)
        args.save_links.parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.save_links, **arrays)
        print(f"kept links in {args.save_links}")
    path = save("align_profile.json", result)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
