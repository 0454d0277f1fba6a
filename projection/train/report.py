"""The comparison's report: ``results.md``, ``results.csv``, ``results.png``, ``learning-curve.png`` and
``errors.md`` (where each system's errors are, when its rows record them) from the result folder of
:func:`projection.train.compare.compare` (one ``system.json`` and ``metrics.json`` per language, system and seed).

:func:`write_report` reads every finished evaluation (:func:`collect`), summarises it per
language and system (:func:`summarise`: mean and sample standard deviation over the seeds,
per-label F1), pairs systems seed by seed (:func:`paired`, :func:`student_gain`) and writes
the page, its CSV and its charts. It trains and predicts nothing, so ``make results`` on a
finished comparison only rebuilds the page.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from projection.errors import read_json_file
from projection.scores import pct, pct_mean_sd
from projection.store import atomic_path, atomic_write_text
from projection.train.compare import ALL_SYSTEMS, LABELS, LATER_OPTIONS, SYSTEM_JSON, SYSTEMS, TARGETS

CSV_COLUMNS = ["system", "train", "test", "f1", "precision", "recall", "seed", "command"]
ERRORS_PAGE = "errors.md"
BUDGET_PLOT = "budget-curve.png"  # bench/learning_curve.py's plot, linked when the report folder has it (docs/)
EXTRA_COLUMNS = ["language", "train_sentences", "dev_f1", "best_step", "minutes", "model_key", "teacher"]

def collect(out: str | Path) -> list[dict[str, Any]]:
    """One row per finished (language, system, seed) in ``out``."""
    rows = []
    for meta_path in sorted(Path(out).glob(f"*/*/{SYSTEM_JSON}")):
        meta = read_json_file(meta_path)
        metrics_path = meta_path.parent / "metrics.json"
        if "language" not in meta or not metrics_path.exists():
            continue
        m = read_json_file(metrics_path)
        row = {"language": meta["language"], "system": SYSTEMS.get(meta["system"], meta["system"]),
               "_id": meta["system"], "train": meta["train"], "test": meta["test"], "f1": m["f1"], "precision": m["precision"],
               "recall": m["recall"], "seed": meta["seed"], "command": meta["command"],
               "train_sentences": meta["train_sentences"], "dev_f1": m["model"].get("best_dev_f1"),
               "best_step": m["model"].get("best_step"),
               "minutes": meta.get("train_minutes"), "model_key": meta["model_key"], "per_label": m["per_label"],
               "_recipe": meta.get("recipe", {}), "_curve": m["model"].get("curve") or [],
               "teacher": meta.get("teacher"),
               "_teacher_f1": (meta.get("teacher_scores") or {}).get("f1"),
               "_teacher_student": (m["model"].get("train_data") or {}).get("teacher_student"),
               "_errors": m.get("errors"), "_projection": meta.get("projection")}
        row["_recipe_id"] = _recipe_id(row["_recipe"])
        for lab in LABELS:
            v = m["per_label"].get(lab)
            row[f"f1_{lab}"] = v["f1"] if v else None
            row[f"precision_{lab}"] = v["precision"] if v else None
            row[f"recall_{lab}"] = v["recall"] if v else None
        rows.append(row)
    order = {lang: k for k, lang in enumerate(TARGETS)}
    rows.sort(key=lambda r: (order.get(r["language"], len(order)), r["language"], r["_id"], r["seed"]))
    return rows


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else math.nan  # one seed: no spread
    return mean, sd


def summarise(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(language, system id) -> mean and sd over seeds of F1, P, R and per-label F1/P/R."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["language"], r["_id"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        s: dict[str, Any] = {"n": len(rs), "seeds": sorted(r["seed"] for r in rs), "label": rs[0]["system"],
                             "train": rs[0]["train"], "test": rs[0]["test"]}
        per_label = [f"{m}_{lab}" for m in ("f1", "precision", "recall") for lab in LABELS]
        for metric in ("f1", "precision", "recall", *per_label):
            vals = [r[metric] for r in rs if r.get(metric) is not None]
            s[metric] = _mean_sd(vals) if vals else None
        s["by_seed"] = {r["seed"]: r["f1"] for r in rs}
        s["recipe_by_seed"] = {r["seed"]: r["_recipe_id"] for r in rs}
        s["teacher_by_seed"] = {r["seed"]: r["_teacher_f1"] for r in rs if r.get("_teacher_f1") is not None}
        s["teacher_of_seed"] = {r["seed"]: str(r["teacher"]) for r in rs if r.get("teacher") is not None}
        out[key] = s
    return out


def paired(summary: dict, lang: str, a: str, b: str) -> tuple[float, float, int] | None:
    """Mean and sd of the per-seed differences F1(a) - F1(b) over the seeds both have."""
    sa, sb = summary.get((lang, a)), summary.get((lang, b))
    if not sa or not sb:
        return None
    seeds = sorted(set(sa["by_seed"]) & set(sb["by_seed"]))
    if not seeds:
        return None
    mean, sd = _mean_sd([sa["by_seed"][s] - sb["by_seed"][s] for s in seeds])
    return mean, sd, len(seeds)


def student_gain(summary: dict, lang: str, teacher: str) -> tuple[float, float, int] | None:
    """Mean and sd over seeds of the student's F1 (system 6) minus its teacher's, over the seeds whose student learnt
    from system ``teacher`` (a language whose students had another teacher has none): the teacher's F1 is that of the
    weights the student learnt from, recorded with the student, else the teacher system's row of the same seed."""
    st = summary.get((lang, "6"))
    if not st:
        return None
    rows = (summary.get((lang, teacher)) or {}).get("by_seed", {})
    of_seed = st.get("teacher_of_seed", {})
    diffs = [f1 - t for seed, f1 in sorted(st["by_seed"].items())
             if of_seed.get(seed, str(teacher)) == str(teacher)
             and (t := st.get("teacher_by_seed", {}).get(seed, rows.get(seed))) is not None]
    if not diffs:
        return None
    mean, sd = _mean_sd(diffs)
    return mean, sd, len(diffs)


