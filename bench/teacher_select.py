"""Teacher-student: which teacher-labelled target sentences should a student learn from?

The selection ablation of system 6 of ``projection compare``: for every language and seed, the
teacher (``--teacher-system``, default 1: zero-shot on English) labels the tokens of the
target's train split (never its tags), and a student trains on

* ``none``: every teacher-labelled sentence;
* ``confidence``: the top ``--fraction`` by the teacher's mean word probability of its own tag;
* ``adversarial``: the top ``--fraction`` by AdvPicker's language discriminator, P(source)
  (scored by a cross-fitted probe on the adversarially trained encoder);
* ``confidence-balanced``, ``adversarial-balanced``: the same top ``--fraction`` within each
  stratum of the teacher's entities per sentence (0, 1, 2, 3+; ``--select-balance``);

each variant through ``projection compare`` into
``docs/ablation/select-VARIANT[-init][-projected][-teacherN][-converged]/`` (small JSON files per row, committed; a rerun resumes there and trains only what is missing; models go to
``--models``). Then the table of student against teacher (means over seeds, paired per-seed
differences) and the cost (teacher labelling, selection, student training) is written to
``docs/teacher-student[-init][-projected][-teacherN][-converged].md`` (``-teacherN``: a teacher other than
system 1; ``-converged``: ``--recipe converged``, the recipe of ``docs/results.md``, which is ``projection compare``'s
defaults; without it the comparison's earlier recipe, that of the first tables: 8,000 English sentences, 1 epoch,
fp32, argmax decoding).

    PROJECTION_DATA=../shared/data python -m bench.teacher_select --lang es,hau --seeds 13 \\
        [--variants none,confidence,adversarial] [--teacher-system 1] [--student-init] [--student-projected] \\
        [--recipe earlier|converged] [--report-only | --dry-run]

English dev is the only model selection; the target test sets are only scored.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# "-balanced": the top fraction within each stratum of the teacher's entities per sentence (--select-balance)
VARIANTS = ("none", "confidence", "adversarial", "confidence-balanced", "adversarial-balanced")
DOCS = REPO / "docs"
ABLATION = Path("docs/ablation")


RECIPES = ("earlier", "converged")


def suffix(init: bool, projected: bool, teacher: str = "1", recipe: str = "earlier") -> str:
    """``-init``, ``-projected``, ``-teacherN`` (a teacher other than system 1), ``-converged`` (the recipe of
    ``docs/results.md``): the students of one setting."""
    return (("-init" if init else "") + ("-projected" if projected else "")
            + ("" if teacher == "1" else f"-teacher{teacher}") + ("" if recipe == "earlier" else f"-{recipe}"))


def variant_dir(variant: str, init: bool = False, projected: bool = False, teacher: str = "1",
                recipe: str = "earlier") -> Path:
    return ABLATION / f"select-{variant}{suffix(init, projected, teacher, recipe)}"


def options(args, variant: str):
    from dataclasses import replace

    from projection.train.compare import EARLIER_RECIPE, CompareOptions

    select, _, balanced = variant.partition("-")
    # the first ablation tables (docs/teacher-student*.md without -converged) were trained at the earlier recipe
    base = CompareOptions(**EARLIER_RECIPE) if args.recipe == "earlier" else CompareOptions()
    return replace(base, model=args.model, teacher_system=args.teacher_system, select=select,
                   select_fraction=None if variant == "none" else args.fraction, select_balance=bool(balanced),
                   student_projected=args.student_projected, student_init=args.student_init, keep_models=True)


def run(args) -> None:
    from projection.train.compare import compare

    systems = [args.teacher_system, "6"]
    for variant in args.variants:
        out = variant_dir(variant, args.student_init, args.student_projected, args.teacher_system, args.recipe)
        print(f"== {variant}: {out}", flush=True)
        r = compare(args.lang, out, seeds=args.seeds, systems=systems, options=options(args, variant),
                    models=args.models, report=Path(args.reports) / out.name, dry_run=args.dry_run)
        for state in r.get("plan", []):
            print(json.dumps({k: state[k] for k in ("language", "system", "seed", "state", "changed") if k in state}),
                  flush=True)
        if not args.dry_run:  # the students that could not train, and why: rows of the table too
            _write_not_run(out, args.lang, args.seeds, r.get("missing", []))


NOT_RUN = "not-run.json"


def _write_not_run(out: Path, langs, seeds, missing) -> None:
    """Keep ``out``'s record of runs that could not train current: this run's languages and seeds are replaced."""
    from projection.store import atomic_write_json

    path = out / NOT_RUN
    old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    keep = [m for m in old if not (m["language"] in langs and m.get("seed") in seeds)]
    new = keep + [{k: m[k] for k in ("language", "system", "seed", "reason")} for m in missing if "seed" in m]
    if new:
        atomic_write_json(path, new)
    elif path.exists():
        path.unlink()


def collect_rows(langs, variants, init: bool, projected: bool, teacher: str = "1", recipe: str = "earlier") -> list[dict]:
    """The finished rows (``projection.train.compare.collect``) of every variant's folder, tagged with the variant."""
    from projection.train.report import collect

    return [{**r, "variant": variant} for variant in variants
            for r in collect(REPO / variant_dir(variant, init, projected, teacher, recipe)) if r["language"] in langs]


