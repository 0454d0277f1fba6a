"""The end-to-end projection pipeline: translate -> tokenise -> align -> project -> filter -> write.

This is the only module that imports the stages (``translate``, ``align``, ``project``);
they never import each other. A pipeline is a declarative TOML file (``pipelines/*.toml``)::

    [pipeline]
    description = "Apertium + eflomal + ngram: runs with no hub and no GPU"
    source = "conll2003-en:train"          # optional; --source overrides

    [translate]
    engine = "apertium"                    # any engine of projection.translate.translators
    # ... options of that engine; strings may use {lang} and {data} (the data directory)

    [align]
    engine = "eflomal"                     # any engine of projection.align.aligners
    extra_parallel = ["deepl", "europarl"] # more parallel text for statistical aligners
    # ... options of that engine

    [project]
    method = "ngram"                       # any method of projection.project.projectors
    # ... options of that method

    [filter]
    policy = "drop-sentence"               # keep-all | drop-sentence | drop-below-score
    min_score = 0.0

``run(lang, pipeline, source, out)`` writes a run directory (see :mod:`projection.rundir`).
Every stage's output is stored under ``RUN_DIR/stages`` by a content key (a hash of its
inputs and of the engine signature), so rerunning, or resuming a killed run, redoes
nothing that is done: translation (also cached per sentence by the translation stage),
alignment (in chunks, for aligners that treat sentences independently) and projection.

``auto`` is not a file: it picks ``nllb`` when the NLLB-200 and mBERT models can be
loaded (present locally, or the hub is reachable), otherwise ``offline`` for the languages
Apertium covers, and says which and why.

:func:`eval_projection` is the intrinsic evaluation on Europarl-NER.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import platform
import re
import socket
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from projection.corpora import CORPORA, data_dir, is_corpus_name, load_corpus, resolve_corpus
from projection.errors import ProjectionError
from projection.records import Alignment, ProjectedSentence, Sentence, Span
from projection.store import (StageFileError, check_output_dir, code_hash, content_key, file_sha256, package_versions,
                              read_stage_jsonl, read_stage_npz, write_stage_jsonl, write_stage_npz)

REPO = Path(__file__).resolve().parent.parent
PIPELINES_DIR = REPO / "pipelines"
DEFAULT_SOURCE = "conll2003-en:train"
FALLBACK_SOURCE = "sample:train"
SOURCE_LANG = "en"

# Aligners that learn from the whole corpus (statistical): their output for a sentence
# depends on the other sentences, so they run on the corpus in one piece. Every other
# aligner treats sentence pairs independently and runs in resumable chunks.
CORPUS_LEVEL_ALIGNERS = frozenset({"eflomal"})
ALIGN_CHUNK = 2000

_SECTIONS: dict[str, tuple[str | None, frozenset[str]]] = {
    # section: (engine key, keys the pipeline itself reads)
    "pipeline": (None, frozenset({"name", "description", "source", "executor"})),
    "translate": ("engine", frozenset({"engine"})),
    "align": ("engine", frozenset({"engine", "extra_parallel", "similarity"})),
    "project": ("method", frozenset({"method"})),
    "filter": (None, frozenset({"policy", "min_score"})),
}
_REQUIRED = ("translate", "align", "project")
# option values that name files or models: a relative path is looked up in the working
# directory, then in the project folder (so `models/e5-small` works from anywhere)
_PATH_KEYS = frozenset({"path", "model", "tokenizer", "source"})


# --------------------------------------------------------------------------- pipeline files


@dataclass
class PipelineConfig:
    """A validated pipeline file: one table per stage."""

    name: str
    file: Path | None
    description: str = ""
    source: str | None = None
    executor: str | None = None  # local | ray (projection.executors); --executor overrides
    translate: dict[str, Any] = field(default_factory=dict)
    align: dict[str, Any] = field(default_factory=dict)
    project: dict[str, Any] = field(default_factory=dict)
    filter: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "file": str(self.file) if self.file else None, "description": self.description,
                "source": self.source, "executor": self.executor, "translate": self.translate, "align": self.align,
                "project": self.project, "filter": self.filter}


def pipeline_names() -> list[str]:
    """The shipped pipelines (``pipelines/*.toml``) plus ``auto``."""
    return sorted(["auto", *(p.stem for p in PIPELINES_DIR.glob("*.toml"))])


def pipeline_path(ref: str | Path) -> Path:
    """The file behind a pipeline name (``offline``) or path (``my.toml``)."""
    ref_s = str(ref)
    path = Path(ref_s)
    if path.suffix == ".toml" or os.sep in ref_s:
        if not path.is_file():
            raise ProjectionError(f"{ref_s}: no such pipeline file")
        return path
    path = PIPELINES_DIR / f"{ref_s}.toml"
    if not path.is_file():
        raise ProjectionError(f"unknown pipeline {ref_s!r}; choose one of: {', '.join(pipeline_names())}, or give a .toml file")
    return path


def _engine_class(section: str, name: str) -> Any:
    if section == "translate":
        from projection.translate import translators as reg
    elif section == "align":
        from projection.align import aligners as reg
    else:
        from projection.project import projectors as reg
    return reg.get(name)


def _engine_names(section: str) -> list[str]:
    if section == "translate":
        from projection.translate import translators as reg
    elif section == "align":
        from projection.align import aligners as reg
    else:
        from projection.project import projectors as reg
    return reg.names()


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


def _check_options(where: str, section: str, engine: str, options: dict[str, Any],
                   origin: Callable[[str, str], str] | None = None) -> None:
    """Each option must be a parameter of the engine, of the type of its default; errors name
    ``origin(section, key)`` (the file, or the ``--set`` option the value came from)."""
    origin = origin or (lambda _s, _k: where)
    cls = _engine_class(section, engine)
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return  # the engine validates its own options
    fixed = {"self", "src_lang", "tgt_lang"}
    known = {n: p for n, p in params.items() if n not in fixed and p.kind is not inspect.Parameter.VAR_POSITIONAL}
    for key, value in options.items():
        if key not in known:
            raise ProjectionError(f"{origin(section, key)}: [{section}] unknown key {key!r} for {engine}; "
                                  f"options: {', '.join(sorted(known)) or '(none)'}")
        default = known[key].default
        if default is inspect.Parameter.empty or default is None:
            continue
        ok = isinstance(value, type(default)) or (isinstance(default, float) and isinstance(value, int)
                                                   and not isinstance(value, bool))
        if isinstance(default, bool) != isinstance(value, bool):
            ok = False
        if not ok:
            raise ProjectionError(f"{origin(section, key)}: [{section}] {key} must be {_type_name(default)}, not {value!r}")


def parse_override(text: str) -> tuple[str, str, Any]:
    """``section.key=value`` (value parsed as TOML, else taken as a string)."""
    m = re.match(r"^\s*([A-Za-z_]+)\.([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$", text)
    if not m:
        raise ProjectionError(f"--set {text!r}: expected SECTION.KEY=VALUE, e.g. align.model=bert-base-multilingual-cased")
    section, key, raw = m.group(1), m.group(2), m.group(3).strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return section, key, value


def load_pipeline(ref: str | Path, overrides: Sequence[str] = ()) -> PipelineConfig:
    """Read and validate a pipeline file (name or path); ``overrides`` are ``section.key=value``."""
    path = pipeline_path(ref)
    where = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ProjectionError(f"{where}: invalid TOML: {e}") from None
    except UnicodeDecodeError:
        raise ProjectionError(f"{where}: not UTF-8 text") from None
    origins: dict[tuple[str, str], str] = {}
    for text in overrides:
        section, key, value = parse_override(text)
        if section not in raw and section not in _SECTIONS:
            raise ProjectionError(f"--set {text!r}: unknown section [{section}]; sections: {', '.join(_SECTIONS)}")
        raw.setdefault(section, {})
        if not isinstance(raw[section], dict):
            raise ProjectionError(f"--set {text!r}: [{section}] is not a table in {where}")
        raw[section][key] = value
        origins[(section, key)] = f"--set {text.strip()}"
    return validate_pipeline(raw, where, name=path.stem, file=path, origins=origins)


def validate_pipeline(raw: dict[str, Any], where: str = "<pipeline>", name: str = "custom",
                      file: Path | None = None, origins: dict[tuple[str, str], str] | None = None) -> PipelineConfig:
    """Check sections, engines, keys and value types; errors name the file and the key, or the
    ``--set`` option a value came from (``origins``: (section, key) -> option text)."""
    origins = origins or {}

    def at(section: str, key: str) -> str:
        return origins.get((section, key), where)

    for section, value in raw.items():
        if section not in _SECTIONS:
            raise ProjectionError(f"{where}: unknown section [{section}]; sections: {', '.join(_SECTIONS)}")
        if not isinstance(value, dict):
            raise ProjectionError(f"{where}: {section} must be a table ([{section}]), not {_type_name(value)}")
    for section in _REQUIRED:
        if section not in raw:
            raise ProjectionError(f"{where}: missing section [{section}]")
    meta = raw.get("pipeline", {})
    for key, value in meta.items():
        if key not in _SECTIONS["pipeline"][1]:
            raise ProjectionError(f"{at('pipeline', key)}: [pipeline] unknown key {key!r}; keys: name, description, source, executor")
        if not isinstance(value, str):
            raise ProjectionError(f"{at('pipeline', key)}: [pipeline] {key} must be a string, not {value!r}")
    if "executor" in meta:
        from projection.executors import executors

        if meta["executor"] not in executors:
            raise ProjectionError(f"{at('pipeline', 'executor')}: [pipeline] executor = {meta['executor']!r} is not one of: "
                                  f"{', '.join(executors.names())}")
    tables: dict[str, dict[str, Any]] = {}
    for section in ("translate", "align", "project"):
        table = dict(raw[section])
        engine_key = _SECTIONS[section][0]
        engine = table.get(engine_key)
        if engine is None:
            raise ProjectionError(f"{where}: [{section}] missing key {engine_key!r} "
                                  f"(one of: {', '.join(_engine_names(section))})")
        if not isinstance(engine, str) or engine not in _engine_names(section):
            raise ProjectionError(f"{at(section, engine_key)}: [{section}] {engine_key} = {engine!r} is not one of: "
                                  f"{', '.join(_engine_names(section))}")
        options = {k: v for k, v in table.items() if k not in _SECTIONS[section][1]}
        _check_options(where, section, engine, options, at)
        tables[section] = table
    extra = tables["align"].get("extra_parallel", [])
    if not isinstance(extra, list) or not all(isinstance(x, str) for x in extra):
        raise ProjectionError(f"{at('align', 'extra_parallel')}: [align] extra_parallel must be a list of strings "
                              f"(names or files), not {extra!r}")
    if "similarity" in tables["align"] and not isinstance(tables["align"]["similarity"], bool):
        raise ProjectionError(f"{at('align', 'similarity')}: [align] similarity must be true or false")
    filt = dict(raw.get("filter", {}))
    for key, value in filt.items():
        if key not in _SECTIONS["filter"][1]:
            raise ProjectionError(f"{at('filter', key)}: [filter] unknown key {key!r}; keys: policy, min_score")
    from projection.project import POLICIES

    policy = filt.setdefault("policy", "drop-sentence")
    if policy not in POLICIES:
        raise ProjectionError(f"{at('filter', 'policy')}: [filter] policy = {policy!r} is not one of: {', '.join(POLICIES)}")
    min_score = filt.setdefault("min_score", 0.0)
    if isinstance(min_score, bool) or not isinstance(min_score, (int, float)) or not 0 <= min_score <= 1:
        raise ProjectionError(f"{at('filter', 'min_score')}: [filter] min_score must be a number between 0 and 1, not {min_score!r}")
    return PipelineConfig(name=meta.get("name", name), file=file, description=meta.get("description", ""),
                          source=meta.get("source"), executor=meta.get("executor"), translate=tables["translate"],
                          align=tables["align"], project=tables["project"], filter=filt)


def _resolve_value(key: str, value: Any, lang: str) -> Any:
    if isinstance(value, list):
        return [_resolve_value(key, v, lang) for v in value]
    if not isinstance(value, str):
        return value
    value = value.replace("{lang}", lang).replace("{data}", str(data_dir()))
    if key in _PATH_KEYS and not Path(value).is_absolute() and not Path(value).exists() and (REPO / value).exists():
        value = str(REPO / value)
    return value


def _options(table: dict[str, Any], section: str, lang: str) -> dict[str, Any]:
    skip = _SECTIONS[section][1]
    return {k: _resolve_value(k, v, lang) for k, v in table.items() if k not in skip}


# --------------------------------------------------------------------------- auto


def _hub_reachable(timeout: float = 3.0) -> tuple[bool, str]:
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False, "HF_HUB_OFFLINE is set"
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    host = re.sub(r"^https?://", "", endpoint).split("/")[0]
    hostname, _, port = host.partition(":")
    try:
        socket.create_connection((hostname, int(port or 443)), timeout=timeout).close()
        return True, ""
    except OSError as e:
        return False, f"{hostname} is unreachable ({e.strerror or e})"


def model_available(name: str) -> tuple[bool, str]:
    """Whether a model can be loaded: a local folder, in the Hugging Face cache, or the hub is reachable."""
    path = Path(name)
    if path.exists():
        return True, ""
    if path.is_absolute() or name.startswith(".") or name.count("/") > 1:
        return False, f"{name}: no such folder"
    try:
        from huggingface_hub import try_to_load_from_cache

        for filename in ("config.json", "tokenizer_config.json", "model.bin"):
            if isinstance(try_to_load_from_cache(name, filename), str):
                return True, ""
    except Exception:  # noqa: BLE001 - a broken cache is the same as no cache here
        pass
    ok, why = _hub_reachable()
    return ok, "" if ok else f"{name} is not in the local Hugging Face cache and {why}"


def choose_auto(lang: str, overrides: Sequence[str] = ()) -> tuple[PipelineConfig, str]:
    """The ``auto`` choice for ``lang``: (pipeline, one-line reason)."""
    from projection.translate.nllb import BASE_MODEL, BASE_TOKENIZER

    nllb = load_pipeline("nllb", overrides)
    needed = [nllb.translate.get("model") or BASE_MODEL, nllb.translate.get("tokenizer") or BASE_TOKENIZER,
              nllb.align.get("model", "bert-base-multilingual-cased")]
    missing = []
    for name in dict.fromkeys(_resolve_value("model", n, lang) for n in needed):
        ok, why = model_available(name)
        if not ok:
            missing.append(why)
    if not missing:
        return nllb, "auto: NLLB-200 and mBERT can be loaded -> pipeline nllb"
    from projection.translate.apertium import find_mode

    try:
        find_mode(SOURCE_LANG, lang)
    except ProjectionError as e:
        raise ProjectionError(
            f"auto: no pipeline can translate into {lang!r} on this machine: the NLLB-200 models cannot be loaded "
            f"({missing[0]}), and Apertium has no en->{lang} mode ({e}). Make the models available (internet, or "
            f"[translate] model = a local folder via --set), or use --pipeline given with translations you have."
        ) from None
    return load_pipeline("offline", overrides), f"auto: NLLB-200 models not available ({missing[0]}) -> pipeline offline (Apertium)"


# --------------------------------------------------------------------------- extra parallel text


def _conll_blocks(path: Path) -> list[list[str]]:
    """First-column tokens of every blank-line-separated block, ``-DOCSTART-`` lines as their own blocks."""
    blocks: list[list[str]] = []
    cur: list[str] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line.strip():
                if cur:
                    blocks.append(cur)
                    cur = []
                continue
            tok = line.split()[0]
            if tok == "-DOCSTART-":
                if cur:
                    blocks.append(cur)
                blocks.append([tok])
                cur = []
                continue
            cur.append(tok)
    if cur:
        blocks.append(cur)
    return blocks


def extra_parallel_pairs(names: Sequence[str], lang: str, log: Callable[[str], None] = lambda m: None
                         ) -> tuple[list[tuple[list[str], list[str]]], list[dict[str, Any]]]:
    """More parallel text for statistical aligners, by name or file.

    * ``deepl`` - CoNLL-2003 English with the DeepL translations published by
      Easy-Label-Projection (train, dev and test; ``en2{lang}``), matched block by block
      against the English original with all its ``-DOCSTART-`` lines, which are dropped;
    * ``europarl`` - the Europarl-NER sentences (en-es, en-de);
    * a file - ``src ||| tgt`` lines or JSONL with ``src_words``/``tgt_words``.

    Named sources that are absent from the data directory are skipped with a note.
    """
    pairs: list[tuple[list[str], list[str]]] = []
    info: list[dict[str, Any]] = []
    root = data_dir()
    for name in names:
        name = name.replace("{lang}", lang)
        if name == "deepl":
            added = 0
            for split in ("train", "dev", "test"):
                src = root / f"easy-label-projection-ner/original/en/en.conll.{split}.tsv"
                tgt = root / f"easy-label-projection-ner/automatic_projections/en2{lang}/DeepL.50000.awesome.{split}.tsv"
                if not (src.exists() and tgt.exists()):
                    continue
                sb, tb = _conll_blocks(src), _conll_blocks(tgt)
                if len(sb) != len(tb):
                    log(f"note: {tgt}: {len(tb)} blocks for {len(sb)} in {src}; skipped")
                    continue
                for s, t in zip(sb, tb):
                    if s != ["-DOCSTART-"]:
                        pairs.append((s, t))
                        added += 1
            if not added:
                log(f"note: extra parallel text 'deepl' (en2{lang}) not found under {root}: skipped")
            info.append({"name": "deepl", "pairs": added})
        elif name == "europarl":
            added = 0
            if f"europarl-ner-{lang}:test" in CORPORA:
                try:
                    en = load_corpus("europarl-ner-en:test")
                    tg = load_corpus(f"europarl-ner-{lang}:test")
                    pairs.extend((a.tokens, b.tokens) for a, b in zip(en, tg))
                    added = len(en)
                except ProjectionError:
                    pass
            if not added:
                log(f"note: extra parallel text 'europarl' (en-{lang}) not available: skipped")
            info.append({"name": "europarl", "pairs": added})
        else:
            path = Path(_resolve_value("path", name, lang))
            if not path.exists():
                raise ProjectionError(f"extra_parallel: {name!r} is neither 'deepl', 'europarl' nor an existing file")
            from projection.align.io import read_pairs

            got = read_pairs(path)
            pairs.extend((list(s), list(t)) for s, t in got)
            info.append({"name": str(path), "pairs": len(got), "sha256": file_sha256(path)[:16]})
    return pairs, info


# --------------------------------------------------------------------------- stage store


class StageStore:
    """Content-addressed stage outputs under one folder (``RUN_DIR/stages``).

    Every file carries its row count and a checksum (:func:`projection.store.write_stage_jsonl`,
    :func:`~projection.store.write_stage_npz`); a short, truncated, junk or older-format file is
    named in the log, deleted and reported missing, so the stage is recomputed.
    """

    def __init__(self, root: Path, log: Callable[[str], None] | None = None):
        self.root = Path(root)
        self.log = log if log is not None else _stderr_note

    def path(self, name: str) -> Path:
        return self.root / name

    def _discard(self, name: str, err: StageFileError) -> None:
        path = self.path(name)
        self.log(f"note: {path}: damaged stage file ({err}); discarded, the stage is recomputed")
        with contextlib.suppress(OSError):
            path.unlink()

    def read_jsonl(self, name: str, expected: int | None = None) -> list[Any] | None:
        """The stored rows, or None when the file is absent or damaged (then it is deleted)."""
        path = self.path(name)
        if not path.exists():
            return None
        try:
            return read_stage_jsonl(path, expected)
        except StageFileError as e:
            self._discard(name, e)
            return None

    def write_jsonl(self, name: str, rows: Sequence[Any]) -> None:
        write_stage_jsonl(self.path(name), rows)

    def read_alignments(self, name: str, expected: int | None = None
                        ) -> tuple[list[Alignment], list[np.ndarray] | None] | None:
        path = self.path(name)
        if not path.exists():
            return None
        try:
            z = read_stage_npz(path, expected)
            offsets = z["link_offsets"]
            links = z["links"]
            if len(offsets) - 1 != (expected if expected is not None else len(offsets) - 1):
                raise StageFileError(f"{len(offsets) - 1} alignments, {expected} expected")
            aligns = [Alignment(frozenset(map(tuple, links[offsets[k]:offsets[k + 1]].tolist())))
                      for k in range(len(offsets) - 1)]
            sims = None
            if "sim_shapes" in z:
                shapes = z["sim_shapes"]
                data = z["sim_data"].astype(np.float32)
                sims, pos = [], 0
                for m, n in shapes.tolist():
                    sims.append(data[pos:pos + m * n].reshape(m, n))
                    pos += m * n
        except StageFileError as e:
            self._discard(name, e)
            return None
        except (KeyError, ValueError, IndexError) as e:
            self._discard(name, StageFileError(f"inconsistent arrays ({type(e).__name__}: {e})"))
            return None
        return aligns, sims

    def write_alignments(self, name: str, aligns: Sequence[Alignment], sims: Sequence[np.ndarray] | None) -> None:
        links = [sorted(a.links) for a in aligns]
        offsets = np.zeros(len(links) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(x) for x in links])
        flat = np.array([p for x in links for p in x], dtype=np.int32).reshape(-1, 2)
        arrays: dict[str, np.ndarray] = {"links": flat, "link_offsets": offsets}
        if sims is not None:
            arrays["sim_shapes"] = np.array([s.shape for s in sims], dtype=np.int64).reshape(-1, 2)
            arrays["sim_data"] = (np.concatenate([s.astype(np.float16).ravel() for s in sims])
                                  if sims else np.zeros(0, dtype=np.float16))
        write_stage_npz(self.path(name), arrays, rows=len(links))


def _stderr_note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the run


@dataclass
class RunResult:
    out: Path
    manifest: dict[str, Any]
    projected: list[ProjectedSentence]
    stats: dict[str, Any]


def _sentence_key(sentences: Sequence[Sentence]) -> str:
    return content_key([[s.tokens, s.tags] for s in sentences])


def projection_stats(projected: Sequence[ProjectedSentence]) -> dict[str, Any]:
    """Sentences in/out, drop reasons, and per label: entities and their statuses.

    Entities of sentences without a translation (``untranslated``: a given file that is not
    line-parallel) count under that status and not in the rates, which measure projection
    onto the translations there are. An entity ``removed`` by the target's lower-case
    convention was projected (then removed on purpose): it counts as a success in the rates.
    """
    per_label: dict[str, Counter] = {}
    for ps in projected:
        untranslated = bool(ps.meta.get("untranslated"))
        for e in ps.entities:
            per_label.setdefault(e.source.label, Counter())["untranslated" if untranslated else str(e.status)] += 1
    labels = {}
    for label in sorted(per_label):
        c = per_label[label]
        total = sum(c.values())
        translated = total - c.get("untranslated", 0)
        done = c.get("projected", 0) + c.get("removed", 0)
        labels[label] = {"entities": total, **dict(sorted(c.items())),
                         "rate": round(done / translated, 4) if translated else None}
    entities = sum(v["entities"] for v in labels.values())
    untranslated_n = sum(v.get("untranslated", 0) for v in labels.values())
    projected_n = sum(v.get("projected", 0) for v in labels.values())
    removed_n = sum(v.get("removed", 0) for v in labels.values())
    kept = sum(1 for ps in projected if ps.meta.get("kept", True))
    reasons = Counter(ps.meta.get("drop_reason") for ps in projected if not ps.meta.get("kept", True))
    kept_entities = sum(1 for ps in projected if ps.meta.get("kept", True) for e in ps.entities
                        if str(e.status) == "projected")
    return {
        "sentences_in": len(projected), "sentences_out": kept, "dropped": dict(sorted(reasons.items())),
        "entities": entities, "projected": projected_n, "removed_by_convention": removed_n,
        "rate": round((projected_n + removed_n) / (entities - untranslated_n), 4) if entities - untranslated_n else None,
        "entities_in_output": kept_entities, "per_label": labels,
    }


def _source_choice(source: str | None, config: PipelineConfig) -> tuple[str, str | None]:
    """(source ref, note). An explicit --source must exist; the default falls back to the sample."""
    if source:
        resolve_corpus(source)
        return source, None
    ref = config.source or DEFAULT_SOURCE
    if is_corpus_name(ref) and not CORPORA[ref].path().exists():
        return FALLBACK_SOURCE, (f"source: {ref} not found under {data_dir().resolve()} "
                                 f"-> bundled sample {FALLBACK_SOURCE} (set PROJECTION_DATA for the real corpus)")
    return ref, None


def _make_translator(config: PipelineConfig, lang: str, markers: bool):
    from projection.translate import cached, translators

    options = _options(config.translate, "translate", lang)
    engine = config.translate["engine"]
    if markers:
        cls = translators.get(engine)
        params = inspect.signature(cls).parameters
        if "markers" in params:
            options.setdefault("markers", True)
    where = f"{config.file or config.name}: [translate]"
    try:
        tr = translators.create(engine, src_lang=SOURCE_LANG, tgt_lang=lang, **options)
    except TypeError as e:
        raise ProjectionError(f"{where} {e}") from None
    return cached(tr)


def _make_aligner(config: PipelineConfig, lang: str, log: Callable[[str], None]):
    from projection.align import aligners

    options = _options(config.align, "align", lang)
    engine = config.align["engine"]
    extra_names = config.align.get("extra_parallel", [])
    extra_info: list[dict[str, Any]] = []
    if extra_names:
        params = inspect.signature(aligners.get(engine)).parameters
        if "extra_pairs" not in params:
            raise ProjectionError(f"{config.file or config.name}: [align] extra_parallel: the {engine} aligner "
                                  "does not learn from extra parallel text")
        extra, extra_info = extra_parallel_pairs(extra_names, lang, log)
        options["extra_pairs"] = extra
    try:
        al = aligners.create(engine, **options)
    except (TypeError, ProjectionError) as e:
        raise ProjectionError(f"{config.file or config.name}: [align] {e}") from None
    return al, extra_info


def _wants_similarity(config: PipelineConfig, aligner: Any, projector: Any) -> bool:
    explicit = config.align.get("similarity")
    has = hasattr(aligner, "align_with_similarity")
    uses = getattr(projector, "sim_weight", 0) > 0
    if explicit is True and not has:
        raise ProjectionError(f"{config.file or config.name}: [align] similarity = true, but the "
                              f"{config.align['engine']} aligner gives no similarity matrices")
    return has and uses if explicit is None else bool(explicit) and has


def tokenizer_signature(lang: str) -> dict[str, Any]:
    """The word tokeniser applied to translations (part of the translation stage's key)."""
    from projection.translate.text import tokenizer_language

    return {"tokenizer": "spacy-blank", "lang": tokenizer_language(lang), **package_versions("spacy"),
            "code": code_hash("projection.translate.text", "projection.translate.markers")}


def translate_rows(translator: Any, sentences: Sequence[Sentence], lang: str, markers: bool) -> list[dict[str, Any]]:
    """Translate and word-tokenise ``sentences``: one row (``text``, ``tokens``, with markers also
    ``marked``, ``lost``, ``broken``) per sentence. The translation stage's unit of work, the same
    for every executor (:mod:`projection.executors`)."""
    from projection.translate import detokenize, tokenize, translate_marked

    if markers:
        results = translate_marked(translator, sentences)
        return [{"text": r.text, "tokens": r.tokens, "marked": [[s.start, s.end, s.label] for s in r.spans],
                 "lost": r.lost, "broken": r.broken} for r in results]
    texts = [detokenize(s.tokens, SOURCE_LANG) for s in sentences]
    out = translator.translate(texts)
    given_tokens = getattr(translator, "tokens", None)
    if isinstance(given_tokens, list) and len(given_tokens) == len(out):
        toks = [list(t) for t in given_tokens]
    else:
        toks = [tokenize(t, lang) if t else [] for t in out]
    rows: list[dict[str, Any]] = [{"text": t, "tokens": k} for t, k in zip(out, toks)]
    # sentences a given translation file has no translation for (sentence matching): dropped later
    for i in getattr(translator, "untranslated", None) or []:
        rows[i]["untranslated"] = True
    return rows


def _translate_stage(store: StageStore, sentences: list[Sentence], config: PipelineConfig, lang: str, src_key: str,
                     markers: bool, log: Callable[[str], None]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    translator = _make_translator(config, lang, markers)
    sig = translator.signature()
    tok_sig = tokenizer_signature(lang)
    key = content_key("translate", src_key, sig, tok_sig, lang, markers)
    name = f"translate-{key}.jsonl"
    t0 = time.perf_counter()
    rows = store.read_jsonl(name, expected=len(sentences))
    match_name = f"translate-{key}.match.jsonl"
    cached = rows is not None
    if rows is None:
        rows = translate_rows(translator, sentences, lang, markers)
        match = getattr(translator, "match_info", None)
        if match:  # sentence matching of a given file: kept for the manifest of reruns
            match = {**match, "unmatched_source_ids": [sentences[i].id for i in match["unmatched_source_ids"]],
                     "merged_source_ids": [sentences[i].id for i in match["merged_source_ids"]]}
            store.write_jsonl(match_name, [match])
        store.write_jsonl(name, rows)
    else:
        stored = store.read_jsonl(match_name, expected=1)
        match = stored[0] if stored else None
    info = {"key": key, "cached": cached, "seconds": round(time.perf_counter() - t0, 3), "signature": sig,
            "tokenizer": tok_sig, "stats": getattr(translator, "last_stats", {}) if not cached else {}}
    if match:
        info["sentence_match"] = match
        log(f"translate: sentence matching: {match['matched']:,} of {match['source_sentences']:,} source sentences "
            f"matched to {match['target_sentences']:,} translations; {match['unmatched']:,} unmatched "
            f"({match['merges_2_1']:,} merges), dropped as untranslated")
    return rows, info


def _align_stage(store: StageStore, pairs: list[tuple[list[str], list[str]]], aligner: Any, want_sim: bool,
                 extra_info: list[dict[str, Any]], log: Callable[[str], None], repeat: int = 0
                 ) -> tuple[list[Alignment], list[np.ndarray] | None, dict[str, Any]]:
    sig = aligner.signature()
    key = content_key("align", [[s, t] for s, t in pairs], sig, want_sim, *([repeat] if repeat else []))
    t0 = time.perf_counter()
    corpus_level = getattr(aligner, "name", "") in CORPUS_LEVEL_ALIGNERS
    size = len(pairs) if corpus_level else ALIGN_CHUNK
    aligns: list[Alignment] = []
    sims: list[np.ndarray] | None = [] if want_sim else None
    done = computed = 0
    counts = getattr(aligner, "stats", None)
    counts = counts if isinstance(counts, dict) and "windowed_sentences" in counts else None
    windowed_before = counts["windowed_sentences"] if counts else 0
    for start in range(0, max(len(pairs), 1), max(size, 1)):
        chunk = pairs[start:start + size]
        name = f"align-{key}/{start:08d}-{content_key([[s, t] for s, t in chunk])}.npz"
        got = store.read_alignments(name, expected=len(chunk))
        if got is None:
            if want_sim:
                a, s = aligner.align_with_similarity(chunk)
            else:
                a, s = aligner.align(chunk), None
            store.write_alignments(name, a, s)
            computed += len(chunk)
        else:
            a, s = got
            done += len(chunk)
        aligns.extend(a)
        if sims is not None:
            sims.extend(s or [])
    info = {"key": key, "cached": computed == 0, "pairs_cached": done, "pairs_aligned": computed,
            "seconds": round(time.perf_counter() - t0, 3), "signature": sig, "similarity": want_sim,
            "chunked": not corpus_level, "extra_parallel": extra_info}
    if counts is not None:  # sentences longer than the encoder's limit, encoded in windows (this run)
        info["windowed_sentences"] = counts["windowed_sentences"] - windowed_before
        if info["windowed_sentences"]:
            log(f"align: {info['windowed_sentences']:,} sentences longer than the encoder's input limit "
                "were encoded in overlapping windows")
    return aligns, sims, info


def project_rows(projector: Any, sentences: Sequence[Sentence], rows: Sequence[dict[str, Any]],
                 aligns: Sequence[Alignment], sims: Sequence[np.ndarray] | None) -> tuple[list[ProjectedSentence], float]:
    """Project the entities of ``sentences`` onto their translations (``rows`` of :func:`translate_rows`):
    the projection stage's unit of work for every executor; also returns the seconds the projector took."""
    from projection.project import ProjectionInput

    inputs = []
    for k, (s, row, a) in enumerate(zip(sentences, rows, aligns)):
        marked = [Span(*m) for m in row["marked"]] if row.get("marked") is not None else None
        inputs.append(ProjectionInput(s, row["tokens"], a, sims[k] if sims else None, marked, row["text"]))
    t1 = time.perf_counter()
    projected = projector.project(inputs)
    project_seconds = time.perf_counter() - t1
    for ps, row in zip(projected, rows):
        if row.get("untranslated"):
            ps.meta["untranslated"] = True
        if "lost" in row:
            ps.meta["markers_lost"] = row["lost"]
            ps.meta["markers_broken"] = row["broken"]
    return projected, project_seconds


def _project_stage(store: StageStore, sentences: list[Sentence], rows: list[dict[str, Any]], aligns: list[Alignment],
                   sims: list[np.ndarray] | None, projector: Any, align_key: str, trans_key: str
                   ) -> tuple[list[ProjectedSentence], dict[str, Any]]:
    sig = projector.signature()
    key = content_key("project", trans_key, align_key, sig)
    name = f"project-{key}.jsonl"
    t0 = time.perf_counter()
    stored = store.read_jsonl(name, expected=len(sentences))
    if stored is not None:
        projected = [ProjectedSentence.from_dict(d) for d in stored]
        return projected, {"key": key, "cached": True, "seconds": round(time.perf_counter() - t0, 3), "signature": sig}
    projected, project_seconds = project_rows(projector, sentences, rows, aligns, sims)
    store.write_jsonl(name, [ps.to_dict() for ps in projected])
    return projected, {"key": key, "cached": False, "seconds": round(time.perf_counter() - t0, 3),
                       "projection_seconds": round(project_seconds, 4),
                       "sentences_per_second": round(len(sentences) / project_seconds) if project_seconds > 0 else None,
                       "signature": sig}


@dataclass
class Job:
    """One target language of a run, resolved and loaded: everything an executor needs.

    Plain data (no engines, no callables), so that an executor can ship it to other
    processes or machines; engines are built where the work runs.
    """

    lang: str
    config: PipelineConfig
    requested: str
    overrides: list[str]
    source_ref: str
    src_path: Path
    src_key: str
    sentences: list[Sentence]
    out: Path
    notes: list[str]
    auto_reason: str | None
    fallback: bool
    prepare_seconds: float = 0.0

    @property
    def markers(self) -> bool:
        return self.config.project["method"] == "markers"


@dataclass
class JobOutput:
    """What an executor returns for one job: the projected sentences in source order (before the
    filtering policy), one info dict per stage (with ``signature``; ``tokenizer`` for translate),
    the wall seconds of the stage work, and extra timings for the manifest."""

    projected: list[ProjectedSentence]
    stages: dict[str, dict[str, Any]]
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)


def projector_options(config: PipelineConfig, lang: str) -> dict[str, Any]:
    """The ``[project]`` options for ``lang``: the pipeline's, plus the target's default lower-case
    convention (:data:`projection.project.ngram.LOWERCASE_DEFAULTS`) when the method has that option
    and the pipeline does not set it."""
    from projection.project import projectors
    from projection.project.ngram import lowercase_default

    options = _options(config.project, "project", lang)
    try:
        params = inspect.signature(projectors.get(config.project["method"])).parameters
    except (TypeError, ValueError):
        params = {}
    if "lowercase" in params and "lowercase" not in options:
        options["lowercase"] = lowercase_default(lang)
    return options


def make_projector(config: PipelineConfig, lang: str) -> Any:
    """The projection method of ``config``; a bad option is a :class:`ProjectionError` naming the file."""
    from projection.project import projectors

    try:
        return projectors.create(config.project["method"], **projector_options(config, lang))
    except TypeError as e:
        raise ProjectionError(f"{config.file or config.name}: [project] {e}") from None


def prepare(lang: str, pipeline: str | Path = "auto", source: str | None = None, out: str | Path | None = None,
            overrides: Sequence[str] = (), log: Callable[[str], None] = lambda m: None) -> Job:
    """Resolve the pipeline (``auto`` included), source and run directory of one language; load the source.

    Logs the run's first line: which pipeline and source are used, and why when ``auto``
    chose or the source fell back to the bundled sample.
    """
    from projection.translate import resolve_language

    t0 = time.perf_counter()
    resolve_language(lang)  # a clear error for an unknown language code
    notes: list[str] = []
    auto_reason = None
    if str(pipeline) == "auto":
        config, auto_reason = choose_auto(lang, overrides)
        notes.append(auto_reason)
    else:
        config = load_pipeline(pipeline, overrides)
    source_ref, source_note = _source_choice(source, config)
    if source_note:
        notes.append(source_note)
    out = Path(out) if out else Path("runs") / f"{lang}-{config.name}"
    check_output_dir(out)  # an unusable --out fails now, not after hours of translation
    log(f"projection run {SOURCE_LANG}->{lang}: pipeline {config.name}, source {source_ref}, out {out}"
        + (" | " + " | ".join(notes) if notes else ""))
    sentences = load_corpus(source_ref)
    src_path = resolve_corpus(source_ref)
    make_projector(config, lang)  # a bad [project] option fails now, before any work
    return Job(lang=lang, config=config, requested=str(pipeline), overrides=list(overrides), source_ref=source_ref,
               src_path=src_path, src_key=_sentence_key(sentences), sentences=sentences, out=out, notes=notes,
               auto_reason=auto_reason, fallback=source_note is not None,
               prepare_seconds=round(time.perf_counter() - t0, 3))


def run_stages(job: Job, log: Callable[[str], None] = lambda m: None) -> JobOutput:
    """Translate, align and project in this process, every stage cached in the run directory
    (the ``local`` executor)."""
    from projection import rundir

    t0 = time.perf_counter()
    config, lang, sentences = job.config, job.lang, job.sentences
    store = StageStore(job.out / rundir.STAGES, log)
    projector = make_projector(config, lang)
    log(f"translate: {config.translate['engine']} ({len(sentences):,} sentences)")
    rows, t_info = _translate_stage(store, sentences, config, lang, job.src_key, job.markers, log)
    aligner, extra_info = _make_aligner(config, lang, log)
    want_sim = _wants_similarity(config, aligner, projector)
    pairs = [(s.tokens, row["tokens"]) for s, row in zip(sentences, rows)]
    runs_on = aligner.signature() if hasattr(aligner, "resolved_backend") else {}
    log(f"align: {config.align['engine']}" + (f" on {runs_on['backend']} ({runs_on['compute_type']})" if runs_on else "")
        + (f" (+{sum(x['pairs'] for x in extra_info):,} extra pairs)" if extra_info else ""))
    aligns, sims, a_info = _align_stage(store, pairs, aligner, want_sim, extra_info, log)
    log(f"project: {config.project['method']}")
    projected, p_info = _project_stage(store, sentences, rows, aligns, sims, projector, a_info["key"], t_info["key"])
    return JobOutput(projected, {"translate": t_info, "align": a_info, "project": p_info},
                     round(time.perf_counter() - t0, 3))


def finish(job: Job, output: JobOutput, executor: dict[str, Any]) -> RunResult:
    """Apply the filtering policy, count, and write the run directory; the manifest records
    what ran (engines, versions, inputs) and how (``executor``)."""
    from projection import rundir
    from projection.project import apply_policy
    from projection.store import atomic_write_json

    config, projected = job.config, output.projected
    t_info, a_info, p_info = output.stages["translate"], output.stages["align"], output.stages["project"]
    apply_policy(projected, config.filter["policy"], float(config.filter["min_score"]))
    stats = projection_stats(projected)
    manifest = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source_lang": SOURCE_LANG,
        "target_lang": job.lang,
        "pipeline": {"name": config.name, "requested": job.requested, "auto": job.auto_reason,
                     "file": str(config.file) if config.file else None,
                     "sha256": file_sha256(config.file)[:16] if config.file else None,
                     "config": config.to_dict(), "overrides": list(job.overrides)},
        "executor": executor,
        "notes": job.notes,
        "source": {"corpus": job.source_ref, "path": str(job.src_path), "sha256": file_sha256(job.src_path)[:16],
                   "content_key": job.src_key, "sentences": len(job.sentences), "fallback": job.fallback},
        "engines": {"translate": t_info["signature"], "tokenizer": t_info["tokenizer"], "align": a_info["signature"],
                    "project": p_info["signature"], "filter": dict(config.filter)},
        "label_convention": _label_convention(config, job.lang, p_info["signature"]),
        "stages": {
            "translate": {k: v for k, v in t_info.items() if k not in ("signature", "tokenizer")},
            "align": {k: v for k, v in a_info.items() if k != "signature"},
            "project": {k: v for k, v in p_info.items() if k != "signature"},
        },
        "counts": stats,
        "versions": {"python": platform.python_version(),
                     **package_versions("projection", "numpy", "scipy", "rapidfuzz", "spacy", "torch", "transformers",
                                        "ctranslate2", "eflomal")},
        "command": " ".join(sys.argv),
    }
    t_w = time.perf_counter()
    manifest["timings"] = {"translate": t_info["seconds"], "align": a_info["seconds"], "project": p_info["seconds"],
                           **output.timings}
    rundir.write_run(job.out, projected, manifest)
    manifest["timings"]["write"] = round(time.perf_counter() - t_w, 3)
    manifest["timings"]["total"] = round(job.prepare_seconds + output.seconds + time.perf_counter() - t_w, 3)
    atomic_write_json(job.out / rundir.MANIFEST, manifest)
    return RunResult(job.out, manifest, projected, stats)


def _label_convention(config: PipelineConfig, lang: str, signature: dict[str, Any]) -> dict[str, Any] | None:
    """Which lower-case convention the projector used, and whether the pipeline or the target's default chose it."""
    if "lowercase" not in signature:
        return None
    return {"lowercase": signature["lowercase"],
            "from": "pipeline" if "lowercase" in config.project else f"default for {lang}"}


def _executor_name(jobs: Sequence[Job], requested: str | None) -> str:
    if requested:
        return requested
    named = sorted({j.config.executor for j in jobs if j.config.executor})
    if len(named) > 1:
        raise ProjectionError(f"the pipelines of these languages name different executors ({', '.join(named)}); "
                              "choose one with --executor")
    return named[0] if named else "local"


def run_many(langs: Sequence[str], pipeline: str | Path = "auto", source: str | None = None,
             out: str | Path | None = None, overrides: Sequence[str] = (), log: Callable[[str], None] = lambda m: None,
             executor: str | None = None, **executor_options: Any) -> list[RunResult]:
    """Project ``source`` into every language of ``langs``: one run directory per language.

    ``out`` is the run directory of a single language, and the parent of one directory per
    language (``OUT/<lang>``) for several; by default each goes to ``runs/<lang>-<pipeline>``.
    ``executor`` runs the stages (:mod:`projection.executors`: ``local`` in this process,
    ``ray`` over shards and languages on a Ray cluster); default: the pipeline file's
    ``[pipeline] executor``, else ``local``. ``executor_options`` go to the executor (for
    ``ray``: ``address``, ``shard_size``, ...). Given the same inputs every executor writes
    the same files; the manifest records which one ran.
    """
    from projection.executors import executors

    langs = list(dict.fromkeys(x.strip() for x in langs if x.strip()))
    if not langs:
        raise ProjectionError("give at least one target language code, e.g. es")
    jobs = [prepare(lang, pipeline, source, None if out is None else Path(out) if len(langs) == 1 else Path(out) / lang,
                    overrides, log) for lang in langs]
    name = _executor_name(jobs, executor)
    try:
        runner = executors.create(name, **executor_options)
    except TypeError as e:
        raise ProjectionError(f"executor {name}: {e}") from None
    from projection.store import folder_lock

    with contextlib.ExitStack() as locks:
        for job in jobs:  # one writer per run directory; a second `run` on the same --out stops here
            locks.enter_context(folder_lock(job.out, "projection run"))
        outputs = runner.run(jobs, log)
        signature = runner.signature()
        return [finish(job, output, signature) for job, output in zip(jobs, outputs)]


def run(lang: str, pipeline: str | Path = "auto", source: str | None = None, out: str | Path | None = None,
        overrides: Sequence[str] = (), log: Callable[[str], None] = lambda m: None, executor: str | None = None,
        **executor_options: Any) -> RunResult:
    """Project ``source`` (default CoNLL-2003 English train) into ``lang`` and write a run directory.

    ``log`` receives progress lines; the first one says which pipeline and source are used
    (and why, when ``auto`` chose or the source fell back to the bundled sample). ``executor``
    and ``executor_options``: see :func:`run_many`.
    """
    return run_many([lang], pipeline, source, out, overrides, log, executor, **executor_options)[0]


# --------------------------------------------------------------------------- intrinsic evaluation


EVAL_LANGS = ("es", "de")
# Europarl-NER tags lower-case words derived from names MISC in both languages ("europea", "europäischen"),
# so projections are scored under that convention unless told otherwise (--set lowercase=drop).
EVAL_LOWERCASE = "misc"


def eval_projection(lang: str, aligner: str = "embed", model: str | None = None, method: str = "ngram",
                    aligner_options: dict[str, Any] | None = None, method_options: dict[str, Any] | None = None,
                    extra_parallel: Sequence[str] | None = None, half: str = "all", repeat: int = 0,
                    log: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """Project the gold English Europarl-NER entities onto the gold target words; seqeval exact-span scores.

    ``half`` = ``first``/``second`` scores only that half of the 799 sentences (alignment
    always runs on all of them): tune on one half, report the other. For statistical
    aligners ``extra_parallel`` (default ``["deepl"]``) adds parallel text to learn from.
    Alignments are cached under ``$PROJECTION_CACHE/eval-projection``.
    """
    from projection.align import aligners
    from projection.project import ProjectionInput, projectors
    from projection.project.evaluate import span_scores
    from projection.translate import cache_root

    if lang not in EVAL_LANGS:
        raise ProjectionError(f"eval-projection: Europarl-NER has gold entities for {', '.join(EVAL_LANGS)}, not {lang!r}")
    if half not in ("all", "first", "second"):
        raise ProjectionError(f"half must be all, first or second, not {half!r}")
    en = load_corpus("europarl-ner-en:test")
    tg = load_corpus(f"europarl-ner-{lang}:test")
    if len(en) != len(tg):
        raise ProjectionError(f"europarl-ner: {len(en)} English but {len(tg)} {lang} sentences; the files must be parallel")
    opts = dict(aligner_options or {})
    if model is not None:
        opts["model"] = _resolve_value("model", model, lang)
    elif aligner == "embed" and (REPO / "models" / "e5-small").exists():
        opts.setdefault("model", str(REPO / "models" / "e5-small"))
    extra_info: list[dict[str, Any]] = []
    params = inspect.signature(aligners.get(aligner)).parameters
    if "extra_pairs" in params:
        names = list(extra_parallel) if extra_parallel is not None else ["deepl"]
        extra, extra_info = extra_parallel_pairs(names, lang, log)
        opts["extra_pairs"] = extra
    al = aligners.create(aligner, **opts)
    method_opts = dict(method_options or {})
    if "lowercase" in inspect.signature(projectors.get(method)).parameters:
        method_opts.setdefault("lowercase", EVAL_LOWERCASE)  # the convention of the gold it is scored on
    projector = projectors.create(method, **method_opts)
    want_sim = hasattr(al, "align_with_similarity") and getattr(projector, "sim_weight", 0) > 0
    pairs = [(a.tokens, b.tokens) for a, b in zip(en, tg)]
    store = StageStore(cache_root() / "eval-projection", log)
    aligns, sims, a_info = _align_stage(store, pairs, al, want_sim, extra_info, log, repeat=repeat)
    inputs = [ProjectionInput(s, t.tokens, a, sims[k] if sims else None) for k, (s, t, a) in enumerate(zip(en, tg, aligns))]
    projected = projector.project(inputs)
    n = len(en)
    sl = {"all": slice(0, n), "first": slice(0, n // 2), "second": slice(n // 2, n)}[half]
    scores = span_scores(tg[sl], projected[sl])
    return {"lang": lang, "aligner": al.signature(), "method": projector.signature(), "half": half, "repeat": repeat,
            "sentences": len(tg[sl]), **scores,
            "alignment": {k: a_info[k] for k in ("cached", "seconds", "extra_parallel")}}
