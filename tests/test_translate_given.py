"""The given engine: translations read from a file, checked one to one."""

from __future__ import annotations

import pytest

from projection.errors import ProjectionError
from projection.translate import make_translator, translators
from tests.conftest import data_dir, need_data


def test_lines_file(tmp_path):
    f = tmp_path / "es.txt"
    f.write_bytes("\ufeffLa UE rechaza\r\n\r\nPeter  Blackburn\n".encode("utf-8"))
    eng = translators.create("given", src_lang="en", tgt_lang="es", path=str(f))
    assert eng.translate(["EU rejects", "", "Peter Blackburn"]) == ["La UE rechaza", "", "Peter Blackburn"]
    assert eng.signature()["engine"] == "given" and len(eng.signature()["sha256"]) == 16


def test_length_mismatch_names_the_file(tmp_path):
    f = tmp_path / "es.txt"
    f.write_text("uno\ndos\n", encoding="utf-8")
    eng = translators.create("given", src_lang="en", tgt_lang="es", path=str(f), match="position")
    with pytest.raises(ProjectionError, match=r"es\.txt: 2 translated lines for 3 input sentences"):
        eng.translate(["one", "two", "three"])
    with pytest.raises(ProjectionError, match="no such file"):
        translators.create("given", path=str(tmp_path / "missing.txt")).translate(["a"])
    with pytest.raises(ProjectionError, match="path="):
        translators.create("given")


CONLL = """-DOCSTART- O

La O
UE B-ORG
rechaza O

Peter B-PER
Blackburn I-PER

-OCSTART- O

BRUSELAS B-LOC
1996-08-22 O
"""

SOURCE = """-DOCSTART- O

EU B-ORG
rejects O

Peter B-PER
Blackburn I-PER

-DOCSTART- O

BRUSSELS B-LOC
1996-08-22 O
"""


def test_conll_file_in_block_order_with_docstart_handling(tmp_path):
    f = tmp_path / "deepl.tsv"
    f.write_text(CONLL, encoding="utf-8")
    eng = translators.create("given", src_lang="en", tgt_lang="es", path=str(f))
    out = eng.translate(["EU rejects", "Peter Blackburn", "BRUSSELS 1996-08-22"])
    assert out == ["La UE rechaza", "Peter Blackburn", "BRUSELAS 1996-08-22"]
    assert eng.tokens == [["La", "UE", "rechaza"], ["Peter", "Blackburn"], ["BRUSELAS", "1996-08-22"]]
    # a -DOCSTART- translated into something unrecognisable: match blocks against the source file
    g = tmp_path / "damaged.txt"
    g.write_text(CONLL.replace("-OCSTART-", "-"), encoding="utf-8")
    damaged = translators.create("given", src_lang="en", tgt_lang="es", path=str(g), format="conll", match="position")
    with pytest.raises(ProjectionError, match="4 translated sentences.*source="):
        damaged.translate(["a", "b", "c"])
    src = tmp_path / "en.tsv"
    src.write_text(SOURCE, encoding="utf-8")
    fixed = translators.create("given", src_lang="en", tgt_lang="es", path=str(g), source=str(src))
    assert fixed.translate(["a", "b", "c"]) == out


def test_given_is_not_cached_but_works_through_the_wrapper(tmp_path):
    f = tmp_path / "es.txt"
    f.write_text("b\na\n", encoding="utf-8")
    t = make_translator("given", "en", "es", path=str(f), cache_dir=tmp_path / "c")
    assert t.translate(["x", "y"]) == ["b", "a"]  # positional: the whole list reaches the engine
    assert t.last_stats["cached"] == 0


@pytest.mark.data
def test_deepl_translations_of_conll2003_train():
    need_data("easy-label-projection-ner/automatic_projections/en2de/DeepL.50000.awesome.train.tsv")
    from projection.corpora import load_corpus

    src = load_corpus("conll2003-en:train")
    root = data_dir() / "easy-label-projection-ner"
    texts = [" ".join(s.tokens) for s in src]
    for lang in ("es", "de"):  # en2de has 36 "-OCSTART-" blocks
        path = root / f"automatic_projections/en2{lang}/DeepL.50000.awesome.train.tsv"
        out = translators.create("given", src_lang="en", tgt_lang=lang, path=str(path)).translate(texts)
        assert len(out) == 14041
    assert out[0] == "EU weist deutschen Aufruf zum Boykott von britischem Lammfleisch zurück ."
    nl = root / "automatic_projections/en2nl/DeepL.50000.awesome.train.tsv"
    with pytest.raises(ProjectionError, match="14042"):
        translators.create("given", src_lang="en", tgt_lang="nl", path=str(nl), match="position").translate(texts)
    fixed = translators.create("given", src_lang="en", tgt_lang="nl", path=str(nl),
                               source=str(root / "original/en/en.conll.train.tsv"))
    by_blocks = fixed.translate(texts)
    assert len(by_blocks) == 14041
    # sentence matching finds the same pairing without the source file: the damaged block is left over
    matched = translators.create("given", src_lang="en", tgt_lang="nl", path=str(nl))
    assert matched.translate(texts) == by_blocks
    assert matched.untranslated == [] and matched.match_info["skipped_target"] == 1


