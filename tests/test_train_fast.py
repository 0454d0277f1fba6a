"""Fast training: frozen lower layers computed once and stored, token-budget batches, threads."""

from __future__ import annotations

import json
import sqlite3

import pytest
import torch

from projection.corpora import load_corpus
from projection.errors import ProjectionError
from projection.train import TrainConfig, load_model, train_model
from projection.train.base import available_cores, cpu_threads, measure_threads
from projection.train.features import FeatureCache, gather, weights_fingerprint
from projection.train.split import SplitEncoder
from projection.train.windows import SubwordEncoder, Window, batches, collate


@pytest.fixture(scope="module", params=["bert", "xlmr"])
def encoder(request):
    return request.getfixturevalue(f"tiny_{request.param}")


@pytest.fixture(scope="module")
def sample():
    return load_corpus("sample:train")


def _loaded(path):
    from transformers import AutoModel, AutoTokenizer

    return AutoModel.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def test_split_encoder_equals_the_whole_model(encoder, sample):
    model, tok = _loaded(encoder)
    sub = SubwordEncoder(tok, 64)
    ids, mask, _ = collate(sub.windows([s.tokens for s in sample[:6]]), sub.pad)  # different lengths: padding
    n = model.config.num_hidden_layers
    with torch.no_grad():
        full = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        for k in range(n):
            split = SplitEncoder(model, k)
            assert split.check(ids, mask) < 1e-4
            low = split.lower(ids, mask, keep=range(k + 1))
            for layer, h in low.items():
                assert torch.allclose(h, full.hidden_states[layer], atol=1e-5)
            up = split.upper(low[k], mask, keep=range(k + 1, n + 1))
            for layer, h in up.items():
                m = mask.bool().unsqueeze(-1)
                assert torch.allclose(h * m, full.hidden_states[layer] * m, atol=1e-4)


def test_split_encoder_rejects_bad_layer_counts(encoder):
    model, _ = _loaded(encoder)
    n = model.config.num_hidden_layers
    with pytest.raises(ProjectionError, match="freeze_layers"):
        SplitEncoder(model, n)
    with pytest.raises(ProjectionError, match="freeze_layers"):
        SplitEncoder(torch.nn.Linear(2, 2), 1)


def test_split_check_catches_a_wrong_split(encoder, sample):
    model, tok = _loaded(encoder)
    sub = SubwordEncoder(tok, 64)
    ids, mask, _ = collate(sub.windows([s.tokens for s in sample[:3]]), sub.pad)
    split = SplitEncoder(model, 1)
    split._mask = lambda mask, hidden: None  # ignores padding: differs from the model on padded rows
    with pytest.raises(ProjectionError, match="differs from the whole model"):
        split.check(ids, mask)


def test_feature_cache_stores_by_content_and_reuses(encoder, sample, tmp_path):
    model, tok = _loaded(encoder)
    sub = SubwordEncoder(tok, 64)
    windows = sub.windows([s.tokens for s in sample[:20]] + [sample[0].tokens])  # one window twice
    split = SplitEncoder(model, 1)
    cache = FeatureCache(split, keep=[0], root=tmp_path)
    feats = cache.features(windows, sub.pad)
    unique = len({tuple(w.input_ids) for w in windows})
    assert unique == len(windows) - 1
    assert cache.stats["computed"] == unique and cache.keep == [0, 1]
    assert feats[0].shape == (len(windows[0].input_ids), 2, model.config.hidden_size)
    assert feats[0].dtype.name == "float16"
    ids, mask, _ = collate(windows[:1], sub.pad)
    with torch.no_grad():
        ref = split.lower(ids, mask, keep=[0])
    assert torch.allclose(torch.from_numpy(feats[0][:, 1].astype("float32")), ref[1][0], atol=1e-2)
    # A second cache object over the same weights reads every row from disk.
    again = FeatureCache(SplitEncoder(model, 1), keep=[0], root=tmp_path)
    feats2 = again.features(windows, sub.pad)
    assert again.stats["computed"] == 0 and again.stats["from_disk"] == unique
    assert all((a == b).all() for a, b in zip(feats, feats2))
    # A damaged row is recomputed, not trusted.
    db = sqlite3.connect(cache.path)
    db.execute("UPDATE features SET data = x'00' WHERE rowid = 1")
    db.commit()
    third = FeatureCache(split, keep=[0], root=tmp_path)
    third.features(windows, sub.pad)
    assert third.stats["computed"] == 1 and third.stats["from_disk"] == unique - 1
    # Other frozen weights -> another key (file); upper-layer weights do not count.
    before = weights_fingerprint(split)
    with torch.no_grad():
        model.encoder.layer[1].output.dense.weight.add_(0.01)
    assert weights_fingerprint(split) == before
    with torch.no_grad():
        model.encoder.layer[0].output.dense.weight.add_(0.01)
    assert weights_fingerprint(split) != before


