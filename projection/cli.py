"""The ``projection`` command line: a thin typer + rich shell over the Python API.

Nothing else in the package knows about the command line. Every user-facing error is a
:class:`~projection.errors.ProjectionError`, printed as one line with exit status 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from projection.errors import ProjectionError

app = typer.Typer(
    name="projection",
    help="Build NER training data for new languages by annotation projection; train and compare models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()


def _print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


# --------------------------------------------------------------------------- corpora


@app.command()
def stats(
    corpus: str = typer.Argument(..., help="A corpus name (conll2003-en:train) or a file (CoNLL, .jsonl, .parquet)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: sentences, tokens, entities, per_label."),
    encoding: Optional[str] = typer.Option(None, help="File encoding (default utf-8; the corpus's own for named corpora)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="conll, jsonl or parquet (default: from the extension)."),
) -> None:
    """Count sentences, tokens and entities per label."""
    from projection.corpora import load_corpus
    from projection.corpus import corpus_stats

    st = corpus_stats(load_corpus(corpus, encoding=encoding, fmt=fmt))
    if as_json:
        _print_json(st)
        return
    table = Table(title=f"{corpus}", show_footer=False)
    table.add_column("label")
    table.add_column("entities", justify="right")
    table.add_column("share", justify="right")
    for label, n in st["per_label"].items():
        table.add_row(label, f"{n:,}", f"{n / max(st['entities'], 1):.1%}")
    table.add_row("[bold]all[/bold]", f"[bold]{st['entities']:,}[/bold]", "")
    console.print(table)
    console.print(f"{st['sentences']:,} sentences, {st['tokens']:,} tokens")


@app.command()
def convert(
    src: str = typer.Argument(..., help="Input corpus name or file."),
    dst: Path = typer.Argument(..., help="Output file; format from the extension (.conll/.tsv/.txt, .jsonl, .parquet)."),
    encoding: Optional[str] = typer.Option(None, help="Input encoding (default utf-8)."),
    in_format: Optional[str] = typer.Option(None, "--from", help="Input format: conll, jsonl, parquet."),
    out_format: Optional[str] = typer.Option(None, "--to", help="Output format: conll, jsonl, parquet."),
    scheme: str = typer.Option("iob2", help="Tag scheme of CoNLL output: iob2 (BIO) or iob1."),
    labels: Optional[str] = typer.Option(None, help="Comma-separated label set; any other label is an error."),
) -> None:
    """Convert a corpus between CoNLL, JSONL and parquet (tags normalised to IOB2 unless --scheme iob1)."""
    from projection.corpora import load_corpus
    from projection.corpus import corpus_stats, write_corpus

    sents = load_corpus(src, encoding=encoding, fmt=in_format, labels=labels.split(",") if labels else None)
    write_corpus(sents, dst, fmt=out_format, scheme=scheme)
    st = corpus_stats(sents)
    console.print(f"wrote {dst}: {st['sentences']:,} sentences, {st['entities']:,} entities")


@app.command()
def corpora() -> None:
    """List the named corpora and whether each is present in the data directory."""
    from projection.corpora import CORPORA, data_dir

    table = Table(title=f"named corpora in {data_dir().resolve()}")
    table.add_column("name")
    table.add_column("lang")
    table.add_column("present")
    table.add_column("path")
    for name, spec in CORPORA.items():
        present = spec.path().exists()
        table.add_row(name, spec.lang, "[green]yes[/green]" if present else "[red]no[/red]", str(spec.relpath))
    console.print(table)


# --------------------------------------------------------------------------- inspect (projection/inspect/)


@app.command("inspect")
def inspect_cmd(
    run_dir: Path = typer.Argument(..., help="A projection run directory (written by `projection run`)."),
    label: Optional[list[str]] = typer.Option(
        None, "--label", "-l", help="Only sentences with an entity of this label (repeat or comma-separate)."),
    status: Optional[list[str]] = typer.Option(
        None, "--status", "-s",
        help="Entity status (projected, unaligned, conflict, below-threshold) or sentence status (kept, dropped)."),
    min_score: Optional[float] = typer.Option(None, "--min-score", help="Only entities scoring at least this."),
    max_score: Optional[float] = typer.Option(None, "--max-score", help="Only entities scoring at most this."),
    grep: Optional[str] = typer.Option(None, "--grep", "-g", help="Case-insensitive regex over source and target text."),
    sample: Optional[int] = typer.Option(None, "--sample", help="A random sample of N of the matching sentences."),
    seed: int = typer.Option(0, "--seed", help="Seed of --sample (and of the HTML report's sample)."),
    page: int = typer.Option(1, "--page", "-p", help="Page of sentences to print."),
    per_page: int = typer.Option(10, "--per-page", help="Sentences per page."),
    summary_only: bool = typer.Option(False, "--summary-only", help="Print the summary only, no sentences."),
    html: Optional[Path] = typer.Option(None, "--html", help="Write a self-contained HTML report to this file."),
    results: Optional[Path] = typer.Option(
        None, "--results", help="A `projection compare` output folder (results.csv, chart) to include."),
    max_sentences: int = typer.Option(1000, "--max-sentences", help="Most sentences listed in the HTML report."),
    as_json: bool = typer.Option(False, "--json", help="Print the statistics and the selected sentence ids as JSON."),
) -> None:
    """Look at a projection run: summary, then source and target side by side (or --html REPORT)."""
    from projection import inspect as pi

    filters = dict(labels=label, statuses=status, min_score=min_score, max_score=max_score, grep=grep,
                   sample=sample, seed=seed)
    if html is not None:
        out = pi.write_html(run_dir, html, results=results, max_sentences=max_sentences, **filters)
        console.print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    elif as_json:
        run = pi.load_run(run_dir)
        filt = pi.make_filter(**filters)
        selected = filt.apply(run.sentences)
        _print_json({**pi.summarize(run), "selection": {"filter": filt.describe(), "sentences": len(selected),
                                                        "ids": [ps.id for ps in selected]}})
    else:
        pi.show(run_dir, console, page=page, per_page=per_page, sentences=not summary_only, results=results, **filters)


def main() -> None:
    import click

    try:
        app(standalone_mode=False)
    except ProjectionError as e:
        sys.stderr.write(f"error: {e}\n")
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        sys.stderr.write("aborted\n")
        sys.exit(130)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    main()
