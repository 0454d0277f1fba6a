"""Shared fixtures. Tests never touch the network: tiny models are built on the fly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    return Path(os.environ.get("PROJECTION_DATA", REPO / "data"))


def have_data(rel: str) -> bool:
    return (data_dir() / rel).exists()


def need_data(rel: str):
    """Skip a test when a real-data file is absent, except in CI, where its absence is a failure."""
    if have_data(rel):
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI: {data_dir() / rel} is missing (PROJECTION_DATA={os.environ.get('PROJECTION_DATA')})")
    pytest.skip(f"needs {rel} under PROJECTION_DATA")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own translation/stage cache, and its own Hugging Face datasets cache
    (``datasets`` can serve an earlier load of a folder with the same file names from its cache)."""
    monkeypatch.setenv("PROJECTION_CACHE", str(tmp_path_factory.mktemp("cache")))
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path_factory.mktemp("hf-datasets"))


@pytest.fixture
def logged(caplog):
    """The messages the package logs (``projection.*`` loggers, INFO and above), in order: call
    ``logged()`` for the list so far."""
    import logging

    caplog.set_level(logging.INFO, logger="projection")
    return lambda: [r.getMessage() for r in caplog.records if r.name.startswith("projection")]


@pytest.fixture
def sample_path() -> Path:
    from projection.corpora import SAMPLE_PATH

    return SAMPLE_PATH


def earlier_options(**changes):
    """``CompareOptions`` of the comparison's earlier recipe (compare.EARLIER_RECIPE) with ``changes``: the compare
    tests pin it, their expectations were set on it."""
    from dataclasses import replace

    from projection.train.compare import EARLIER_RECIPE, CompareOptions

    return replace(CompareOptions(**EARLIER_RECIPE), **changes)


def run_cli(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """Run the ``projection`` command line in-process: (exit status, stdout, stderr)."""
    import sys

    from projection import cli

    monkeypatch.setattr(sys, "argv", ["projection", *map(str, args)])
    code = 0
    try:
        cli.main()
    except SystemExit as e:
        code = e.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> str:
    """A tiny random BERT folder (tests/tiny.py), built once per session."""
    from tiny import shared_tiny_encoder

    return shared_tiny_encoder(tmp_path_factory, "bert")


@pytest.fixture(scope="session")
def tiny_xlmr(tmp_path_factory) -> str:
    """A tiny random XLM-R folder (tests/tiny.py), built once per session."""
    from tiny import shared_tiny_encoder

    return shared_tiny_encoder(tmp_path_factory, "xlmr")


@pytest.fixture(scope="session")
def tiny_encoders(tmp_path_factory):
    """``kind -> folder`` of the session's tiny encoders (``bert``, ``xlmr``), each built on first use."""
    from tiny import shared_tiny_encoder

    return lambda kind: shared_tiny_encoder(tmp_path_factory, kind)


@pytest.fixture(scope="session")
def given_pipeline(tmp_path_factory, tiny_xlmr):
    """``(pipeline file, source file, sentences)``: the first 30 sample sentences, their 'translations'
    (the sentences themselves) given, the embed aligner on the tiny XLM-R, ngram projection. Read only."""
    from tiny import identity_given_pipeline

    from projection.corpora import SAMPLE_PATH
    from projection.corpus import read_conll

    sents = read_conll(SAMPLE_PATH)[:30]
    pfile, src = identity_given_pipeline(tmp_path_factory.mktemp("given-pipeline"), sents, tiny_xlmr)
    return pfile, src, sents
