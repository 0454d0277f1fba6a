"""The batched embedding aligner: exact parity with the simalign package (torch backend),
layer truncation, the CTranslate2 backend against torch, long sentences in windows,
word-level similarity, batching invariance and edge cases (tiny models)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from projection.align import aligners
from projection.corpus import read_conll
from projection.errors import ProjectionError
from projection.records import Alignment

logging.getLogger("simalign").setLevel(logging.WARNING)


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
def test_same_links_as_simalign(tiny_encoders, sample_path, kind, layer, distortion):
    from simalign import SentenceAligner

    model = tiny_encoders(kind)
    pairs = _pairs(sample_path)
    ref = SentenceAligner(model=model, token_type="bpe", matching_methods="aim", layer=layer, distortion=distortion)
    expected = [ref.get_word_aligns(s, t) for s, t in pairs]
    for method, key in SIMALIGN_KEY.items():
        al = aligners.create("embed", model=model, layer=layer, method=method, distortion=distortion, batch_size=5,
                             backend="torch")
        got = al.align(pairs)
        assert len(got) == len(pairs)
        for k, (g, e) in enumerate(zip(got, expected)):
            assert sorted(g.links) == [tuple(x) for x in e[key]], (method, k)
        assert sum(len(g) for g in got) > len(pairs)  # not trivially empty


def test_runs_only_the_needed_layers(tiny_encoders):
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = tiny_encoders("bert")
    al = aligners.create("embed", model=model, layer=2, backend="torch")
    words = ["The", "European", "Commission", "said"]
    enc = al.encoder
    assert len(enc.model.encoder.layer) == 2  # the 4-layer model was cut after layer 2
    got = enc.encode([words], batch_size=8, max_tokens=1000)[0][0]
    tok, full = AutoTokenizer.from_pretrained(model), AutoModel.from_pretrained(model).eval()
    b = tok(words, is_split_into_words=True, return_tensors="pt")
    with torch.inference_mode():
        h = full(**b, output_hidden_states=True).hidden_states[2][0]  # SimAlign's layer indexing
    real = [p for p, w in enumerate(b.word_ids()) if w is not None]
    np.testing.assert_allclose(got.vectors, h[real].numpy(), atol=1e-5)
    assert got.words.tolist() == [w for w in b.word_ids() if w is not None]


def test_similarity_is_cosine_of_mean_subword_vectors(tiny_encoders, sample_path):
    model = tiny_encoders("xlmr")
    al = aligners.create("embed", model=model, layer=3, method="itermax")
    pairs = _pairs(sample_path)[:6]
    links, sims = al.align_with_similarity(pairs)
    assert links == al.align(pairs)
    assert all(np.array_equal(a, b) for a, b in zip(sims, al.similarity(pairs)))
    enc = al.encoder
    for (src, tgt), sim in zip(pairs, sims):
        assert sim.shape == (len(src), len(tgt))
        es, et = enc.encode([src, tgt], 8, 10_000)[0]
        ws = np.stack([es.vectors[es.words == i].mean(0) for i in range(len(src))])
        wt = np.stack([et.vectors[et.words == j].mean(0) for j in range(len(tgt))])
        ws /= np.linalg.norm(ws, axis=1, keepdims=True)
        wt /= np.linalg.norm(wt, axis=1, keepdims=True)
        np.testing.assert_allclose(sim, ws @ wt.T, atol=1e-5)
        assert sim.max() <= 1.0 + 1e-5 and sim.min() >= -1.0 - 1e-5


@pytest.mark.parametrize("backend", ["torch", "ct2"])
def test_batching_does_not_change_links(tiny_encoders, sample_path, backend):
    model = tiny_encoders("bert")
    pairs = _pairs(sample_path)
    one = aligners.create("embed", model=model, layer=3, batch_size=1, backend=backend).align(pairs)
    many = aligners.create("embed", model=model, layer=3, batch_size=64, max_tokens=300, chunk_size=7,
                           backend=backend).align(pairs)
    assert one == many


def test_edge_cases(tiny_encoders):
    model = tiny_encoders("bert")
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


def test_errors_and_signature(tiny_encoders):
    model = tiny_encoders("bert")
    with pytest.raises(ProjectionError, match="only 4 layers"):
        aligners.create("embed", model=model, layer=9).align([(["a"], ["b"])])
    with pytest.raises(ProjectionError, match="cannot load encoder"):
        aligners.create("embed", model=str(Path(model).parent / "no-such-model"), layer=2).align([(["a"], ["b"])])
    with pytest.raises(ProjectionError, match="unknown embed alignment method"):
        aligners.create("embed", model=model, method="best")
    from projection.align import Aligner

    assert isinstance(aligners.create("embed", model=model), Aligner) and "embed" in aligners.names()
    sig = aligners.create("embed", model=model, layer=3, method="mwmf").signature()
    assert sig["engine"] == "embed" and sig["method"] == "match" and sig["layer"] == 3
    assert sig["model_id"].startswith("sha256:") and "transformers" in sig["versions"]
    assert sig == aligners.create("embed", model=model, layer=3, method="match").signature()
    assert sig != aligners.create("embed", model=model, layer=2, method="match").signature()


def test_signature_names_backend_compute_type_and_code(tiny_encoders):
    model = tiny_encoders("bert")
    auto = aligners.create("embed", model=model, layer=3).signature()
    ct2 = aligners.create("embed", model=model, layer=3, backend="ct2").signature()
    torch = aligners.create("embed", model=model, layer=3, backend="torch").signature()
    f32 = aligners.create("embed", model=model, layer=3, backend="ct2", compute_type="float32").signature()
    assert auto == ct2  # the tiny BERT converts: ct2 is the default
    assert (ct2["backend"], ct2["compute_type"]) == ("ct2", "int8") and "ctranslate2" in ct2["versions"]
    assert (torch["backend"], torch["compute_type"]) == ("torch", "float32") and "torch" in torch["versions"]
    assert f32["compute_type"] == "float32"
    assert len({repr(sorted(x.items())) for x in (ct2, torch, f32)}) == 3
    assert ct2["code"] == torch["code"] and len(ct2["code"]) == 12
    # layer 0 (the embeddings) has no CTranslate2 conversion: auto falls back to torch, ct2 refuses
    assert aligners.create("embed", model=model, layer=0).signature()["backend"] == "torch"
    with pytest.raises(ProjectionError, match="layers must be between 1 and 4"):
        aligners.create("embed", model=model, layer=0, backend="ct2").signature()
    with pytest.raises(ProjectionError, match="backend must be one of auto, ct2, torch"):
        aligners.create("embed", model=model, backend="onnx")
    with pytest.raises(ProjectionError, match="applies to the ct2 backend"):
        aligners.create("embed", model=model, backend="torch", compute_type="int8")


@pytest.mark.parametrize("kind,layer", [("bert", 3), ("xlmr", 2)])
def test_ct2_links_agree_with_torch(tiny_encoders, sample_path, kind, layer):
    model = tiny_encoders(kind)
    pairs = _pairs(sample_path)
    for method in ("argmax", "itermax", "match"):
        ref = aligners.create("embed", model=model, layer=layer, method=method, backend="torch")
        got = aligners.create("embed", model=model, layer=layer, method=method, backend="ct2")
        a, b = ref.align(pairs), got.align(pairs)
        both = sum(len(x.links & y.links) for x, y in zip(a, b))
        agreement = 2 * both / (sum(len(x) for x in a) + sum(len(y) for y in b))
        assert agreement > 0.97, (method, agreement)
        # float32 weights on CTranslate2: the same links as torch
        f32 = aligners.create("embed", model=model, layer=layer, method=method, backend="ct2", compute_type="float32")
        assert f32.align(pairs) == a, method
    sims_t = ref.similarity(pairs)
    sims_c = got.similarity(pairs)
    assert max(float(np.abs(x - y).max()) for x, y in zip(sims_t, sims_c) if x.size) < 0.05


def _long_pair(sample_path, n=2000) -> tuple[list[str], list[str]]:
    """Sample sentences, each with its halves swapped on the target side."""
    src, tgt = [], []
    for s in read_conll(sample_path):
        src += s.tokens
        tgt += s.tokens[len(s.tokens) // 2:] + s.tokens[: len(s.tokens) // 2]
        if len(src) >= n:
            break
    assert len(src) >= n, "the sample is too short"
    return src[:n], tgt[:n]


@pytest.mark.parametrize("backend", ["torch", "ct2"])
def test_long_pair_gets_links_up_to_its_last_word(tiny_encoders, sample_path, backend):
    model = tiny_encoders("bert")  # 128 positions: a 2,000-word pair takes dozens of windows
    src, tgt = _long_pair(sample_path)
    al = aligners.create("embed", model=model, layer=3, backend=backend)
    (links,), (sim,) = al.align_with_similarity([(src, tgt)])
    # every word has a vector (a truncated word would have a zero row or column) ...
    assert sim.shape == (2000, 2000) and (sim != 0).any(1).all() and (sim != 0).any(0).all()
    # ... so every word can get links, up to the last one on each side
    assert {i for i, _ in al.variant(method="fwd").align([(src, tgt)])[0].links} == set(range(len(src)))
    assert {j for _, j in al.variant(method="rev").align([(src, tgt)])[0].links} == set(range(len(tgt)))
    # mutual-argmax links all along the sentence, not only where a window starts
    linked = {i for i, _ in links.links}
    for start in range(0, len(src), 100):
        assert len(linked & set(range(start, start + 100))) > 40, start
    assert al.stats == {"sentences_encoded": 2, "windowed_sentences": 2}
    # a sentence within the limit is not windowed; its vectors are those of a plain encoding
    enc = al.encoder
    short = src[:20]
    (one,), windowed = enc.encode([short], 8, 10_000)
    assert windowed == 0 and len(enc.tokenize([short])[0]) == 1
    # each word's vectors come from one window, in order; each subword exactly once
    (full,), windowed = enc.encode([src], 8, 10_000)
    ids = enc.tokenizer(src, is_split_into_words=True)
    assert windowed == 1 and full.words.tolist() == [w for w in ids.word_ids() if w is not None]


def test_window_plan_keeps_every_word_once_with_context():
    from projection.align.embed import plan_windows

    rng = np.random.default_rng(0)
    for trial in range(300):
        n = int(rng.integers(1, 80))
        budget = int(rng.integers(4, 40))
        lengths = rng.integers(1, 6, size=n).tolist()
        if trial % 10 == 0:
            lengths[int(rng.integers(0, n))] = budget + 3  # a word longer than a window
        plan = plan_windows(lengths, budget)
        kept = [u for _, _, ks, ke in plan for u in range(ks, ke)]
        assert kept == list(range(n))
        for s, e, ks, ke in plan:
            assert s <= ks < ke <= e
            assert sum(lengths[s:e]) <= budget or e - s == 1
        starts = [p[0] for p in plan]
        assert starts == sorted(set(starts))
    # windows overlap: a word near a window's edge is kept by the neighbouring window
    plan = plan_windows([1] * 100, 20)
    assert len(plan) > 5 and all(b[0] < a[1] for a, b in zip(plan, plan[1:]))
    assert all(ke - ks >= 5 for _, _, ks, ke in plan[1:-1])


def test_itermax_links_equal_simalign_itermax_matrix():
    """The index-array itermax gives exactly the links of SimAlign's one-hot-matrix version, ties included."""
    from projection.align.embed import itermax_links, itermax_matrix

    rng = np.random.default_rng(7)
    shapes = [(1, 1), (1, 5), (2, 7), (3, 3), (4, 9), (9, 4), (12, 12), (30, 41)]
    checked = 0
    for m, n in shapes:
        for trial in range(40):
            if trial % 3 == 0:  # few distinct values: many ties
                sim = rng.integers(0, 3, size=(m, n)).astype(np.float32) / 2
            elif trial % 3 == 1:  # a permutation-like matrix: every row aligned in round 1
                sim = np.full((m, n), 0.1, dtype=np.float32)
                sim[np.arange(min(m, n)), rng.permutation(n)[: min(m, n)]] = 0.9
            else:
                sim = rng.random((m, n), dtype=np.float32)
            rows, cols = itermax_links(sim)
            expected = set(zip(*np.nonzero(itermax_matrix(sim) > 0)))
            assert set(zip(rows.tolist(), cols.tolist())) == {(int(a), int(b)) for a, b in expected}, (m, n, trial)
            assert len(rows) == len(expected)  # no link twice
            checked += len(expected)
    assert checked > 1000


