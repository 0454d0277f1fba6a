"""Speed of the ``embed`` aligner vs the ``simalign`` package (same model, layer, method,
identical links required), or of its ``ct2`` backend vs its ``torch`` backend
(``--against torch``: link agreement reported), and eflomal's pairs/s.

Data: the first ``--pairs`` (default 1,000) sentences of English CoNLL-2003 train with
their DeepL Spanish translation (see ``bench/align_data.py``). Both embedding aligners
run in ONE process with the same torch threads; the pairs are cut into ``--blocks``
blocks and each block is aligned by both, alternating which goes first, so that load
from other processes on the shared CPU hits both alike. Model loading (and a 4-pair
warm-up) is excluded from both timings. Every pair's links are compared; the number of
pairs whose links differ is reported (it must be 0).

    PROJECTION_DATA=../shared/data python -m bench.align_speed [--model models/e5-small] \\
        [--layer 8] [--method argmax] [--pairs 1000] [--blocks 4] [--against simalign|torch]

With ``--against simalign`` (default) ``embed`` runs on the torch backend (the one with
SimAlign's exact links); with ``--against torch`` the ct2 backend (int8 on CPU) is timed
against the torch backend, and the ct2 conversion (cached) is part of the excluded loading.

Writes ``bench/out/align_speed.json`` and prints a summary.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from bench import save

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SIMALIGN_METHOD = {"argmax": ("a", "inter"), "itermax": ("i", "itermax"), "match": ("m", "mwmf")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(REPO / "models" / "e5-small"))
    ap.add_argument("--layer", type=int, default=8)
    ap.add_argument("--method", default="argmax", choices=sorted(SIMALIGN_METHOD))
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--blocks", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-eflomal", action="store_true")
    ap.add_argument("--against", choices=["simalign", "torch"], default="simalign",
                    help="the baseline: the simalign package, or embed's own torch backend (then embed runs on ct2)")
    args = ap.parse_args()
    os.environ.setdefault("PROJECTION_PROGRESS", "0")
    logging.getLogger("simalign").setLevel(logging.WARNING)

    import torch

    torch.set_num_threads(args.threads)
    from simalign import SentenceAligner

    from bench import align_data
    from projection.align import aligners

    all_pairs = align_data.conll_deepl_es()
    pairs = all_pairs[: args.pairs]
    flag, key = SIMALIGN_METHOD[args.method]

    base, ours_name, ref_name = ("torch", "embed", "simalign") if args.against == "simalign" else ("ct2", "ct2", "torch")
    t0 = time.perf_counter()
    ours = aligners.create("embed", model=args.model, layer=args.layer, method=args.method, device="cpu",
                           backend=base, threads=args.threads)
    ours.align(pairs[:4])
    load_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    if args.against == "simalign":
        ref = SentenceAligner(model=args.model, token_type="bpe", matching_methods=flag, device="cpu", layer=args.layer)
        for s, t in pairs[:4]:
            ref.get_word_aligns(s, t)
    else:
        ref = aligners.create("embed", model=args.model, layer=args.layer, method=args.method, device="cpu",
                              backend="torch", threads=args.threads)
        ref.align(pairs[:4])
    load_ref = time.perf_counter() - t0

    size = -(-len(pairs) // args.blocks)
    blocks = [pairs[k:k + size] for k in range(0, len(pairs), size)]
    got, expected, t_ours, t_ref, per_block = [], [], 0.0, 0.0, []
    load_start = os.getloadavg()
    for b, block in enumerate(blocks):
        def run_ours():
            t = time.perf_counter()
            out = ours.align(block)
            return out, time.perf_counter() - t

        def run_ref():
            t = time.perf_counter()
            if args.against == "torch":
                out = [sorted(a.links) for a in ref.align(block)]
            else:
                out = [ref.get_word_aligns(s, tt)[key] for s, tt in block]
            return out, time.perf_counter() - t

        if b % 2 == 0:
            (g, dt_o), (e, dt_r) = run_ours(), run_ref()
        else:
            (e, dt_r), (g, dt_o) = run_ref(), run_ours()
        got += g
        expected += e
        t_ours += dt_o
        t_ref += dt_r
        per_block.append({"pairs": len(block), f"{ours_name}_s": dt_o, f"{ref_name}_s": dt_r,
                          "first": ours_name if b % 2 == 0 else ref_name})
        print(f"block {b}: {len(block)} pairs  {ours_name} {dt_o:.1f} s  {ref_name} {dt_r:.1f} s  ({dt_r / dt_o:.1f}x)",
              flush=True)
    differ = [k for k, (g, e) in enumerate(zip(got, expected)) if sorted(g.links) != [tuple(x) for x in e]]
    common = sum(len(g.links & {tuple(x) for x in e}) for g, e in zip(got, expected))
    n_ref = sum(len(e) for e in expected)
    result = {
        "pairs": len(pairs), "model": args.model, "layer": args.layer, "method": args.method, "against": args.against,
        "threads": args.threads, "torch_threads": torch.get_num_threads(),
        f"{ours_name}_seconds": t_ours, f"{ref_name}_seconds": t_ref,
        f"{ours_name}_pairs_per_s": len(pairs) / t_ours, f"{ref_name}_pairs_per_s": len(pairs) / t_ref,
        "speedup": t_ref / t_ours, "pairs_with_different_links": len(differ), "differing_pair_indices": differ[:20],
        "links": sum(len(g) for g in got), "reference_links": n_ref,
        "link_agreement_f1": 2 * common / max(1, sum(len(g) for g in got) + n_ref),
        "load_seconds": {ours_name: load_ours, ref_name: load_ref},
        "loadavg_start": load_start, "loadavg_end": os.getloadavg(), "blocks": per_block,
        "signature": ours.signature(),
    }
    if args.against == "torch":
        result["reference_signature"] = ref.signature()
    del ours, ref

    if not args.skip_eflomal:
        efl = []
        for label, subset in ((f"{len(pairs):,} pairs", pairs), (f"all {len(all_pairs):,} pairs", all_pairs)):
            al = aligners.create("eflomal")
            t = time.perf_counter()
            al.align(subset)
            dt = time.perf_counter() - t
            efl.append({"pairs": len(subset), "seconds": dt, "pairs_per_s": len(subset) / dt})
            print(f"eflomal {label}: {dt:.1f} s ({len(subset) / dt:,.0f} pairs/s)", flush=True)
        result["eflomal"] = efl

    path = save("align_speed.json", result)
    print(f"\n== {len(pairs):,} pairs CoNLL-2003 en / DeepL es, {Path(args.model).name}, layer {args.layer}, "
          f"{args.method}, {args.threads} threads, load avg {load_start[0]:.1f} -> {result['loadavg_end'][0]:.1f}")
    label = {"embed": "embed (batched, torch)", "simalign": "simalign package", "ct2": "embed, ct2 backend",
             "torch": "embed, torch backend"}
    print(f"{label[ours_name]:24s} {t_ours:7.1f} s  {len(pairs) / t_ours:7.1f} pairs/s")
    print(f"{label[ref_name]:24s} {t_ref:7.1f} s  {len(pairs) / t_ref:7.1f} pairs/s")
    print(f"speed-up {result['speedup']:.2f}x; pairs with different links: {len(differ)} of {len(pairs)}; "
          f"link agreement F1 {result['link_agreement_f1']:.4f}")
    for row in result.get("eflomal", []):
        print(f"eflomal: {row['pairs']:,} pairs in {row['seconds']:.1f} s = {row['pairs_per_s']:,.0f} pairs/s")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
