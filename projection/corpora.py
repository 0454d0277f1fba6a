"""Named corpora, resolved from the data directory.

The data directory is ``$PROJECTION_DATA`` (default ``data/``) and has the layout of the
project's shared evaluation data (see ``data/README.md``). A name is ``corpus:split``,
e.g. ``conll2003-en:train`` or ``conll2002-es:test``. ``sample:train`` is the small
English sample bundled with the project and is always available.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from projection.corpus import read_corpus
from projection.errors import ProjectionError
from projection.records import Sentence
from projection.tags import spans_to_tags, tags_to_spans
from projection.textnorm import mark_groups, regroup

REPO_DATA = Path(__file__).resolve().parent.parent / "data"
SAMPLE_PATH = Path(__file__).resolve().parent / "data" / "sample.conll"  # package data
CONLL_LABELS = ("LOC", "MISC", "ORG", "PER")


@dataclass(frozen=True)
class CorpusSpec:
    name: str  # "conll2003-en:train"
    relpath: str  # relative to the data directory
    lang: str
    encoding: str = "utf-8"
    token_col: int = 0
    tag_col: int = -1
    scheme: str = "iob2"  # as stored on disk; always read into IOB2
    source: str = ""  # how to obtain it

    def path(self) -> Path:
        if self.name.startswith("sample:"):
            return SAMPLE_PATH
        return data_dir() / self.relpath


_CONLL03 = "CoNLL-2003 (https://www.clips.uantwerpen.be/conll2003/ner/; Reuters text needs the RCV1 licence)"
_CONLL02 = "CoNLL-2002 (https://www.clips.uantwerpen.be/conll2002/ner/)"
_EUROPARL = "Europarl-NER, Agerri et al. 2018 (github.com/ixa-ehu/ner-evaluation-corpus-europarl)"
_ELP = "Easy-Label-Projection data (github.com/ikergarcia1996/Easy-Label-Projection, data/ner_datasets)"

_MASAKHANER = "MasakhaNER 2.0, Adelani et al. 2022 (github.com/masakhane-io/masakhane-ner, MasakhaNER2.0/data)"
_TPROJECTION = ("T-Projection, Garcia-Ferrero et al. 2023 (github.com/ikergarcia1996/T-Projection, "
                "datasets/masakhaNER_projections): NLLB translations of CoNLL-2003 train with T-Projection's labels")
AFRICAN_LANGS = ("hau", "swa", "yor", "zul")

_SPLITS = {"train": 0, "dev": 1, "test": 2}


def _build() -> dict[str, CorpusSpec]:
    specs: list[CorpusSpec] = [CorpusSpec("sample:train", "sample/sample.conll", "en", source="bundled with the project")]
    for split, suffix in zip(_SPLITS, ("train", "testa", "testb")):
        specs.append(CorpusSpec(f"conll2003-en:{split}", f"conll2003-en/eng.{suffix}", "en", scheme="iob1", source=_CONLL03))
        specs.append(CorpusSpec(f"conll2002-es:{split}", f"conll2002/esp/esp.{suffix}", "es", encoding="latin-1", source=_CONLL02))
        specs.append(CorpusSpec(f"conll2002-nl:{split}", f"conll2002/ned/ned.{suffix}", "nl", source=_CONLL02))
    for split in _SPLITS:
        specs.append(CorpusSpec(f"conll2003-de:{split}", f"easy-label-projection-ner/original/de/de.conll.{split}.tsv", "de",
                                source=_ELP + "; German CoNLL-2003 text needs the LDC94T5 licence"))
        for lang in ("es", "de", "nl"):
            specs.append(CorpusSpec(
                f"deepl-awesome-{lang}:{split}",
                f"easy-label-projection-ner/automatic_projections/en2{lang}/DeepL.50000.awesome.{split}.tsv",
                lang, source=_ELP + " (DeepL translation of CoNLL-2003 projected with AWESoME)"))
    for lang in ("en", "de", "es"):
        specs.append(CorpusSpec(f"europarl-ner-{lang}:test", f"europarl-ner/{lang}-europarl.test.conll02", lang, source=_EUROPARL))
    for lang in AFRICAN_LANGS:
        for split in _SPLITS:
            specs.append(CorpusSpec(f"masakhaner2-{lang}:{split}", f"masakhaner2/{lang}/{split}.txt", lang, source=_MASAKHANER))
        # not line-parallel with conll2003-en:train: see tprojection_sentences() for the source ids
        specs.append(CorpusSpec(f"tprojection-nllb-{lang}:train", f"tprojection-nllb/{lang}.train.txt", lang,
                                source=_TPROJECTION))
    return {s.name: s for s in specs}


CORPORA: dict[str, CorpusSpec] = _build()


def data_dir() -> Path:
    """``$PROJECTION_DATA``, else ``data/`` in the working directory, else the project's ``data/``."""
    env = os.environ.get("PROJECTION_DATA")
    if env:
        return Path(env)
    cwd = Path("data")
    return cwd if cwd.is_dir() else REPO_DATA


