"""The downstream comparison: does our projection make a better target-language NER model?

Six systems, one encoder and one training recipe, several seeds, seven target test sets:

1. ``zero-shot``: English CoNLL-2003 only, last-layer classifier;
2. ``DLFA/AIF zero-shot``: the same data with DLFA/AIF feature aggregation (arXiv 2205.08497);
3. ``translate-train, our projection``: our projection of a translation of CoNLL-2003 train
   (``runs/<lang>-given`` for es/nl/de: the DeepL translation; ``runs/<lang>-nllb-given`` for
   hau/swa/yor/zul: the NLLB translation published with T-Projection);
4. ``translate-train, published projection``: the same translation labelled by a published
   system (DeepL + AWESoME for es/nl/de, NLLB + T-Projection for the African languages), so
   3 vs 4 isolates the projection step;
5. ``English + our projection``;
6. ``teacher-student``: a student trained on the labels a teacher (system
   ``teacher_system``, default 1, of the same language and seed) gives to the target
   language's unlabeled text (the tokens of its gold *train* split, whose tags are never
   read: :mod:`projection.train.unlabeled`), selected and hard or soft as the options say
   (:mod:`projection.train.teacher`), optionally plus our projection. Its rows carry the
   teacher's system number in the column ``teacher``; the teacher's weights stay until
   its students are evaluated;
7. ``translate-test``: no target model at all: the target test set is translated into English,
   labelled by system 1's model (same seed) and the labels projected back onto the test words
   (the back-translation pipeline, ``translate-test`` by default; see ``docs/translate-test.md``);
8. ``translate-train, back-translated target text``: a model trained on the target *train*
   split's sentences (tokens only, tags never read) labelled that way by system 1's model, the
   sentences with an entity that could not be projected dropped.

Systems 7 and 8 run a pipeline, which this stage does not import: the caller passes a
``back_label`` callable (``projection compare`` passes :class:`projection.pipeline.BackLabeller`).

Zero-resource protocol: no target-language gold label is used for training or model
selection; model selection (the best of the dev evaluations) uses English dev
(``conll2003-en:dev``) for every system; only the target test sets are scored.

Same ids: for each seed one sample of CoNLL-2003 train sentence ids is drawn (all of them
when ``max_train`` is None); every system of every language trains on exactly those source
sentences (the projections on those of them they kept: CoNLL-2003, the DeepL/AWESoME files,
our runs and the matched T-Projection files all carry CoNLL-2003 train ids).

Label conventions: MasakhaNER 2.0 has PER/ORG/LOC/DATE and no MISC. For those targets the
systems trained on target-language data (3, 4, 5) train without MISC (MISC entities become O; our
projections of those targets have already retyped a MISC entity on words the run projects as a
place elsewhere to LOC, :mod:`projection.retype`);
every system is scored on PER/ORG/LOC: DATE is removed from the gold side (a model trained
without DATE never predicts it), and the English-only systems' MISC predictions become O at
scoring. The zero-shot systems need no target data, so one model per seed serves every language.

Layout of ``out`` (``docs/downstream`` from ``make compare``/``make results``)::

    <lang>/<system>-seed<N>/ system.json (what ran, the command, the parts of its model key, the
                             signature of the projection it trained on) and metrics.json: small, no
                             test-set text, so the folder can be committed and a later checkout
                             resumes from it

and of ``models`` (``out/models`` by default)::

    <key>/                   one trained model per distinct training (weights deleted once all its
                             evaluations are written, unless keep_models; train.json stays)
    <key>/eval/<lang>/       predictions.conll and metrics.json of each evaluation

A system whose model key and evaluation did not change is not retrained or re-evaluated, so
the comparison resumes after an interruption and the report is rebuilt from what is done:
:func:`projection.train.report.write_report` writes ``results.md``, ``results.csv`` (one row per language, system and
seed) and ``results.png`` into a report folder (``docs/`` for the committed page).
"""

from __future__ import annotations

import json
import logging
import shlex
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from projection.corpora import load_corpus
from projection.errors import ProjectionError, read_json_file
from projection.progress import BATCH_LINE
from projection.records import Sentence
from projection.store import atomic_write_json, content_key, file_sha256
from projection.train.config import TrainConfig, subsample

logger = logging.getLogger(__name__)

STUDENT_OPTIONS = ("teacher_system", "student_projected", "select", "select_fraction", "soft_labels", "temperature",
                   "max_unlabeled", "student_init", "select_balance")
# options added after results were committed, at the value that trains what those results trained: a model key
# leaves such an option out at that value, so the committed keys stay valid
LATER_OPTIONS: dict[str, Any] = {"precision": "fp32", "keep_layers": None, "student_init": False, "select_balance": False,
                                 "dev_decode": "argmax"}

# the comparison's recipe before it moved to the converged one (docs/train.md): the committed ablation tables
# (docs/teacher-student*.md) and the earlier rows were trained with it; ``CompareOptions(**EARLIER_RECIPE)``
EARLIER_RECIPE: dict[str, Any] = {"max_train": 8000, "epochs": 1, "combined_epochs": None, "precision": "fp32",
                                  "decode": "argmax", "teacher_system": "1", "student_init": False,
                                  "select_balance": False}

SYSTEM_JSON = "system.json"
SOURCE_TRAIN = "conll2003-en:train"
SOURCE_DEV = "conll2003-en:dev"
SYSTEMS: dict[str, str] = {
    "1": "1 zero-shot",
    "2": "2 DLFA/AIF zero-shot",
    "3": "3 translate-train, our projection",
    "4": "4 translate-train, published projection",
    "5": "5 English + our projection",
    "6": "6 teacher-student",
    "7": "7 translate-test",
    "8": "8 translate-train, back-translated target text",
}
BACK_SYSTEMS = ("7", "8")  # labelled through English by system 1's model (a back-translation pipeline)
ALL_SYSTEMS = tuple(SYSTEMS)
# results.csv: the columns `projection inspect --results` reads first, then the rest
LABELS = ("PER", "ORG", "LOC", "MISC")


