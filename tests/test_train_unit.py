"""Train stage, fast parts: seqeval scoring, label mapping, windows, DLFA/AIF, output files."""

from __future__ import annotations

import json

import pytest

from projection.errors import ProjectionError
from projection.records import Sentence
from projection.train.config import TrainConfig, map_sentence, parse_label_map, subsample
from projection.train.metrics import evaluate_predictions, score


# ----------------------------------------------------------------------------- seqeval
def test_score_exact_spans_hand_made():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "B-MISC", "I-MISC"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"],  # PER right, LOC typed ORG
            ["B-ORG", "O", "B-MISC", "O"]]  # ORG right, MISC too short
    m = score(gold, pred)
    # 4 gold entities, 4 predicted, 2 exactly right.
    assert m["precision"] == pytest.approx(2 / 4)
    assert m["recall"] == pytest.approx(2 / 4)
    assert m["f1"] == pytest.approx(0.5)
    assert m["per_label"]["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert m["per_label"]["LOC"]["recall"] == 0.0 and m["per_label"]["LOC"]["support"] == 1
    assert m["per_label"]["ORG"]["precision"] == pytest.approx(0.5) and m["per_label"]["ORG"]["recall"] == 1.0
    assert m["per_label"]["MISC"]["f1"] == 0.0
    assert m["support"] == 4


def test_score_reads_i_start_as_conlleval_does():
    # A predicted entity starting with I- counts as an entity (it is not silently dropped).
    m = score([["B-PER", "I-PER", "O"]], [["I-PER", "I-PER", "O"]])
    assert m["f1"] == 1.0
    # Boundaries must match exactly: a longer prediction is wrong.
    m = score([["B-PER", "O", "O"]], [["B-PER", "I-PER", "O"]])
    assert m["f1"] == 0.0 and m["precision"] == 0.0


def test_score_perfect_and_empty():
    assert score([["B-LOC", "O"]], [["B-LOC", "O"]])["f1"] == 1.0
    m = score([["O", "O"]], [["O", "O"]])
    assert m["f1"] == 0.0 and m["per_label"] == {}
    with pytest.raises(ProjectionError):
        score([["O"]], [["O", "O"]])


def test_metrics_and_predictions_files(tmp_path):
    gold = [Sentence("a", ["Ana", "vive", "en", "Roma"], ["B-PER", "O", "O", "B-LOC"]),
            Sentence("b", ["Hola"], ["O"])]
    pred = [["B-PER", "O", "O", "O"], ["B-ORG"]]
    m = evaluate_predictions(gold, pred, tmp_path, model={"dir": "m"}, data={"name": "x:test"}, seed=7)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(m))
    for key in ("f1", "precision", "recall", "per_label", "model", "data", "seed"):
        assert key in saved
    assert saved["seed"] == 7 and saved["data"]["name"] == "x:test"
    assert saved["precision"] == pytest.approx(0.5) and saved["recall"] == pytest.approx(0.5)
    lines = (tmp_path / "predictions.conll").read_text().split("\n")
    assert lines[:5] == ["Ana\tB-PER\tB-PER", "vive\tO\tO", "en\tO\tO", "Roma\tB-LOC\tO", ""]
    assert lines[5] == "Hola\tO\tB-ORG"


# ----------------------------------------------------------------------------- labels
def test_label_mapping():
    s = Sentence("s", ["Ana", "en", "Roma", "el", "lunes", "GPE"],
                 ["B-PER", "O", "B-MISC", "B-DATE", "I-DATE", "B-GPE"])
    mapping = TrainConfig(label_map=parse_label_map("DATE=O, GPE=LOC"), ignore=["MISC"]).mapping()
    assert mapping == {"DATE": "O", "GPE": "LOC", "MISC": "O"}
    assert map_sentence(s, mapping).tags == ["B-PER", "O", "O", "O", "O", "B-LOC"]
    assert map_sentence(s, {}).tags == s.tags
    with pytest.raises(ProjectionError):
        parse_label_map("DATE")
    with pytest.raises(ProjectionError):
        TrainConfig.from_dict({"epochs": 1, "nonsense": 2})