def _diff(p: tuple[float, float, int] | None) -> str:
    if p is None:
        return ""
    return pct_mean_sd(p[0], p[1], sign=True, one=" (n=1)") + ("" if math.isnan(p[1]) else f" (n={p[2]})")


def _ms(v: tuple[float, float] | None) -> str:
    if v is None:
        return ""
    return pct_mean_sd(v[0], v[1], one=" (1 seed)")


def _stripped(rows) -> list[str]:
    """The paragraph naming the languages whose systems read words without combining marks (if any)."""
    langs = list(dict.fromkeys(r["language"] for r in rows if r["_recipe"].get("strip_marks")))  # rows: TARGETS order
    if not langs:
        return []
    return [f"Combining marks (tone marks, accents) stripped from the encoder's input, in training and evaluation, "
            f"for every system of: {', '.join(langs)} (`--strip-marks`, on by default for yor; why: "
            "[train.md](train.md#yoruba-words-split-at-their-marks-and-entities-without-tone-marks)).", ""]


# the training recipe shared by every system
RECIPE_FIELDS = ("model", "max_train", "max_dev", "dev", "epochs", "lr", "batch_size", "freeze_embeddings",
                 "freeze_layers", "keep_layers", "fusion_layer", "eval_every", "precision", "dev_decode")
OTHER_RECIPE = " †"  # the mark of a figure that involves rows of another recipe than the page's recipe line


def _recipe_id(recipe: dict[str, Any]) -> tuple:
    """The values of :data:`RECIPE_FIELDS` of a row's recipe; a row recorded before an option existed trained at
    the option's earlier value (LATER_OPTIONS)."""
    return tuple(recipe.get(f, LATER_OPTIONS.get(f)) for f in RECIPE_FIELDS)


def _main_recipe(rows) -> tuple:
    """The recipe most rows share (the first row's on a tie): the one the page's recipe line describes."""
    counts = Counter(r["_recipe_id"] for r in rows)
    top = max(counts.values())
    return next(r["_recipe_id"] for r in rows if counts[r["_recipe_id"]] == top)


def _other(summary, main: tuple, lang: str | Sequence[str], *sids: str, shared: bool = False) -> str:
    """:data:`OTHER_RECIPE` when a figure over the systems ``sids`` of ``lang`` (a language or several) involves a
    row of another recipe than ``main``, else ''. ``shared``: the figure is a paired difference, over the seeds the
    systems share; else a mean over each system's seeds."""
    for one in [lang] if isinstance(lang, str) else lang:
        groups = [summary[(one, sid)]["recipe_by_seed"] for sid in sids if (one, sid) in summary]
        if not groups:
            continue
        seeds = set.intersection(*(set(g) for g in groups)) if shared else None
        if any(rid != main for g in groups for seed, rid in g.items() if seeds is None or seed in seeds):
            return OTHER_RECIPE
    return ""


