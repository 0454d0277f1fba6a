"""projection.ct2: converted encoders give torch's hidden states of the same layer; the
conversion is cached by content; unsupported models are refused clearly (tiny models)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from projection import ct2
from projection.errors import ProjectionError

SENTENCES = [
    ["The", "European", "Commission", "said", "on", "Thursday", "it", "disagreed", "with", "German", "advice", "."],
    ["Alemania", "y", "España"],
    ["la", "ciudad", "del", "presidente", "es", "Francia", "pero", "no", "Deutschland", "und", "die", "Stadt"],
]


def _torch_hidden(model: str, layer: int) -> tuple[list[list[int]], list[np.ndarray]]:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model)
    net = AutoModel.from_pretrained(model).eval()
    ids = [tok(s, is_split_into_words=True)["input_ids"] for s in SENTENCES]
    out = []
    with torch.inference_mode():
        for seq in ids:  # one at a time: no padding on the reference side
            out.append(net(input_ids=torch.tensor([seq]), output_hidden_states=True).hidden_states[layer][0].numpy())
    return ids, out


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.mark.parametrize("kind,layer", [("bert", 2), ("xlmr", 3), ("bert", None)])
def test_hidden_states_match_torch(request, tmp_path, kind, layer):
    model = request.getfixturevalue(f"tiny_{kind}")
    ids, expected = _torch_hidden(model, 4 if layer is None else layer)
    for quant, min_cos in (("float32", 0.99999), ("int8", 0.97)):
        path = ct2.convert_encoder(model, layers=layer, quantization=quant, cache_root=tmp_path)
        assert json.loads((path / "projection.json").read_text())["layers"] == layer
        enc = ct2.load_encoder(path, device="cpu", compute_type=quant, threads=1)
        got = ct2.forward_hidden(enc, ids, batch_size=2)  # padded batches, longest first
        assert [g.shape for g in got] == [e.shape for e in expected]
        cos = np.concatenate([_cosines(g, e) for g, e in zip(got, expected)])
        assert cos.min() > min_cos, (quant, cos.min())
        if quant == "float32":
            for g, e in zip(got, expected):
                np.testing.assert_allclose(g, e, atol=2e-4, rtol=1e-3)
        else:  # int8 is close but not equal
            assert cos.mean() > 0.99 and not all(np.allclose(g, e, atol=1e-5) for g, e in zip(got, expected))


def test_conversion_is_cached_by_content(tiny_bert, tmp_path, monkeypatch):
    first = ct2.convert_encoder(tiny_bert, layers=2, quantization="float32", cache_root=tmp_path)
    assert ct2.is_converted(first) and first.parent == tmp_path
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".") and p.is_dir()]  # no temporary folder left

    def fail(*a, **k):
        raise AssertionError("converted again")

    monkeypatch.setattr(ct2, "_convert", fail)
    assert ct2.convert_encoder(tiny_bert, layers=2, quantization="float32", cache_root=tmp_path) == first
    # another layer cut or weight type is another conversion
    with pytest.raises(AssertionError, match="converted again"):
        ct2.convert_encoder(tiny_bert, layers=3, quantization="float32", cache_root=tmp_path)
    with pytest.raises(AssertionError, match="converted again"):
        ct2.convert_encoder(tiny_bert, layers=2, quantization="int8", cache_root=tmp_path)
    # the default root is $PROJECTION_CACHE/ct2-encoders
    monkeypatch.setenv("PROJECTION_CACHE", str(tmp_path / "pc"))
    with pytest.raises(AssertionError, match="converted again"):
        ct2.convert_encoder(tiny_bert, layers=2, quantization="float32")


def test_changed_weights_are_converted_again(tiny_bert, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_bert, copy)
    a = ct2.convert_encoder(copy, layers=2, quantization="float32", cache_root=tmp_path / "c")
    cfg = json.loads((copy / "config.json").read_text())
    cfg["layer_norm_eps"] = 1e-5
    (copy / "config.json").write_text(json.dumps(cfg))
    b = ct2.convert_encoder(copy, layers=2, quantization="float32", cache_root=tmp_path / "c")
    assert a != b and ct2.is_converted(a) and ct2.is_converted(b)


def test_refusals_and_limits(tiny_bert, tiny_xlmr, tmp_path):
    from transformers import BertConfig, DistilBertConfig

    with pytest.raises(ProjectionError, match="layers must be between 1 and 4"):
        ct2.convert_encoder(tiny_bert, layers=0, cache_root=tmp_path)
    with pytest.raises(ProjectionError, match="layers must be between 1 and 4"):
        ct2.convert_encoder(tiny_bert, layers=5, cache_root=tmp_path)
    with pytest.raises(ProjectionError, match="quantization must be one of"):
        ct2.convert_encoder(tiny_bert, quantization="int4", cache_root=tmp_path)
    with pytest.raises(ProjectionError, match="neither a local folder nor in the local Hugging Face cache"):
        ct2.convert_encoder(str(tmp_path / "missing"), cache_root=tmp_path)
    assert "not DistilBertConfig" in ct2.unsupported_reason(DistilBertConfig())
    assert "absolute position embeddings only" in ct2.unsupported_reason(BertConfig(position_embedding_type="relative_key"))
    assert ct2.unsupported_reason(ct2.load_config(tiny_xlmr), 4) is None
    # BERT: max_position_embeddings; XLM-R numbers positions from pad_token_id + 1
    assert ct2.position_limit(ct2.load_config(tiny_bert)) == 128
    assert ct2.position_limit(ct2.load_config(tiny_xlmr)) == 130 - 2


def test_forward_hidden_batches_and_empty_inputs(tiny_bert, tmp_path):
    enc = ct2.load_encoder(ct2.convert_encoder(tiny_bert, layers=2, quantization="float32", cache_root=tmp_path),
                           threads=1)
    seqs = [[2, 10, 11, 3], [], [2, 12, 3], [2, 13, 14, 15, 16, 17, 3]]
    seen = []
    one = ct2.forward_hidden(enc, seqs, batch_size=1, on_batch=seen.append)
    many = ct2.forward_hidden(enc, seqs, batch_size=8, batch_tokens=100)
    assert sorted(k for b in seen for k in b) == [0, 2, 3] and one[1].shape == (0, 32)
    for a, b, s in zip(one, many, seqs):
        assert a.shape == (len(s), 32) and a.dtype == np.float32
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert ct2.length_batches([3, 9, 1, 9, 5], batch_size=2, batch_tokens=100) == [[1, 3], [4, 0], [2]]
    assert ct2.length_batches([50, 50, 10], batch_size=8, batch_tokens=60) == [[0], [1], [2]]
