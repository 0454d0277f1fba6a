"""The dataset card of an export: YAML metadata for the Hugging Face Hub, then a Markdown body.

The YAML header is serialised by ``huggingface_hub``'s :class:`DatasetCardData` (``yaml.dump``),
never pasted together from strings, so a model name or pipeline description with a colon,
quote or newline cannot break it. The body is a Jinja2 template
(``templates/dataset_card.md.j2``) rendered without HTML autoescaping (it is Markdown);
values that go into tables or code spans pass the ``cell`` and ``code`` filters.
Absolute paths in the run's manifest are shown by their last component only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from projection import rundir
from projection.errors import ProjectionError
from projection.export.base import AS_RUN, ExportData, manifest_dict, pipeline_info, public
from projection.export.sources import source_info, translation_info
from projection.store import file_sha256, signature_string

TEMPLATE = "dataset_card.md.j2"
TAGS = ["annotation-projection", "cross-lingual-transfer", "silver-standard"]
MT_ENGINES = ("nllb", "hf", "apertium")
_SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
          (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B"))
_STATUSES = ("projected", "unaligned", "conflict", "below-threshold")
_POLICY_TEXT = {
    "drop-sentence": "a sentence is left out when any of its entities was not projected (its words would be tagged `O`: "
                     "a false negative); sentences without entities are kept, as true negatives",
    "keep-all": "every sentence is kept; an entity that was not projected is absent from the tags (its words are `O`)",
    "drop-below-score": "every sentence is kept; projected entities scoring under the minimum score become "
                        "`below-threshold` and are absent from the tags",
}
_SCHEME_NAMES = {"iob2": "IOB2 (BIO)", "iob1": "IOB1", "iobes": "IOBES (BIOES)"}


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` value for ``n`` examples."""
    for bound, name in _SIZES:
        if n < bound:
            return name
    return "n>1B"


def language(code: str) -> tuple[str, str]:
    """(ISO 639-1 code where there is one, else ISO 639-3; English name) of any accepted language code."""
    from projection.languages import resolve_language

    if not code or code == "None":
        return "und", "the target language"
    try:
        lang = resolve_language(code)
    except ProjectionError:
        return str(code), str(code)
    return lang.short, lang.name


def cell(value: Any) -> str:
    """A Markdown table cell: ``|`` escaped, line breaks flattened."""
    return " ".join(str("" if value is None else value).split()).replace("|", "\\|")


def code(value: Any) -> str:
    """An inline code span that survives backticks in ``value``."""
    text = " ".join(str(value).split())
    ticks = "`"
    while ticks in text:
        ticks += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _pct(num: int, den: int) -> str:
    return f"{100 * num / den:.1f}%" if den else "-"