def _with_seeds(rows, name) -> str:
    """``es 3 (seeds 13, 14), es 5 (seeds 13)``: the rows grouped by ``name(row)``, in order, each with its seeds."""
    seeds: dict[str, list[int]] = {}
    for r in rows:
        seeds.setdefault(name(r), []).append(r["seed"])
    return ", ".join(f"{key} (seeds {', '.join(map(str, sorted(v)))})" for key, v in seeds.items())


def _mixed_recipes(rows, main: tuple) -> list[str]:
    """A warning paragraph when the rows were trained with different recipes (say, a comparison half re-run at a
    new budget): the fields that differ, and which rows have which values; the figures involving rows of another
    recipe than the recipe line's (``main``) are marked."""
    groups: dict[tuple, list] = {}
    for r in rows:
        groups.setdefault(r["_recipe_id"], []).append(r)
    if len(groups) < 2:
        return []
    differ = [i for i, f in enumerate(RECIPE_FIELDS) if len({g[i] for g in groups}) > 1]
    parts = []
    for values, members in groups.items():
        which = ", ".join(f"{RECIPE_FIELDS[i]} {values[i]}" for i in differ)
        parts.append(f"{which}: " + _with_seeds(members, lambda r: f"{r['language']} {r['_id']}"))
    return ["**The rows were trained with different recipes**, so the table compares recipes as well as systems. "
            + "; ".join(parts) + ". The recipe line above is the one of most rows ("
            + ", ".join(f"{RECIPE_FIELDS[i]} {main[i]}" for i in differ) + f"); a figure marked{OTHER_RECIPE} (a mean, "
            "a paired difference, a goal check) involves rows of another recipe.", ""]


def _mixed_projections(rows) -> list[str]:
    """A paragraph when the rows of one language that train on our projection read different projection files
    (a re-projection after a change, or on a machine whose kernels align a few sentences differently: docs/project.md,
    *Across machines*): per language, each file's hash, when it was written and by which CPU, and its rows. A
    difference between such rows compares the projection files as well as the systems."""
    by_lang: dict[str, dict[str, list]] = {}
    for r in rows:
        sha = (r.get("_projection") or {}).get("sha256")
        if sha:
            by_lang.setdefault(r["language"], {}).setdefault(sha, []).append(r)
    parts = []
    for lang, files in by_lang.items():
        if len(files) < 2:
            continue
        described = []
        for sha, members in files.items():
            # the rows of one file may record it differently (rows from before the machine was recorded): the
            # fullest record describes it
            proj = max((m["_projection"] for m in members), key=lambda p: (bool(p.get("hardware")), bool(p.get("created"))))
            hw = proj.get("hardware") or {}
            when = f"written {str(proj.get('created') or '?')[:10]}" + (
                f" on {hw.get('machine')} {hw.get('cpu') or ''} ({', '.join(hw.get('isa') or []) or 'no ISA flags'})"
                if hw else " (machine not recorded)")
            described.append(f"`{sha}` ({when}): " + _with_seeds(members, lambda r: f"system {r['_id']}"))
        parts.append(f"{lang}: " + "; ".join(described))
    if not parts:
        return []
    return ["**Rows of one language trained on different files of our projection**, so a difference between them "
            "compares the files as well as the systems (why files of the same code and inputs can differ: "
            "[project.md](project.md#across-machines)). " + ". ".join(parts) + ".", ""]


def _combined_epochs(rows, recipe: dict[str, Any]) -> str:
    """System 5's own epochs (``--combined-epochs``), where its rows trained other epochs than ``recipe``'s."""
    def plural(n: int) -> str:
        return f"{n} epoch{'s' if n != 1 else ''}"

    own: dict[int, list[str]] = {}
    for r in rows:
        if r["_id"] == "5":
            n = r["_recipe"].get("combined_epochs") or r["_recipe"].get("epochs")
            own.setdefault(n, [])
            if r["language"] not in own[n]:
                own[n].append(r["language"])
    if not own or set(own) == {recipe.get("epochs")}:
        return ""
    if len(own) == 1:
        return (f" (system 5, English + our projection, about twice the sentences: {plural(next(iter(own)))}, so about "
                "the same number of steps)" if next(iter(own)) * 2 == recipe.get("epochs") else
                f" (system 5: {plural(next(iter(own)))})")
    return " (system 5: " + "; ".join(f"{plural(n)} for {', '.join(langs)}" for n, langs in sorted(own.items())) + ")"