@dataclass(frozen=True)
class Target:
    """A target test set and the data of its systems."""

    lang: str
    test: str  # corpus name of the gold test set
    ours: str  # our run directory (projected.parquet inside)
    published: str  # corpus of the published projection of the same translation
    published_name: str
    ignore: tuple[str, ...] = ()  # removed from training data (and gold): MISC for MasakhaNER
    eval_ignore: tuple[str, ...] = ()  # removed from gold at scoring only: DATE for MasakhaNER
    unlabeled: str = ""  # unlabeled target text of the teacher-student system (tokens only)
    # every system's encoder reads words without combining marks (TrainConfig.strip_marks): the target's
    # default where its training text marks words unlike its own text (Yoruba; docs/train.md)
    strip_marks: bool = False


def _african(lang: str, strip_marks: bool = False) -> Target:
    return Target(lang, f"masakhaner2-{lang}:test", f"runs/{lang}-nllb-given", f"tprojection-nllb-{lang}:train",
                  "NLLB + T-Projection", ignore=("MISC",), eval_ignore=("DATE",), unlabeled=f"masakhaner2-{lang}:train",
                  strip_marks=strip_marks)


TARGETS: dict[str, Target] = {
    "es": Target("es", "conll2002-es:test", "runs/es-given", "deepl-awesome-es:train", "DeepL + AWESoME",
                 unlabeled="conll2002-es:train"),
    "nl": Target("nl", "conll2002-nl:test", "runs/nl-given", "deepl-awesome-nl:train", "DeepL + AWESoME",
                 unlabeled="conll2002-nl:train"),
    "de": Target("de", "conll2003-de:test", "runs/de-given", "deepl-awesome-de:train", "DeepL + AWESoME",
                 unlabeled="conll2003-de:train"),
    **{lang: _african(lang, strip_marks=lang == "yor") for lang in ("hau", "swa", "yor", "zul")},
}


@dataclass
class CompareOptions:
    """The shared recipe; every system of every language uses exactly these values."""

    model: str = "models/e5-small"
    max_train: int | None = None  # seeded sample of CoNLL-2003 train ids (None: all 14,041, the committed rows' recipe)
    max_dev: int | None = 1000
    epochs: int = 2
    # system 5's epochs (English + our projection: about twice the sentences of the others; with epochs 2, 1 trains
    # it the same number of steps as every other system); None: ``epochs``
    combined_epochs: int | None = 1
    lr: float = 1e-4
    batch_size: int = 16
    freeze_embeddings: bool = True
    freeze_layers: int = 0
    keep_layers: int | None = None  # the encoder's lower N layers only (None: all, the committed rows' recipe)
    fusion_layer: int = 8
    strip_marks: bool | None = None  # words without combining marks: None each target's default, True/False every target
    eval_every: int | None = 200
    precision: str = "bf16"  # bf16 autocast and the fused AdamW (the committed rows' recipe); fp32: float32
    decode: str = "bio"  # how every system's word scores become tags (evaluation only: not in the model key)
    dev_decode: str = "argmax"  # how the English dev evaluations that pick each model decode (in the model key)
    dev: str = SOURCE_DEV
    projected: dict[str, str] = field(default_factory=dict)  # lang -> our projection (run dir or file)
    keep_models: bool = False
    # system 6, teacher-student (left out of the other systems' model keys)
    teacher_system: str = "5"  # the system whose model (same language and seed) is the teacher
    student_projected: bool = False  # the student also trains on our projection (the sampled ids)
    student_init: bool = True  # the student starts from its teacher's weights (self-training), not the pretrained encoder
    select: str = "confidence"
    select_fraction: float | None = 0.5
    select_balance: bool = True  # the top share within each stratum of the teacher's entities per sentence
    soft_labels: bool = False
    temperature: float = 1.0
    max_unlabeled: int | None = None  # seeded sample of the unlabeled text (None: all)

    def student_config(self, seed: int, ignore: Sequence[str], strip_marks: bool = False) -> TrainConfig:
        return self.config(seed, ignore, strip_marks).replace(select=self.select, select_fraction=self.select_fraction,
                                                 select_balance=self.select_balance, soft_labels=self.soft_labels, temperature=self.temperature,
                                                 max_unlabeled_sentences=self.max_unlabeled, teacher_decode=self.decode)

    def student_args(self) -> list[str]:
        """The command-line options of system 6 (with the recipe's)."""
        args = ["--teacher-system", self.teacher_system, "--select", self.select,
                "--select-fraction", f"{self.select_fraction or 0:g}", "--soft" if self.soft_labels else "--hard",
                "--temperature", f"{self.temperature:g}", "--max-unlabeled", str(self.max_unlabeled or 0)]
        if self.student_projected:
            args.append("--student-projected")
        if self.student_init:
            args.append("--student-init")
        if self.select_balance:
            args.append("--select-balance")
        return args

    def combined_config(self, cfg: TrainConfig) -> TrainConfig:
        """System 5's training config: ``cfg`` with its own epochs (``combined_epochs``)."""
        return cfg if self.combined_epochs is None else cfg.replace(epochs=self.combined_epochs)

    def combined_args(self) -> list[str]:
        """The option of system 5's epochs, for the commands of the runs that train system 5."""
        return [] if self.combined_epochs is None else ["--combined-epochs", str(self.combined_epochs)]

    def marks_stripped(self, target: "Target") -> bool:
        """Whether the encoder of ``target``'s systems reads words without combining marks."""
        return target.strip_marks if self.strip_marks is None else self.strip_marks

    def config(self, seed: int, ignore: Sequence[str], strip_marks: bool = False) -> TrainConfig:
        return TrainConfig(lr=self.lr, epochs=self.epochs, batch_size=self.batch_size, seed=seed,
                           freeze_embeddings=self.freeze_embeddings, freeze_layers=self.freeze_layers,
                           keep_layers=self.keep_layers, fusion_layer=self.fusion_layer, eval_every=self.eval_every,
                           strip_marks=strip_marks,
                           max_dev_sentences=self.max_dev, ignore=list(ignore), precision=self.precision,
                           dev_decode=self.dev_decode,
                           fused_optimizer=self.precision != "fp32")

    def recipe_args(self) -> list[str]:
        """The command-line options that reproduce this recipe."""
        args = ["--model", self.model, "--max-train", str(self.max_train or 0), "--max-dev", str(self.max_dev or 0),
                "--dev", self.dev, "--epochs", str(self.epochs), "--lr", f"{self.lr:g}", "--batch-size", str(self.batch_size),
                "--freeze-layers", str(self.freeze_layers), "--fusion-layer", str(self.fusion_layer),
                "--eval-every", str(self.eval_every or 0)]
        args.append("--freeze-embeddings" if self.freeze_embeddings else "--no-freeze-embeddings")
        if self.precision != "fp32":
            args += ["--precision", self.precision]
        if self.keep_layers is not None:
            args += ["--keep-layers", str(self.keep_layers)]
        if self.strip_marks is not None:
            args.append("--strip-marks" if self.strip_marks else "--no-strip-marks")
        if self.decode != "argmax":
            args += ["--decode", self.decode]
        if self.dev_decode != "argmax":
            args += ["--dev-decode", self.dev_decode]
        return args


