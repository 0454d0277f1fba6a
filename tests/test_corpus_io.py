import json
import subprocess
import sys

import pytest

from projection import InputError, ProjectionError, Sentence, Span, read_conll, read_corpus, write_corpus
from projection.corpus import corpus_stats, to_hf_dataset

CLI = [sys.executable, "-m", "projection"]


def write(tmp_path, name, content: bytes | str):
    p = tmp_path / name
    p.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return p


def test_conll_columns_docstart_and_iob1(tmp_path):
    p = write(tmp_path, "a.conll", "-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\nGerman JJ I-NP I-MISC\n\nPeter NNP I-NP I-PER\nBlackburn NNP I-NP I-PER\n")
    sents = read_conll(p)
    assert [s.tokens for s in sents] == [["EU", "rejects", "German"], ["Peter", "Blackburn"]]
    assert sents[0].tags == ["B-ORG", "O", "B-MISC"]
    assert sents[1].spans == [Span(0, 2, "PER")]
    assert sents[0].meta == {"line": 3, "doc": 1}


def test_choose_columns(tmp_path):
    p = write(tmp_path, "a.conll", "x B-PER Anna\ny O said\n")
    s = read_conll(p, token_col=2, tag_col=1)[0]
    assert s.tokens == ["Anna", "said"] and s.tags == ["B-PER", "O"]


def test_bom_crlf_and_missing_final_newline_are_accepted(tmp_path):
    p = write(tmp_path, "a.tsv", b"\xef\xbb\xbfAnna\tB-PER\r\nsaid\tO\r\n\r\nBob\tB-PER")
    sents = read_conll(p)
    assert [s.tokens for s in sents] == [["Anna", "said"], ["Bob"]]


@pytest.mark.parametrize(
    "content,line,needle",
    [
        ("Anna B-PER\nsaid O\nhello there O\n", 3, "expected 2 columns"),
        ("Anna B-PER\n\tO\n", 2, "empty token"),
        ("Anna B-PER\nsaid X-FOO\n", 2, "not O, B-LABEL or I-LABEL"),
        ("Anna B-PER\nsaid B-DATE\n", 2, "not in the declared label set"),
        ("", 1, "empty file"),
        ("\n\n-DOCSTART- O\n", 1, "empty file"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path, content, line, needle):
    p = write(tmp_path, "bad.conll", content)
    with pytest.raises(InputError) as e:
        read_conll(p, labels=["PER", "ORG", "LOC", "MISC"])
    assert str(e.value).startswith(f"{p}:{line}: ")
    assert needle in str(e.value)


def test_latin1_hint(tmp_path):
    p = write(tmp_path, "esp.train", "Madrid B-LOC\n".encode() + "Espa\xf1a B-LOC\n".encode("latin-1"))
    with pytest.raises(InputError) as e:
        read_conll(p)
    assert f"{p}:2:" in str(e.value) and "--encoding latin-1" in str(e.value)
    assert read_conll(p, encoding="latin-1")[0].tokens == ["Madrid", "España"]


@pytest.mark.parametrize("ext", ["conll", "jsonl", "parquet"])
def test_roundtrip_formats(tmp_path, sample_path, ext):
    sents = read_conll(sample_path)
    out = tmp_path / f"s.{ext}"
    write_corpus(sents, out)
    back = read_corpus(out)
    assert [(s.tokens, s.tags) for s in back] == [(s.tokens, s.tags) for s in sents]
    if ext != "conll":
        assert [s.id for s in back] == [s.id for s in sents]


def test_iob1_writer(tmp_path):
    s = Sentence.from_spans("0", ["a", "b", "c"], [Span(0, 1, "LOC"), Span(1, 3, "LOC")])
    write_corpus([s], tmp_path / "x.conll", scheme="iob1")
    assert (tmp_path / "x.conll").read_text().split() == ["a", "I-LOC", "b", "B-LOC", "c", "I-LOC"]


def test_jsonl_errors(tmp_path):
    p = write(tmp_path, "x.jsonl", '{"tokens": ["a"], "tags": ["O"]}\n{"tokens": ["a", "b"], "tags": ["O"]}\n')
    with pytest.raises(InputError, match=r"x.jsonl:2: .*2 tokens but 1 tags"):
        read_corpus(p)
    p = write(tmp_path, "y.jsonl", '{"tokens": ["a"], "tags": ["O"]}\n{oops\n')
    with pytest.raises(InputError, match=r"y.jsonl:2: invalid JSON"):
        read_corpus(p)


def test_hf_dataset(sample_path):
    sents = read_conll(sample_path)
    ds = to_hf_dataset(sents)
    names = ds.features["ner_tags"].feature.names
    assert names[0] == "O" and len(ds) == len(sents)
    assert [names[i] for i in ds[0]["ner_tags"]] == sents[0].tags


def test_sample_is_rich_enough(sample_path):
    st = corpus_stats(read_conll(sample_path, labels=["PER", "ORG", "LOC", "MISC"]))
    assert 180 <= st["sentences"] <= 250
    assert set(st["per_label"]) == {"PER", "ORG", "LOC", "MISC"}
    assert min(st["per_label"].values()) >= 30


def test_cli_stats_json_and_bad_file(tmp_path, sample_path):
    out = subprocess.run(CLI + ["stats", "sample:train", "--json"], capture_output=True, text=True, check=True)
    st = json.loads(out.stdout)
    assert set(st) == {"sentences", "tokens", "entities", "per_label"} and st["sentences"] >= 180
    bad = write(tmp_path, "bad.conll", "Anna B-PER\nsaid O\nthe x O\n")
    r = subprocess.run(CLI + ["stats", str(bad)], capture_output=True, text=True)
    assert r.returncode == 2
    assert f"{bad}:3:" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_cli_convert(tmp_path):
    out = tmp_path / "s.parquet"
    subprocess.run(CLI + ["convert", "sample:train", str(out)], check=True, capture_output=True)
    assert len(read_corpus(out)) >= 180


def test_missing_corpus_message(tmp_path, monkeypatch):
    from projection import load_corpus

    monkeypatch.setenv("PROJECTION_DATA", str(tmp_path))
    with pytest.raises(ProjectionError, match=r"conll2003-en:train not found: looked for .*eng.train.*PROJECTION_DATA"):
        load_corpus("conll2003-en:train")
    with pytest.raises(ProjectionError, match="unknown corpus"):
        load_corpus("conll2003-xx:train")


def test_atomic_writes_get_normal_permissions(tmp_path):
    import os

    from projection.store import atomic_write_text

    atomic_write_text(tmp_path / "x.txt", "hi\n")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "x.txt").stat().st_mode & 0o777 == 0o666 & ~mask