def _frozen(recipe: dict[str, Any]) -> str:
    """What the recipe freezes, in words."""
    k = recipe.get("freeze_layers") or 0
    words = "word embeddings frozen" if recipe.get("freeze_embeddings") else "word embeddings trained"
    extra = ", bf16 autocast" if recipe.get("precision", "fp32") != "fp32" else ""
    if recipe.get("keep_layers"):
        extra += f", encoder cut to its lower {recipe['keep_layers']} layers"
    if k:
        return f"embeddings and layers 1-{k} frozen (their output computed once){extra}"
    return f"{words}, every encoder layer trained{extra}"


def write_report(out: str | Path, report: str | Path, langs: Sequence[str] | None = None,
                 missing: Sequence[dict[str, str]] = ()) -> dict[str, Any]:
    """``results.csv``, ``results.md``, ``results.png`` and ``learning-curve.png`` in ``report`` from every
    finished run in ``out``."""
    report = Path(report)
    rows = collect(out)
    buf = io.StringIO()
    fields = CSV_COLUMNS + EXTRA_COLUMNS + [f"{m}_{lab}" for lab in LABELS for m in ("f1", "precision", "recall")]
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) and k not in ("minutes",) else v)
                         for k, v in r.items()})
    report.mkdir(parents=True, exist_ok=True)
    atomic_write_text(report / "results.csv", buf.getvalue())
    summary = summarise(rows)
    order = {lang: k for k, lang in enumerate(TARGETS)}  # the known targets first, then any other, by name
    present = sorted({r["language"] for r in rows}, key=lambda lang: (order.get(lang, len(order)), lang))
    errors = _errors_markdown(rows, present)
    if errors:
        atomic_write_text(report / ERRORS_PAGE, errors)
    md = _markdown(rows, summary, present, missing, budget=(report / BUDGET_PLOT).exists(), errors=bool(errors))
    atomic_write_text(report / "results.md", md)
    if rows:
        _plot(summary, present, report / "results.png")
        _plot_curves(rows, report / "learning-curve.png")
    return {"rows": [{k: v for k, v in r.items() if not k.startswith("_") and k != "per_label"} for r in rows],
            "missing": list(missing), "report": str(report)}


def _not_run(missing) -> list[str]:
    """The *Not run* section: each run that could not run, and why."""
    if not missing:
        return []
    return ["## Not run", "", *sorted({f"- {m['language']} system {m['system']}" + (f" seed {m['seed']}" if "seed" in m
                                       else "") + f": {m['reason']}" for m in missing})]


def _train_size(recipe: dict[str, Any]) -> str:
    if not recipe.get("max_train"):
        return "all CoNLL-2003 train sentences"
    return f"{recipe['max_train']} sampled CoNLL-2003 train ids"