def test_threads_run_batches_side_by_side_with_the_same_results(tiny_bert, sample_path):
    """ct2 on a CPU with 2 threads runs two batches at once (inter_threads) and hands sentences
    back as they finish: links and similarity matrices are those of the one-thread run."""
    model = tiny_bert
    pairs = _pairs(sample_path) + [([], ["solo"]), (["x"], [])]
    one = aligners.create("embed", model=model, layer=3, method="itermax", backend="ct2", threads=1, max_tokens=60)
    two = aligners.create("embed", model=model, layer=3, method="itermax", backend="ct2", threads=2, max_tokens=60,
                          chunk_size=9)
    assert one.encoder.workers == 1 and two.encoder.workers == 2
    (l1, s1), (l2, s2) = one.align_with_similarity(pairs), two.align_with_similarity(pairs)
    assert l1 == l2 and len(l1) == len(pairs) and l1[-1] == l1[-2] == Alignment()
    assert all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(s1, s2))
    assert s2[-2].shape == (0, 1) and s2[-1].shape == (1, 0)


def test_encode_iter_gives_every_sentence_once(tiny_bert, sample_path):
    model = tiny_bert
    enc = aligners.create("embed", model=model, layer=3, backend="ct2", threads=2).encoder
    sents = [s.tokens for s in read_conll(sample_path)][:40] + [[], ["\u200b"]]
    windows = enc.tokenize(sents)
    seen = []
    got = dict(enc.encode_iter(windows, batch_size=4, max_tokens=80, advance=seen.append))
    assert sorted(got) == list(range(len(sents))) and sum(seen) == len(sents)
    ref, _ = enc.encode(sents, batch_size=64, max_tokens=10_000)
    for k, e in got.items():
        assert np.array_equal(e.words, ref[k].words) and e.vectors.shape == ref[k].vectors.shape
    assert got[len(sents) - 2].vectors.shape[0] == 0


