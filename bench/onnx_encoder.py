"""Encoder-only prediction speed: torch float32 / bf16 autocast against ONNX Runtime float32 / dynamic int8.

An exploration for fast prediction of fresh text (not a backend of the project): the pretrained
encoder (``--model``, e5-small by default) is exported with ``torch.onnx.export`` and quantised
with ``onnxruntime.quantization.quantize_dynamic`` (int8 weights per channel), then the first
``--sentences`` sentences of ``--test`` run through each engine in batches of ``--batch`` sorted by
length, 2 threads, ``--rounds`` rounds; the fastest round counts. Each engine's last hidden states
are compared with torch float32's (mean cosine over the real subwords). Needs ``onnx`` and
``onnxruntime`` (``pip install onnx onnxruntime``; not dependencies of the project).

    PROJECTION_DATA=../shared/data python -m bench.onnx_encoder [--model models/e5-small] [--test conll2002-es:test]

Writes ``bench/out/onnx_encoder.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench import save

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(REPO / "models" / "e5-small"))
    ap.add_argument("--test", default="conll2002-es:test")
    ap.add_argument("--sentences", type=int, default=300)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()

    import numpy as np
    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    from projection.corpora import load_corpus

    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(args.model)
    enc = AutoModel.from_pretrained(args.model).eval()
    sents = [s.tokens for s in load_corpus(args.test)[: args.sentences]]
    order = sorted(range(len(sents)), key=lambda i: len(sents[i]))
    batches = [[sents[i] for i in order[k:k + args.batch]] for k in range(0, len(order), args.batch)]
    inputs = [tok(b, is_split_into_words=True, return_tensors="np", padding=True) for b in batches]

    class LastHidden(torch.nn.Module):  # keyword arguments: BertModel's second positional argument is not the mask
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    tmp = Path(tempfile.mkdtemp(prefix="onnx-encoder-"))
    probe = tok([["Hola", "mundo"]], is_split_into_words=True, return_tensors="pt")
    axes = {"b": 0, "s": 1}
    # a copy is exported: the export leaves the module it traces computing otherwise (measured: cosine 0.94 to its
    # own outputs before the export, and half the bf16 speed)
    torch.onnx.export(LastHidden(AutoModel.from_pretrained(args.model).eval()), (probe["input_ids"], probe["attention_mask"]), tmp / "fp32.onnx",
                      input_names=["input_ids", "attention_mask"], output_names=["last"], opset_version=17,
                      dynamic_axes={n: {v: k for k, v in axes.items()} for n in ("input_ids", "attention_mask", "last")},
                      dynamo=False)
    quantize_dynamic(tmp / "fp32.onnx", tmp / "int8.onnx", weight_type=QuantType.QInt8, per_channel=True)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sessions = {k: ort.InferenceSession(str(tmp / f"{k}.onnx"), so, providers=["CPUExecutionProvider"])
                for k in ("fp32", "int8")}

    def run_torch(bf16: bool) -> list:
        outs = []
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for x in inputs:
                outs.append(enc(input_ids=torch.from_numpy(x["input_ids"]),
                                attention_mask=torch.from_numpy(x["attention_mask"])).last_hidden_state.float().numpy())
        return outs

    def run_ort(kind: str) -> list:
        return [sessions[kind].run(None, {"input_ids": x["input_ids"].astype(np.int64),
                                          "attention_mask": x["attention_mask"].astype(np.int64)})[0] for x in inputs]

    engines = {"torch fp32": lambda: run_torch(False), "torch bf16": lambda: run_torch(True),
               "ort fp32": lambda: run_ort("fp32"), "ort int8": lambda: run_ort("int8")}
    seconds: dict[str, list[float]] = {k: [] for k in engines}
    outputs: dict[str, list] = {}
    for _ in range(args.rounds):
        for name, run in engines.items():
            t0 = time.perf_counter()
            outputs[name] = run()
            seconds[name].append(time.perf_counter() - t0)

    def cosine(a: list, b: list) -> float:
        vals = []
        for x, ha, hb in zip(inputs, a, b):
            m = x["attention_mask"].astype(bool)
            u, v = ha[m], hb[m]
            vals.append((u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1)))
        return float(np.concatenate(vals).mean())

    base = min(seconds["torch fp32"])
    result = {"model": args.model, "test": args.test, "sentences": len(sents), "batch": args.batch, "threads": 2,
              "engines": {name: {"seconds": [round(s, 2) for s in secs], "sentences_per_s": round(len(sents) / min(secs), 1),
                                 "speedup": round(base / min(secs), 2),
                                 "cosine_to_fp32": round(cosine(outputs["torch fp32"], outputs[name]), 4)}
                          for name, secs in seconds.items()}}
    for name, r in result["engines"].items():
        print(f"{name}: {r['sentences_per_s']} sentences/s, {r['speedup']}x, cosine to fp32 {r['cosine_to_fp32']}")
    save("onnx_encoder.json", result)


if __name__ == "__main__":
    main()
