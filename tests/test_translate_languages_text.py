"""Language codes, detokenisation and target tokenisation."""

from __future__ import annotations

import pytest

from projection.errors import ProjectionError
from projection.translate import detokenize, resolve_language, tokenize, tokenize_with_offsets
from projection.translate.languages import NLLB_LANGUAGES, nllb_code
from projection.translate.text import clean_text, tokenizer_language


def test_table_is_exactly_the_nllb200_vocabulary_list():
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    assert [code for code, _, _ in NLLB_LANGUAGES] == list(FAIRSEQ_LANGUAGE_CODES)
    assert len(NLLB_LANGUAGES) == 202
    iso1 = [i for _, _, i in NLLB_LANGUAGES if i]
    assert len(iso1) == len(set(iso1)), "an ISO 639-1 code maps to two NLLB codes"


@pytest.mark.parametrize("code,expected", [
    ("es", "spa_Latn"), ("spa", "spa_Latn"), ("spa_Latn", "spa_Latn"), ("es-ES", "spa_Latn"), ("SPA_LATN", "spa_Latn"),
    ("de", "deu_Latn"), ("ger", "deu_Latn"), ("nl", "nld_Latn"), ("zh", "zho_Hans"), ("zh-TW", "zho_Hant"),
    ("zh_Hant", "zho_Hant"), ("ar", "arb_Arab"), ("ara", "arb_Arab"), ("fa", "pes_Arab"), ("sw", "swh_Latn"),
    ("no", "nob_Latn"), ("ks", "kas_Arab"), ("kas_Deva", "kas_Deva"), ("pt-BR", "por_Latn"), ("Spanish", "spa_Latn"),
    ("eo", "epo_Latn"), ("gl", "glg_Latn"), ("ca", "cat_Latn"), ("yue", "yue_Hant"),
])
def test_resolve_language(code, expected):
    assert nllb_code(code) == expected


def test_every_nllb_code_resolves_to_itself():
    for code, _, iso1 in NLLB_LANGUAGES:
        assert nllb_code(code) == code
        if iso1:
            assert resolve_language(iso1).iso1 == iso1


def test_unknown_language_is_a_clear_error():
    with pytest.raises(ProjectionError, match="unknown language 'spanihs'.*spanish"):
        resolve_language("spanihs")


def test_detokenize_conll_tokens():
    toks = ["EU", "rejects", "German", "call", "to", '"', "boycott", '"', "British", "lamb", "."]
    assert detokenize(toks, "en") == 'EU rejects German call to "boycott" British lamb.'
    assert detokenize([], "en") == ""
    assert detokenize(["a", "&amp;", "b"], "en") == "a &amp; b"  # CoNLL text is not XML-escaped: kept


def test_tokenize_with_offsets_points_into_the_text():
    text = "La UE rechaza   la petición. ¿Qué?"
    words = tokenize_with_offsets(text, "es")
    assert [w for w, _, _ in words] == ["La", "UE", "rechaza", "la", "petición", ".", "¿", "Qué", "?"]
    assert all(text[s:e] == w for w, s, e in words)
    assert tokenize("", "es") == [] and tokenize("   ", "es") == []


def test_tokenizer_falls_back_to_multilingual():
    assert tokenizer_language("es") == "es"
    assert tokenizer_language("gl") == "xx"  # spaCy has no Galician rules
    assert tokenizer_language("ja") == "xx"  # Japanese rules need SudachiPy
    assert tokenize("Ola, mundo.", "gl") == ["Ola", ",", "mundo", "."]


def test_clean_text():
    assert clean_text(" a\tb\nc\u00a0 d ") == "a b c d"


def test_detokenize_rejoins_ptb_negations():
    toks = ['"', "We", "do", "n't", "support", "it", ",", '"', "he", "said", ";", "they", "ca", "n't", "."]
    assert detokenize(toks, "en") == '"We don\'t support it," he said; they can\'t.'