def test_gather_pads_to_the_batch_width():
    import numpy as np

    a = np.ones((3, 2, 4), dtype=np.float16)
    b = np.full((5, 2, 4), 2, dtype=np.float16)
    out = gather([a, b], [4, 8], 6)
    assert set(out) == {4, 8} and out[4].shape == (2, 6, 4)
    assert out[8][0, :3].eq(1).all() and out[8][0, 3:].eq(0).all() and out[4][1, :5].eq(2).all()


def test_token_budget_batches():
    wins = [Window(i, 0, 1, [0] * n, [0] * n, [1]) for i, n in enumerate([3, 10, 4, 9, 5, 2, 8])]
    groups = batches(wins, batch_size=100, batch_tokens=16)
    assert sorted(len(w.input_ids) for g in groups for w in g) == sorted(len(w.input_ids) for w in wins)
    assert all(len(g) * max(len(w.input_ids) for w in g) <= 16 for g in groups)
    assert [len(g) for g in groups] == [3, 2, 1, 1]  # 2,3,4 | 5,8 | 9 | 10


@pytest.mark.parametrize("arch", ["token", "feature-aggregation"])
def test_frozen_layer_training_learns_and_reloads(encoder, sample, tmp_path, arch):
    cfg = TrainConfig(epochs=3, lr=3e-3, batch_size=8, seed=2, threads=1, max_train_sentences=64, freeze_layers=1,
                      fusion_layer=1, eval_every=5, max_dev_sentences=16)
    out = train_model(sample, out=tmp_path / "m", model=encoder, arch=arch, dev=sample[:16], config=cfg)
    meta = json.loads((out / "train.json").read_text())
    hist = meta["history"]
    assert hist[-1]["loss"] < hist[0]["loss"]
    from projection.train.config import subsample

    seen = {tuple(s.tokens) for s in subsample(sample, 64, 2)} | {tuple(s.tokens) for s in sample[:16]}
    assert meta["features"]["computed"] == len(seen)  # train and dev windows encoded once, for every epoch
    assert meta["split_check"] < 1e-3
    steps = [p["step"] for p in meta["curve"]]
    assert steps == sorted(steps) and len(steps) > len(hist)  # every 5 steps and at each epoch's end
    best = max(meta["curve"], key=lambda p: p["dev_f1"])
    assert meta["best_step"] == best["step"] and meta["best_dev_f1"] == best["dev_f1"]
    frozen = [n for n in meta["config"] if n == "freeze_layers"]
    assert frozen and meta["trainable_parameters"] < meta["parameters"] / 2
    # Only the upper layers and the head changed: the frozen part equals the original encoder.
    from safetensors.torch import load_file
    from transformers import AutoModel

    saved = load_file(str(out / "model.safetensors"))
    orig = AutoModel.from_pretrained(encoder).state_dict()
    assert torch.equal(saved["encoder.encoder.layer.0.output.dense.weight"], orig["encoder.layer.0.output.dense.weight"])
    assert not torch.equal(saved["encoder.encoder.layer.1.output.dense.weight"], orig["encoder.layer.1.output.dense.weight"])
    # Reloaded, the model predicts from stored features exactly what it predicts from scratch.
    tagger = load_model(out)
    sents = [s.tokens for s in sample[100:130]]
    from_store = tagger.predict(sents)
    scratch = load_model(out)
    scratch.config = scratch.config.replace(feature_cache=False)
    assert scratch.predict(sents) == from_store


def test_old_models_load_without_the_new_options(encoder, sample, tmp_path):
    out = train_model(sample, out=tmp_path / "m", model=encoder,
                      config=TrainConfig(epochs=1, threads=1, max_train_sentences=16))
    meta = json.loads((out / "train.json").read_text())
    for key in ("freeze_layers", "feature_cache", "batch_tokens", "eval_every"):
        del meta["config"][key]
    (out / "train.json").write_text(json.dumps(meta))
    tagger = load_model(out)
    assert tagger.config.freeze_layers == 0 and tagger.model.split is None
    assert len(tagger.predict([["Peter", "lives", "in", "Paris"]])[0]) == 4


