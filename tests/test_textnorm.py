"""Unicode composition at the encoder's input (projection.textnorm): a word reads the same in NFC and NFD."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest
from transformers import AutoTokenizer

from projection.corpus import write_conll
from projection.records import Sentence
from projection.textnorm import compose_unicode, composes, not_composed

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