def projection_path(target: Target, opts: CompareOptions) -> Path:
    """Our projection of ``target``: the option's file or run directory, else the default run directory."""
    path = Path(opts.projected.get(target.lang, target.ours))
    if path.is_dir():
        parquet = path / "projected.parquet"
        return parquet if parquet.exists() else path / "projected.conll"
    return path


def projection_record(path: Path) -> dict[str, Any] | None:
    """The signature of the projection run that wrote ``path`` (its ``manifest.json``): the stages'
    cache keys, each engine's settings as one key, the file's hash, when it was made. Stored with
    every result trained on it, so that a later run whose projection differs says which stage
    differs (:func:`changed_parts`). None for a file outside a run directory."""
    manifest = path.parent / "manifest.json"
    if not manifest.exists():
        return None
    try:
        m = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ProjectionError(f"{manifest}: not a readable manifest ({exc})") from exc
    return {"dir": str(path.parent), "created": m.get("created"),
            "sha256": (m.get("files") or {}).get(path.name, {}).get("sha256"),
            "stages": {k: v.get("key") for k, v in sorted((m.get("stages") or {}).items()) if isinstance(v, dict)},
            "engines": {k: content_key(v) for k, v in sorted((m.get("engines") or {}).items())},
            "versions": m.get("versions"), "hardware": m.get("hardware")}


def _load_published(target: Target) -> list[Sentence]:
    if target.published.startswith("tprojection-nllb-"):
        from projection.corpora import tprojection_sentences

        return tprojection_sentences(target.lang)
    return load_corpus(target.published)


@dataclass
class Run:
    """One (language, system, seed) evaluation and the training behind it."""

    lang: str
    system: str
    seed: int
    arch: str
    train: list[Sentence]
    train_desc: str
    config: TrainConfig
    target: Target
    eval_ignore: tuple[str, ...] = ()  # labels removed from gold and predictions at scoring
    teacher: "Run | None" = None  # system 6: the run whose model labels the unlabeled text
    unlabeled: str | None = None
    back_source: str | None = None  # systems 7 and 8: the target corpus labelled through English
    projection: dict[str, Any] | None = None  # the projected corpus it trains on: its run's signature

    @property
    def back(self) -> bool:
        return self.system in BACK_SYSTEMS

    @property
    def folder(self) -> str:
        return f"{self.system}-seed{self.seed}"


def _select(corpus: Sequence[Sentence], ids: set[str]) -> list[Sentence]:
    return [s for s in corpus if s.id in ids]


def plan(langs: Sequence[str], seeds: Sequence[int], systems: Sequence[str], opts: CompareOptions
         ) -> tuple[list[Run], list[dict[str, str]]]:
    """Every run to do, and the systems that cannot run (with the reason)."""
    for lang in langs:
        if lang not in TARGETS:
            raise ProjectionError(f"no comparison set up for {lang!r}; known: {', '.join(TARGETS)}")
    for s in systems:
        if s not in SYSTEMS:
            raise ProjectionError(f"unknown system {s!r}; choose from {', '.join(ALL_SYSTEMS)}")
    english = load_corpus(SOURCE_TRAIN)
    runs: list[Run] = []
    missing: list[dict[str, str]] = []
    loaded: dict[str, list[Sentence] | str] = {}

    def corpus(key: str, loader) -> list[Sentence] | None:
        if key not in loaded:
            try:
                loaded[key] = loader()
            except ProjectionError as e:
                loaded[key] = str(e)
        got = loaded[key]
        return None if isinstance(got, str) else got

    records: dict[Path, dict[str, Any] | None] = {}

    def ours_record(path: Path) -> dict[str, Any] | None:
        """The signature of our projection's run, its manifest read once."""
        if path not in records:
            records[path] = projection_record(path)
        return records[path]

    for seed in seeds:
        sample = subsample(english, opts.max_train, seed)
        ids = {s.id for s in sample}
        note = f"{len(sample):,} of {len(english):,} sentences, seed {seed}" if opts.max_train else "all sentences"
        for lang in langs:
            t = TARGETS[lang]
            strip = opts.marks_stripped(t)
            cfg = opts.config(seed, t.ignore, strip)
            ours_path = projection_path(t, opts)
            def make(s: str) -> Run | None:
                """The run of system ``s`` (None and a ``missing`` entry when its data is absent)."""
                if s in ("1", "2"):
                    # English-only systems keep every English label, so one model per seed serves every language
                    # of the same recipe (Yoruba, whose marks are stripped, gets a copy: _plain_twin); a target's
                    # ignored labels (MISC for MasakhaNER) are removed at scoring, from gold and predictions alike
                    return Run(lang, s, seed, "token" if s == "1" else "feature-aggregation", sample,
                               f"{SOURCE_TRAIN} ({note})", opts.config(seed, (), strip), t,
                               eval_ignore=tuple(dict.fromkeys(t.eval_ignore + t.ignore)))
                if s in ("3", "5"):
                    mine = ours_ids(s)
                    if mine is None:
                        return None
                    if s == "3":
                        return Run(lang, s, seed, "token", mine, f"{ours_path} ({len(mine):,} of the sampled ids kept)",
                                   cfg, t, eval_ignore=t.eval_ignore, projection=ours_record(ours_path))
                    return Run(lang, s, seed, "token", sample + mine,
                               f"{SOURCE_TRAIN} ({note}) + {ours_path} ({len(mine):,})", opts.combined_config(cfg), t,
                               eval_ignore=t.eval_ignore, projection=ours_record(ours_path))
                if s == "4":
                    pub = corpus(t.published, lambda t=t: _load_published(t))
                    if pub is None:
                        missing.append({"language": lang, "system": s, "reason": str(loaded[t.published])})
                        return None
                    mine = _select(pub, ids)
                    return Run(lang, s, seed, "token", mine,
                               f"{t.published} ({t.published_name}; {len(mine):,} of the sampled ids)", cfg, t,
                               eval_ignore=t.eval_ignore)
                if s in BACK_SYSTEMS:  # labelled through English by system 1's model of this seed
                    english = make("1")
                    assert english is not None
                    if s == "7":
                        return Run(lang, s, seed, "token", [], f"{t.test} (tokens only) labelled through English by "
                                   "system 1", english.config, t, eval_ignore=english.eval_ignore, teacher=english,
                                   back_source=t.test)
                    return Run(lang, s, seed, "token", [], f"{t.unlabeled} (tokens only) labelled through English by "
                               "system 1", cfg, t, eval_ignore=t.eval_ignore, teacher=english, back_source=t.unlabeled)
                # system 6: the student of the teacher system's model of this language and seed
                if opts.teacher_system not in SYSTEMS or opts.teacher_system == "6":
                    raise ProjectionError(f"the teacher system must be one of 1-5, not {opts.teacher_system!r}")
                teacher = make(opts.teacher_system)
                if teacher is None:
                    missing.append({"language": lang, "system": s,
                                    "reason": f"its teacher, system {opts.teacher_system}, cannot run"})
                    return None
                train: list[Sentence] = []
                desc = f"{t.unlabeled} (tokens only) labelled by system {opts.teacher_system}"
                if opts.student_projected:
                    mine = ours_ids(s)
                    if mine is None:
                        return None
                    train = mine
                    desc += f" + {ours_path} ({len(mine):,})"
                return Run(lang, s, seed, "token", train, desc, opts.student_config(seed, t.ignore, strip), t,
                           eval_ignore=t.eval_ignore, teacher=teacher, unlabeled=t.unlabeled,
                           projection=ours_record(ours_path) if opts.student_projected else None)

            def ours_ids(s: str) -> list[Sentence] | None:
                ours = corpus(str(ours_path), lambda p=ours_path: load_corpus(str(p)) if p.exists() else
                              (_ for _ in ()).throw(ProjectionError(f"{p} does not exist yet (make project LANG={lang} "
                                                                    f"PIPELINE={'nllb-given' if t.ignore else 'given'})")))
                if ours is None:
                    missing.append({"language": lang, "system": s, "reason": str(loaded[str(ours_path)])})
                    return None
                mine = _select(ours, ids)
                if not mine:
                    raise ProjectionError(f"{ours_path}: none of its sentence ids ({ours[0].id}, ...) are CoNLL-2003 "
                                          "train ids; use projected.parquet, which keeps the source ids")
                return mine

            for s in systems:
                run = make(s)
                if run is not None:
                    runs.append(run)
    return runs, missing