def test_subsample_is_seeded_and_ordered():
    sents = [Sentence(str(i), ["x"], ["O"]) for i in range(50)]
    a, b = subsample(sents, 10, 3), subsample(sents, 10, 3)
    assert [s.id for s in a] == [s.id for s in b]
    assert [int(s.id) for s in a] == sorted(int(s.id) for s in a)
    assert [s.id for s in subsample(sents, 10, 4)] != [s.id for s in a]
    assert len(subsample(sents, None, 3)) == 50


# ----------------------------------------------------------------------------- windows
@pytest.fixture(scope="module")
def tokenizer(tiny_xlmr):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_xlmr)


def test_windows_cover_every_word(tokenizer):
    from projection.train.windows import IGNORE, SubwordEncoder

    enc = SubwordEncoder(tokenizer, max_length=12)
    words = ("Ana vive en Madrid y trabaja para el Gobierno de España desde hace muchos años con "
             "Deutschland Regierung Stadt Mannschaft").split()
    labels = list(range(len(words)))
    wins = enc.windows([words, ["Hola"]], [labels, [0]])
    long = [w for w in wins if w.sentence == 0]
    assert len(long) > 1  # split, not cut
    covered = [w.first_word + k for w in long for k in range(w.n_words)]
    assert covered == list(range(len(words)))
    for w in wins:
        assert len(w.input_ids) <= 12
        assert w.input_ids[0] == enc.prefix[0] and w.input_ids[-1] == enc.suffix[-1]
        # labels only on each word's first subword
        assert [i for i, lab in enumerate(w.labels) if lab != IGNORE] == w.heads
        assert [w.labels[h] for h in w.heads] == labels[w.first_word: w.first_word + w.n_words] or w.sentence == 1


def test_word_without_subwords_gets_unk(tokenizer):
    from projection.train.windows import SubwordEncoder

    enc = SubwordEncoder(tokenizer, max_length=64)
    pieces = enc.word_pieces([["Ana", "\u200b", "Roma"]])[0]
    assert all(len(p) >= 1 for p in pieces)


# ----------------------------------------------------------------------------- DLFA / AIF
def test_aif_gate_range_shapes_and_output():
    import torch

    from projection.train.dlfa import AIF, DLFA

    torch.manual_seed(0)
    aif = AIF(hidden=16, reduction=4)
    h_last, h_low = torch.randn(3, 7, 16) * 5, torch.randn(3, 7, 16) * 5
    mask = torch.ones(3, 7, dtype=torch.long)
    mask[1, 4:] = 0
    m = aif.gate(h_last, h_low, mask)
    assert m.shape == (3, 7, 16)
    assert bool((m > 0).all()) and bool((m < 1).all())
    out = aif(h_last, h_low, mask)
    assert out.shape == h_last.shape
    assert torch.allclose(out, m * h_last + (1 - m) * h_low, atol=1e-6)
    # The global branch averages real tokens only: padding content does not change the gate of real tokens.
    h_last2 = h_last.clone()
    h_last2[1, 4:] = 100.0
    assert torch.allclose(aif.gate(h_last2, h_low, mask)[1, :4], m[1, :4], atol=1e-6)
    # Bottleneck E -> E/r -> E in both branches.
    assert aif.local_branch.net[0].out_features == 4 and aif.global_branch.net[3].out_features == 16

    hidden = tuple(torch.randn(2, 5, 16) for _ in range(5))  # embeddings + 4 layers
    dlfa = DLFA(16, num_layers=4, fusion_layer=2, reduction=4)
    z = dlfa(hidden)
    g = dlfa.aif.gate(hidden[-1], hidden[2])
    assert torch.allclose(z, g * hidden[-1] + (1 - g) * hidden[2], atol=1e-6)
    assert DLFA(16, 4, -2).layer == 2
    with pytest.raises(ProjectionError, match="fusion layer 4 must be a lower layer"):
        DLFA(16, 4, 4)  # the last layer itself is not a lower layer


def test_cpu_threads_option_and_default():
    import os

    from projection.train.base import cpu_threads

    assert cpu_threads(TrainConfig(threads=3)) == 3
    n = cpu_threads(TrainConfig())
    assert 1 <= n <= min(8, len(os.sched_getaffinity(0)))


