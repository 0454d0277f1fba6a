"""CTranslate2 int8 (``nllb`` engine) vs transformers ``generate`` (``hf`` engine) on an NLLB-600M-shaped model.

No NLLB checkpoint can be downloaded here, so the model is *random* but has the shape
of facebook/nllb-200-distilled-600M: d_model 1024, 12 encoder + 12 decoder layers, FFN
4096, 16 heads, vocabulary 256,206 (the real size; the tokenizer is a small
sentencepiece model with the NLLB language codes, so generated ids beyond it decode to
nothing - irrelevant for speed). A random model never emits the end token, so both
engines generate exactly ``--max-length`` tokens per sentence: the cap is identical.

Both engines translate the same 200 sentences (the bundled ``sample:train``,
detokenised) in one process, with 2 threads each, back to back per setting, so load
from other processes affects both alike. Model loading is excluded from sentences/s and
reported separately.

    python -m bench.translate_speed build            # once: /tmp/nllb600m-random (2.5 GB + 0.6 GB int8)
    python -m bench.translate_speed run [--beam 1 4] [--max-length 32]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from bench import save

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
ROOT = Path(os.environ.get("NLLB600M_DIR", "/tmp/nllb600m-random"))


def build() -> None:
    import torch
    from transformers import AutoTokenizer, M2M100Config, M2M100ForConditionalGeneration

    from projection.translate.nllb import convert_to_ct2
    from tests.tiny_nllb import tiny_nllb

    hf_dir = ROOT / "hf"
    if not (hf_dir / "config.json").exists():
        tiny_hf, _ = tiny_nllb(ROOT / "tiny")
        tok = AutoTokenizer.from_pretrained(tiny_hf)
        torch.manual_seed(0)
        t0 = time.perf_counter()
        cfg = M2M100Config(
            vocab_size=256206, d_model=1024, encoder_layers=12, decoder_layers=12, encoder_attention_heads=16,
            decoder_attention_heads=16, encoder_ffn_dim=4096, decoder_ffn_dim=4096, max_position_embeddings=1024,
            pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2, scale_embedding=True,
            dropout=0.0, tokenizer_class="NllbTokenizer",
        )
        model = M2M100ForConditionalGeneration(cfg).eval()
        model.generation_config.forced_eos_token_id = None
        n = sum(p.numel() for p in model.parameters())
        model.save_pretrained(hf_dir)
        tok.save_pretrained(hf_dir)
        print(f"built {hf_dir}: {n / 1e6:.0f}M parameters in {time.perf_counter() - t0:.0f} s")
    t0 = time.perf_counter()
    ct2 = convert_to_ct2(str(hf_dir), out_root=ROOT / "ct2", quantization="int8")
    print(f"CTranslate2 int8 model: {ct2} ({time.perf_counter() - t0:.0f} s)")


def run(beams: list[int], max_length: int, n: int) -> dict:
    from projection.corpora import load_corpus
    from projection.translate import translators
    from projection.translate.nllb import convert_to_ct2
    from projection.translate.text import detokenize

    hf_dir = ROOT / "hf"
    if not (hf_dir / "config.json").exists():
        sys.exit(f"{hf_dir} missing: run `python -m bench.translate_speed build` first")
    ct2_dir = convert_to_ct2(str(hf_dir), out_root=ROOT / "ct2", quantization="int8")
    texts = [detokenize(s.tokens) for s in load_corpus("sample:train")][:n]
    results: dict = {"sentences": len(texts), "max_length": max_length, "threads": 2, "model": "random, nllb-200-distilled-600M shape",
                     "vocab_size": 256206, "settings": []}
    for beam in beams:
        common = dict(src_lang="en", tgt_lang="es", beam_size=beam, max_length=max_length, threads=2)
        engines = {
            "ctranslate2-int8": translators.create("nllb", model=str(ct2_dir), tokenizer=str(hf_dir), compute_type="int8", **common),
            "transformers-generate": translators.create("hf", model=str(hf_dir), **common),
        }
        row: dict = {"beam_size": beam}
        for name, eng in engines.items():
            t0 = time.perf_counter()
            eng.translate(texts[:2])  # load + warm up
            row[f"{name}_load_s"] = round(time.perf_counter() - t0, 2)
        for name, eng in engines.items():
            t0 = time.perf_counter()
            out = eng.translate(texts)
            dt = time.perf_counter() - t0
            assert len(out) == len(texts)
            row[f"{name}_s"] = round(dt, 2)
            row[f"{name}_sent_per_s"] = round(len(texts) / dt, 2)
            print(f"beam {beam} {name}: {len(texts)} sentences in {dt:.1f} s = {len(texts) / dt:.2f} sentences/s", flush=True)
        row["speedup"] = round(row["transformers-generate_s"] / row["ctranslate2-int8_s"], 2)
        print(f"beam {beam}: CTranslate2 int8 is {row['speedup']:.2f}x faster than transformers generate", flush=True)
        results["settings"].append(row)
        del engines
    save("translate_speed.json", results)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["build", "run"])
    ap.add_argument("--beam", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--max-length", type=int, default=32)
    ap.add_argument("-n", type=int, default=200)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.cmd == "build":
        build()
    else:
        print(json.dumps(run(args.beam, args.max_length, args.n), indent=2))


if __name__ == "__main__":
    main()
