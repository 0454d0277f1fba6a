"""The labelling stage: decoding spans and confidences, the transformers and trained-model engines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from projection.corpora import load_corpus
from projection.errors import ProjectionError
from projection.label import LabelledSpan, decode, guess_engine, labellers, normalise_tags

REPO = Path(__file__).resolve().parent.parent
TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def test_decode_spans_and_label_mass_confidence():
    p = np.array([
        [0.9, 0.05, 0.0, 0.05, 0.0],   # O
        [0.1, 0.6, 0.2, 0.1, 0.0],     # B-PER (PER mass 0.8)
        [0.1, 0.3, 0.5, 0.1, 0.0],     # I-PER (PER mass 0.8)
        [0.2, 0.0, 0.0, 0.0, 0.8],     # I-LOC after PER: starts a LOC (IOB2 repair), mass 0.8
        [0.7, 0.0, 0.0, 0.1, 0.2],     # O
    ])
    got = decode(TAGS, p)
    assert got == [LabelledSpan(1, 3, "PER", pytest.approx(0.8)), LabelledSpan(3, 4, "LOC", pytest.approx(0.8))]
    assert decode(TAGS, p, {"LOC": "O", "PER": "PERSON"}) == [LabelledSpan(1, 3, "PERSON", pytest.approx(0.8))]
    assert decode(TAGS, np.zeros((0, 5))) == []
    with pytest.raises(ValueError):
        decode(TAGS, np.zeros((2, 3)))
    # bio: I-LOC cannot follow I-PER, and B-LOC has probability 0 there, so the word takes O
    assert decode(TAGS, p, mode="bio") == [LabelledSpan(1, 3, "PER", pytest.approx(0.8))]
    p[3] = [0.2, 0.0, 0.3, 0.0, 0.5]  # I-LOC best, I-PER next: the word joins the name before it
    assert decode(TAGS, p, mode="bio") == [LabelledSpan(1, 4, "PER", pytest.approx((0.8 + 0.8 + 0.3) / 3))]
    with pytest.raises(ProjectionError, match="decode must be one of argmax, bio, not 'crf'"):
        decode(TAGS, p, mode="crf")


def test_normalise_tags_reads_iobes_and_bare_labels():
    assert normalise_tags(["O", "S-PER", "E-PER", "B-LOC", "MISC"], "m") == ["O", "B-PER", "I-PER", "B-LOC", "I-MISC"]
    with pytest.raises(ProjectionError, match="id2label"):
        normalise_tags(["LABEL_0", "LABEL_1"], "m")


def test_label_stage_imports_no_other_stage():
    code = ("import sys, projection.label, projection.label.hf, projection.label.trained\n"
            "print(sorted(m for m in sys.modules if m.split('.')[:2][-1] in "
            "('translate', 'align', 'project', 'train', 'inspect', 'export', 'pipeline') and m.startswith('projection.')),"
            " 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}).stdout
    assert out.strip() == "[] False"


@pytest.fixture(scope="module")
def token_classifier(tiny_bert, tmp_path_factory):
    """A tiny randomly initialised BertForTokenClassification with CoNLL tags in IOBES."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    out = tmp_path_factory.mktemp("tokcls") / "m"
    tags = ["O", "S-PER", "B-PER", "I-PER", "E-PER", "B-LOC", "I-LOC"]
    cfg = BertConfig.from_pretrained(tiny_bert, num_labels=len(tags), id2label=dict(enumerate(tags)),
                                     label2id={t: i for i, t in enumerate(tags)})
    torch.manual_seed(3)
    model = BertForTokenClassification(cfg)
    with torch.no_grad():  # make entities likely: the bias favours PER tags
        model.classifier.bias.copy_(torch.tensor([0.0, 0.3, 0.4, 0.2, 0.1, 0.2, 0.1]))
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(out)
    return out


def test_transformers_engine_labels_from_first_subword_softmax(token_classifier):
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    assert guess_engine(token_classifier) == "transformers"
    lab = labellers.create("transformers", model=str(token_classifier))
    sents = [s.tokens for s in load_corpus("sample:train")[:6]] + [[]]
    got = lab.label(sents)
    assert len(got) == len(sents) and got[-1] == []
    # the same first-subword distributions computed by hand
    tok = AutoTokenizer.from_pretrained(token_classifier)
    model = AutoModelForTokenClassification.from_pretrained(token_classifier).eval()
    tags = lab.tags()
    assert tags == ["O", "B-PER", "B-PER", "I-PER", "I-PER", "B-LOC", "I-LOC"]
    entities = 0
    for words, spans in zip(sents[:-1], got):
        enc = tok(words, is_split_into_words=True, return_tensors="pt")
        with torch.no_grad():
            p = torch.softmax(model(**enc).logits[0], -1).numpy()
        first = {}
        for pos, w in enumerate(enc.word_ids(0)):
            if w is not None:
                first.setdefault(w, pos)
        want = decode(tags, p[[first[i] for i in range(len(words))]])
        assert [(s.start, s.end, s.label) for s in spans] == [(s.start, s.end, s.label) for s in want]
        assert [s.confidence for s in spans] == pytest.approx([s.confidence for s in want], abs=1e-5)
        assert all(0 < s.confidence <= 1 for s in spans)
        entities += len(spans)
    assert entities > 0
    sig = lab.signature()
    assert sig["engine"] == "transformers" and len(sig["weights"]) == 16 and sig["tags"] == tags