def _encoder_id(model: str) -> str:
    path = Path(model)
    weights = path / "model.safetensors"
    return file_sha256(weights)[:16] if weights.exists() else model


def _key_options(opts: CompareOptions, names: Sequence[str]) -> dict[str, Any]:
    """``names`` of ``opts`` and their values, without the :data:`LATER_OPTIONS` at their earlier value."""
    return {k: getattr(opts, k) for k in names if k not in LATER_OPTIONS or getattr(opts, k) != LATER_OPTIONS[k]}


def _data_key(run: Run) -> str:
    return content_key([(s.id, s.tokens, s.tags) for s in run.train])


def _student_options(opts: CompareOptions) -> dict[str, Any]:
    """The options that shape a student (system 6); the teacher's hard tags follow the recipe's decoder
    (argmax, left out: the committed keys stay)."""
    decoder = {"teacher_decode": opts.decode} if opts.decode != "argmax" else {}
    return {**_key_options(opts, STUDENT_OPTIONS), **decoder}


def _recipe(run: Run, opts: CompareOptions) -> dict[str, Any]:
    """The comparison options that shape a run's model (its training options, not the student's)."""
    # strip_marks: the run's own (a target's default or the option), below; off keeps the committed keys
    recipe = _key_options(opts, [k for k in asdict(opts) if k not in ("projected", "keep_models", "model", "dev",
                                                                      "strip_marks", "decode", "combined_epochs",
                                                                      *STUDENT_OPTIONS)])
    # system 5's own epochs: in its key only where they differ from the others' (the other systems' keys stay)
    if run.system == "5" and run.config.epochs != opts.epochs:
        recipe["combined_epochs"] = run.config.epochs
    if run.config.strip_marks:
        recipe["strip_marks"] = True
    return recipe


def key_parts(run: Run, opts: CompareOptions, dev_hash: str, encoder_id: str) -> dict[str, Any]:
    """The parts of :func:`model_key`, each as its own key, stored with a result so that a later
    ``model changed`` can say which part changed (:func:`changed_parts`)."""
    parts = {"train data": _data_key(run), "recipe": content_key(run.arch, _recipe(run, opts), sorted(run.config.ignore)),
             "seed": run.seed, "dev": dev_hash, "encoder": encoder_id}
    if run.teacher is not None and not run.back:
        parts["student options"] = content_key(_student_options(opts))
        parts["teacher"] = model_key(run.teacher, opts, dev_hash, encoder_id)
    return parts


def changed_parts(done: dict[str, Any], parts: dict[str, Any], projection: dict[str, Any] | None) -> list[str]:
    """What differs between a committed result (its ``system.json``) and a run of today: the key parts, and for
    changed training data the projection stages whose keys differ and the CPUs when they differ. Empty when the
    result predates the record."""
    before = done.get("key_parts") or {}
    out = [k for k in parts if k in before and before[k] != parts[k]]
    old, new = done.get("projection") or {}, projection or {}
    if "train data" in out and old and new:
        stages = [f"projection stage {k}" for k in new.get("stages", {})
                  if k in old.get("stages", {}) and old["stages"][k] != new["stages"][k]]
        engines = [f"projection engine {k}" for k in new.get("engines", {})
                   if k in old.get("engines", {}) and old["engines"][k] != new["engines"][k]]
        out += stages + engines
        out += _other_machine(old.get("hardware"), new.get("hardware"))
    return out


