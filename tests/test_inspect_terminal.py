"""The terminal view on a fixed-width console capture: summary numbers, filters, paging, errors."""

from __future__ import annotations

import json
import sys

import pytest
from rich.console import Console

from inspect_runs import make_run, many_sentences, sentences
from projection import inspect as pi
from projection.errors import InputError, ProjectionError
from projection.inspect.select import Filter, paginate
from projection.inspect.stats import status_totals
from projection.runstats import projection_stats
from conftest import run_cli


@pytest.fixture
def run_dir(tmp_path):
    return make_run(tmp_path)


def capture(run_dir, width=120, **kw):
    console = Console(record=True, width=width, color_system=None, file=open("/dev/null", "w"))
    page = pi.show(run_dir, console, **kw)
    return console.export_text(), page


def test_summary_numbers(run_dir):
    run = pi.load_run(run_dir)
    st = pi.summarize(run)
    # one key set for the counts: the manifest's (projection.runstats), not a second nested copy
    assert set(st) == {"run", "counts", "labels", "empty_target", "complete", "methods", "score_histogram", "length",
                       "warnings"}
    c = st["counts"]
    assert c == projection_stats(run.sentences)
    assert (c["sentences_in"], c["sentences_out"], c["dropped"]) == (8, 6, {"empty-translation": 1, "incomplete": 1})
    assert (st["empty_target"], st["complete"]) == (1, 4)
    assert (c["entities"], c["projected"], c["entities_in_output"]) == (15, 10, 9)
    assert status_totals(c) == {"projected": 10, "unaligned": 3, "conflict": 1, "below-threshold": 1, "removed": 0}
    assert list(st["labels"]) == ["PER", "ORG", "LOC", "MISC"]  # display order
    org = c["per_label"]["ORG"]
    assert org == {"entities": 6, "projected": 3, "unaligned": 1, "conflict": 1, "below-threshold": 1, "rate": 0.5}
    assert st["labels"]["ORG"]["in_kept_sentences"] == 2  # the projected ORG of the dropped s2 is not training data
    assert sum(st["score_histogram"]["counts"]) == 15
    assert st["score_histogram"]["counts"][0] == 3  # the three unaligned entities score 0
    assert st["length"]["pairs"] == 12
    assert st["warnings"] == []


def test_summary_printed(run_dir):
    text, _ = capture(run_dir, summary=True, sentences=False)
    lines = text.splitlines()
    org = next(l for l in lines if l.strip().startswith("ORG"))
    assert org.split() == ["ORG", "6", "3", "50.0%", "1", "1", "1", "2", "0.47"]
    total = next(l for l in lines if l.strip().startswith("all"))
    assert total.split() == ["all", "15", "10", "66.7%", "3", "1", "1", "9"]
    assert "incomplete" in text and "empty-translation" in text
    assert "es-test" in text and "en → es" in text
    assert "engines" in text and "align.engine=given" in text  # nested manifest entries flattened
    assert "[0.9, 1.0]" in text  # histogram rows


def test_side_by_side_sentences(run_dir):
    text, page = capture(run_dir, width=140, per_page=8, summary=False)
    assert page.total == 8 and page.pages == 1
    # entity numbering is shared by both sides; non-ASCII survives
    assert "Gómez PER¹" in text and "Real Madrid ORG²" in text and "Málaga LOC³" in text
    assert "Copa del Mundo MISC¹" in text and "北京 LOC²" in text
    assert "(empty translation)" in text
    assert "dropped: incomplete" in text and "dropped: empty-translation" in text
    for status in ("projected", "unaligned", "conflict", "below-threshold"):
        assert status in text
    assert "<b>Acme</b> & Sons ORG¹" in text  # markup-looking tokens printed as they are
    # source and target of the same sentence are on the same line
    line = next(l for l in text.splitlines() if "Barack Obama PER¹ visited" in l)
    assert "visitó París LOC²" in line
    assert "sentences 1–8 of 8 (page 1/1)" in text


