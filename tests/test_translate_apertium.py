"""The Apertium engine (skipped where the Debian apertium packages are not installed; CI installs them)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from projection.errors import ProjectionError
from projection.records import Span
from projection.translate import back_translate, make_translator, mark, parse_marked, translators


def _modes() -> str:
    if shutil.which("apertium") is None:
        return ""
    return subprocess.run(["apertium", "-l"], capture_output=True, text=True).stdout


pytestmark = [
    pytest.mark.apertium,
    pytest.mark.skipif("eng-spa" not in _modes().split(),
                       reason="needs Apertium with the eng-spa mode: apt-get install apertium apertium-eng-spa"),
]


def test_translates_and_keeps_sentences_apart():
    eng = translators.create("apertium", src_lang="en", tgt_lang="es")
    out = eng.translate(["The dog barks.", "big", "dog barks", "Peter Blackburn", "BRUSSELS 1996-08-22"])
    assert out[0] == "Los ladridos de perro."
    # plain `apertium eng-spa` moves "dog" across the line break ("perro" / "grande ladridos"); not here
    assert out[1].lower() == "grande" and "perro" in out[2].lower()
    assert out[3] == "Peter Blackburn" and out[4] == "BRUSELAS 1996-08-22"


def test_one_output_line_per_input_with_tricky_input():
    eng = translators.create("apertium", src_lang="en", tgt_lang="es")
    tricky = ["", "   ", "...", "!!", "-", "a [b] c ^x$ @y / <b> \\ {c} #e", "nul\x00char", "line\nbreak",
              "The European Commission said on Thursday it disagreed with German advice . " * 200, "", "house"]
    out = eng.translate(tricky)
    assert len(out) == len(tricky)
    assert out[0] == out[1] == out[9] == ""
    assert out[2] == "..." and out[3] == "!!" and out[4] == "-"
    assert out[5] == "Un [b] c ^x$ @y / <b> \\ {c} #e"  # Apertium's reserved characters survive
    assert all("\n" not in o for o in out)
    assert out[8].count("Comisión") == 200
    assert out[10].lower() == "casa"


def test_unknown_word_marks_removed():
    eng = translators.create("apertium", src_lang="en", tgt_lang="es")
    out = eng.translate(["Blorfington visited Madrid."])[0]
    assert out.startswith("Blorfington ") and "*" not in out and "Madrid" in out
    marked = translators.create("apertium", src_lang="en", tgt_lang="es", mark_unknown=True)
    assert marked.translate(["Blorfington visited Madrid."])[0].startswith("*Blorfington ")


def test_modes_from_language_codes_and_clear_errors():
    assert translators.create("apertium", src_lang="eng", tgt_lang="spa_Latn").mode == "eng-spa"
    for src, tgt, mode in (("en", "ca", "eng-cat"), ("en", "gl", "en-gl"), ("en", "eo", "en-eo"), ("es", "en", "spa-eng")):
        if mode in _modes().split():
            assert translators.create("apertium", src_lang=src, tgt_lang=tgt).mode == mode
    with pytest.raises(ProjectionError, match="no Apertium mode for en->de"):
        translators.create("apertium", src_lang="en", tgt_lang="de")
    with pytest.raises(ProjectionError, match="apertium-en-es"):
        translators.create("apertium", src_lang="en", tgt_lang="es", model="en-es")


def test_markers_travel_with_their_words():
    eng = translators.create("apertium", src_lang="en", tgt_lang="es", markers=True)
    toks = "The big United Nations Security Council met the German lamb .".split()
    src = mark(toks, [Span(2, 6, "ORG"), Span(8, 9, "MISC")], "html")
    out = eng.translate([src])[0]
    res = parse_marked(out, "html", "es", ["ORG", "MISC"])
    words = [" ".join(res.tokens[s.start : s.end]) for s in res.spans]
    assert words == ["Consejo de Seguridad de las Naciones Unidas", "alemán"]
    assert (res.lost, res.broken) == (0, 0)
    # a multi-word entity that comes back in pieces is merged
    out = eng.translate([mark(["Peter", "Blackburn", "said"], [Span(0, 2, "PER")], "html")])[0]
    assert out.count("<span") == 2
    res = parse_marked(out, "html", "es", ["PER"])
    assert res.spans == [Span(0, 2, "PER")] and res.merged == 1


def test_back_translation_with_the_reverse_mode(tmp_path):
    out = back_translate("apertium", ["Los ladridos de perro.", "la casa"], "en", "es", cache_dir=tmp_path)
    assert out == ["The barks of dog.", "The house"]  # spa-eng


def test_cached_apertium(tmp_path):
    t = make_translator("apertium", "en", "es", cache_dir=tmp_path)
    t.translate(["house", "dog"])
    t2 = make_translator("apertium", "en", "es", cache_dir=tmp_path)
    assert t2.translate(["dog", "house"]) == ["Perro", "Casa"] and t2.last_stats["cached"] == 2
    # marked and plain translations are different engines for the cache
    t3 = make_translator("apertium", "en", "es", cache_dir=tmp_path, markers=True)
    t3.translate(["dog"])
    assert t3.last_stats["cached"] == 0