def _markdown(rows, summary, langs, missing, budget: bool = False, errors: bool = False) -> str:
    md = ["# Downstream NER: zero-shot vs translate-train on seven target test sets", ""]
    if not rows:
        return "\n".join(md + ["No finished runs yet.", "", *_not_run(missing), ""])
    main = _main_recipe(rows)
    recipe = next(r["_recipe"] for r in rows if r["_recipe_id"] == main)
    mixed = any(r["_recipe_id"] != main for r in rows)
    seeds = sorted({r["seed"] for r in rows})
    md += [
        "Generated by `projection compare` from its result folder (one command regenerates it: see *Commands*). "
        "Scores are seqeval exact-span micro F1 (%) on the full gold test sets, mean ± standard deviation over the "
        f"seeds {', '.join(map(str, seeds))}; every system of a language trains on the same sampled CoNLL-2003 "
        "sentence ids per seed. No target-language gold label is used for training or model selection (best of the "
        "English dev evaluations).",
        "",
        f"Recipe ({'most rows' if mixed else 'every system'}): encoder `{recipe.get('model')}`, "
        f"{_train_size(recipe)}, "
        f"{recipe.get('epochs')} epoch{'s' if recipe.get('epochs') != 1 else ''}{_combined_epochs(rows, recipe)}, "
        f"lr {recipe.get('lr')}, "
        f"batch {recipe.get('batch_size')}, {_frozen(recipe)}, "
        f"DLFA fusion layer {recipe.get('fusion_layer')}, dev evaluation every {recipe.get('eval_every')} steps on "
        f"{recipe.get('max_dev')} English dev sentences"
        + (f" (decoded {recipe['dev_decode']})" if recipe.get("dev_decode", "argmax") != "argmax" else "")
        + f", tags {_decoding(rows)}. "
        "MasakhaNER targets (hau, swa, yor, zul): scored on PER/ORG/LOC "
        "(DATE removed from the gold side); systems 3-5 trained without MISC, the zero-shot systems' MISC predictions "
        "set to O at scoring (one English model per seed serves every language with the same recipe).",
        "",
        *_mixed_recipes(rows, main),
        *_mixed_projections(rows),
        *_stripped(rows),
        "![test F1 by language and system](results.png)",
        "",
        "Learning curves on English dev of the trained models (the check that the budget has flattened): "
        "[learning-curve.png](learning-curve.png)"
        + (f"; English dev learning curves of several budgets and learning rates, to choose the budget: "
           f"[{BUDGET_PLOT}]({BUDGET_PLOT}) (`bench/learning_curve.py`)."
           if budget else "."),
        "",
        *([f"Where each system's errors are (entities of the wrong label, the wrong words, missed, spurious): "
           f"[{ERRORS_PAGE}]({ERRORS_PAGE}).", ""] if errors else []),
        "## F1 by language",
        "",
        "| system | " + " | ".join(langs) + " | mean |",
        "|---|" + "---:|" * (len(langs) + 1),
    ]
    for sid in ALL_SYSTEMS:
        cells, means, marks = [], [], []
        for lang in langs:
            s = summary.get((lang, sid))
            marks.append(_other(summary, main, lang, sid))
            cells.append(_ms(s["f1"]) + marks[-1] if s else "")
            if s:
                means.append(s["f1"][0])
        if not means:
            continue
        avg = f"{100 * sum(means) / len(means):.1f}" if len(means) == len(langs) else ""
        if avg and any(marks):
            avg += OTHER_RECIPE
        md.append(f"| {SYSTEMS[sid]} | " + " | ".join(cells) + f" | {avg} |")
    md += ["", "## Paired differences (per seed, then mean ± sd)", "",
           "| language | 3 - 4 (projection step) | 3 - 1 | 3 - 2 | 5 - 1 |", "|---|---:|---:|---:|---:|"]
    for lang in langs:
        cells = []
        for a, b in (("3", "4"), ("3", "1"), ("3", "2"), ("5", "1")):
            p = paired(summary, lang, a, b)
            cells.append(_diff(p) + (_other(summary, main, lang, a, b, shared=True) if p else ""))
        md.append(f"| {lang} | " + " | ".join(cells) + " |")
    teachers = sorted({str(r["teacher"]) for r in rows if r["_id"] == "6" and r.get("teacher")})
    if teachers:
        md += ["", "## Teacher-student: student - its teacher (per seed, then mean ± sd)", "",
               "The teacher's F1 is that of the weights the student learnt from, scored with the student; it can "
               "differ from the teacher system's row of the same seed when the teacher was retrained on other "
               "hardware (same model key, other weights).", "",
               "| language | " + " | ".join(f"6 - {t} (teacher: system {t})" for t in teachers) + " |",
               "|---|" + "---:|" * len(teachers)]
        for lang in langs:
            cells = []
            for t in teachers:
                g = student_gain(summary, lang, t)
                cells.append(_diff(g) + (_other(summary, main, lang, "6", t, shared=True) if g else ""))
            md.append(f"| {lang} | " + " | ".join(cells) + " |")
        md += ["", *_student_recipes(rows)]
    md += ["", "## Per language: precision, recall, per-label F1 (mean over seeds)", ""]
    for lang in langs:
        md += [f"### {lang} (`{summary[next(k for k in summary if k[0] == lang)]['test']}`)", "",
               "| system | F1 | P | R | PER | ORG | LOC | MISC | MISC P | train |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for sid in ALL_SYSTEMS:
            s = summary.get((lang, sid))
            if not s:
                continue
            lab = [pct(s[f"f1_{x}"][0]) if s[f"f1_{x}"] else "" for x in LABELS]
            misc_p = pct(s["precision_MISC"][0]) if s["precision_MISC"] else ""
            md.append(f"| {s['label']} | {_ms(s['f1'])}{_other(summary, main, lang, sid)} | {_ms(s['precision'])} | "
                      f"{_ms(s['recall'])} | "
                      + " | ".join(lab) + f" | {misc_p} | {s['train']} |")
        md.append("")
    md += ["## Goal checks", ""]
    md += _goals(summary, langs, main) + _student_goals(summary, langs, teachers, main)
    if missing:
        md += ["", *_not_run(missing)]
    md += ["", "## Commands", "", "Every row of `results.csv` carries the exact command that produced it; by system:", ""]
    for sid in ALL_SYSTEMS:
        ex = next((r["command"] for r in rows if r["_id"] == sid), None)
        if ex:
            md.append(f"- system {sid}: `{ex}`")
    md.append("")
    return "\n".join(md)


def _goals(summary, langs, main: tuple) -> list[str]:
    """The downstream goals, each line a check; one whose figures involve rows of another recipe than ``main`` is
    marked."""
    lines = []
    african = [x for x in langs if x in ("hau", "swa", "yor", "zul")]
    for lang in langs:
        for a, b, margin, what in (("3", "4", 0.01, "ours >= published + 1"), ("3", "1", 0.0, "ours > zero-shot"),
                                   ("3", "2", 0.0, "ours > DLFA")):
            sa, sb = summary.get((lang, a)), summary.get((lang, b))
            if sa and sb:
                d = round(sa["f1"][0] - sb["f1"][0], 9)  # float noise off: 0.06 + 0.14 halves to +10, not +9.999...
                ok = d >= margin if margin else d > 0
                lines.append(f"- {lang}: {what}: {100 * sa['f1'][0]:.1f} vs {100 * sb['f1'][0]:.1f} "
                             f"({_signed(d, margin, strict=not margin)}) -> {'yes' if ok else 'NO'}"
                             + _other(summary, main, lang, a, b))
    for system, what in (("3", "translate-train on ours"), ("5", "English + our projection")):
        gains = [summary[(x, system)]["f1"][0] - summary[(x, "1")]["f1"][0] for x in african
                 if (x, system) in summary and (x, "1") in summary]
        if not gains:
            continue
        g = round(sum(gains) / len(gains), 9)
        if system == "3":
            lines.append(f"- African languages ({len(gains)}): {what} - zero-shot = {_signed(g, 0.10)} F1 on "
                         f"average (goal +10) -> {'yes' if g >= 0.10 else 'NO'}" + _other(summary, main, african, system, "1"))
        else:  # not a goal of its own: the other system that trains on our projection, beside it
            lines.append(f"- African languages ({len(gains)}): {what} (system 5) - zero-shot = {_signed(g, 0.10)} F1 "
                         "on average (beside the goal's system 3)" + _other(summary, main, african, system, "1"))
    es = summary.get(("es", "3"))
    if es:
        mp = es["precision_MISC"][0] if es["precision_MISC"] else 0.0
        lines.append(f"- es: translate-train on ours {100 * es['f1'][0]:.1f} F1 (goal 69) -> "
                     f"{'yes' if es['f1'][0] >= 0.69 else 'NO'}; MISC precision {100 * mp:.1f} % (goal 40) -> "
                     f"{'yes' if mp >= 0.40 else 'NO'}" + _other(summary, main, "es", "3"))
    return lines


def _signed(d: float, goal: float, strict: bool = False) -> str:
    """``d`` (a fraction) as signed F1 points with one decimal, or two where one would round it onto the other side
    of ``goal`` (+0.99 against a goal of +1 is not shown as +1.0)."""
    ok = d > goal if strict else d >= goal
    shown = round(100 * d, 1) / 100
    return pct(d, 2 if (shown > goal if strict else shown >= goal) != ok else 1, sign=True)


def _decoding(rows) -> str:
    """How the rows' word scores became tags; every decoder used is named when the rows differ."""
    names = {"argmax": "by each word's argmax (repaired to IOB2)", "bio": "by BIO-constrained Viterbi decoding"}
    used = sorted({r["_recipe"].get("decode", "argmax") for r in rows})
    if len(used) == 1:
        return names.get(used[0], used[0])
    return "decoded differently by row: " + "; ".join(
        f"{names.get(d, d)}: " + ", ".join(sorted({f"{r['language']} system {r['_id']}" for r in rows
                                                   if r["_recipe"].get("decode", "argmax") == d})) for d in used)


def _student_recipes(rows) -> list[str]:
    """How the students (system 6) of the table learnt: each distinct selection setting, with its languages."""
    settings: dict[str, list[str]] = {}
    for r in rows:
        if r["_id"] != "6":
            continue
        rec = r["_recipe"]
        what = "every teacher-labelled sentence" if not rec.get("select_fraction") else (
            f"the top {rec['select_fraction']:.0%} by {rec.get('select', 'confidence')}"
            + (" within each stratum of the teacher's entities per sentence" if rec.get("select_balance") else ""))
        how = (f"Students of system {r['teacher']} learn from its labels of the target's unlabeled text: {what}; "
               + ("soft labels" if rec.get("soft_labels") else "hard labels")
               + (", starting from the teacher's weights" if rec.get("student_init") else "")
               + (", with our projection" if rec.get("student_projected") else ""))
        settings.setdefault(how, [])
        if r["language"] not in settings[how]:
            settings[how].append(r["language"])
    return [f"{how} ({', '.join(langs)})." for how, langs in settings.items()]


def _student_goals(summary, langs, teachers: Sequence[str], main: tuple) -> list[str]:
    """The teacher-student goals: the student above its teacher on at least 5 of 7 languages with a mean paired gain
    of at least +1.5 F1, and the students' mean above every other system's (over the languages all of them have)."""
    lines = []
    for t in teachers:
        gains = {lang: p[0] for lang in langs if (p := student_gain(summary, lang, t))}
        if not gains:
            continue
        diffs = list(gains.values())
        above, mean = sum(d > 0 for d in diffs), sum(diffs) / len(diffs)
        need = math.ceil(5 * len(diffs) / 7)
        lines.append(f"- teacher-student (teacher: system {t}): student above its teacher on {above} of {len(diffs)} "
                     f"languages (goal {need}) -> {'yes' if above >= need else 'NO'}; mean paired gain "
                     f"{100 * mean:+.1f} F1 (goal +1.5) -> {'yes' if mean >= 0.015 else 'NO'}"
                     + _other(summary, main, list(gains), "6", t, shared=True))
    mine = [lang for lang in langs if (lang, "6") in summary]
    if mine:
        def avg(sid: str) -> float | None:
            vals = [summary[(lang, sid)]["f1"][0] for lang in mine if (lang, sid) in summary]
            return sum(vals) / len(vals) if len(vals) == len(mine) else None

        student = avg("6")
        others = {sid: m for sid in ALL_SYSTEMS if sid != "6" and (m := avg(sid)) is not None}
        if others and student is not None:
            best = max(others, key=others.get)
            lines.append(f"- teacher-student: students' mean over {', '.join(mine)} {100 * student:.1f} vs the best "
                         f"other system there ({SYSTEMS[best]}) {100 * others[best]:.1f} -> "
                         f"{'yes' if student > others[best] else 'NO'}" + _other(summary, main, mine, "6", *others))
    return lines


def _errors_markdown(rows, langs: Sequence[str]) -> str | None:
    """``errors.md``: per language, system and label, what became of the gold entities and where the predicted ones
    came from, pooled over the seeds whose rows record it (:func:`projection.scores.span_errors`); None when no row
    does."""
    with_errors = [r for r in rows if r.get("_errors")]
    if not with_errors:
        return None
    md = ["# Where the errors are", "",
          "Generated with [results.md](results.md) from the same rows (`projection.scores.span_errors`): for each "
          "language, system and label, pooled over the seeds whose rows record it, what became of the gold entities "
          "and where the predicted entities came from, in exact-span terms. Gold side, as % of the gold entities: "
          "*found* (the same words and label: the recall), *other label* (the same words, another label; the most "
          "frequent one in brackets), *boundary* (overlapping words, the same label), *both* (overlapping words, "
          "another label), *missed* (no predicted entity overlaps it). Predicted side, as % of the predicted "
          "entities: *correct* (the precision), *other label* (the gold entity on those words has another label), "
          "*boundary*, *both*, *spurious* (no gold entity overlaps it). Counts are per seed (the pooled count divided "
          "by the seeds).", ""]
    for lang in langs:
        lrows = [r for r in with_errors if r["language"] == lang]
        if not lrows:
            continue
        md += [f"## {lang} (`{lrows[0]['test']}`)", "",
               "| system | seeds | label | gold | found | other label | boundary | both | missed "
               "| predicted | correct | other label | boundary | both | spurious |",
               "|---|---:|---|" + "---:|" * 12]
        for sid in ALL_SYSTEMS:
            rs = [r for r in lrows if r["_id"] == sid]
            if not rs:
                continue
            pooled = {side: _pool([r["_errors"][side] for r in rs]) for side in ("gold", "predicted")}
            for lab in sorted(set(pooled["gold"]) | set(pooled["predicted"]), key=_label_order):
                g, p = pooled["gold"].get(lab), pooled["predicted"].get(lab)
                md.append(f"| {rs[0]['system']} | {len(rs)} | {lab} | " + _error_cells(g, "support", "missed", len(rs))
                          + " | " + _error_cells(p, "count", "spurious", len(rs)) + " |")
        md.append("")
    return "\n".join(md)


def _label_order(label: str) -> tuple[int, str]:
    return (LABELS.index(label) if label in LABELS else len(LABELS), label)


def _pool(sides: Sequence[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The sum of several rows' counts of one side of :func:`projection.scores.span_errors`."""
    out: dict[str, dict[str, Any]] = {}
    for side in sides:
        for lab, counts in side.items():
            acc = out.setdefault(lab, {})
            for k, v in counts.items():
                if isinstance(v, dict):
                    inner = acc.setdefault(k, {})
                    for other, n in v.items():
                        inner[other] = inner.get(other, 0) + n
                else:
                    acc[k] = acc.get(k, 0) + v
    return out


def _error_cells(c: dict[str, Any] | None, total: str, none: str, seeds: int) -> str:
    """``total | exact | type (most frequent) | boundary | both | none`` as per-seed counts and percentages."""
    if not c or not c.get(total):
        return " | ".join(["0" if c is not None else "", "", "", "", "", ""])
    n = c[total]

    def share(x: int) -> str:
        return f"{100 * x / n:.1f}"

    def confused(d: dict[str, int]) -> str:
        if not d:
            return share(0)
        top = max(sorted(d), key=d.get)
        return f"{share(sum(d.values()))} ({top} {share(d[top])})"

    per_seed = n / seeds
    return " | ".join([f"{per_seed:,.0f}" if per_seed >= 10 else f"{per_seed:.1f}", share(c["exact"]),
                       confused(c["type"]), share(c["boundary"]), confused(c["type_boundary"]), share(c[none])])


COLORS = {"1": "#8c8c8c", "2": "#4c72b0", "3": "#55a868", "4": "#dd8452", "5": "#2e7d4f", "6": "#8172b3"}


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def _plot_curves(rows, path: Path) -> None:
    """English dev F1 against training steps of every model that logged a learning curve (one line
    per model: the English-only systems, each seed), the budget check of the recipe."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seen, lines = set(), []
    for r in rows:
        if r["_curve"] and r["model_key"] not in seen:
            seen.add(r["model_key"])
            lines.append((f"{r['system']}, seed {r['seed']}" + ("" if r["_id"] in ("1", "2") else f" ({r['language']})"),
                          r["_id"], r["_curve"]))
    if not lines:
        return
    fig, ax = plt.subplots(figsize=(8.0, 4.6))
    for label, sid, curve in lines:
        pts = sorted((pt["step"], 100 * pt["dev_f1"]) for pt in curve if pt.get("dev_f1") is not None)
        ax.plot([x for x, _ in pts], [y for _, y in pts], marker=".", lw=1, color=COLORS.get(sid), alpha=0.8,
                label=label if sid in ("1", "2") else None)
    ax.set_xlabel("training step (batch of 16 sentences)")
    ax.set_ylabel("English dev F1 (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    ax.set_title("Learning curves on English dev (model selection; no target-language label)")
    _save(fig, path)


def _plot(summary, langs: Sequence[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sids = [s for s in ALL_SYSTEMS if any((lang, s) in summary for lang in langs)]
    width = 0.8 / max(len(sids), 1)
    fig, ax = plt.subplots(figsize=(max(8.0, 1.4 * len(langs) + 2), 4.6))
    for k, sid in enumerate(sids):
        xs, ys, es = [], [], []
        for i, lang in enumerate(langs):
            s = summary.get((lang, sid))
            if s:
                xs.append(i + (k - (len(sids) - 1) / 2) * width)
                ys.append(100 * s["f1"][0])
                es.append(0.0 if math.isnan(s["f1"][1]) else 100 * s["f1"][1])
        ax.bar(xs, ys, width, yerr=es, capsize=2, label=SYSTEMS[sid], color=COLORS.get(sid))
    ax.set_xticks(range(len(langs)), langs)
    ax.set_ylabel("test F1 (%), mean ± sd over seeds")
    ax.set_ylim(0, 100)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=2, loc="upper right")
    ax.set_title("Zero-shot vs translate-train (e5-small, CoNLL-2003 source)")
    _save(fig, path)