@pytest.mark.parametrize(
    "filters, ids",
    [
        ({}, ["s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"]),
        ({"labels": "ORG"}, ["s2", "s3", "s4", "s5", "s8"]),
        ({"labels": ["loc", "misc"]}, ["s1", "s2", "s3", "s4", "s5", "s6"]),
        ({"statuses": "unaligned"}, ["s2", "s4"]),
        ({"statuses": "conflict,below-threshold"}, ["s3", "s5"]),
        ({"statuses": "dropped"}, ["s2", "s4"]),
        ({"statuses": ["kept", "unaligned"]}, []),  # a kept sentence with an unaligned entity: none
        ({"labels": "ORG", "statuses": "unaligned"}, ["s4"]),  # one entity must satisfy both
        ({"labels": "LOC", "statuses": "unaligned"}, ["s2", "s4"]),
        ({"min_score": 0.9}, ["s1", "s3", "s6"]),
        ({"max_score": 0.4}, ["s2", "s3", "s4"]),
        ({"min_score": 0.4, "max_score": 0.6, "labels": "ORG"}, ["s5", "s8"]),
        ({"grep": "zúrich|ZURICH"}, ["s5"]),
        ({"grep": r"visit(ed|ó)"}, ["s1"]),
        ({"grep": "acordaron"}, ["s2"]),
    ],
)
def test_filters(run_dir, filters, ids):
    run = pi.load_run(run_dir)
    assert [ps.id for ps in pi.make_filter(**filters).apply(run.sentences)] == ids


def test_filter_shows_in_view(run_dir):
    text, page = capture(run_dir, summary=False, labels="ORG", statuses="unaligned")
    assert page.total == 1
    assert "label=ORG status=unaligned (1 of 8)" in text
    assert "Reuters ORG¹" in text and "Barack" not in text


def test_sample_is_seeded_and_ordered(tmp_path):
    run = pi.load_run(make_run(tmp_path, items=many_sentences(200)))
    a = [ps.id for ps in Filter.make(sample=20, seed=3).apply(run.sentences)]
    b = [ps.id for ps in Filter.make(sample=20, seed=3).apply(run.sentences)]
    c = [ps.id for ps in Filter.make(sample=20, seed=4).apply(run.sentences)]
    order = {ps.id: i for i, ps in enumerate(run.sentences)}
    assert a == b and a != c and len(set(a)) == 20
    assert [order[i] for i in a] == sorted(order[i] for i in a)
    # sampling happens after filtering
    org = Filter.make(labels="ORG", sample=10, seed=0).apply(run.sentences)
    assert len(org) == 10 and all(any(e.source.label == "ORG" for e in ps.entities) for ps in org)


def test_paging(tmp_path):
    run_dir = make_run(tmp_path, items=many_sentences(25))
    text, page = capture(run_dir, summary=False, page=2, per_page=10)
    assert (page.number, page.pages, page.start, page.total, len(page.items)) == (2, 3, 10, 25, 10)
    assert [ps.id for ps in page.items][:2] == ["s3-1", "s4-1"]
    assert "sentences 11–20 of 25 (page 2/3; next: --page 3)" in text
    _, last = capture(run_dir, summary=False, page=3, per_page=10)
    assert len(last.items) == 5
    with pytest.raises(ProjectionError, match="out of range"):
        paginate(list(range(25)), 4, 10)


def test_no_match_and_bad_filters(run_dir):
    text, page = capture(run_dir, summary=False, grep="no such words")
    assert page.total == 0 and "no sentence matches" in text
    with pytest.raises(ProjectionError, match="unknown status 'aligned'"):
        pi.make_filter(statuses="aligned")
    with pytest.raises(ProjectionError, match="not a regular expression"):
        pi.make_filter(grep="(")
    with pytest.raises(ProjectionError, match="above"):
        pi.make_filter(min_score=0.8, max_score=0.2)