def test_training_threads_never_depend_on_the_load(monkeypatch):
    # The thread count changes training's floats, so it comes from the option, OMP_NUM_THREADS or the cores.
    def probe(*a, **k):
        raise AssertionError("training must not measure the load")

    monkeypatch.setattr("projection.train.base.measure_threads", probe)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert cpu_threads(TrainConfig(threads=3)) == 3
    assert cpu_threads(TrainConfig()) == available_cores()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert cpu_threads(TrainConfig()) == 1
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(16)))
    assert available_cores() == 8 and available_cores(limit=32) == 16


def test_same_seed_and_threads_train_the_same_model(tiny_bert, sample, tmp_path, monkeypatch):
    from safetensors.torch import load_file

    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    cfg = TrainConfig(epochs=1, lr=3e-3, batch_size=8, seed=5, max_train_sentences=48)
    a, b = (train_model(sample, out=tmp_path / name, model=tiny_bert, config=cfg) for name in "ab")
    assert json.loads((a / "train.json").read_text())["threads"] == 2
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_measure_threads_returns_a_usable_count():
    n = measure_threads(2, seconds=0.02)
    assert n in (1, 2)
    assert measure_threads(1) == 1


@pytest.mark.parametrize("arch", ["token", "feature-aggregation"])
def test_ct2_backend_predicts_like_torch(tiny_bert, sample, tmp_path, arch):
    from projection.train.fast_predict import CT2_DIR, Ct2Encoder

    cfg = TrainConfig(epochs=2, lr=3e-3, batch_size=8, seed=3, threads=1, max_train_sentences=64, freeze_layers=1,
                      fusion_layer=2)
    out = train_model(sample, out=tmp_path / "m", model=tiny_bert, arch=arch, config=cfg)
    sents = [s.tokens for s in sample[:60]]
    exact = load_model(out, precision="fp32").predict(sents)
    tagger = load_model(out, backend="ct2")
    assert tagger.backend == "ct2"
    tagger._ct2 = Ct2Encoder(tagger.model, tagger.tokenizer, out, tagger.device, threads=1, compute_type="float32")
    assert tagger.predict(sents) == exact  # float32 CTranslate2 = torch
    converted = sorted(p.name for p in (out / CT2_DIR).iterdir())
    assert len(converted) == (2 if arch == "feature-aggregation" else 1)  # the fusion layer needs its own cut
    assert not [p for p in (out / CT2_DIR).iterdir() if p.name.startswith(".")]  # no temporary folder left
    fast = load_model(out, backend="ct2").predict(sents)  # int8 (the CPU default): nearly the same tags
    same = sum(a == b for x, y in zip(fast, exact) for a, b in zip(x, y)) / sum(len(x) for x in exact)
    assert same > 0.9
    with pytest.raises(ProjectionError, match="backend"):
        load_model(out, backend="onnx")


def test_predict_proba_agrees_with_predict(tiny_bert, sample, tmp_path):
    import numpy as np

    from projection.tags import to_iob2

    out = train_model(sample, out=tmp_path / "m", model=tiny_bert,
                      config=TrainConfig(epochs=1, lr=3e-3, threads=1, max_train_sentences=32, max_length=16))
    tagger = load_model(out)
    sents = [s.tokens for s in sample[:12]] + [[]]
    probs = tagger.predict_proba(sents)
    assert [p.shape for p in probs] == [(len(s), len(tagger.labels)) for s in sents]
    assert all(np.allclose(p.sum(-1), 1.0, atol=1e-5) for p in probs if len(p))
    assert tagger.predict(sents) == [to_iob2([tagger.labels[i] for i in p.argmax(-1)]) if len(p) else [] for p in probs]


@pytest.mark.parametrize("frozen", [0, 2])
def test_int8_backend_quantizes_only_the_trained_layers(tiny_bert, sample, tmp_path, frozen):
    """int8: the layers above the frozen part become dynamically quantized Linear modules, the frozen ones
    stay float32 (their stored outputs are shared with training), and the tags stay close to float32's."""
    from torch.ao.nn.quantized.dynamic import Linear as QLinear

    from projection.train.split import encoder_layers

    cfg = TrainConfig(epochs=2, lr=3e-3, batch_size=8, seed=3, threads=1, max_train_sentences=64, freeze_layers=frozen)
    out = train_model(sample, out=tmp_path / "m", model=tiny_bert, config=cfg)
    sents = [s.tokens for s in sample[:60]]
    exact = load_model(out, precision="fp32").predict(sents)
    tagger = load_model(out, backend="int8")
    assert tagger.precision == "fp32"  # the quantized layers take float32 activations
    kinds = [isinstance(layer.attention.self.query, QLinear) for layer in encoder_layers(tagger.model.encoder)]
    assert kinds == [False] * frozen + [True] * (len(kinds) - frozen)
    fast = tagger.predict(sents)
    same = sum(a == b for x, y in zip(fast, exact) for a, b in zip(x, y)) / sum(len(x) for x in exact)
    assert same > 0.9