def _other_machine(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    """Says how the machines differ when the two projections were written on CPUs whose numeric kernels may
    differ (the encoder's int8/float32 arithmetic, and with it a few alignments: docs/project.md)."""
    if not old or not new:
        return []
    what = []
    if old.get("machine") != new.get("machine"):
        what.append(f"{old.get('machine')} -> {new.get('machine')}")
    before, now = set(old.get("isa") or []), set(new.get("isa") or [])
    what += [f"{sign}{flag}" for sign, flags in (("-", before - now), ("+", now - before)) for flag in sorted(flags)]
    env_before, env_now = old.get("env") or {}, new.get("env") or {}
    what += [f"{k}={env_before.get(k, '')!s} -> {env_now.get(k, '')!s}" for k in sorted({*env_before, *env_now})
             if env_before.get(k) != env_now.get(k)]
    return [f"projection written on another CPU ({', '.join(what)})"] if what else []


def model_key(run: Run, opts: CompareOptions, dev_hash: str, encoder_id: str, back: dict[str, Any] | None = None) -> str:
    """Everything that determines the trained model (not the language it is evaluated on).

    The recipe enters through the comparison's own options, not the whole ``TrainConfig``, so
    that a training option added later (at a default that changes nothing) does not invalidate
    committed results; a change of a default that does change models bumps the version tag.
    Systems 7 and 8 add system 1's key, the corpus labelled through English and ``back`` (the
    back-translation pipeline's signature).
    """
    data = _data_key(run)
    recipe = _recipe(run, opts)
    parts: list[Any] = ["compare-model-v2", run.arch, recipe, run.seed, sorted(run.config.ignore), data, dev_hash,
                        encoder_id]
    if run.back:
        from projection.corpora import resolve_corpus

        parts += ["back-translation", run.system, model_key(run.teacher, opts, dev_hash, encoder_id), run.back_source,
                  file_sha256(resolve_corpus(str(run.back_source)))[:16], back]
    elif run.teacher is not None:  # a student: its options, its teacher's key and the unlabeled text
        from projection.corpora import resolve_corpus

        # adversarial selection scores with a cross-fitted probe since "adversarial-probe-v1" (before: the discriminator)
        parts += ["teacher-student", _student_options(opts),
                  *(["adversarial-probe-v1"] if opts.select == "adversarial" else []),
                  model_key(run.teacher, opts, dev_hash, encoder_id), run.unlabeled,
                  file_sha256(resolve_corpus(str(run.unlabeled)))[:16]]
    return content_key(*parts)


def _marked(sentences: Sequence[Sentence]) -> bool:
    from projection.textnorm import has_marks

    return has_marks(w for s in sentences for w in s.tokens)


def _plain_twin(run: Run) -> Run | None:
    """The same run without ``strip_marks`` when it trains the same model: ``run`` strips marks although no word
    of its training text has one (:func:`projection.textnorm.has_marks`; the dev text is checked by the caller),
    so both read the same subwords: Yoruba's English-only systems on CoNLL-2003. The twin's weights then serve,
    copied with a tokenizer that strips (:func:`~projection.train.transformer.strip_marks_copy`). Students and
    back-translation systems, whose text comes later, have none."""
    if run.config.strip_marks and run.teacher is None and not run.back and not _marked(run.train):
        return replace(run, config=run.config.replace(strip_marks=False))
    return None


_COMPOSED: dict[tuple[str, str], int] = {}


def composed_words(model: str, test: str) -> int:
    """The words of ``test`` whose subwords ``model``'s tokenizer gives differently since the encoder's
    input is composed (:mod:`projection.textnorm`): 0 when every word is NFC or the tokenizer
    composes by itself. An evaluation key includes it when it is not 0, so that exactly the
    evaluations it changes (MasakhaNER's Yoruba test set with multilingual-e5-small) are redone and
    every other committed result keeps its key."""
    if (model, test) not in _COMPOSED:
        from projection.textnorm import not_composed

        odd = not_composed(sorted({w for s in load_corpus(test) for w in s.tokens}))
        changed = 0
        if odd:
            from transformers import AutoTokenizer

            from projection.textnorm import compose_unicode

            tok = AutoTokenizer.from_pretrained(model)
            before = tok(odd, add_special_tokens=False)["input_ids"]
            after = compose_unicode(tok)(odd, add_special_tokens=False)["input_ids"]  # the same tokenizer, composing
            changed = sum(a != b for a, b in zip(before, after))
        _COMPOSED[(model, test)] = changed
    return _COMPOSED[(model, test)]


def command(run: Run, out: Path, opts: CompareOptions, back: dict[str, Any] | None = None) -> str:
    parts = ["python", "-m", "projection", "compare", "--lang", run.lang, "--seeds", str(run.seed),
             "--systems", run.system, "--out", str(out), *opts.recipe_args()]
    uses_ours = run.system in ("3", "5") or (run.system == "6" and (opts.student_projected or opts.teacher_system in ("3", "5")))
    if uses_ours and run.lang in opts.projected:
        parts += ["--projected", f"{run.lang}={opts.projected[run.lang]}"]
    if run.system == "5" or (run.system == "6" and opts.teacher_system == "5"):
        parts += opts.combined_args()
    if run.system == "6":
        parts += opts.student_args()
    if run.back and back is not None:
        parts += ["--back-pipeline", str(back.get("pipeline"))]
        for o in back.get("overrides") or []:
            parts += ["--back-set", str(o)]
    return shlex.join(parts)


def compare(langs: Sequence[str], out: str | Path, *, seeds: Sequence[int] = (13, 14, 15),
            systems: Sequence[str] = ALL_SYSTEMS, options: CompareOptions | None = None, force: bool = False,
            report: str | Path | None = None, models: str | Path | None = None,
            back_label: Any = None, dry_run: bool = False) -> dict[str, Any]:
    """Train and evaluate what is not done yet, then write the report (``report``, default ``out``).

    ``out`` receives only small JSON files per (language, system, seed): ``system.json`` (what was
    trained, how, the command) and ``metrics.json``, so it can be committed and a later checkout
    resumes where this one stopped. Models, their predictions and the conversion caches go to
    ``models`` (default ``out/models``). Order: the English-only systems (1, 2) first, each model
    trained once and scored on every language; then language by language, all its seeds, so
    that each language is finished before the next begins.

    ``back_label`` (systems 7 and 8): ``back_label(model_dir, lang, corpus, out, policy, decode)`` labels a
    target corpus through English with an English model, its tags decoded by ``decode`` (the recipe's), and
    returns its sentences (see :class:`projection.pipeline.BackLabeller`); it has a ``signature()``. The
    decoder is part of system 8's model key (it makes its training labels).

    ``dry_run``: train and evaluate nothing; return ``{"plan": [...], "missing": [...]}``, one
    entry per evaluation (``language``, ``system``, ``seed``, ``state``): ``done``, ``new`` (no
    result yet), ``model changed`` (its training data, recipe or encoder differ from the
    committed result's) or ``evaluation changed`` (same model, other test set or scoring).
    """
    from projection.train.api import evaluate, load_model, load_sentences, train_model

    from projection.train.precision import check as check_precision

    opts = options or CompareOptions()
    check_precision(opts.precision)
    out = Path(out)
    runs, missing = plan(list(langs), [int(s) for s in seeds], [str(s) for s in systems], opts)
    for run in runs:  # a bad recipe stops here, not after hours of the systems before it
        run.config.validate()
    if opts.keep_layers is not None and any(r.arch == "feature-aggregation" for r in runs):
        from projection.train.dlfa import fusion_index

        fusion_index(opts.fusion_layer, opts.keep_layers)  # DLFA's rule, on the kept depth
    if back_label is None and any(r.back for r in runs):
        raise ProjectionError("systems 7 and 8 label target text through English with a back-translation pipeline: "
                              "give back_label (`projection compare` does, --back-pipeline)")
    back_sig = back_label.signature() if back_label is not None else None
    if back_sig is not None and opts.decode != "argmax":  # argmax: the committed rows' keys unchanged
        back_sig = {**back_sig, "decode": opts.decode}
    dev_s, dev_desc = load_sentences(opts.dev)
    dev_hash = dev_desc[0].get("sha256", "")
    encoder_id = _encoder_id(opts.model)
    dev_marked = _marked(dev_s)
    twins: dict[str, str] = {}  # model key -> its plain twin's (_plain_twin)
    todo = []
    states: list[dict[str, Any]] = []
    for run in runs:
        key = model_key(run, opts, dev_hash, encoder_id, back_sig if run.back else None)
        if not dev_marked and (twin := _plain_twin(run)) is not None:
            twins[key] = model_key(twin, opts, dev_hash, encoder_id)
        sys_dir = out / run.lang / run.folder
        eval_key = content_key(key, run.target.test, run.eval_ignore, run.target.ignore)
        if recomposed := composed_words(opts.model, run.target.test):  # the test words the encoder now reads composed
            eval_key = content_key(eval_key, "nfc-input", recomposed)
        if run.system == "6":  # a student's evaluation also scores the weights it learnt from (teacher_scores)
            eval_key = content_key(eval_key, "teacher-scores-v1")
        if opts.decode != "argmax":  # argmax: the committed rows' keys unchanged
            eval_key = content_key(eval_key, "decode", opts.decode)
        meta_path = sys_dir / SYSTEM_JSON
        state = "new"
        changed: list[str] = []
        if meta_path.exists() and (sys_dir / "metrics.json").exists():
            done = read_json_file(meta_path)
            state = ("done" if done.get("eval_key") == eval_key else
                     "evaluation changed" if done.get("model_key") == key else "model changed")
            if state == "model changed":
                changed = changed_parts(done, key_parts(run, opts, dev_hash, encoder_id), run.projection)
        states.append({"language": run.lang, "system": run.system, "seed": run.seed, "state": state, "model_key": key,
                       **({"changed": changed} if changed else {}),
                       # not trained: copied from its plain twin's model (when that is there by then)
                       **({"copy_of": twins[key]} if key in twins and state != "done" else {})})
        if state == "done" and not force:
            continue
        todo.append((run, key, eval_key, sys_dir))
    if dry_run:
        return {"plan": states, "missing": missing}
    lang_order = {lang: k for k, lang in enumerate(langs)}

    def order(item) -> tuple:
        run = item[0]
        if run.system in ("1", "2"):  # English-only: one model per seed, scored on every language in a row (a
            # model that strips marks after its plain twin, a copy of it)
            return (0, run.system, run.seed, run.config.strip_marks, lang_order[run.lang])
        return (1, lang_order[run.lang], run.seed, run.system)  # then each language finished before the next

    todo.sort(key=order)
    models_dir = Path(models) if models is not None else out / "models"
    pending: dict[str, set[Path]] = {}
    teacher_keys: dict[str, str] = {}  # student key -> teacher key
    for run, key, _ek, sys_dir in todo:
        pending.setdefault(key, set()).add(sys_dir)
        if run.teacher is not None:  # a teacher's weights stay until its students are evaluated
            teacher_keys[key] = model_key(run.teacher, opts, dev_hash, encoder_id)
            pending.setdefault(teacher_keys[key], set()).add(sys_dir)
        if key in twins:  # a plain twin's weights stay until they are copied
            pending.setdefault(twins[key], set()).add(sys_dir)
    trained_now: set[str] = set()
    scored: dict[tuple[str, str], dict[str, Any]] = {}  # (model key, language) -> metrics of this run

    def ensure_trained(run: Run, key: str, what: str) -> bool:
        """Train ``run``'s model unless its weights are there (a student's teacher first); True when trained now."""
        model_dir = models_dir / key
        if run.system == "7":  # no model of its own: system 1's labels the test set through English
            return ensure_trained(run.teacher, teacher_keys[key], f"{what}: its English model, system 1")
        if _has_weights(model_dir) and (not force or key in trained_now):
            return False
        if key in twins and _has_weights(models_dir / twins[key]) and (not force or twins[key] in trained_now):
            from projection.train.transformer import strip_marks_copy

            twin = models_dir / twins[key]
            why = "trained on text without combining marks: stripping them changes nothing it reads"
            logger.info(f"{what}: the model of {twin.name}, which reads the marks, {why}: copied", extra=BATCH_LINE)
            strip_marks_copy(twin, model_dir, why)
            trained_now.add(key)
            return True
        teacher_dir = None
        if run.teacher is not None:
            tkey = teacher_keys[key]
            ensure_trained(run.teacher, tkey, f"{what}: its teacher, system {run.teacher.system}")
            teacher_dir = models_dir / tkey
        if run.back:  # system 8: the target train split labelled through English by system 1's model
            logger.info(f"{what}: labelling {run.back_source} through English with system 1's model", extra=BATCH_LINE)
            train = back_label(teacher_dir, run.lang, run.back_source, model_dir.parent / f"{key}.run", "drop-sentence",
                               opts.decode)
            if run.config.ignore:
                from projection.train.config import map_labels

                train = map_labels(train, dict.fromkeys(run.config.ignore, "O"))
            logger.info(f"{what}: training on {len(train):,} sentences labelled through English", extra=BATCH_LINE)
            data = {"train": [{"description": run.train_desc, "sentences": len(train),
                               "back_translation": back_sig}], "dev": dev_desc}
            train_model(train, out=model_dir, model=opts.model, arch=run.arch, dev=dev_s, config=run.config, data=data)
            run.train = train
            trained_now.add(key)
            return True
        logger.info(f"{what}: training on {len(run.train):,} sentences"
                    + (f" and the teacher's labels of {run.unlabeled}" if run.teacher is not None else ""), extra=BATCH_LINE)
        data = {"train": [{"description": run.train_desc, "sentences": len(run.train)}], "dev": dev_desc}
        config = run.config
        if teacher_dir is not None and opts.student_init:
            config = config.replace(init_from=str(teacher_dir))
        train_model(run.train, out=model_dir, model=opts.model, arch=run.arch, dev=dev_s, config=config, data=data,
                    unlabeled=run.unlabeled, teacher=teacher_dir)
        trained_now.add(key)
        return True
    logger.info(f"compare: {len(runs)} evaluations, {len(runs) - len(todo)} done before, {len(todo)} to do")
    train_secs: list[float] = []  # each model trained (or copied) by this run, for the time left
    eval_secs: list[float] = []
    for n, (run, key, eval_key, sys_dir) in enumerate(todo, start=1):
        model_dir = models_dir / key
        t0 = time.perf_counter()
        # models still to train: those not there yet (an English model serves several languages: once; system 7 has
        # none of its own, a Yoruba English model is a copy); a teacher trained with its first student counts there
        to_train = {k for r, k, _e, _d in todo[n - 1:] if r.system != "7" and k not in trained_now and k not in twins
                    and not _has_weights(models_dir / k)}
        left = _time_left(train_secs, eval_secs, len(to_train), len(todo) - n + 1)
        try:
            trained = not ensure_trained(run, key, f"compare {n}/{len(todo)}{left}: {run.lang} system {run.system} "
                                                   f"seed {run.seed}")
        except ProjectionError as exc:  # this run's data cannot train a model (e.g. a teacher that tagged no entity)
            logger.warning(f"compare: {run.lang} system {run.system} seed {run.seed} not trained: {exc}")
            missing.append({"language": run.lang, "system": run.system, "seed": run.seed, "reason": str(exc)})
            continue
        train_minutes = round((time.perf_counter() - t0) / 60, 1)
        t1 = time.perf_counter()
        if not trained:
            train_secs.append(t1 - t0)
        if run.system == "7":  # the English model's labels of the test set, projected back: no target model
            model_dir = models_dir / teacher_keys[key]
            tags = [s.tags for s in back_label(model_dir, run.lang, run.target.test, models_dir / f"{key}.run",
                                               "keep-all", opts.decode)]
            predictor = FixedPredictor(load_model(model_dir), tags, opts.decode)
            eval_dir = models_dir / f"{key}.eval" / run.lang
        else:
            predictor = load_model(model_dir)
            eval_dir = model_dir / "eval" / run.lang
        metrics = evaluate(predictor, run.target.test, eval_dir, model_dir=model_dir, ignore=run.eval_ignore,
                           decode=opts.decode)
        scored[(key, run.lang)] = metrics
        teacher_scores = None
        if run.system == "6":  # the teacher's weights, scored now unless this run just scored them on this test set
            tkey = teacher_keys[key]
            teacher_scores = _teacher_scores(models_dir / tkey, run, scored.get((tkey, run.lang)), opts.decode)
        # predictions hold test-set text: they stay with the model, out of the committed folder
        atomic_write_json(sys_dir / "metrics.json", portable(metrics))
        atomic_write_json(sys_dir / SYSTEM_JSON, {
            "eval_key": eval_key, "model_key": key, "key_parts": key_parts(run, opts, dev_hash, encoder_id),
            "projection": portable(run.projection), "language": run.lang, "system": run.system,
            "label": SYSTEMS[run.system], "arch": run.arch, "train": run.train_desc,
            "train_sentences": len(run.train) if not run.back else _trained_sentences(models_dir / key),
            "teacher": run.teacher.system if run.teacher is not None else None, "unlabeled": run.unlabeled,
            **({"teacher_scores": teacher_scores} if teacher_scores else {}),
            "dev": f"{opts.dev} ({opts.max_dev or 'all'} sentences)", "test": run.target.test,
            "ignore": list(run.config.ignore), "eval_ignore": list(run.eval_ignore), "seed": run.seed,
            "command": command(run, out, opts, back_sig), "train_minutes": train_minutes if not trained else None,
            "eval_minutes": round((time.perf_counter() - t1) / 60, 1),
            "recipe": {**asdict(opts), "strip_marks": run.config.strip_marks},
        })
        eval_secs.append(time.perf_counter() - t1)
        logger.info(f"{run.lang} system {run.system} seed {run.seed}: F1 {100 * metrics['f1']:.2f}")
        for k in (key, teacher_keys.get(key), twins.get(key)):
            if k is None:
                continue
            pending[k].discard(sys_dir)
            if not pending[k] and not opts.keep_models:
                _drop_weights(models_dir / k)
    add_errors(out, models_dir)
    from projection.train.report import write_report

    return write_report(out, report or out, langs=list(langs), missing=missing)


def _time_left(train_secs: Sequence[float], eval_secs: Sequence[float], to_train: int, to_evaluate: int) -> str:
    """`` (about 2 h 05 min left)``: ``to_train`` trainings and ``to_evaluate`` evaluations at the mean time of
    those done so far ("" before the first evaluation; before the first training, the trainings left are not
    counted: no pace for them yet, so the estimate says so)."""
    if not eval_secs:
        return ""
    seconds = sum(eval_secs) / len(eval_secs) * to_evaluate
    if to_train and not train_secs:
        return f" (more than {_minutes(seconds)} left: {to_train} to train)"
    if train_secs:
        seconds += sum(train_secs) / len(train_secs) * to_train
    return f" (about {_minutes(seconds)} left)"


def _minutes(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 90 else f"{minutes} min"


def add_errors(out: str | Path, models: str | Path) -> int:
    """Give every finished row of ``out`` whose ``metrics.json`` has no ``errors`` (scored before they were
    recorded) its breakdown (:func:`projection.scores.span_errors`) from the predictions kept with its model in
    ``models``, when they are there and reproduce the row's scores (a model retrained since may have overwritten
    them). Returns the number of rows given one."""
    from projection.corpus import read_conll
    from projection.scores import span_errors
    from projection.train.metrics import PREDICTIONS, score

    added = 0
    for meta_path in sorted(Path(out).glob(f"*/*/{SYSTEM_JSON}")):
        metrics_path = meta_path.parent / "metrics.json"
        if not metrics_path.exists():
            continue
        metrics = read_json_file(metrics_path)
        meta = read_json_file(meta_path)
        if "errors" in metrics or "model_key" not in meta or "language" not in meta:
            continue
        key, lang = meta["model_key"], meta["language"]
        path = Path(models) / (f"{key}.eval" if meta.get("system") == "7" else f"{key}/eval") / lang / PREDICTIONS
        if not path.exists():
            continue
        gold, pred = ([s.tags for s in read_conll(path, tag_col=col)] for col in (1, 2))  # token, gold, predicted
        if len(gold) != metrics.get("sentences") or abs(score(gold, pred)["f1"] - metrics["f1"]) > 1e-9:
            logger.warning(f"compare: {path} does not reproduce {metrics_path}'s F1; no error breakdown for it")
            continue
        metrics["errors"] = span_errors(gold, pred)
        atomic_write_json(metrics_path, metrics)
        added += 1
    if added:
        logger.info(f"compare: {added} finished rows given their error breakdown from their kept predictions")
    return added


def _teacher_scores(teacher_dir: Path, run: Run, metrics: dict[str, Any] | None = None,
                    decode: str = "argmax") -> dict[str, Any] | None:
    """F1, precision and recall on ``run``'s test set of the teacher weights a student learnt from, scored as the
    student is. Usually they are the teacher system's row of the same seed, but not always: a teacher retrained on
    other hardware has that row's model key and other weights. ``metrics``: the teacher's scores of this comparison,
    when it scored them. None when the weights are gone and were never scored here."""
    from projection.train.api import evaluate, load_model

    scores = teacher_dir / "eval" / run.lang / "metrics.json"
    if metrics is not None:  # scored by this comparison already
        m = metrics
    elif (teacher_dir / "model.safetensors").exists():
        m = evaluate(load_model(teacher_dir), run.target.test, teacher_dir / "eval" / run.lang, model_dir=teacher_dir,
                     ignore=run.teacher.eval_ignore, decode=decode)  # as its own row scores it (zero-shot: no MISC)
    elif scores.exists():
        m = read_json_file(scores)
    else:
        return None
    return {"f1": m["f1"], "precision": m["precision"], "recall": m["recall"], "model_key": teacher_dir.name}


def _trained_sentences(model_dir: Path) -> int:
    """The training sentences a model folder's ``train.json`` records (0 without one: system 7 trains nothing)."""
    try:
        meta = json.loads((model_dir / "train.json").read_text(encoding="utf-8"))
        return int(sum(d.get("sentences") or 0 for d in meta.get("data", {}).get("train", [])))
    except (OSError, ValueError, TypeError, AttributeError):
        return 0


class FixedPredictor:
    """A model's identity (labels, config, info) with predictions made elsewhere (system 7: the English
    model's labels projected back onto the test words), in test-set order; ``decode`` names the decoder
    that made them (recorded with the scores)."""

    def __init__(self, model: Any, tags: Sequence[Sequence[str]], decode: str = "argmax"):
        self.labels, self.config, self.info = model.labels, model.config, model.info
        self._tags = [list(t) for t in tags]
        self.decode = decode

    def predict(self, sentences: Sequence[Sentence] | Sequence[Sequence[str]], description: str = "predict"
                ) -> list[list[str]]:
        if len(sentences) != len(self._tags):
            raise ProjectionError(f"{len(self._tags):,} labelled sentences for {len(sentences):,} test sentences")
        for k, (s, t) in enumerate(zip(sentences, self._tags)):
            if len(getattr(s, "tokens", s)) != len(t):
                raise ProjectionError(f"test sentence {k + 1}: {len(getattr(s, 'tokens', s))} words but "
                                      f"{len(t)} labels from the back-translation run")
        return [list(t) for t in self._tags]


def portable(obj: Any) -> Any:
    """``obj`` with the paths of this machine made portable: under the data directory as
    ``$PROJECTION_DATA/...``, under the working directory relative to it (committed results
    name no machine's folders)."""
    from projection.corpora import data_dir

    roots = [(str(data_dir().resolve()) + "/", "$PROJECTION_DATA/"), (str(Path.cwd().resolve()) + "/", "")]

    def fix(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        if isinstance(v, list):
            return [fix(x) for x in v]
        if isinstance(v, str):
            for root, repl in roots:
                if v.startswith(root):
                    return repl + v[len(root):]
        return v

    return fix(obj)


def _has_weights(model_dir: Path) -> bool:
    return (model_dir / "train.json").exists() and (model_dir / "model.safetensors").exists()


def _drop_weights(model_dir: Path) -> None:
    """Model weights are ~470 MB each: once every evaluation of a model is written, keep its train.json
    and its predictions, not its weights (a later evaluation retrains it)."""
    (model_dir / "model.safetensors").unlink(missing_ok=True)
    shutil.rmtree(model_dir / "ct2", ignore_errors=True)


# --------------------------------------------------------------------------- report
