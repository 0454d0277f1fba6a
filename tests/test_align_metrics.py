"""AER / precision / recall on hand cases; gold readers (Pharaoh, JSONL) and pair files."""

from __future__ import annotations

import json

import pytest

from conftest import need_data
from projection.align.io import read_pairs, write_pharaoh
from projection.align.metrics import (GoldAlignment, evaluate_files, read_gold, read_jsonl_gold, read_pharaoh,
                                      read_pharaoh_gold, score_alignments)
from projection.errors import InputError, ProjectionError
from projection.records import Alignment


def test_hand_case_with_sure_and_possible():
    # A = {0-0, 1-1, 2-2}; S = {0-0, 1-2}; P = S + {1-1}
    pred = [Alignment.of([(0, 0), (1, 1), (2, 2)])]
    gold = [GoldAlignment.of(sure=[(0, 0), (1, 2)], possible=[(1, 1)])]
    s = score_alignments(pred, gold)
    assert s.precision == pytest.approx(2 / 3)  # |A&P| / |A|
    assert s.recall == pytest.approx(1 / 2)  # |A&S| / |S|
    assert s.aer == pytest.approx(1 - (1 + 2) / (3 + 2))
    assert (s.predicted, s.sure, s.possible, s.hits_sure, s.hits_possible) == (3, 2, 3, 1, 2)


def test_corpus_level_micro_average_and_sure_only_gold():
    pred = [Alignment.of([(0, 0)]), Alignment.of([(0, 0), (1, 1), (2, 2)])]
    gold = [Alignment.of([(0, 0), (1, 1)]), Alignment.of([(0, 0), (2, 1)])]
    s = score_alignments(pred, gold)
    assert s.precision == pytest.approx(2 / 4) and s.recall == pytest.approx(2 / 4)
    assert s.aer == pytest.approx(1 - s.f1)  # no possible links: AER = 1 - F1
    perfect = score_alignments(gold, gold)
    assert perfect.aer == 0.0 and perfect.precision == perfect.recall == 1.0
    assert score_alignments([Alignment()], [Alignment()]).aer == 0.0
    assert score_alignments([Alignment()], [Alignment.of([(0, 0)])]).aer == 1.0
    with pytest.raises(ProjectionError, match="2 predicted"):
        score_alignments(pred, gold[:1])


def test_pharaoh_gold_reader(tmp_path):
    p = tmp_path / "gold.txt"
    p.write_text("0-0 1p2 2?3\n\n7\t3-1 0p0\n")
    g = read_pharaoh_gold(p)
    assert g[0] == GoldAlignment.of([(0, 0)], [(1, 2), (2, 3)])
    assert g[1] == GoldAlignment.of([])
    assert g[2] == GoldAlignment.of([(3, 1)], [(0, 0)])  # "id<TAB>links" (SimAlign's sample)
    one = tmp_path / "one.txt"
    one.write_text("1-1 2p3\n")
    assert read_pharaoh_gold(one, one_indexed=True)[0] == GoldAlignment.of([(0, 0)], [(1, 2)])
    assert read_gold(one, one_indexed=True) == read_pharaoh_gold(one, one_indexed=True)
    assert read_pharaoh(p)[0] == Alignment.of([(0, 0), (1, 2), (2, 3)])
    bad = tmp_path / "bad.txt"
    bad.write_text("0-0\n1-x\n")
    with pytest.raises(InputError, match=r"bad.txt:2: bad link '1-x'"):
        read_pharaoh_gold(bad)
    zero = tmp_path / "zero.txt"
    zero.write_text("0-1\n")
    with pytest.raises(InputError, match=r"zero.txt:1: .*negative"):
        read_pharaoh_gold(zero, one_indexed=True)


def test_jsonl_gold_reader(tmp_path):
    p = tmp_path / "g.jsonl"
    rows = [{"src_words": ["the", "house"], "tgt_words": ["la", "casa"], "alignment": [[0, 0], [1, 1]]},
            {"src_words": ["yes"], "tgt_words": ["sí", "."], "alignment": [[0, 0]], "possible": [[0, 1]]}]
    p.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n")
    pairs = read_jsonl_gold(p)
    assert pairs[0].src_words == ["the", "house"] and pairs[0].gold == GoldAlignment.of([(0, 0), (1, 1)])
    assert pairs[1].gold == GoldAlignment.of([(0, 0)], [(0, 1)])
    assert read_gold(p) == [x.gold for x in pairs]
    assert read_pairs(p) == [(["the", "house"], ["la", "casa"]), (["yes"], ["sí", "."])]
    for bad_row, msg in (({"src_words": ["a"], "tgt_words": ["b"], "alignment": [[0, 1]]}, "out of range"),
                         ({"src_words": ["a"], "alignment": []}, "missing key 'tgt_words'"),
                         ({"src_words": ["a"], "tgt_words": ["b"], "alignment": [["0", 0]]}, "bad link")):
        bad = tmp_path / "bad.jsonl"
        bad.write_text(json.dumps(rows[0]) + "\n" + json.dumps(bad_row) + "\n")
        with pytest.raises(InputError, match=f"bad.jsonl:2: .*{msg}"):
            read_jsonl_gold(bad)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"src_words": ["a"],\n')
    with pytest.raises(InputError, match="broken.jsonl:1: invalid JSON"):
        read_pairs(broken)


def test_pair_files_and_evaluate_files(tmp_path):
    p = tmp_path / "pairs.txt"
    p.write_text("The House ||| La Casa\nyes |||\n")
    assert read_pairs(p) == [(["The", "House"], ["La", "Casa"]), (["yes"], [])]
    assert read_pairs(p, lowercase=True)[0] == (["the", "house"], ["la", "casa"])
    bad = tmp_path / "bad.txt"
    bad.write_text("a ||| b\nno separator\n")
    with pytest.raises(InputError, match=r"bad.txt:2: expected 'source words \|\|\| target words'"):
        read_pairs(bad)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("a ||| b\nca\xf1a ||| x\n".encode("latin-1"))
    with pytest.raises(InputError, match="latin.txt:2: not valid utf-8"):
        read_pairs(latin)
    pred, gold = tmp_path / "pred.align", tmp_path / "gold.align"
    write_pharaoh([Alignment.of([(0, 0), (1, 1)]), Alignment()], pred)
    assert pred.read_text() == "0-0 1-1\n\n"
    gold.write_text("0-0 1p1\n0-0\n")
    s = evaluate_files(pred, gold)
    assert (s.precision, s.recall) == (1.0, 0.5)
    gold.write_text("0-0\n")
    with pytest.raises(ProjectionError, match="2 alignments but .* 1 gold"):
        evaluate_files(pred, gold)


def test_inesc_gold_is_readable():
    need_data("alignment-gold/inesc-golden-enes-binaryalign/es_golden.train.jsonl")
    from conftest import data_dir

    folder = data_dir() / "alignment-gold" / "inesc-golden-enes-binaryalign"
    pairs = read_jsonl_gold(folder / "es_golden.train.jsonl") + read_jsonl_gold(folder / "es_golden.valid.jsonl")
    assert len(pairs) == 100
    assert sum(len(p.gold.sure) for p in pairs) == 835  # 757 + 78, all read as sure
    assert all(w == w.lower() for p in pairs for w in p.src_words + p.tgt_words)
