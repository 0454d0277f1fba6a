"""The batched embedding aligner: exact parity with the simalign package, layer
truncation, word-level similarity, batching invariance and edge cases (tiny models)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from projection.align import aligners
from projection.corpus import read_conll
from projection.errors import ProjectionError
from projection.records import Alignment
from tiny import tiny_encoder

logging.getLogger("simalign").setLevel(logging.WARNING)


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    # one folder per test process, shared with the other align tests (the tiny models take seconds to build)
    return tmp_path_factory.getbasetemp() / "align-tiny-models"


def _pairs(sample_path) -> list[tuple[list[str], list[str]]]:
    """Pairs of different lengths: a sentence with a reordered other sentence, plus the
    1- and 2-word cases where SimAlign's itermax takes its short path."""
    sents = [s.tokens for s in read_conll(sample_path) if 3 <= len(s.tokens) <= 18]
    pairs = []
    for k in range(0, 28, 2):
        tgt = sents[k + 1]
        pairs.append((sents[k], tgt[len(tgt) // 2:] + tgt[: len(tgt) // 2]))
    pairs += [(["Germany"], ["Alemania", "y", "España"]), (["the", "city"], ["la", "ciudad"]),
              (sents[3][:3], sents[3][:3])]
    return pairs


SIMALIGN_KEY = {"argmax": "inter", "itermax": "itermax", "match": "mwmf"}


@pytest.mark.parametrize("kind,layer,distortion", [("bert", 3, 0.0), ("xlmr", 4, 0.5)])
def test_same_links_as_simalign(tiny_root, sample_path, kind, layer, distortion):
    from simalign import SentenceAligner

    model = tiny_encoder(tiny_root, kind)
    pairs = _pairs(sample_path)
    ref = SentenceAligner(model=model, token_type="bpe", matching_methods="aim", layer=layer, distortion=distortion)
    expected = [ref.get_word_aligns(s, t) for s, t in pairs]
    for method, key in SIMALIGN_KEY.items():
        al = aligners.create("embed", model=model, layer=layer, method=method, distortion=distortion, batch_size=5)
        got = al.align(pairs)
        assert len(got) == len(pairs)
        for k, (g, e) in enumerate(zip(got, expected)):
            assert sorted(g.links) == [tuple(x) for x in e[key]], (method, k)
        assert sum(len(g) for g in got) > len(pairs)  # not trivially empty


def test_runs_only_the_needed_layers(tiny_root):
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = tiny_encoder(tiny_root, "bert")
    al = aligners.create("embed", model=model, layer=2)
    words = ["The", "European", "Commission", "said"]
    enc = al.encoder
    assert len(enc.model.encoder.layer) == 2  # the 4-layer model was cut after layer 2
    got = enc.encode([words], batch_size=8, max_tokens=1000)[0]
    tok, full = AutoTokenizer.from_pretrained(model), AutoModel.from_pretrained(model).eval()
    b = tok(words, is_split_into_words=True, return_tensors="pt")
    with torch.inference_mode():
        h = full(**b, output_hidden_states=True).hidden_states[2][0]  # SimAlign's layer indexing
    real = [p for p, w in enumerate(b.word_ids()) if w is not None]
    np.testing.assert_allclose(got.vectors, h[real].numpy(), atol=1e-5)
    assert got.words.tolist() == [w for w in b.word_ids() if w is not None]


def test_similarity_is_cosine_of_mean_subword_vectors(tiny_root, sample_path):
    model = tiny_encoder(tiny_root, "xlmr")
    al = aligners.create("embed", model=model, layer=3, method="itermax")
    pairs = _pairs(sample_path)[:6]
    links, sims = al.align_with_similarity(pairs)
    assert links == al.align(pairs)
    assert all(np.array_equal(a, b) for a, b in zip(sims, al.similarity(pairs)))
    enc = al.encoder
    for (src, tgt), sim in zip(pairs, sims):
        assert sim.shape == (len(src), len(tgt))
        es, et = enc.encode([src, tgt], 8, 10_000)
        ws = np.stack([es.vectors[es.words == i].mean(0) for i in range(len(src))])
        wt = np.stack([et.vectors[et.words == j].mean(0) for j in range(len(tgt))])
        ws /= np.linalg.norm(ws, axis=1, keepdims=True)
        wt /= np.linalg.norm(wt, axis=1, keepdims=True)
        np.testing.assert_allclose(sim, ws @ wt.T, atol=1e-5)
        assert sim.max() <= 1.0 + 1e-5 and sim.min() >= -1.0 - 1e-5


def test_batching_does_not_change_links(tiny_root, sample_path):
    model = tiny_encoder(tiny_root, "bert")
    pairs = _pairs(sample_path)
    one = aligners.create("embed", model=model, layer=3, batch_size=1).align(pairs)
    many = aligners.create("embed", model=model, layer=3, batch_size=64, max_tokens=300, chunk_size=7).align(pairs)
    assert one == many


def test_edge_cases(tiny_root):
    model = tiny_encoder(tiny_root, "bert")
    al = aligners.create("embed", model=model, layer=2, method="match")
    pairs = [([], ["x"]), (["a"], []), (["Germany", "\u200b", "", "city"], ["Alemania", "ciudad"])]
    links, sims = al.align_with_similarity(pairs)
    assert links[0] == Alignment() and links[1] == Alignment()
    assert sims[0].shape == (0, 1) and sims[1].shape == (1, 0)
    # words without any subword get no link and a zero similarity row
    assert all(i in (0, 3) for i, _ in links[2].links) and links[2].links
    assert not sims[2][1].any() and not sims[2][2].any()
    with pytest.raises(ProjectionError, match="list of words"):
        al.align([("a sentence", "una frase")])


def test_errors_and_signature(tiny_root):
    model = tiny_encoder(tiny_root, "bert")
    with pytest.raises(ProjectionError, match="only 4 layers"):
        aligners.create("embed", model=model, layer=9).align([(["a"], ["b"])])
    with pytest.raises(ProjectionError, match="cannot load encoder"):
        aligners.create("embed", model=str(tiny_root / "no-such-model"), layer=2).align([(["a"], ["b"])])
    with pytest.raises(ProjectionError, match="unknown embed alignment method"):
        aligners.create("embed", model=model, method="best")
    from projection.align import Aligner

    assert isinstance(aligners.create("embed", model=model), Aligner) and "embed" in aligners.names()
    sig = aligners.create("embed", model=model, layer=3, method="mwmf").signature()
    assert sig["engine"] == "embed" and sig["method"] == "match" and sig["layer"] == 3
    assert sig["model_id"].startswith("sha256:") and "transformers" in sig["versions"]
    assert sig == aligners.create("embed", model=model, layer=3, method="match").signature()
    assert sig != aligners.create("embed", model=model, layer=2, method="match").signature()