def _cost(student_rows: list[dict]) -> tuple[str, str, str]:
    """Kept / unlabeled sentences, the teacher's labelling seconds (``stored``: from the teacher-label store) and the
    students' mean minutes."""
    ts = [r["_teacher_student"] or {} for r in student_rows]
    kept = f"{ts[0].get('sentences', 0):,} / {ts[0].get('selection', {}).get('candidates', 0):,}"
    lab = [t["teacher_labelling"]["seconds"] for t in ts if not t.get("teacher_labelling", {}).get("from_cache", True)]
    mins = [r["minutes"] for r in student_rows if r["minutes"] is not None]
    return (kept, f"{sum(lab) / len(lab):.0f}" if lab else "stored",
            f"{sum(mins) / len(mins):.1f}" if mins else "kept model")


def teacher_entities(ts: dict) -> str:
    """Entities per sentence in the teacher's labels, kept sentences / all: as the selection recorded them, or, for a
    student trained before that record, from the teacher-label store (the teacher's weights must still be in its
    folder: ``--keep-models``; else empty)."""
    from projection.errors import ProjectionError
    from projection.train.teacher import entity_counts, label_with_teacher
    from projection.train.unlabeled import read_unlabeled

    if per := (ts.get("selection") or {}).get("teacher_entities_per_sentence"):
        return f"{per['kept']:.2f} / {per['all']:.2f}"
    try:
        sents = read_unlabeled(ts["unlabeled"]["name"], fmt=ts["unlabeled"].get("format"))
        tl = label_with_teacher(ts["teacher"]["dir"], sents)
    except (ProjectionError, OSError, KeyError):
        return ""
    kept = set(ts["kept_lines"])
    ents = entity_counts([tl.tags(i) for i in range(len(sents))])
    mine = [e for e, s in zip(ents, sents) if s.meta.get("line") in kept]
    return f"{sum(mine) / max(len(mine), 1):.2f} / {ents.mean() if len(ents) else 0:.2f}"


def not_run_rows(langs, variants, init: bool, projected: bool, teacher: str = "1", recipe: str = "earlier") -> list[dict]:
    """The students of every variant's folder that could not train (``not-run.json``), tagged with the variant."""
    out = []
    for variant in variants:
        path = REPO / variant_dir(variant, init, projected, teacher, recipe) / NOT_RUN
        if path.exists():
            out += [{**m, "variant": variant} for m in json.loads(path.read_text(encoding="utf-8"))
                    if m["language"] in langs]
    return out


def _scorer(student: dict) -> str:
    """`` (probe)`` or `` (discriminator)``: what scored an adversarial selection (before the probe: the discriminator)."""
    adv = ((student.get("_teacher_student") or {}).get("selection") or {}).get("adversarial")
    if not adv:
        return ""
    return " (probe)" if adv.get("scored_by") == "probe" else " (discriminator)"