def test_a_sentence_paired_with_itself_gets_the_general_products(tiny_bert, sample_path):
    """Vectors are prepared once per sentence; a pair of one sentence with itself must not let numpy
    take its x @ x.T shortcut (a few ulps off): matrices equal word_cosine's, bit for bit."""
    from projection.align.embed import word_cosine

    model = tiny_bert
    sents = [s.tokens for s in read_conll(sample_path) if 8 <= len(s.tokens) <= 30][:6]
    pairs = [(s, s) for s in sents] + [(sents[0], sents[1])]
    al = aligners.create("embed", model=model, layer=3, method="itermax", backend="torch")
    links, sims = al.align_with_similarity(pairs)
    encoded, _ = al.encoder.encode(sents, 8, 10_000)
    for k, s in enumerate(sents):
        e = encoded[k]
        assert np.array_equal(sims[k], word_cosine(e.vectors, e.words, len(s), e.vectors.copy(), e.words, len(s)))
    assert all(a.links for a in links)


@pytest.mark.parametrize("kind", ["bert", "xlmr"])
def test_word_piece_cache_gives_the_tokenizers_ids(tiny_encoders, sample_path, kind):
    """Sentences are tokenised from a cache of each word's ids: the ids and word indices of the
    tokenizer itself, sentence by sentence (and the same when the cache is not used)."""
    from projection.align.encoders import WordPieces

    al = aligners.create("embed", model=tiny_encoders(kind), layer=2, backend="torch")
    enc = al.encoder
    sents = [s.tokens for s in read_conll(sample_path)][:80]
    sents += [["Ab", "ab", "AB", "ab"], ["\u200b", "x"], ["", "naïve", "İstanbul", "ﬁne", "日本語", "e\u0301", "x.y,"],
              ["\u200b"], []]
    assert enc.pieces.by_word
    plain = WordPieces(enc.tokenizer)
    plain.by_word = False  # sentence by sentence, as for a tokenizer that fails the probe
    for pieces in (enc.pieces, plain):
        enc._pieces = pieces
        windows = enc.tokenize(sents)
        for words, ws in zip(sents, windows):
            if not words:
                assert ws == []
                continue
            ref = enc.tokenizer(words, is_split_into_words=True)
            real = [w for w in ref.word_ids() if w is not None]
            if not real:
                assert ws == []
                continue
            (w,) = ws
            assert w.ids == ref["input_ids"]
            assert w.words.tolist() == real
            assert [w.ids[p] for p in w.positions] == [i for i, k in zip(ref["input_ids"], ref.word_ids()) if k is not None]
    assert len(enc.pieces.words) < sum(len(s) for s in sents)  # repeated words are tokenised once