def test_scores_are_fractions_with_one_formatter():
    from projection.scores import Scores, pct, pct_mean_sd, seqeval_scores

    s = seqeval_scores([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "O"]])
    assert (s.precision, s.recall, s.f1, s.support) == (1.0, 0.5, pytest.approx(2 / 3), 2)
    assert Scores.from_dict(s.to_dict()) == s
    assert pct(s.f1) == "66.7" and pct(None) == "" and pct(float("nan"), missing="–") == "–"
    assert pct(-0.012, sign=True) == "-1.2" and pct(0.012, sign=True) == "+1.2"
    assert pct_mean_sd(0.78, 0.007) == "78.0 ± 0.7" and pct_mean_sd(0.78, float("nan"), one=" (1 seed)") == "78.0 (1 seed)"
    with pytest.raises(ProjectionError, match="fractions in"):
        Scores.from_dict({**s.to_dict(), "f1": 66.7})


def test_span_errors_say_what_became_of_each_entity():
    from projection.scores import span_errors

    gold = [["B-PER", "I-PER", "O", "B-LOC", "O", "B-MISC", "I-MISC", "O", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG", "O", "B-MISC", "O", "B-LOC", "O"]]
    e = span_errors(gold, pred)
    assert e["gold"]["PER"] == {"support": 1, "exact": 1, "type": {}, "boundary": 0, "type_boundary": {}, "missed": 0}
    assert e["gold"]["LOC"]["type"] == {"ORG": 1} and e["gold"]["MISC"]["boundary"] == 1
    assert e["predicted"]["LOC"]["spurious"] == 1 and e["predicted"]["ORG"]["type"] == {"LOC": 1}
    # overlapping, other label and other words; missed; the closest of two overlapping predictions counts
    e = span_errors([["B-ORG", "I-ORG", "I-ORG", "O", "B-PER"]], [["B-LOC", "I-LOC", "B-ORG", "O", "O"]])
    assert e["gold"]["ORG"]["boundary"] == 1 and e["gold"]["PER"]["missed"] == 1
    assert e["predicted"]["LOC"]["type_boundary"] == {"ORG": 1} and e["predicted"]["ORG"]["boundary"] == 1
    with pytest.raises(ProjectionError, match="sentence 0: 2 gold tags but 1 predicted"):
        span_errors([["O", "O"]], [["O"]])


def test_span_errors_exact_counts_are_seqevals_true_positives():
    """On random taggings: found = recall x support and correct = precision x predicted, per label, and every
    entity of either side is counted once."""
    import random

    from projection.scores import seqeval_scores, span_errors
    from projection.tags import to_iob2

    rng = random.Random(7)
    tags = ["O", "O", "O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    gold = [to_iob2([rng.choice(tags) for _ in range(rng.randint(1, 12))]) for _ in range(300)]
    pred = [to_iob2([t if rng.random() < 0.6 else rng.choice(tags) for t in g]) for g in gold]
    e, s = span_errors(gold, pred), seqeval_scores(gold, pred)
    for label, sc in s.per_label.items():
        g = e["gold"][label]
        assert g["support"] == sc.support and g["exact"] == round(sc.recall * sc.support)
        assert g["support"] == g["exact"] + sum(g["type"].values()) + g["boundary"] + sum(g["type_boundary"].values()) + g["missed"]
        p = e["predicted"][label]
        assert p["exact"] == g["exact"] and (p["count"] == 0 or p["exact"] == round(sc.precision * p["count"]))
        assert p["count"] == p["exact"] + sum(p["type"].values()) + p["boundary"] + sum(p["type_boundary"].values()) + p["spurious"]


def test_kept_predictions_read_back_by_the_conll_reader(tmp_path):
    """predictions.conll (token, gold, predicted) reads back through corpus.read_conll by column, as
    compare.add_errors reads it; a malformed line names the file and line."""
    from projection.corpus import read_conll
    from projection.errors import InputError

    f = tmp_path / "predictions.conll"
    f.write_text("Ana\tB-PER\tB-PER\nva\tO\tO\n\n\nRoma\tB-LOC\tO\n", encoding="utf-8")
    gold, pred = ([s.tags for s in read_conll(f, tag_col=col)] for col in (1, 2))
    assert (gold, pred) == ([["B-PER", "O"], ["B-LOC"]], [["B-PER", "O"], ["O"]])
    f.write_text("Ana\tB-PER\tB-PER\nva O\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"predictions.conll:2: expected 3 columns \(as on line 1\), found 2"):
        read_conll(f, tag_col=1)