# --------------------------------------------------------------------------- broken runs


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(ProjectionError, match="no such run directory"):
        pi.load_run(tmp_path / "nope")
    run_dir = make_run(tmp_path)
    (run_dir / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match=r"manifest.json:1: invalid JSON"):
        pi.load_run(run_dir)
    (run_dir / "manifest.json").unlink()
    with pytest.raises(ProjectionError, match="not a finished projection run"):
        pi.load_run(run_dir)

    run_dir = make_run(tmp_path, "b", record_files=False)
    lines = (run_dir / "projections.jsonl").read_text(encoding="utf-8").splitlines()
    lines[2] = '{"id": "broken"}'
    (run_dir / "projections.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"projections.jsonl:3: not a projected-sentence record"):
        pi.load_run(run_dir)

    run_dir = make_run(tmp_path, "c", record_files=False)
    (run_dir / "entities.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(ProjectionError, match="entities.parquet: not a readable parquet file"):
        pi.load_run(run_dir)

    run_dir = make_run(tmp_path, "d", record_files=False)
    rec = json.loads((run_dir / "projections.jsonl").read_text(encoding="utf-8").splitlines()[0])
    rec["entities"][0]["target"] = {"start": 5, "end": 40, "label": "PER"}
    (run_dir / "projections.jsonl").write_text(json.dumps(rec) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="target span 5:40 outside its 6 tokens"):
        pi.load_run(run_dir)

    run_dir = make_run(tmp_path, "e")  # with file records in the manifest, any change is caught first
    (run_dir / "entities.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(ProjectionError, match="entities.parquet: does not match"):
        pi.load_run(run_dir)


def test_derived_files_missing_give_warnings(tmp_path):
    run_dir = make_run(tmp_path)
    (run_dir / "entities.parquet").unlink()
    (run_dir / "projected.conll").unlink()
    run = pi.load_run(run_dir)
    assert len(run.entities) == 15  # rebuilt from projections.jsonl
    assert any("entities.parquet is missing" in w for w in run.warnings)
    assert any("projected.conll is missing" in w for w in run.warnings)
    text, _ = capture(run_dir, sentences=False)
    assert "warning: entities.parquet is missing" in text


def test_empty_kept_target_is_flagged(tmp_path):
    items = sentences()
    items[6].target_tokens = []  # s7: kept, empty translation
    run = pi.load_run(make_run(tmp_path, items=items))
    assert any("1 kept sentence(s) have an empty target" in w for w in run.warnings)
    assert not any("projected.conll has" in w for w in run.warnings)


def _cli(monkeypatch, capsys, *args):
    return run_cli(monkeypatch, capsys, "inspect", *args)


def test_cli(run_dir, tmp_path, monkeypatch, capsys):
    code, out, err = _cli(monkeypatch, capsys, run_dir, "--label", "ORG", "--status", "unaligned", "--per-page", "1")
    assert code == 0 and "Reuters" in out and "(page 1/1)" in out
    code, out, _ = _cli(monkeypatch, capsys, run_dir, "--json", "--grep", "Madrid")
    data = json.loads(out)
    assert code == 0 and data["selection"] == {"filter": "grep='Madrid'", "sentences": 1, "ids": ["s3"]}
    assert data["counts"]["projected"] == 10
    code, out, err = _cli(monkeypatch, capsys, tmp_path / "missing")
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    code, out, err = _cli(monkeypatch, capsys, run_dir, "--status", "nope")
    assert code == 2 and "unknown status" in err


def test_inspect_imports_no_other_stage():
    """The inspectors read run directories only; they must work whatever stages exist."""
    import subprocess

    code = ("import sys, projection.inspect as pi, projection.inspect.terminal, projection.inspect.html, "
            "projection.inspect.plots, projection.inspect.results, projection.cli\n"
            "print(sorted(m for m in sys.modules if m.split('.')[:2][-1] in "
            "('translate', 'align', 'project', 'train', 'pipeline') and m.startswith('projection.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_score_bins_stay_round_when_scores_exceed_one(tmp_path):
    items = sentences()
    items[0].entities[0].score = 1.0375  # some scorers add a bonus above 1
    st = pi.summarize(pi.load_run(make_run(tmp_path, items=items)))
    edges = st["score_histogram"]["edges"]
    assert edges[0] == 0.0 and edges[-1] == pytest.approx(1.1) and len(edges) == 12
    assert all(round(x, 6) == round(k / 10, 6) for k, x in enumerate(edges))
    assert st["score_histogram"]["counts"][-1] == 1 and sum(st["score_histogram"]["counts"]) == 15
    text, _ = capture(make_run(tmp_path, "b", items=items), sentences=False)
    assert "[1.0, 1.1]" in text and "[0.9, 1.0)" in text


def test_lowest_scoring_examples_are_kept_projections(run_dir):
    from projection.inspect.html import lowest_scoring_sentences

    # s2's projected ORG (0.88) is in a dropped sentence and s3's 0.35 is below threshold: neither is training data
    got = [ps.id for ps in lowest_scoring_sentences(pi.load_run(run_dir), n=4)]
    assert got == ["s8", "s5", "s6", "s3"]