@pytest.mark.parametrize("backend", ["torch", "ct2"])
def test_a_sentences_vectors_do_not_depend_on_what_is_encoded_with_it(tiny_bert, sample_path, backend):
    """Batches hold sequences of one length (no padding), so a sentence's vectors are the same bit
    for bit alone or among others; int8 CTranslate2 vectors of a padded sequence differ slightly."""
    from projection.align.encoders import same_length_batches

    al = aligners.create("embed", model=tiny_bert, layer=3, backend=backend, threads=2, max_tokens=200)
    sents = [s.tokens for s in read_conll(sample_path)][:60]
    together, _ = al.encoder.encode(sents, 64, 200)
    for k in range(0, len(sents), 7):
        (alone,), _ = al.encoder.encode([sents[k]], 64, 200)
        assert np.array_equal(alone.vectors, together[k].vectors) and np.array_equal(alone.words, together[k].words)
    assert same_length_batches([3, 5, 3, 9, 5, 3], batch_size=2, batch_tokens=100) == [[3], [1, 4], [0, 2], [5]]
    assert same_length_batches([50, 50, 10], batch_size=8, batch_tokens=60) == [[0], [1], [2]]
    seen: list[list[int]] = []
    run_batch = al.encoder.run_batch

    def spy(seqs):
        seen.append([len(s) for s in seqs])
        return run_batch(seqs)

    al.encoder.run_batch = spy
    al.encoder.encode(sents, 64, 200)
    assert len(seen) > 5 and all(len(set(lengths)) == 1 and sum(lengths) <= 200 for lengths in seen)
    assert sorted(n for lengths in seen for n in lengths) == sorted(len(w[0].ids) for w in al.encoder.tokenize(sents))


