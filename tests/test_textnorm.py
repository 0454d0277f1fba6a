"""Unicode at the encoder's input (projection.textnorm): a word reads the same in NFC and NFD, and words split
at their combining marks are put back together."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest
from transformers import AutoTokenizer

from projection.corpus import write_conll
from projection.records import Sentence
from projection.errors import ProjectionError
from projection.textnorm import (compose_unicode, composes, has_marks, is_detached_mark, mark_groups, not_composed,
                                 regroup, strip_marks, strips_marks)

WORDS = ["Málaga", "Köln", "está", "lókùn", "Ọ̀yọ́", "Peter"]


def nfd(words):
    return [unicodedata.normalize("NFD", w) for w in words]


def nfc(words):
    return [unicodedata.normalize("NFC", w) for w in words]


def ids(tok, words):
    return tok(list(words), add_special_tokens=False)["input_ids"]


def test_a_tokenizer_that_does_not_compose_gets_nfc_in_front(tiny_bert):
    tok = AutoTokenizer.from_pretrained(tiny_bert)  # BertNormalizer, cased: no composition
    assert not composes(tok)
    plain = ids(tok, nfc(WORDS))
    assert ids(tok, nfd(WORDS)) != plain  # without composition the decomposed words get other pieces
    compose_unicode(tok)
    assert composes(tok)
    assert ids(tok, nfd(WORDS)) == ids(tok, nfc(WORDS)) == plain  # NFC words keep the ids they had
    once = tok.backend_tokenizer.to_str()
    compose_unicode(tok)
    assert tok.backend_tokenizer.to_str() == once  # never stacked twice


def test_a_tokenizer_that_composes_is_left_exactly_as_it_was(tiny_xlmr):
    tok = AutoTokenizer.from_pretrained(tiny_xlmr)  # NFKC, like XLM-R's SentencePiece normaliser
    before = tok.backend_tokenizer.to_str()
    assert composes(tok)
    compose_unicode(tok)
    assert tok.backend_tokenizer.to_str() == before


def test_not_composed_lists_the_words_nfc_changes():
    assert not_composed(nfc(WORDS)) == []
    assert not_composed(nfd(WORDS)) == nfd(WORDS[:5])  # all but Peter
    assert not_composed(["Peter", "a"]) == []


def test_a_trained_tagger_reads_decomposed_words_as_composed(tiny_bert, tmp_path):
    from projection.train import TrainConfig, load_model, train_model

    train = [Sentence(f"s{k}", tuple(nfc(["Peter", "visitó", "Málaga", "y", "Köln", "."])),
                      ("B-PER", "O", "B-LOC", "O", "B-LOC", "O")) for k in range(8)]
    out = train_model(train, out=tmp_path / "m", model=tiny_bert,
                      config=TrainConfig(epochs=1, lr=3e-3, threads=1, max_length=32))
    tagger = load_model(out, backend="torch")
    sents = [nfc(WORDS), ["Ayer", *nfc(["Málaga", "está", "lókùn"])]]
    composed = tagger.predict_proba(sents)
    decomposed = tagger.predict_proba([nfd(s) for s in sents])
    assert all(np.array_equal(a, b) for a, b in zip(composed, decomposed))


def test_the_embed_aligner_links_decomposed_words_like_composed(tiny_bert):
    from projection.align import aligners

    src = ["Peter", "visited", "Malaga", "and", "Cologne", "."]
    tgt = ["Peter", "visitó", "Málaga", "y", "Köln", "."]
    al = aligners.create("embed", model=tiny_bert, layer=2, backend="torch")
    assert al.align([(src, nfd(tgt))]) == al.align([(src, nfc(tgt))])


def test_compare_redoes_only_the_evaluations_composition_changes(tiny_bert, tmp_path):
    from projection.train.compare import composed_words

    sents = [Sentence("a", tuple(nfc(WORDS)), ("B-LOC", "B-LOC", "O", "O", "B-LOC", "B-PER"))]
    write_conll(sents, tmp_path / "nfc.conll")
    write_conll([Sentence("a", tuple(nfd(WORDS)), sents[0].tags)], tmp_path / "nfd.conll")
    assert composed_words(tiny_bert, str(tmp_path / "nfc.conll")) == 0
    raw = AutoTokenizer.from_pretrained(tiny_bert)
    differ = sum(a != b for a, b in zip(ids(raw, nfd(WORDS)), ids(raw, nfc(WORDS))))
    assert differ >= 3  # lókùn and Ọ̀yọ́ are one [UNK] either way in the tiny vocabulary
    assert composed_words(tiny_bert, str(tmp_path / "nfd.conll")) == differ


@pytest.mark.parametrize("word", ["o\u0301", "\u1ecd\u0300"])
def test_composes_probe_needs_a_composing_normaliser(word):
    from tokenizers import Tokenizer, models, normalizers

    tok = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    assert not composes(tok)  # no normaliser
    tok.normalizer = normalizers.Lowercase()
    assert not composes(tok)
    compose_unicode(tok)
    assert tok.normalizer.normalize_str(word) == unicodedata.normalize("NFC", word)


# --- combining marks stripped (TrainConfig.strip_marks) -----------------------------------------

MARKED = ["Èkó", "Nàíjíríà", "Amẹ́ríkà", "Ọ̀yọ́", "málaga", "lókùn"]
BARE = ["Eko", "Naijiria", "Amerika", "Oyo", "malaga", "lokun"]


@pytest.mark.parametrize("name", ["tiny_bert", "tiny_xlmr"])
def test_strip_marks_gives_marked_and_bare_words_the_same_pieces(name, request):
    tok = AutoTokenizer.from_pretrained(request.getfixturevalue(name))
    bare = ids(tok, BARE)
    assert not strips_marks(tok) and ids(tok, MARKED) != bare
    strip_marks(compose_unicode(tok))
    assert strips_marks(tok) and composes(tok)
    assert ids(tok, MARKED) == ids(tok, nfd(MARKED)) == ids(tok, BARE) == bare  # bare words keep their ids
    once = tok.backend_tokenizer.to_str()
    strip_marks(tok)
    assert tok.backend_tokenizer.to_str() == once  # never stacked twice


def test_a_tagger_trained_with_strip_marks_tags_marked_words_as_bare_ones_and_keeps_the_words(tiny_bert, tmp_path):
    from projection.train import TrainConfig, load_model, train_model
    from projection.train.base import read_train_json

    train = [Sentence(f"s{k}", ("Peter", "visited", "Eko", "and", "Oyo", "."), ("B-PER", "O", "B-LOC", "O", "B-LOC", "O"))
             for k in range(8)]
    out = train_model(train, out=tmp_path / "m", model=tiny_bert,
                      config=TrainConfig(epochs=1, lr=3e-3, threads=1, max_length=32, strip_marks=True))
    assert read_train_json(out)["config"]["strip_marks"] is True
    tagger = load_model(out, backend="torch")  # the stored config strips again at load
    marked = [["Peter", "visited", "Èkó", "and", "Ọ̀yọ́", "."], nfd(["Amẹ́ríkà", "lókùn"])]
    bare = [["Peter", "visited", "Eko", "and", "Oyo", "."], ["Amerika", "lokun"]]
    assert all(np.array_equal(a, b) for a, b in zip(tagger.predict_proba(marked), tagger.predict_proba(bare)))
    plain = train_model(train, out=tmp_path / "p", model=tiny_bert,
                        config=TrainConfig(epochs=1, lr=3e-3, threads=1, max_length=32))
    unstripped = load_model(plain, backend="torch")
    assert not all(np.array_equal(a, b) for a, b in zip(unstripped.predict_proba(marked), unstripped.predict_proba(bare)))
    # no word of the training text has a mark: the plain model, given a stripping tokenizer, is the stripped one
    from projection.store import file_sha256
    from projection.train.transformer import strip_marks_copy

    assert not has_marks(w for s in train for w in s.tokens)
    copy = strip_marks_copy(plain, tmp_path / "c", "no marks")
    assert file_sha256(copy / "model.safetensors") == file_sha256(out / "model.safetensors") == file_sha256(
        plain / "model.safetensors")
    assert (copy / "encoder" / "tokenizer.json").read_bytes() == (out / "encoder" / "tokenizer.json").read_bytes()
    copied = load_model(copy, backend="torch")
    assert all(np.array_equal(a, b) for a, b in zip(copied.predict_proba(marked), tagger.predict_proba(marked)))
    meta = read_train_json(copy)
    assert meta["config"]["strip_marks"] is True and meta["copied_from"]["model"] == "p"
    assert read_train_json(plain)["config"]["strip_marks"] is False  # the source is left as it was
    with pytest.raises(ProjectionError, match="reads words without combining marks already"):
        strip_marks_copy(copy, tmp_path / "c2", "again")
    # as a teacher, the copy's labels of marked text are its own, not the plain weights' stored ones
    from projection.train.teacher import label_with_teacher

    first = label_with_teacher(plain, marked)
    second = label_with_teacher(copy, marked)
    assert not second.info["from_cache"] and second.info["key"] != first.info["key"]
    assert not all(np.array_equal(a, b) for a, b in zip(first.log_probs, second.log_probs))
    assert label_with_teacher(copy, marked).info["from_cache"]


def test_has_marks_finds_composed_and_decomposed_marks_only():
    assert not has_marks(["Eko", "Oyo", "Ω", "Straße", ""]) and not has_marks([])
    assert has_marks(["Eko", "Èkó"]) and has_marks(nfd(["lókùn"])) and has_marks(["Ọ"])
    assert all(has_marks([w]) == (strip(w) != unicodedata.normalize("NFC", w)) for w in WORDS + BARE)


def strip(word):
    return unicodedata.normalize("NFC", "".join(c for c in unicodedata.normalize("NFD", word)
                                                if not unicodedata.category(c).startswith("M")))


def test_strip_marks_is_refused_by_the_spacy_engine(tmp_path):
    from projection.train import TrainConfig, train_model

    train = [Sentence("s", ("Eko", "."), ("B-LOC", "O"))]
    with pytest.raises(ProjectionError, match="strip_marks applies to transformer encoders"):
        train_model(train, out=tmp_path / "s", arch="spacy", config=TrainConfig(epochs=1, strip_marks=True))


# --- words split at their combining marks ------------------------------------------------------

GRAVE, ACUTE = "\u0300", "\u0301"


def test_detached_marks_are_tokens_of_combining_marks_only():
    assert is_detached_mark(ACUTE) and is_detached_mark(GRAVE + ACUTE)
    assert not is_detached_mark("o" + ACUTE) and not is_detached_mark("") and not is_detached_mark(".")


def split_corpus():
    # "Amẹ́ríkà" split at its mark (the piece after it never stands alone) in two sentences, and
    # "kalẹ̀ lọ" whose "lọ" stands alone elsewhere: the mark belongs to kalẹ, lọ is a word
    return [["Ní", "Amẹ", ACUTE, "ríkà", "."], ["Amẹ", ACUTE, "ríkà", "kalẹ", GRAVE, "lọ"], ["lọ", "sí", "ilé", "lọ"],
            [ACUTE, "a"], ["kalẹ", GRAVE, "Yúróòpù"]]


def test_keep_changes_nothing_attach_glues_marks_rejoin_glues_continuations():
    sents = split_corpus()
    keep, counts = mark_groups(sents, "keep")
    assert [regroup(s, g) for s, g in zip(sents, keep)] == sents and counts["marks_attached"] == 0
    assert counts["detached_marks"] == 5
    attach, counts = mark_groups(sents, "attach")
    assert [regroup(s, g) for s, g in zip(sents, attach)][1] == ["Amẹ" + ACUTE, "ríkà", "kalẹ" + GRAVE, "lọ"]
    assert counts == {"detached_marks": 5, "marks_attached": 4, "words_rejoined": 0}  # the opening mark stays
    rejoin, counts = mark_groups(sents, "rejoin")
    out = [regroup(s, g) for s, g in zip(sents, rejoin)]
    assert out[0] == ["Ní", "Amẹ́ríkà", "."] and out[1] == ["Amẹ́ríkà", "kalẹ̀", "lọ"]
    assert out[3] == [ACUTE, "a"]  # nothing before it to glue to
    assert out[4] == ["kalẹ̀", "Yúróòpù"]  # a capital starts a word, however often it follows a mark
    assert counts["words_rejoined"] == 2
    for s, groups in zip(sents, rejoin):  # every token exactly once, in order
        assert [i for g in groups for i in g] == list(range(len(s)))
    with pytest.raises(ValueError, match="marks must be one of"):
        mark_groups(sents, "merge")


def test_the_given_engine_repairs_a_conll_translation_and_counts_it(tmp_path):
    from projection.translate.cache import cached
    from projection.translate.given import GivenTranslator

    sents = split_corpus()[:3]
    path = tmp_path / "yor.conll"
    path.write_text("\n\n".join("\n".join(f"{t} O" for t in s) for s in sents) + "\n", encoding="utf-8")
    engine = GivenTranslator(tgt_lang="yo", path=str(path))
    out = engine.translate(["In America .", "America went down", "go home"])
    assert out[0] == "Ní Amẹ́ríkà ." and engine.tokens[1] == ["Amẹ́ríkà", "kalẹ̀", "lọ"]
    assert engine.last_stats == {"detached_marks": 3, "marks_attached": 3, "words_rejoined": 2}
    wrapped = cached(GivenTranslator(tgt_lang="yo", path=str(path)), cache_dir=False, progress=False)
    wrapped.translate(["a", "b", "c"])
    assert wrapped.last_stats["words_rejoined"] == 2 and wrapped.last_stats["lines"] == 3  # the run's statistics
    kept = GivenTranslator(tgt_lang="yo", path=str(path), marks="keep")
    assert kept.translate(["a", "b", "c"])[1].split(" ") == sents[1] and kept.last_stats == {"detached_marks": 3}
    assert kept.signature()["marks"] == "keep" != engine.signature()["marks"]
    with pytest.raises(ProjectionError, match="given: marks must be one of"):
        GivenTranslator(tgt_lang="yo", path=str(path), marks="merge")
