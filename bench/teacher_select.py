"""Teacher-student: which teacher-labelled target sentences should a student learn from?

The selection ablation of system 6 of ``projection compare``: for every language and seed, the
teacher (``--teacher-system``, default 1: zero-shot on English) labels the tokens of the
target's train split (never its tags), and a student trains on

* ``none``: every teacher-labelled sentence;
* ``confidence``: the top ``--fraction`` by the teacher's mean word probability of its own tag;
* ``adversarial``: the top ``--fraction`` by AdvPicker's language discriminator, P(source);

each variant through ``projection compare`` into ``docs/ablation/select-VARIANT[-init][-projected]/`` (small JSON files
per row, committed; a rerun resumes there and trains only what is missing; models go to
``--models``). Then the table of student against teacher (means over seeds, paired per-seed
differences) and the cost (teacher labelling, selection, student training) is written to
``docs/teacher-student[-init][-projected].md``.

    PROJECTION_DATA=../shared/data python -m bench.teacher_select --lang es,hau --seeds 13 \\
        [--variants none,confidence,adversarial] [--teacher-system 1] [--student-init] [--student-projected] \\
        [--report-only | --dry-run]

English dev is the only model selection; the target test sets are only scored.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

VARIANTS = ("none", "confidence", "adversarial")
DOCS = REPO / "docs"
ABLATION = Path("docs/ablation")


def suffix(init: bool, projected: bool) -> str:
    return ("-init" if init else "") + ("-projected" if projected else "")


def variant_dir(variant: str, init: bool = False, projected: bool = False) -> Path:
    return ABLATION / f"select-{variant}{suffix(init, projected)}"


def options(args, variant: str):
    from projection.train.compare import CompareOptions

    return CompareOptions(model=args.model, teacher_system=args.teacher_system, select=variant,
                          select_fraction=None if variant == "none" else args.fraction,
                          student_projected=args.student_projected, student_init=args.student_init, keep_models=True)


def run(args) -> None:
    from projection.train.compare import compare

    systems = [args.teacher_system, "6"]
    for variant in args.variants:
        out = variant_dir(variant, args.student_init, args.student_projected)
        print(f"== {variant}: {out}", flush=True)
        r = compare(args.lang, out, seeds=args.seeds, systems=systems, options=options(args, variant),
                    models=args.models, report=Path(args.reports) / out.name, dry_run=args.dry_run)
        for state in r.get("plan", []):
            print(json.dumps({k: state[k] for k in ("language", "system", "seed", "state")}), flush=True)


def _student_info(meta_dir: Path) -> dict:
    m = json.loads((meta_dir / "metrics.json").read_text(encoding="utf-8"))
    s = json.loads((meta_dir / "system.json").read_text(encoding="utf-8"))
    ts = (m["model"].get("train_data") or {}).get("teacher_student") or {}
    lab = ts.get("teacher_labelling") or {}
    sel = ts.get("selection") or {}
    return {"f1": m["f1"], "precision": m["precision"], "recall": m["recall"], "seed": s["seed"],
            "kept": ts.get("sentences"), "candidates": sel.get("candidates"),
            "labelling_s": None if lab.get("from_cache") else lab.get("seconds"),
            "selection_s": sel.get("seconds"), "minutes": s.get("train_minutes"), "command": s["command"],
            "per_label": {k: v["f1"] for k, v in (m.get("per_label") or {}).items()}}


def collect_rows(langs, variants, init: bool, projected: bool) -> list[dict]:
    """Per (language, variant): the students' and teachers' rows over the seeds both have."""
    from projection.train.compare import SYSTEM_JSON

    rows = []
    for variant in variants:
        base = REPO / variant_dir(variant, init, projected)
        for lang in langs:
            students = {}
            teachers = {}
            for meta in sorted((base / lang).glob(f"*/{SYSTEM_JSON}")):
                s = json.loads(meta.read_text(encoding="utf-8"))
                if not (meta.parent / "metrics.json").exists():
                    continue
                if s["system"] == "6":
                    students[s["seed"]] = _student_info(meta.parent)
                    students[s["seed"]]["teacher"] = s.get("teacher")
                else:
                    teachers[(s["system"], s["seed"])] = json.loads((meta.parent / "metrics.json").read_text("utf-8"))["f1"]
            for seed, st in sorted(students.items()):
                t = teachers.get((str(st["teacher"]), seed))
                rows.append({"language": lang, "variant": variant, **st, "teacher_f1": t})
    return rows


def _ms(vals) -> str:
    from projection.train.compare import _mean_sd

    if not vals:
        return ""
    m, sd = _mean_sd([100 * v for v in vals])
    return f"{m:.1f}" + ("" if len(vals) < 2 else f" ± {sd:.1f}")


def markdown(rows, init: bool, projected: bool) -> str:
    from projection.train.compare import _mean_sd

    md = ["# Teacher-student: the selection ablation", "",
          "Generated by `python -m bench.teacher_select` (see its docstring) from `docs/ablation/`: system 6 of "
          "`projection compare`, a student trained on a teacher's labels of the target's unlabeled train-split tokens "
          "(tags never read), selected three ways. Teacher: the system in the column *teacher* (1: zero-shot on "
          "English), same language and seed. English dev is the only model selection." +
          (" Each student starts from its teacher's weights (`--student-init`), then trains on the teacher's labels "
           "(self-training)." if init else " Each student starts from the pretrained encoder and a fresh head.") +
          (" The students also train on our projection (`--student-projected`)." if projected else ""), "",
          "| language | selection | seeds | kept / unlabeled | teacher F1 | student F1 | student - teacher (paired) "
          "| P | R | labelling s | student min |",
          "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["language"], r["variant"]), []).append(r)
    for (lang, variant), rs in groups.items():
        diffs = [100 * (r["f1"] - r["teacher_f1"]) for r in rs if r["teacher_f1"] is not None]
        d = ""
        if diffs:
            m, sd = _mean_sd(diffs)
            d = f"{m:+.1f}" + ("" if len(diffs) < 2 else f" ± {sd:.1f}")
        lab = [r["labelling_s"] for r in rs if r["labelling_s"] is not None]
        mins = [r["minutes"] for r in rs if r["minutes"] is not None]
        md.append(f"| {lang} | {variant} | {','.join(str(r['seed']) for r in rs)} | "
                  f"{rs[0]['kept']:,} / {rs[0]['candidates']:,} | "
                  f"{_ms([r['teacher_f1'] for r in rs if r['teacher_f1'] is not None])} (system {rs[0]['teacher']}) | "
                  f"{_ms([r['f1'] for r in rs])} | {d} | {_ms([r['precision'] for r in rs])} | "
                  f"{_ms([r['recall'] for r in rs])} | {f'{sum(lab) / len(lab):.0f}' if lab else 'stored'} | "
                  f"{f'{sum(mins) / len(mins):.1f}' if mins else ''} |")
    md += ["", "*labelling s*: the teacher's labelling of the unlabeled text (once per teacher and text; `stored`: read "
           "from the teacher-label store, labelled by an earlier variant). *student min*: labelling (when not stored), "
           "selection (AdvPicker: its discriminator training) and student training, wall time on this 2-core CPU.", "",
           "## Commands", ""]
    seen = set()
    for r in rows:
        if r["variant"] not in seen:
            seen.add(r["variant"])
            md.append(f"- {r['variant']}: `{r['command']}`")
    md.append("")
    return "\n".join(md)


def report(args) -> Path:
    from projection.store import atomic_write_text

    rows = collect_rows(args.lang, args.variants, args.student_init, args.student_projected)
    path = DOCS / f"teacher-student{suffix(args.student_init, args.student_projected)}.md"
    atomic_write_text(path, markdown(rows, args.student_init, args.student_projected))
    for r in rows:
        print(json.dumps({k: r[k] for k in ("language", "variant", "seed", "f1", "teacher_f1", "kept", "minutes")}))
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lang", type=lambda s: s.split(","), default=["es", "hau"])
    p.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[13])
    p.add_argument("--variants", type=lambda s: s.split(","), default=list(VARIANTS))
    p.add_argument("--teacher-system", default="1")
    p.add_argument("--fraction", type=float, default=0.5)
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