def test_keep_layers_trains_and_saves_the_lower_layers_only(encoder, sample, tmp_path):
    cfg = TrainConfig(epochs=2, lr=3e-3, batch_size=8, seed=2, threads=1, max_train_sentences=64, keep_layers=2,
                      freeze_layers=1, fusion_layer=1)
    out = train_model(sample, out=tmp_path / "m", model=encoder, arch="feature-aggregation", config=cfg)
    meta = json.loads((out / "train.json").read_text())
    assert meta["encoder_layers"] == 2 and meta["history"][-1]["loss"] < meta["history"][0]["loss"]
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModel

    assert AutoConfig.from_pretrained(out / "encoder").num_hidden_layers == 2
    saved = load_file(str(out / "model.safetensors"))
    assert not any(k.startswith("encoder.encoder.layer.2.") for k in saved)
    orig = AutoModel.from_pretrained(encoder).state_dict()  # the kept layers start from the pretrained ones
    assert torch.equal(saved["encoder.encoder.layer.0.output.dense.weight"], orig["encoder.layer.0.output.dense.weight"])
    tagger = load_model(out)
    assert len(tagger.model.encoder.encoder.layer) == 2
    sents = [s.tokens for s in sample[100:110]]
    assert load_model(out).predict(sents) == tagger.predict(sents)


def test_keep_layers_rejects_impossible_depths(encoder, sample, tmp_path):
    with pytest.raises(ProjectionError, match="keep_layers = 9: the encoder has 4 layers"):
        train_model(sample, out=tmp_path / "a", model=encoder, config=TrainConfig(epochs=1, threads=1, keep_layers=9))
    with pytest.raises(ProjectionError, match="freeze_layers \\(2\\) must be below keep_layers \\(2\\)"):
        TrainConfig(keep_layers=2, freeze_layers=2).validate()
    with pytest.raises(ProjectionError, match="fusion layer 3 must be a lower layer in \\[0, 1\\]"):
        train_model(sample, out=tmp_path / "b", model=encoder, arch="feature-aggregation",
                    config=TrainConfig(epochs=1, threads=1, keep_layers=2, fusion_layer=3))


def test_dev_decode_picks_the_model_with_the_decoder_it_is_scored_with(tiny_bert, sample, tmp_path, monkeypatch):
    """``dev_decode`` decodes the dev evaluations that pick the best step (and ``--test``); the saved model still
    predicts by argmax unless asked, and an engine without a choice of decoder refuses it."""
    from projection.train import transformer

    used: list[str] = []
    real = transformer.decode
    monkeypatch.setattr(transformer, "decode", lambda s, labels, mode: used.append(mode) or real(s, labels, mode))
    cfg = TrainConfig(epochs=1, lr=3e-3, batch_size=8, seed=5, max_train_sentences=24, dev_decode="bio")
    out = train_model(sample[:24], out=tmp_path / "m", model=tiny_bert, dev=sample[24:34], test=["sample:train"], config=cfg)
    assert set(used) == {"bio"} and len(used) == 10 + len(sample)  # the dev evaluation and the test set, nothing else
    meta = json.loads((out / "train.json").read_text())
    assert meta["config"]["dev_decode"] == "bio"
    assert json.loads((out / "eval" / "sample_train" / "metrics.json").read_text())["model"]["decode"] == "bio"
    assert load_model(out).decode == "argmax"
    used.clear()
    train_model(sample[:24], out=tmp_path / "a", model=tiny_bert, dev=sample[24:34], config=cfg.replace(dev_decode="argmax"))
    assert set(used) == {"argmax"}
    with pytest.raises(ProjectionError, match="dev_decode must be one of argmax, bio, not 'crf'"):
        cfg.replace(dev_decode="crf").validate()
    with pytest.raises(ProjectionError, match="dev_decode='bio': the spacy engine has no choice of decoder"):
        train_model(sample[:24], out=tmp_path / "s", arch="spacy", config=cfg)
