"""`projection align` and `projection eval-align` end to end (tiny model, synthetic corpus)."""

from __future__ import annotations

import json
import sys

from projection.align import aligners
from projection.align.io import read_pairs, write_joint
from projection.align.metrics import read_pharaoh
from projection.corpus import read_conll
from test_align_eflomal import synthetic
from conftest import run_cli


def _cli(monkeypatch, capsys, *args):
    return run_cli(monkeypatch, capsys, *args)


def test_embed_round_trip(tiny_bert, tmp_path, sample_path, monkeypatch, capsys):
    model = tiny_bert
    sents = [s.tokens for s in read_conll(sample_path)][:12]
    pairs_file, out = tmp_path / "pairs.txt", tmp_path / "out.align"
    write_joint([(sents[k], sents[k + 1]) for k in range(0, 12, 2)], pairs_file)
    code, stdout, err = _cli(monkeypatch, capsys, "align", "--aligner", "embed", "--model", model, "--layer", 2,
                             "--method", "itermax", "--input", pairs_file, "--output", out, "--json")
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["pairs"] == 6 and summary["signature"]["method"] == "itermax"
    got = read_pharaoh(out)
    expected = aligners.create("embed", model=model, layer=2, method="itermax").align(read_pairs(pairs_file))
    assert got == expected and summary["links"] == sum(len(a) for a in got)
    # scoring the output against itself: perfect
    code, stdout, _ = _cli(monkeypatch, capsys, "eval-align", out, out, "--json")
    scores = json.loads(stdout)
    assert code == 0 and scores["aer"] == 0.0 and scores["precision"] == scores["recall"] == 1.0
    code, stdout, _ = _cli(monkeypatch, capsys, "eval-align", out, out)
    assert code == 0 and "AER 0.0000" in stdout


def test_embed_backend_option(tiny_bert, tmp_path, sample_path, monkeypatch, capsys):
    model = tiny_bert
    sents = [s.tokens for s in read_conll(sample_path)]
    long = [w for s in sents for w in s][:400]  # longer than the tiny model's 128 positions
    pairs_file = tmp_path / "pairs.txt"
    write_joint([(sents[0], sents[1]), (long, long[::-1])], pairs_file)
    got = {}
    for backend in ("torch", "ct2"):
        out = tmp_path / f"{backend}.align"
        code, stdout, err = _cli(monkeypatch, capsys, "align", "--model", model, "--layer", 2, "--backend", backend,
                                 "--input", pairs_file, "--output", out, "--json")
        assert code == 0, err
        summary = json.loads(stdout)
        assert summary["signature"]["backend"] == backend and summary["windowed_sentences"] == 2
        expected = aligners.create("embed", model=model, layer=2, backend=backend).align(read_pairs(pairs_file))
        got[backend] = read_pharaoh(out)
        assert got[backend] == expected and max(i for i, _ in got[backend][1].links) > 300
    code, stdout, _ = _cli(monkeypatch, capsys, "align", "--model", model, "--layer", 2, "--backend", "ct2",
                           "--compute-type", "float32", "-i", pairs_file, "-o", tmp_path / "f32.align")
    assert code == 0 and "2 sentences longer than the encoder's input limit" in stdout
    f32 = read_pharaoh(tmp_path / "f32.align")
    assert f32[0] == got["torch"][0]  # float32 on CTranslate2: torch's links (up to near-ties)
    assert len(f32[1].links & got["torch"][1].links) > 0.95 * len(got["torch"][1].links)
    code, _, err = _cli(monkeypatch, capsys, "align", "--model", model, "--backend", "onnx", "-i", pairs_file,
                        "-o", tmp_path / "o")
    assert code == 2 and "backend must be one of auto, ct2, torch, not 'onnx'" in err and "Traceback" not in err


def test_eflomal_with_extra_text_and_jsonl(tmp_path, monkeypatch, capsys):
    pairs, gold = synthetic(300, seed=3)
    test = tmp_path / "test.jsonl"
    with open(test, "w") as f:
        for (src, tgt), g in list(zip(pairs, gold))[:20]:
            f.write(json.dumps({"src_words": src, "tgt_words": tgt, "alignment": [list(x) for x in g]}) + "\n")
    extra = tmp_path / "extra.txt"
    write_joint(pairs[20:], extra)
    out = tmp_path / "out.align"
    code, _, err = _cli(monkeypatch, capsys, "align", "-a", "eflomal", "--symmetrization", "intersection",
                        "--extra", extra, "-i", test, "-o", out)
    assert code == 0, err
    assert len(out.read_text().splitlines()) == 20
    code, stdout, _ = _cli(monkeypatch, capsys, "eval-align", out, test, "--json")
    assert code == 0 and json.loads(stdout)["precision"] > 0.9


def test_errors_are_one_line(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("a b ||| c\nno separator here\n")
    code, _, err = _cli(monkeypatch, capsys, "align", "-a", "eflomal", "-i", bad, "-o", tmp_path / "o")
    assert code == 2 and f"{bad}:2:" in err and "Traceback" not in err
    ok = tmp_path / "ok.txt"
    ok.write_text("a ||| b\n")
    code, _, err = _cli(monkeypatch, capsys, "align", "-a", "eflomal", "--layer", 3, "-i", ok, "-o", tmp_path / "o")
    assert code == 2 and "has no option 'layer'" in err
    code, _, err = _cli(monkeypatch, capsys, "align", "-a", "fast", "-i", ok, "-o", tmp_path / "o")
    assert code == 2 and "unknown aligner 'fast'" in err and "embed" in err
    gold = tmp_path / "gold.txt"
    gold.write_text("0-0\n1-x\n")
    (tmp_path / "pred.txt").write_text("0-0\n0-0\n")
    code, _, err = _cli(monkeypatch, capsys, "eval-align", tmp_path / "pred.txt", gold)
    assert code == 2 and f"{gold}:2: bad link" in err


def test_eval_projection_passes_backend_and_compute_type(monkeypatch, capsys):
    """`eval-projection --backend/--compute-type` reach the embed aligner's options (the scoring itself
    needs Europarl-NER, tested in test_project_pipeline); other aligners refuse them."""
    from projection import pipeline

    seen = []

    def fake(lang, aligner, model, method, align_opts, method_opts, extra, half, repeat):
        seen.append(dict(align_opts))
        return {"aligner": {"backend": align_opts.get("backend"), "compute_type": align_opts.get("compute_type")},
                "sentences": 799, "per_label": {}, "precision": 90.0, "recall": 90.0, "f1": 90.0, "support": 10}

    monkeypatch.setattr(pipeline, "eval_projection", fake)
    code, stdout, err = _cli(monkeypatch, capsys, "eval-projection", "--lang", "es", "--backend", "torch")
    assert code == 0, err
    assert seen[-1] == {"layer": 8, "method": "itermax", "backend": "torch"} and "(torch" in stdout
    code, _, err = _cli(monkeypatch, capsys, "eval-projection", "--lang", "de", "--backend", "ct2",
                        "--compute-type", "float32")
    assert code == 0, err
    assert seen[-1] == {"layer": 8, "method": "itermax", "backend": "ct2", "compute_type": "float32"}
    code, _, err = _cli(monkeypatch, capsys, "eval-projection", "--lang", "es", "--aligner", "eflomal",
                        "--backend", "ct2")
    assert code != 0 and "embed aligner only" in err and len(seen) == 2