@pytest.mark.parametrize("threads", [1, 2])
def test_align_stream_gives_each_part_what_aligning_it_alone_gives(tiny_bert, sample_path, threads):
    """Parts aligned as a stream (a pipeline's chunks): each part's links and similarity matrices
    are those of aligning the part on its own, bit for bit, and a sentence repeated across parts
    is encoded once."""
    sents = [s.tokens for s in read_conll(sample_path) if s.tokens][:50]
    pairs = [(sents[k], sents[(3 * k + 1) % len(sents)]) for k in range(len(sents))]
    parts = [pairs[0:12], pairs[12:13] + pairs[0:5], [], pairs[30:50] + [([], ["solo"]), (sents[2], sents[2])]]
    al = aligners.create("embed", model=tiny_bert, layer=3, method="itermax", backend="ct2", threads=threads,
                         max_tokens=120)
    got = list(al.align_stream(parts, similarity=True))
    assert al.stats["sentences_encoded"] == len({tuple(x) for part in parts for p in part for x in p})
    assert len(got) == len(parts)
    for part, (links, sims) in zip(parts, got):
        ref = aligners.create("embed", model=tiny_bert, layer=3, method="itermax", backend="ct2", threads=1)
        ref_links, ref_sims = ref.align_with_similarity(part)
        assert links == ref_links
        assert len(sims) == len(ref_sims) and all(np.array_equal(a, b) for a, b in zip(sims, ref_sims))
    assert [links for links, _ in al.align_stream(parts)] == [links for links, _ in got]
    assert all(sims is None for _, sims in al.align_stream(parts))


def test_a_stream_stopped_early_leaves_no_thread_behind(tiny_bert, sample_path):
    import threading

    sents = [s.tokens for s in read_conll(sample_path) if s.tokens][:40]
    parts = [[(s, s[::-1]) for s in sents[k:k + 10]] for k in range(0, 40, 10)]
    al = aligners.create("embed", model=tiny_bert, layer=3, backend="ct2", threads=2, max_tokens=60)
    def encoders() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith("embed-encoder")]

    stream = al.align_stream(parts)
    first, _ = next(stream)
    assert len(first) == 10 and len(encoders()) == 2
    stream.close()
    assert encoders() == []