def is_corpus_name(ref: str) -> bool:
    return ref in CORPORA


def corpus_spec(name: str) -> CorpusSpec:
    if name not in CORPORA:
        corpus = name.partition(":")[0]
        near = sorted(n for n in CORPORA if n.startswith(corpus + ":")) or sorted(CORPORA)
        raise ProjectionError(f"unknown corpus {name!r}; known: {', '.join(near)}")
    return CORPORA[name]


def resolve_corpus(ref: str | Path) -> Path:
    """The file behind a corpus name or a path; a clear error when it is missing."""
    ref_s = str(ref)
    if not is_corpus_name(ref_s):
        path = Path(ref_s)
        if path.exists():
            return path
        if ":" in ref_s and not path.suffix:
            corpus_spec(ref_s)  # raises "unknown corpus"
        raise ProjectionError(f"{ref_s}: no such file, and not a corpus name (try e.g. conll2003-en:train or sample:train)")
    spec = corpus_spec(ref_s)
    path = spec.path()
    if not path.exists():
        raise ProjectionError(
            f"corpus {spec.name} not found: looked for {path.resolve()} "
            f"(data directory {data_dir().resolve()}, set by PROJECTION_DATA or defaulting to data/). "
            f"Get it from {spec.source} and place it there, or point PROJECTION_DATA at a folder with that layout."
        )
    return path


def load_corpus(ref: str | Path, *, encoding: str | None = None, labels=None, fmt: str | None = None) -> list[Sentence]:
    """Load a named corpus (``conll2002-es:test``) or a file, as IOB2 sentences."""
    ref_s = str(ref)
    path = resolve_corpus(ref_s)
    if is_corpus_name(ref_s):
        spec = CORPORA[ref_s]
        return read_corpus(path, fmt="conll", encoding=encoding or spec.encoding, labels=labels,
                           token_col=spec.token_col, tag_col=spec.tag_col)
    from projection.rundir import check_run_file

    check_run_file(path)  # a projection run's output: finished, and as its manifest says
    return read_corpus(path, fmt=fmt, encoding=encoding or "utf-8", labels=labels)


def corpus_lang(ref: str) -> str | None:
    return CORPORA[ref].lang if ref in CORPORA else None


def _first_label(tags: list[str]) -> str:
    """The tag of a word rejoined from pieces: the first entity tag among them, else O."""
    return next((t for t in tags if t != "O"), "O")


def tprojection_sentences(lang: str, source: str = "conll2003-en:train", min_matched: float = 0.9,
                          min_distinct: float = 0.8, marks: str = "rejoin") -> list[Sentence]:
    """T-Projection's labelled NLLB translations (``tprojection-nllb-LANG:train``) re-identified with
    the ids of the ``source`` sentences they translate.

    The files are not line-parallel with CoNLL-2003 train (13,881 to 14,031 sentences for
    14,041), so their sentences are matched to the source with the same sentence matching as
    the ``given`` translation engine (:func:`projection.sentalign.match_sentences`; the source
    is read as tokens here and as detokenised text there, which gives the same features).
    Each returned sentence has the id of its source sentence (``meta``: ``source_id`` and
    ``tprojection_index``, the 0-based sentence number in the file), in source order; two
    file sentences that together translate one source sentence are joined. Translations of
    merged source pairs and file sentences matching no source sentence are left out, so the
    ids are exactly those a ``nllb-given`` run keeps (before its filtering policy), and a
    system trained on the published projection can use the same sampled ids as one trained
    on ours. A match too poor to trust raises :class:`ProjectionError`. Words the file splits
    at their combining marks (Yoruba) are repaired by ``marks`` exactly as the ``given`` engine
    repairs them (:func:`projection.textnorm.mark_groups`), so both projections label the same
    words.
    """
    from projection.sentalign import match_sentences

    name = f"tprojection-nllb-{lang}:train"
    target = load_corpus(name)
    groups, counts = mark_groups([t.tokens for t in target], marks)
    if counts["marks_attached"]:  # as the given engine: the sentences are rebuilt only when a word changed
        target = [Sentence(t.id, regroup(t.tokens, g),
                           spans_to_tags(tags_to_spans(regroup(t.tags, g, _first_label)), len(g)), t.meta)
                  for t, g in zip(target, groups)]
    src = load_corpus(source)
    match = match_sentences([s.tokens for s in src], [t.tokens for t in target])
    match.check(str(resolve_corpus(name)), min_matched, min_distinct)
    out: list[Sentence] = []
    for i, s in enumerate(src):
        tgt = match.target_of(i)
        if tgt is None:
            continue
        tokens = [tok for j in tgt for tok in target[j].tokens]
        tags = [tag for j in tgt for tag in target[j].tags]
        out.append(Sentence(s.id, tokens, tags, {"source_id": s.id, "tprojection_index": list(tgt) if len(tgt) > 1 else tgt[0]}))
    return out
