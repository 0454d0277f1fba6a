"""The nllb (CTranslate2) and hf (transformers) engines on a tiny random NLLB model built on the fly."""

from __future__ import annotations

from pathlib import Path

import pytest

from projection.errors import ProjectionError
from projection.translate import translators
from tests.tiny_nllb import shared_tiny_nllb

TEXTS = [
    "EU rejects German call to boycott British lamb.",
    "Peter Blackburn",
    "BRUSSELS 1996-08-22",
    "The European Commission said on Thursday it disagreed with German advice.",
    "el la de del en y que un una por con para es al se su",
    "Deutschland Regierung Stadt Mannschaft",
    "!",
    "3-1",
]


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    return shared_tiny_nllb(tmp_path_factory)


@pytest.fixture(scope="module")
def reference(tiny):
    return _reference_generate(tiny[0], TEXTS, 24)


def _nllb(tiny, **kw):
    hf, ct2 = tiny
    opts = dict(src_lang="en", tgt_lang="es", model=ct2, tokenizer=hf, compute_type="float32", beam_size=1, max_length=24)
    opts.update(kw)
    return translators.create("nllb", **opts)


def _reference_generate(hf: str, texts: list[str], max_length: int, tgt: str = "spa_Latn") -> list[list[str]]:
    """transformers greedy generate, one sentence at a time (no padding), as token strings."""
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(hf, src_lang="eng_Latn")
    model = AutoModelForSeq2SeqLM.from_pretrained(hf).eval()
    out = []
    for text in texts:
        enc = tok([text], return_tensors="pt")
        with torch.inference_mode():
            ids = model.generate(**enc, forced_bos_token_id=tok.convert_tokens_to_ids(tgt), num_beams=1, do_sample=False,
                                 max_new_tokens=max_length + 1)[0].tolist()
        assert ids[0] == model.config.decoder_start_token_id and ids[1] == tok.convert_tokens_to_ids(tgt)
        ids = ids[2:]
        if tok.eos_token_id in ids:
            ids = ids[: ids.index(tok.eos_token_id)]
        out.append(tok.convert_ids_to_tokens(ids))
    return out


def test_nllb_engine_equals_transformers_greedy_generate_token_for_token(tiny, reference):
    hf, _ = tiny
    eng = _nllb(tiny)
    got = eng.translate_tokens(TEXTS)
    ref = reference
    assert got == ref
    assert any(len(t) > 3 for t in got)  # the model generates something, not just end tokens
    assert not any(t and t[0] == "spa_Latn" for t in got)  # target-language prefix stripped
    # and the decoded strings agree with the tokenizer's decoding of the same tokens
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(hf)
    expected = [tok.decode(tok.convert_tokens_to_ids(t), skip_special_tokens=True).strip() for t in ref]
    assert eng.translate(TEXTS) == [" ".join(e.split()) for e in expected]


def test_hf_engine_on_the_same_model(tiny, reference):
    hf, _ = tiny
    eng = translators.create("hf", src_lang="en", tgt_lang="es", model=hf, beam_size=1, max_length=24)
    ids = eng.translate_ids(TEXTS)  # batched with padding
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(hf)
    assert [tok.convert_ids_to_tokens(r) for r in ids] == reference
    assert eng.translate(TEXTS) == _nllb(tiny).translate(TEXTS)
    sig = eng.signature()
    assert sig["engine"] == "hf" and sig["beam_size"] == 1 and "torch" in sig["versions"]


def test_nllb_converts_a_transformers_checkpoint_once(tiny, tmp_path, monkeypatch):
    hf, ct2 = tiny
    monkeypatch.setenv("PROJECTION_CACHE", str(tmp_path))
    eng = _nllb(tiny, model=hf)
    assert eng.translate(TEXTS[:3]) == _nllb(tiny).translate(TEXTS[:3])
    converted = list((tmp_path / "ct2").iterdir())
    assert len(converted) == 1 and (converted[0] / "model.bin").exists()
    _nllb(tiny, model=hf).translate(TEXTS[:1])
    assert list((tmp_path / "ct2").iterdir()) == converted  # reused, not converted again


def test_one_output_line_per_input_with_tricky_input(tiny):
    eng = _nllb(tiny, max_input_length=64, batch_tokens=64)
    tricky = ["", "   ", "...", "!!", "-", "line\nbreak inside", "tab\tand\u00a0nbsp", "Peter " * 2000, "", "x"]
    out = eng.translate(tricky)
    assert len(out) == len(tricky)
    assert out[0] == out[1] == out[8] == ""
    assert all("\n" not in o and "\r" not in o for o in out)
    assert out[5] == eng.translate(["line break inside"])[0]  # a newline in an input is just a space


def test_beam_search_and_batching_do_not_change_the_number_of_outputs(tiny):
    eng = _nllb(tiny, beam_size=3, max_length=8, batch_tokens=16)
    out = eng.translate(TEXTS * 3)
    assert len(out) == 3 * len(TEXTS)
    assert out[: len(TEXTS)] == out[len(TEXTS) : 2 * len(TEXTS)]


def test_signature_and_languages(tiny):
    eng = _nllb(tiny, tgt_lang="deu")
    sig = eng.signature()
    assert sig["src"] == "eng_Latn" and sig["tgt"] == "deu_Latn"
    assert sig["compute_type"] == "float32" and sig["device"] == "cpu"
    assert sig["model"] == "tiny-nllb-ct2" and len(sig["model_fingerprint"]) == 16
    assert "ctranslate2" in sig["versions"]
    assert _nllb(tiny, beam_size=2).signature() != _nllb(tiny).signature()
    assert translators.create("nllb", src_lang="en", tgt_lang="es", device="cpu").compute_type == "int8"
    with pytest.raises(ProjectionError, match="unknown language"):
        _nllb(tiny, tgt_lang="klingon")


def test_missing_model_is_a_clear_error(tmp_path):
    eng = translators.create("nllb", src_lang="en", tgt_lang="es", model=str(tmp_path / "nope"),
                             tokenizer=str(tmp_path / "nope"))
    with pytest.raises(ProjectionError, match="nope"):
        eng.translate(["hello"])