def test_transformers_engine_cuts_long_sentences_into_pieces_of_whole_words(token_classifier):
    lab = labellers.create("transformers", model=str(token_classifier), max_length=12)
    words = [w for s in load_corpus("sample:train")[:4] for w in s.tokens]
    assert len(words) > 30
    lab._load()
    pieces = lab._pieces(words)
    assert len(pieces) > 2 and pieces[0][0] == 0 and pieces[-1][1] == len(words)
    assert all(a < b for a, b in pieces) and all(p[1] == q[0] for p, q in zip(pieces, pieces[1:]))
    whole = lab.word_proba([words])[0]
    parts = np.concatenate([lab.word_proba([words[a:b]])[0] for a, b in pieces])
    assert whole.shape == (len(words), 7) and np.allclose(whole, parts, atol=1e-5)


def test_transformers_engine_errors_name_the_folder(tmp_path, tiny_bert):
    with pytest.raises(ProjectionError, match="no config.json"):
        labellers.create("transformers", model=str(tmp_path))
    with pytest.raises(ProjectionError, match="id2label"):
        labellers.create("transformers", model=tiny_bert).signature()
    with pytest.raises(ProjectionError, match="neither"):
        guess_engine(tiny_bert)
    with pytest.raises(ProjectionError, match="label_map"):
        labellers.create("transformers", model=tiny_bert, label_map={"MISC": 1})
    with pytest.raises(ProjectionError, match=r"decode must be one of argmax, bio, not 'crf'"):
        labellers.create("transformers", model=tiny_bert, decode="crf")


def test_bio_decoding_needs_a_begin_tag_for_every_inside_tag():
    from projection.label.base import check_decode

    assert check_decode("bio", "m", TAGS) == "bio" and check_decode("argmax", "m", ["O", "I-PER"]) == "argmax"
    with pytest.raises(ProjectionError, match=r"m: \[label\] decode = \"bio\": .*no B- for MISC, PER"):
        check_decode("bio", "m", ["O", "I-PER", "B-LOC", "I-MISC"])


def test_trained_engine_uses_the_taggers_probabilities(tiny_bert, tmp_path):
    from projection.train import TrainConfig, load_model, train_model

    sample = load_corpus("sample:train")
    out = train_model(sample, out=tmp_path / "m", model=tiny_bert,
                      config=TrainConfig(epochs=8, lr=3e-3, threads=1, max_train_sentences=16, batch_size=4, seed=1))
    assert guess_engine(out) == "trained"
    with pytest.raises(ProjectionError, match="loader"):
        labellers.create("trained", model=str(out)).label([["x"]])
    lab = labellers.create("trained", model=str(out), load=load_model)
    words = [s.tokens for s in sample[:12]]
    got = lab.label(words)
    pred = load_model(out).predict(words)
    from projection.tags import tags_to_spans

    assert [[(s.start, s.end, s.label) for s in spans] for spans in got] == \
        [[(s.start, s.end, s.label) for s in tags_to_spans(t)] for t in pred]
    assert sum(map(len, got)) > 0 and all(0 < s.confidence <= 1 for spans in got for s in spans)
    sig = lab.signature()
    assert sig["model_engine"] == "token" and sig["tags"] == load_model(out).labels and "decode" not in sig
    # decode = "bio": the tagger's own bio decoding of the same probabilities
    bio = labellers.create("trained", model=str(out), load=load_model, decode="bio")
    tagger = load_model(out)
    tagger.decode = "bio"
    assert [[(s.start, s.end, s.label) for s in spans] for spans in bio.label(words)] == \
        [[(s.start, s.end, s.label) for s in tags_to_spans(t)] for t in tagger.predict(words)]
    assert bio.signature()["decode"] == "bio"
    with pytest.raises(ProjectionError, match="train.json"):
        labellers.create("trained", model=str(tmp_path))