def _stage_rows(engines: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    for stage in ("translate", "tokenizer", "align", "project", "filter"):
        sig = engines.get(stage)
        if not isinstance(sig, dict):
            continue
        sig = public(sig)
        engine_key = next((k for k in ("engine", "method", "tokenizer", "policy") if k in sig), None)
        model_key = next((k for k in ("model", "file", "mode") if sig.get(k)), None)
        hidden = {engine_key, model_key, "versions", "code", "name"}
        settings = ", ".join(f"{k}={v}" for k, v in sig.items()
                             if k not in hidden and v is not None and not isinstance(v, (dict, list)))
        rows.append({"stage": stage, "engine": str(sig.get(engine_key, "")) if engine_key else "",
                     "model": str(sig.get(model_key, "")) if model_key else "", "settings": settings,
                     "signature": signature_string(sig)})
    return rows


def commands(data: ExportData, fmt: str, options: dict[str, Any]) -> tuple[str, str]:
    """The ``projection run`` and ``projection export`` commands that make this export again."""
    m = data.manifest
    pipe = pipeline_info(m)
    requested = pipe.get("requested") or pipe.get("name") or "auto"
    if requested == "auto" and pipe.get("name"):
        requested = pipe["name"]  # what auto chose
    run = f"runs/{data.run_dir.name}"
    parts = ["projection run", f"--lang {m.get('target_lang')}", f"--pipeline {public(str(requested))}"]
    corpus = manifest_dict(m, "source").get("corpus")
    if corpus:
        parts.append(f"--source {public(str(corpus))}")
    parts += [f"--set {public(o)}" for o in pipe.get("overrides") or []]
    parts.append(f"--out {run}")
    sel = data.selection
    exp = ["projection export", run, f"--format {fmt}"]
    exp += [f"--{k} {v}" for k, v in options.items() if v is not None]
    if sel.policy is not None:
        exp.append(f"--policy {sel.policy}")
    if sel.min_score is not None:
        exp.append(f"--min-score {sel.min_score}")
    if sel.dev_fraction:
        exp.append(f"--dev-fraction {sel.dev_fraction} --seed {sel.seed}")
    exp.append(f"--out {public(str(data.out)) if data.out is not None else 'OUT'}")
    return " ".join(parts), " ".join(exp)


def card_data(data: ExportData, fmt: str = "hf") -> Any:
    """The card's YAML metadata as a :class:`huggingface_hub.DatasetCardData`."""
    from huggingface_hub import DatasetCardData

    m = data.manifest
    lang_code, lang_name = language(str(m.get("target_lang")))
    src = source_info(manifest_dict(m, "source").get("corpus"))
    n = sum(len(s) for s in data.splits.values())
    extra: dict[str, Any] = {"tags": TAGS + (["machine-translated"] if machine_translated(data) else [])}
    if src.license_name:
        extra["license_name"] = src.license_name
    if src.license_link:
        extra["license_link"] = src.license_link
    if fmt == "hf":
        extra["configs"] = [{"config_name": "default",
                             "data_files": [{"split": s, "path": f"data/{s}-*"} for s in data.splits]}]
    return DatasetCardData(
        language=[lang_code], license=src.license, pretty_name=title(data),
        annotations_creators=["machine-generated"],
        language_creators=["machine-generated" if machine_translated(data) else "other"],
        multilinguality=["monolingual"], size_categories=[size_category(n)],
        source_datasets=[f"extended|{src.hub_id}"] if src.hub_id else None,
        task_categories=["token-classification"], task_ids=["named-entity-recognition"], **extra)


def machine_translated(data: ExportData) -> bool:
    """Whether the run's translation is known to be machine translation (an MT engine, or a known published one)."""
    sig = manifest_dict(data.manifest, "engines").get("translate") or {}
    return sig.get("engine") in MT_ENGINES or translation_info(sig) is not None


def header(data: ExportData, fmt: str = "hf") -> str:
    """The YAML between the card's ``---`` lines: :func:`card_data` through ``yaml.safe_dump``."""
    import yaml

    return yaml.safe_dump(card_data(data, fmt).to_dict(), sort_keys=False, allow_unicode=True, width=float("inf"))


def title(data: ExportData) -> str:
    m = data.manifest
    _, lang_name = language(str(m.get("target_lang")))
    src = source_info(manifest_dict(m, "source").get("corpus"))
    pipe = pipeline_info(m).get("name")
    if m.get("direction") == "target":
        return f"{lang_name} text labelled through English" + (f" (pipeline {pipe})" if pipe else "")
    return f"{src.pretty} NER projected into {lang_name}" + (f" (pipeline {pipe})" if pipe else "")


def render_card(data: ExportData, fmt: str = "hf", *, scheme: str = "iob2", tag_names: list[str] | None = None,
                options: dict[str, Any] | None = None) -> str:
    """The whole ``README.md`` of an export: YAML header and Markdown body."""
    import jinja2

    from projection import __version__

    m = data.manifest
    engines = manifest_dict(m, "engines")
    pipe = pipeline_info(m)
    _, lang_name = language(str(m.get("target_lang")))
    corpus = manifest_dict(m, "source").get("corpus")
    src = source_info(corpus)
    counts = data.split_counts()
    per_label, total, projected = [], 0, 0
    for label in data.labels:
        st = data.run_stats.get(label, {})
        n = sum(st.values())
        total += n
        projected += st.get("projected", 0)
        per_label.append({"label": label, "entities": n, "projected": st.get("projected", 0),
                          "unaligned": st.get("unaligned", 0), "conflict": st.get("conflict", 0),
                          "below": st.get("below-threshold", 0), "rate": _pct(st.get("projected", 0), n)})
    info = data.selection_info()
    run_policy = info["run_policy"] or "drop-sentence"
    if data.policy == AS_RUN:
        policy_name = run_policy
        policy_text = f"As the run decided, with its filtering policy `{run_policy}`: {_POLICY_TEXT.get(run_policy, '')}."
    else:
        policy_name = data.policy
        policy_text = (f"Re-decided at export time from the statuses the run stored, with the policy `{data.policy}`: "
                       f"{_POLICY_TEXT[data.policy]}.")
        if data.selection.min_score is not None:
            policy_text += (f" Projected entities scoring under {data.selection.min_score} were first made "
                            "`below-threshold` (their words tagged `O`).")
    policy_text += " Sentences with an empty translation are always left out."
    versions = [f"projection {__version__}"] + [f"{k} {v}" for k, v in manifest_dict(m, "versions").items()
                                                 if k != "projection" and v != "not installed"]
    run_command, export_command = commands(data, fmt, options or {})
    env = jinja2.Environment(loader=jinja2.PackageLoader("projection.export", "templates"), autoescape=False,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["cell"] = cell
    env.filters["code"] = code
    split_rows = [[name, f"{c['sentences']:,}", f"{c['tokens']:,}", f"{c['entities']:,}",
                   *(f"{c['per_label'][lab]:,}" for lab in data.labels)] for name, c in counts.items()]
    project_sig = engines.get("project") or {}
    text = env.get_template(TEMPLATE).render(
        yaml_header=header(data, fmt),
        title=title(data), language_name=lang_name, labels=data.labels, source=src,
        source_corpus=public(str(corpus or "unknown")), sentences_in=data.sentences_in,
        sentences_out=info["sentences_out"], splits=counts, split_rows=split_rows, format=fmt,
        scheme_name=_SCHEME_NAMES.get(scheme, scheme), tag_names=tag_names or [],
        pipeline={"name": pipe.get("name") or "?", "description": (pipe.get("config") or {}).get("description"),
                  "sha256": pipe.get("sha256"), "overrides": public(pipe.get("overrides") or [])},
        created=m.get("created") or "at an unrecorded time", stages=_stage_rows(engines),
        translation=translation_info(engines.get("translate") or {}),
        projections_sha256=file_sha256(Path(data.run_dir) / rundir.PROJECTIONS)[:16],
        versions=versions, run_command=run_command, export_command=export_command,
        run_counts={"entities": total, "projected": projected, "rate": _pct(projected, total)}, per_label=per_label,
        project_threshold=project_sig.get("threshold"), policy=policy_name, policy_text=policy_text,
        dropped=info["dropped"], dev_fraction=data.selection.dev_fraction, seed=data.selection.seed,
        dev_split=list(data.splits)[-1], direction=m.get("direction") or "source",
        label_model=public(str((engines.get("label") or {}).get("model") or "?")),
    )
    return text