def _numbered(n: int) -> list[str]:
    names = ["Fischler", "Bonn", "Clinton", "Moscow", "Arafat", "Lebed", "Reuters", "Paris"]
    return [f"{names[i % 8]} said {i} things to {names[(i * 3 + 1) % 8]} on day {i * 7 % 31} ." for i in range(n)]


def test_lines_file_with_missing_and_merged_translations(tmp_path):
    src = _numbered(60)
    tgt = [t.replace("said", "dijo").replace("things to", "cosas a").replace("on day", "el día") for t in src]
    damaged = tgt[:10] + tgt[11:30] + [tgt[30] + " " + tgt[31]] + tgt[32:]  # 10 missing, 30 + 31 merged
    f = tmp_path / "es.txt"
    f.write_text("\n".join(damaged) + "\n", encoding="utf-8")
    eng = make_translator("given", "en", "es", path=str(f))
    out = eng.translate(src)
    assert len(out) == 60
    assert eng.untranslated == [10, 30, 31] and out[10] == out[30] == out[31] == ""
    assert out[9] == tgt[9] and out[11] == tgt[11] and out[59] == tgt[59]
    info = eng.match_info
    assert info["matched"] == 57 and info["merges_2_1"] == 1 and info["unmatched_source_ids"] == [10, 30, 31]
    assert eng.tokens is None  # a lines file is tokenised by the pipeline
    assert eng.signature()["match"] == "auto" and len(eng.signature()["matcher"]) == 16
    # a file that does not translate this source is refused
    g = tmp_path / "other.txt"
    g.write_text("\n".join("nada que ver " * (k % 4 + 1) + "?" for k in range(55)) + "\n", encoding="utf-8")
    with pytest.raises(ProjectionError, match=r"other\.txt: 55 sentences for 60 source sentences.*too poor"):
        translators.create("given", src_lang="en", tgt_lang="es", path=str(g)).translate(src)
    with pytest.raises(ProjectionError, match="match must be"):
        translators.create("given", path=str(f), match="fuzzy")


def test_conll_file_keeps_its_tokens_when_matched(tmp_path):
    src = _numbered(40)
    blocks = [t.split() for t in src]
    del blocks[5]
    f = tmp_path / "es.conll"
    f.write_text("".join("".join(f"{w} O\n" for w in b) + "\n" for b in blocks), encoding="utf-8")
    eng = translators.create("given", src_lang="en", tgt_lang="es", path=str(f), match="sentences")
    out = eng.translate(src)
    assert eng.untranslated == [5] and eng.tokens[5] == [] and eng.tokens[6] == src[6].split()
    assert out[6] == src[6]


def test_conll_tokens_cut_at_hyphens_when_asked(tmp_path):
    """``hyphens = "split"``: the test set's tokenisation (MasakhaNER: ``e - Afrika``), counted; ``keep`` by default."""
    f = tmp_path / "zul.conll"
    f.write_text("I-HOUSTON O\nvs O\ne-Afrika O\n- O\n1996-08-22 O\n\nnoma O\n-- O\nkanjalo O\n", encoding="utf-8")
    split = translators.create("given", src_lang="en", tgt_lang="zu", path=str(f), hyphens="split")
    assert split.translate(["HOUSTON vs Africa - 1996-08-22", "or so"]) == [
        "I - HOUSTON vs e - Afrika - 1996 - 08 - 22", "noma -- kanjalo"]
    assert split.tokens[0] == ["I", "-", "HOUSTON", "vs", "e", "-", "Afrika", "-", "1996", "-", "08", "-", "22"]
    assert split.last_stats["hyphens_split"] == 3 and split.signature()["hyphens"] == "split"
    kept = translators.create("given", src_lang="en", tgt_lang="zu", path=str(f))
    assert kept.translate(["a", "b"])[0] == "I-HOUSTON vs e-Afrika - 1996-08-22"
    assert "hyphens" not in kept.signature()  # the default leaves the signature of committed runs as it was
    with pytest.raises(ProjectionError, match="hyphens must be one of keep, split"):
        translators.create("given", src_lang="en", tgt_lang="zu", path=str(f), hyphens="yes")