def markdown(rows, init: bool, projected: bool, not_run: list[dict] | None = None, recipe: str = "earlier") -> str:
    from projection.scores import pct_mean_sd
    from projection.train.report import student_gain, summarise

    def ms(v) -> str:  # the seeds are a column of their own
        return pct_mean_sd(*v) if v else ""

    md = ["# Teacher-student: the selection ablation", "",
          "Generated by `python -m bench.teacher_select` (see its docstring) from `docs/ablation/`: system 6 of "
          "`projection compare`, a student trained on a teacher's labels of the target's unlabeled train-split tokens "
          "(tags never read), under each selection of the module's docstring. Teacher: the system in the column *teacher* (1: zero-shot on "
          "English), same language and seed. English dev is the only model selection." +
          (" Each student starts from its teacher's weights (`--student-init`), then trains on the teacher's labels "
           "(self-training)." if init else " Each student starts from the pretrained encoder and a fresh head.") +
          (" The students also train on our projection (`--student-projected`)." if projected else "") +
          (" Teachers and students at the recipe of [results.md](results.md) (`--recipe converged`: `projection "
           "compare`'s defaults; the commands below give every option)." if recipe == "converged" else ""), "",
          "| language | selection | seeds | kept / unlabeled | teacher F1 | student F1 | student - teacher (paired) "
          "| P | R | teacher entities / sentence, kept / all | labelling s | student min |",
          "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    commands = {}
    gains: dict[str, list[float]] = {}  # per variant: each language's mean paired student - teacher difference
    for variant in dict.fromkeys(r["variant"] for r in rows):
        mine = [r for r in rows if r["variant"] == variant]
        summary = summarise(mine)
        for lang in dict.fromkeys(r["language"] for r in mine):
            students = [r for r in mine if r["language"] == lang and r["_id"] == "6"]
            if not students:
                continue
            commands.setdefault(variant, students[0]["command"])
            teacher = str(students[0]["teacher"])
            st, tt = summary[(lang, "6")], summary.get((lang, teacher))
            kept, labelling, minutes = _cost(students)
            d = student_gain(summary, lang, teacher)
            if d:
                gains.setdefault(variant, []).append(d[0])
            md.append(f"| {lang} | {variant}{_scorer(students[0])} | {','.join(map(str, st['seeds']))} | {kept} | "
                      f"{ms(tt['f1']) if tt else ''} (system {teacher}) | {ms(st['f1'])} | "
                      f"{pct_mean_sd(d[0], d[1], sign=True) if d else ''} | "
                      f"{ms(st['precision'])} | {ms(st['recall'])} | {teacher_entities(students[0]['_teacher_student'] or {})} | "
                      f"{labelling} | {minutes} |")
    for m in not_run or []:
        md.append(f"| {m['language']} | {m['variant']} | {m['seed']} | not trained: {m['reason']} |||||||||")
    md += ["", "## Per selection", "", "The paired student - teacher difference of each language (its mean over seeds), "
           "over the languages; a language whose student could not train counts as no gain, and the mean is over the "
           "languages it trained on.", "",
           "| selection | languages | student above teacher | mean difference |", "|---|---:|---:|---:|"]
    for variant, g in gains.items():
        failed = sum(m["variant"] == variant for m in not_run or [])
        md.append(f"| {variant} | {len(g) + failed} | {sum(x > 0 for x in g)} | {pct_mean_sd(sum(g) / len(g), None, sign=True)} |")
    md += ["", "*labelling s*: the teacher's labelling of the unlabeled text (once per teacher and text; `stored`: read "
           "from the teacher-label store, labelled by an earlier variant). *student min*: labelling (when not stored), "
           "selection (AdvPicker: its discriminator training) and student training, wall time on this 2-core CPU; `kept "
           "model`: the student was trained by an earlier run with the same model key (e.g. `projection compare`'s own "
           "system 6, whose cost is in its rows) and only scored here.", "",
           "## Commands", "", *[f"- {v}: `{c}`" for v, c in commands.items()], ""]
    return "\n".join(md)


def report(args) -> Path:
    from projection.store import atomic_write_text

    setting = (args.student_init, args.student_projected, args.teacher_system, args.recipe)
    rows = collect_rows(args.lang, args.variants, *setting)
    path = DOCS / f"teacher-student{suffix(*setting)}.md"
    atomic_write_text(path, markdown(rows, args.student_init, args.student_projected,
                                     not_run_rows(args.lang, args.variants, *setting), recipe=args.recipe))
    for r in rows:
        print(json.dumps({k: r[k] for k in ("language", "variant", "system", "seed", "f1", "minutes")}))
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lang", type=lambda s: s.split(","), default=["es", "hau"])
    p.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[13])
    p.add_argument("--variants", type=lambda s: s.split(","), default=list(VARIANTS))
    p.add_argument("--teacher-system", default="1")
    p.add_argument("--fraction", type=float, default=0.5)
    p.add_argument("--recipe", choices=RECIPES, default="earlier",
                   help="converged: projection compare's defaults (the recipe of docs/results.md)")
    p.add_argument("--student-projected", action="store_true", help="the students also train on our projection")
    p.add_argument("--student-init", action="store_true", help="each student starts from its teacher's weights")
    p.add_argument("--model", default="models/e5-small")
    p.add_argument("--models", default="results/models")
    p.add_argument("--reports", default="results/ablation")
    p.add_argument("--report-only", action="store_true")
    p.add_argument("--dry-run", action="store_true", help="print what each variant would train, train nothing")
    args = p.parse_args(argv)
    bad = [v for v in args.variants if v not in VARIANTS]
    if bad:
        p.error(f"unknown variant(s) {', '.join(bad)}; choose from {', '.join(VARIANTS)}")
    if not args.report_only:
        run(args)
    if args.dry_run:
        return 0
    print(f"wrote {report(args)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
