"""Hostile inputs and faults (issue 11), rerun as a class: every case through the command line.

Each case prepares its input in a scratch folder, runs ``python -m projection ...`` in a
subprocess (with a time limit) and classifies the outcome:

* **ok** - the expected result: one clear line and exit status 2 for bad input, or exit 0 with
  the right output (checked per case: sentence counts, file types, escaping, ...);
* **traceback** - a Python traceback on stderr;
* **silent loss** - exit 0 but the output is wrong or short (the case's check failed);
* **hang** - the time limit passed;
* **leftover** - a process or temporary file outlived a ``kill -9``;
* **wrong** - any other outcome (a wrong message, a wrong exit status).

    python -m bench.hostile [--only SUBSTRING] [--kill9 [--source REF]]

``--kill9``: ``kill -9`` of ``projection run --lang es --pipeline auto`` (what ``make project
LANG=es`` runs) during translation, alignment and projection, a rerun after each, then one more
uninterrupted rerun on the same stage cache: the output files must be byte-identical, and no
process or temporary file may be left (``ps`` and a listing of the temporary folder before and
after). Writes bench/out/hostile.json (and hostile_kill9.json).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import psutil

from bench import OUT, save

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "projection" / "data" / "sample.conll"
PAYLOAD = "<img/src/onerror=alert(1)>"
CODE = REPO  # the checkout whose `projection` is run (--code: e.g. main, for the figures before a fix)


@dataclass
class Result:
    code: int | None
    out: str
    err: str
    seconds: float


def cli(work: Path, *args: object, timeout: float = 120, env: dict[str, str] | None = None) -> Result:
    e = dict(os.environ, PYTHONPATH=str(CODE), PROJECTION_CACHE=str(work / "cache"), PROJECTION_PROGRESS="0",
             OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **(env or {}))
    t0 = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, "-m", "projection", *map(str, args)], capture_output=True, text=True,
                           timeout=timeout, cwd=work, env=e)
        return Result(p.returncode, p.stdout, p.stderr, time.perf_counter() - t0)
    except subprocess.TimeoutExpired:
        return Result(None, "", "", time.perf_counter() - t0)


def one_line(r: Result, *needles: str) -> str | None:
    """None when ``r`` is a one-line error (exit 2) containing every needle, else what is wrong."""
    lines = r.err.strip().splitlines()
    if r.code is None or "Traceback" in r.err:
        return r
    if r.code == 0:
        return "loss: accepted without a word (exit 0)"
    if r.code != 2 or len(lines) != 1:
        return f"exit {r.code}, {len(lines)} stderr lines"
    missing = [n for n in needles if n not in lines[0]]
    return f"message lacks {missing}: {lines[0][:200]}" if missing else None


# --------------------------------------------------------------------------- inputs


def sample_lines(n: int = 200) -> list[str]:
    blocks = SAMPLE.read_text(encoding="utf-8").strip().split("\n\n")[:n]
    return blocks


def write_source(path: Path, label: str | None = None, n: int = 60) -> int:
    blocks = sample_lines(n)
    if label is not None:
        blocks = [b.replace("B-PER", f"B-{label}").replace("I-PER", f"I-{label}") for b in blocks]
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return len(blocks)


def write_pipeline(work: Path, src: Path) -> Path:
    """given translations (the source sentences themselves) + eflomal + ngram: no model needed."""
    trans = work / "trans.txt"
    sents = [[ln.split()[0] for ln in b.splitlines()] for b in src.read_text(encoding="utf-8").strip().split("\n\n")]
    trans.write_text("".join(" ".join(s) + "\n" for s in sents), encoding="utf-8")
    p = work / "p.toml"
    p.write_text(f'[translate]\nengine = "given"\npath = "{trans}"\n\n[align]\nengine = "eflomal"\n'
                 f'rel_iterations = 0.2\n\n[project]\nmethod = "ngram"\n', encoding="utf-8")
    return p


def small_run(work: Path, label: str | None = None, out: str = "run") -> tuple[Result, Path, int]:
    src = work / "src.conll"
    n = write_source(src, label)
    p = write_pipeline(work, src)
    return cli(work, "run", "--lang", "es", "--pipeline", p, "--source", src, "--out", work / out), work / out, n


def sentences_in(r: Result) -> int | None:
    import re

    m = re.search(r"sentences: (\d[\d,]*) in", r.out)
    return int(m.group(1).replace(",", "")) if m else None


# --------------------------------------------------------------------------- cases: (group, name, function)

CASES: list[tuple[str, str, Callable[[Path], str | None | Result]]] = []


def case(group: str, name: str):
    def deco(fn):
        CASES.append((group, name, fn))
        return fn
    return deco


@case("1", "inspect --html with a <img onerror> label")
def _(w):
    r, run, _ = small_run(w, PAYLOAD)
    if r.code != 0:
        return r
    r = cli(w, "inspect", run, "--html", w / "r.html")
    if r.code != 0:
        return r
    page = (w / "r.html").read_text(encoding="utf-8")
    return "loss: payload unescaped in the report" if "<img/src" in page or "onerror=alert(1)>" in page else None


@case("1", "stats with a Rich-markup label [/]")
def _(w):
    write_source(w / "s.conll", "[/]")
    r = cli(w, "stats", w / "s.conll")
    return r if r.code != 0 else (None if "[/]" in r.out else "loss: label missing from the table")


@case("1", "run with a Rich-markup label [/]")
def _(w):
    r, run, n = small_run(w, "[/]")
    return r if r.code != 0 else (None if sentences_in(r) == n else f"loss: {sentences_in(r)} in, {n} expected")


@case("1", "inspect (terminal) with a Rich-markup label [/]")
def _(w):
    r, run, _ = small_run(w, "[/]x")
    if r.code != 0:
        return r
    r = cli(w, "inspect", run)
    return r if r.code != 0 else (None if "[/]x" in r.out else "loss: label missing")


@case("2", "convert to a symlink")
def _(w):
    (w / "target.conll").write_text("old\n")
    (w / "link.conll").symlink_to(w / "target.conll")
    r = cli(w, "convert", SAMPLE, w / "link.conll")
    if r.code != 0:
        return r
    if not (w / "link.conll").is_symlink():
        return "loss: the symlink was replaced by a file"
    return None if (w / "target.conll").read_text().startswith("SOCCER") else "loss: the link's target was not written"


@case("2", "convert to a FIFO")
def _(w):
    os.mkfifo(w / "pipe")
    got: list[bytes] = []
    t = threading.Thread(target=lambda: got.append(open(w / "pipe", "rb").read()), daemon=True)
    t.start()
    r = cli(w, "convert", SAMPLE, w / "pipe", timeout=60)
    t.join(10)
    if r.code != 0:
        return r
    if not stat.S_ISFIFO(os.stat(w / "pipe").st_mode):
        return "loss: the FIFO was replaced by a file"
    return None if got and got[0].startswith(b"SOCCER") else "loss: nothing read from the FIFO"


@case("2", "convert to a character device (a copy of /dev/null)")
def _(w):
    try:
        os.mknod(w / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except OSError as e:
        return f"skipped: mknod: {e.strerror}"
    for fmt in ("conll", "parquet"):
        r = cli(w, "convert", SAMPLE, w / "null", "--to", fmt)
        if r.code != 0:
            return r
        if not stat.S_ISCHR(os.stat(w / "null").st_mode):
            return f"loss: the device was replaced by a regular file ({fmt})"
    return None


def damaged_stage(w: Path, pattern: str, damage: Callable[[Path], None]) -> str | None | Result:
    r, run, n = small_run(w)
    if r.code != 0:
        return r
    before = (run / "projected.conll").read_bytes()
    path = next((run / "stages").glob(pattern))
    damage(path)
    r = cli(w, "run", "--lang", "es", "--pipeline", w / "p.toml", "--source", w / "src.conll", "--out", run)
    if r.code != 0:
        return r
    if sentences_in(r) != n:
        return f"loss: {sentences_in(r)} in, {n} expected"
    if "damaged stage file" not in r.out + r.err or path.name not in r.out + r.err:
        return "loss: the damaged file was not named"
    if pattern.startswith("align"):
        return None  # eflomal is not seeded: a recomputed alignment may differ
    return None if (run / "projected.conll").read_bytes() == before else "loss: output differs after recomputing"


@case("3", "translate stage file truncated to 3 rows")
def _(w):
    return damaged_stage(w, "translate-*[0-9a-f].jsonl",
                         lambda p: p.write_bytes(b"".join(p.read_bytes().splitlines(keepends=True)[:3])))


@case("3", "translate stage file cut mid-line")
def _(w):
    return damaged_stage(w, "translate-*[0-9a-f].jsonl", lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]))


@case("3", "project stage file truncated to 3 rows")
def _(w):
    return damaged_stage(w, "project-*.jsonl",
                         lambda p: p.write_bytes(b"".join(p.read_bytes().splitlines(keepends=True)[:3])))


@case("3", "align stage .npz replaced by junk")
def _(w):
    return damaged_stage(w, "align-*/*.npz", lambda p: p.write_bytes(b"junk" * 50))


@case("3", "align stage .npz truncated")
def _(w):
    return damaged_stage(w, "align-*/*.npz", lambda p: p.write_bytes(p.read_bytes()[:300]))


@case("4", "every engine signature carries its code hash")
def _(w):
    r, run, _ = small_run(w)
    if r.code != 0:
        return r
    m = json.loads((run / "manifest.json").read_text())
    missing = [k for k in ("translate", "align", "project", "tokenizer") if "code" not in m["engines"][k]]
    return f"loss: no code hash in {missing}" if missing else None


def bad_jsonl(w: Path, text: str, *needles: str) -> str | None | Result:
    (w / "c.jsonl").write_text(text)
    return one_line(cli(w, "stats", w / "c.jsonl"), *needles)


@case("5", "JSONL meta that is bad JSON")
def _(w):
    return bad_jsonl(w, '{"tokens": ["a"], "tags": ["O"], "meta": "{bad"}\n', "c.jsonl:1", "meta: invalid JSON")


@case("5", "JSONL meta that is a list")
def _(w):
    return bad_jsonl(w, '{"tokens": ["a"], "tags": ["O"], "meta": [1]}\n', "c.jsonl:1", "meta must be a JSON object")


@case("5", "JSONL meta that is an int")
def _(w):
    return bad_jsonl(w, '{"tokens": ["a"], "tags": ["O"], "meta": 5}\n', "c.jsonl:1", "meta must be a JSON object")


@case("5", "parquet meta that is bad JSON")
def _(w):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"tokens": [["a"], ["b"]], "tags": [["O"], ["O"]], "meta": ["{}", "{bad"]}), w / "c.parquet")
    return one_line(cli(w, "stats", w / "c.parquet"), "c.parquet: row 2: meta: invalid JSON")


@case("5", "JSONL nested 100,000 deep")
def _(w):
    return bad_jsonl(w, "[" * 100_000 + "]" * 100_000 + "\n", "c.jsonl:1", "nested too deeply")


@case("5", "convert --scheme bioul (unknown)")
def _(w):
    return one_line(cli(w, "convert", SAMPLE, w / "x.conll", "--scheme", "bioul"), "unknown tag scheme")


@case("5", "convert --scheme iobes")
def _(w):
    r = cli(w, "convert", SAMPLE, w / "x.conll", "--scheme", "iobes")
    return r if r.code != 0 else (None if "S-" in (w / "x.conll").read_text() else "loss: no IOBES tags written")


@case("5", "convert to a directory")
def _(w):
    (w / "d").mkdir()
    return one_line(cli(w, "convert", SAMPLE, w / "d"), "is a directory")


@case("5", "convert to an unwritable place")
def _(w):
    return one_line(cli(w, "convert", SAMPLE, "/proc/hostile/x.conll"), "cannot write")


@case("5", "run --out an existing file (checked before translating)")
def _(w):
    (w / "f").write_text("x")
    src = w / "src.conll"
    write_source(src)
    r = cli(w, "run", "--lang", "es", "--pipeline", write_pipeline(w, src), "--source", src, "--out", w / "f")
    return one_line(r, "exists and is not a folder") or (None if r.seconds < 30 else f"took {r.seconds:.0f} s")


@case("5", "translate -o under a file")
def _(w):
    (w / "f").write_text("x")
    return one_line(cli(w, "translate", "-e", "apertium", "-i", SAMPLE, "-o", w / "f" / "x.txt"), "cannot write")


@case("5", "translate --engine hf --model EMPTY_DIR")
def _(w):
    (w / "empty").mkdir()
    return one_line(cli(w, "translate", "-e", "hf", "-m", w / "empty", "-i", SAMPLE, "-o", w / "o.txt"),
                    "the folder is empty")


@case("5", "translate --engine nllb --model EMPTY_DIR")
def _(w):
    (w / "empty").mkdir()
    return one_line(cli(w, "translate", "-e", "nllb", "-m", w / "empty", "-i", SAMPLE, "-o", w / "o.txt"),
                    "the folder is empty")


@case("5", "a missing option (typer's click)")
def _(w):
    r = cli(w, "translate", "-e", "apertium")
    if "Traceback" in r.err:
        return r
    return None if r.code == 2 and "Missing option" in r.err and "Traceback" not in r.err else f"exit {r.code}"


@case("7", "CR-only line ends")
def _(w):
    (w / "cr.conll").write_bytes(b"Paris\tB-LOC\rvisited\tO\r\rRome\tB-LOC\r")
    r = cli(w, "stats", w / "cr.conll", "--json")
    return r if r.code != 0 else (None if json.loads(r.out)["sentences"] == 2 else f"loss: {json.loads(r.out)['sentences']} sentences")


@case("7", "a token that starts with -DOCSTART-")
def _(w):
    (w / "d.conll").write_text("-DOCSTART- -X- O O\n\n-DOCSTART-ish\tB-MISC\nx\tO\n\n")
    r = cli(w, "stats", w / "d.conll", "--json")
    return r if r.code != 0 else (None if json.loads(r.out)["tokens"] == 2 else "loss: token dropped")


@case("7", "convert a JSONL token with a tab to CoNLL")
def _(w):
    (w / "t.jsonl").write_text(json.dumps({"tokens": ["a\tb", "c"], "tags": ["O", "O"]}) + "\n")
    return one_line(cli(w, "convert", w / "t.jsonl", w / "t.conll"), "CoNLL cannot hold")


@case("7", "convert a JSONL token with a newline to CoNLL")
def _(w):
    (w / "t.jsonl").write_text(json.dumps({"tokens": ["a\nb", "c"], "tags": ["O", "O"]}) + "\n")
    return one_line(cli(w, "convert", w / "t.jsonl", w / "t.conll"), "CoNLL cannot hold")


@case("8", "apertium on one 200 kB token (bounded by the default timeout)")
def _(w):
    if shutil.which("apertium") is None:
        return "skipped: apertium is not installed"
    (w / "big.txt").write_text("x" * 200_000 + "\n")
    r = cli(w, "translate", "-e", "apertium", "-i", w / "big.txt", "-o", w / "o.txt", "--text", timeout=200)
    if r.code == 0:
        return None
    return one_line(r, "timed out after", "longest word 200,000 characters")


@case("9", "a 10 MB bad tag")
def _(w):
    (w / "t.conll").write_text("x\t" + "Z" * 10_000_000 + "\n")
    r = cli(w, "stats", w / "t.conll")
    return one_line(r, "(10,000,000 characters)") or (None if len(r.err) < 300 else f"{len(r.err):,} characters")


@case("9", "an int JSONL token")
def _(w):
    return bad_jsonl(w, '{"tokens": ["a", 5], "tags": ["O", "O"]}\n', "token at position 1 is 5, not a string")


@case("9", "a parquet tag error")
def _(w):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"tokens": [["a"], ["b"], ["c"]], "tags": [["O"], ["O"], ["X-1"]]}), w / "p.parquet")
    return one_line(cli(w, "stats", w / "p.parquet"), "p.parquet: row 3: tag 'X-1'")


@case("9", "--set with an unknown key")
def _(w):
    src = w / "src.conll"
    write_source(src)
    return one_line(cli(w, "run", "--lang", "es", "--pipeline", "offline", "--source", src, "--out", w / "r",
                        "--set", "align.bogus=1"), "--set align.bogus=1: [align] unknown key 'bogus'")


def _gold(w: Path, base: int, n: int = 12) -> tuple[Path, Path]:
    (w / "pred.align").write_text("".join(" ".join(f"{i}-{i}" for i in range(3)) + "\n" for _ in range(n)))
    (w / "gold.align").write_text("".join(" ".join(f"{i + base}-{i + base}" for i in range(3)) + "\n" for _ in range(n)))
    return w / "pred.align", w / "gold.align"


@case("10", "eval-align with 1-based gold")
def _(w):
    return one_line(cli(w, "eval-align", *_gold(w, 1)), "looks 1-indexed", "--one-indexed")


@case("10", "eval-align with a predicted link 99-99 in a 3x3 pair")
def _(w):
    (w / "gold.jsonl").write_text(json.dumps({"src_words": list("abc"), "tgt_words": list("xyz"), "alignment": [[0, 0]]}) + "\n")
    (w / "pred.align").write_text("0-0 99-99\n")
    return one_line(cli(w, "eval-align", w / "pred.align", w / "gold.jsonl"), "link 99-99 is out of range")


@case("10", "eval-align --pairs with an U+3000 token")
def _(w):
    (w / "pairs.txt").write_text("a \u3000 b ||| x y z\n", encoding="utf-8")
    (w / "gold.align").write_text("2-2\n")
    (w / "pred.align").write_text("2-2\n")
    r = cli(w, "eval-align", w / "pred.align", w / "gold.align", "--pairs", w / "pairs.txt", "--zero-indexed", "--json")
    return r if r.code != 0 else (None if json.loads(r.out)["aer"] == 0.0 else "loss: wrong score")


@case("11", "elided article inside a name (Banque d ' Angleterre)")
def _(w):
    code = ("from projection.project import ProjectionInput, projectors\n"
            "from projection.records import Alignment, Sentence\n"
            "s = Sentence('s', 'the Bank of England said'.split(), 'O B-ORG I-ORG I-ORG O'.split())\n"
            "t = \"la Banque d ' Angleterre a dit\".split()\n"
            "for m in ('ngram', 'heuristic'):\n"
            "    ps = projectors.create(m).project([ProjectionInput(s, t, Alignment.from_pharaoh('0-0 1-1 2-2 3-4 4-5 4-6'))])[0]\n"
            "    e = ps.entities[0]\n"
            "    print(m, ' '.join(t[e.target.start:e.target.end]) if e.target else None)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=w,
                       env=dict(os.environ, PYTHONPATH=str(CODE)), timeout=120)
    want = "ngram Banque d ' Angleterre\nheuristic Banque d ' Angleterre\n"
    return None if p.stdout == want else f"loss: got {p.stdout!r} {p.stderr[-200:]}"


@case("6", "two runs on the same --out at once")
def _(w):
    src = w / "src.conll"
    write_source(src, n=200)
    p = write_pipeline(w, src)
    e = dict(os.environ, PYTHONPATH=str(CODE), PROJECTION_CACHE=str(w / "cache"), PROJECTION_PROGRESS="0")
    cmd = [sys.executable, "-m", "projection", "run", "--lang", "es", "--pipeline", str(p), "--source", str(src),
           "--out", str(w / "run")]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e, cwd=w)
             for _ in range(2)]
    res = [(q.wait(300), q.stderr.read()) for q in procs]
    codes = sorted(c for c, _ in res)
    if codes == [0, 0]:
        return "loss: both runs exit 0 on one folder (the last writer wins)"
    if codes != [0, 2]:
        return f"exit statuses {codes}"
    return None if any("is writing into it" in err for _, err in res) else "loss: no lock message"


@case("6", "kill -9 during eflomal: no process, no temporary file left")
def _(w):
    src = w / "src.conll"
    write_source(src, n=200)
    trans = w / "trans.txt"
    p = write_pipeline(w, src)
    p.write_text(p.read_text().replace("rel_iterations = 0.2", "n_iterations = [4000, 4000, 4000]"))
    tmp = w / "tmp"
    tmp.mkdir()
    e = dict(os.environ, PYTHONPATH=str(CODE), PROJECTION_CACHE=str(w / "cache"), PROJECTION_PROGRESS="0",
             TMPDIR=str(tmp))
    cmd = [sys.executable, "-m", "projection", "run", "--lang", "es", "--pipeline", str(p), "--source", str(src),
           "--out", str(w / "run")]
    q = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=e, cwd=w)
    binary = None
    for _ in range(600):
        binary = eflomal_pids(tmp)
        if binary:
            break
        time.sleep(0.1)
    if not binary:
        q.kill()
        return "eflomal never started"
    os.kill(q.pid, signal.SIGKILL)
    q.wait()
    time.sleep(2)
    left = [pid for pid in binary if alive(pid)]
    if left:
        for pid in left:  # ours to end: started by this case
            os.kill(pid, signal.SIGKILL)
        return f"left: eflomal {left} outlived its killed parent (ended by the benchmark)"
    # the next run (a short one) removes what the killed one left
    p.write_text(p.read_text().replace("n_iterations = [4000, 4000, 4000]", "rel_iterations = 0.2"))
    r = subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=300, cwd=w)
    if r.returncode != 0:
        return f"rerun: exit {r.returncode}: {r.stderr[-300:]}"
    leftovers = [str(x.relative_to(w)) for x in [*tmp.iterdir(), *(w / "run").rglob("*.tmp")]]
    return f"left: {leftovers}" if leftovers else None


def eflomal_pids(tmp: Path) -> list[int]:
    """The eflomal binaries started by this case (their environment has its TMPDIR), no one else's."""
    return [p.pid for p in _started_here(tmp) if "eflomal/bin/eflomal" in " ".join(_cmdline(p))]


def _started_here(tmp: Path) -> list[psutil.Process]:
    """The live processes whose environment has this case's TMPDIR (children inherit it)."""
    mine = []
    for p in psutil.process_iter():
        try:
            if p.pid != os.getpid() and p.environ().get("TMPDIR") == str(tmp) and p.status() != psutil.STATUS_ZOMBIE:
                mine.append(p)
        except psutil.Error:
            continue
    return mine


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


# --------------------------------------------------------------------------- the table


def classify(outcome: str | None | Result) -> tuple[str, str]:
    if isinstance(outcome, Result):
        if outcome.code is None:
            return "hang", f"no answer in {outcome.seconds:.0f} s"
        if "Traceback" in outcome.err:
            return "traceback", outcome.err.strip().splitlines()[-1][:200]
        return "wrong", f"exit {outcome.code}: {outcome.err.strip()[-200:]}"
    if outcome is None:
        return "ok", ""
    if outcome.startswith("skipped"):
        return "skipped", outcome
    if outcome.startswith("loss: "):
        return "silent loss", outcome[6:]
    if outcome.startswith("left: "):
        return "leftover", outcome[6:]
    return "wrong", outcome


def run_cases(only: str | None) -> list[dict]:
    rows = []
    for group, name, fn in CASES:
        if only and only not in name and only != group:
            continue
        with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
            t0 = time.perf_counter()
            try:
                outcome = fn(Path(tmp))
            except subprocess.TimeoutExpired:
                outcome = Result(None, "", "", time.perf_counter() - t0)
            kind, detail = classify(outcome)
        rows.append({"group": group, "case": name, "outcome": kind, "detail": detail,
                     "seconds": round(time.perf_counter() - t0, 1)})
        print(f"{group:>3} {kind:<11} {rows[-1]['seconds']:6.1f} s  {name}  {detail}", flush=True)
    return rows


# --------------------------------------------------------------------------- kill -9 during make project


def digest(run: Path) -> dict[str, str]:
    names = ("projections.jsonl", "projected.conll", "projected.parquet", "entities.parquet")
    return {n: hashlib.sha256((run / n).read_bytes()).hexdigest()[:16] for n in names if (run / n).exists()}


def snapshot(tmp: Path) -> dict[str, list[str]]:
    """The processes started for this benchmark (found by the TMPDIR in their environment, which
    children such as apertium's lt-proc and the eflomal binary inherit) and the temporary folder."""
    mine = [f"{p.pid} " + " ".join(_cmdline(p))[:160] for p in _started_here(tmp)]
    return {"processes": mine, "tmp": sorted(x.name for x in tmp.iterdir())}


def kill9(source: str | None) -> dict:
    work = OUT / "hostile-kill9"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    tmp = work / "tmp"
    tmp.mkdir()
    env = dict(os.environ, PYTHONPATH=str(CODE), PROJECTION_CACHE=str(work / "cache"), TMPDIR=str(tmp),
               LANG="C.UTF-8", LC_ALL="C.UTF-8", PROJECTION_PROGRESS="0")
    run = work / "es-auto"
    cmd = [sys.executable, "-m", "projection", "run", "--lang", "es", "--pipeline", "auto", "--out", str(run),
           *(["--source", source] if source else [])]  # what `make project LANG=es` runs
    steps = []
    before = snapshot(tmp)
    for stage in ("translate:", "align:", "project:"):
        log = work / f"kill-{stage[:-1]}.log"
        with open(log, "w") as f:
            q = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        t0 = time.perf_counter()
        killed = False
        while q.poll() is None:
            text = log.read_text(errors="replace")
            if stage in text:
                time.sleep(1.0 if stage != "project:" else 0.0)
                os.kill(q.pid, signal.SIGKILL)
                killed = True
                break
            time.sleep(0.05)
        q.wait()
        time.sleep(2)
        after = snapshot(tmp)
        steps.append({"kill_at": stage[:-1], "killed": killed, "after_seconds": round(time.perf_counter() - t0, 1),
                      "left": after})
        print(f"kill -9 at {stage} killed={killed}; left: {after}", flush=True)
    t0 = time.perf_counter()
    resumed = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    a = digest(run)
    t1 = time.perf_counter()
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    b = digest(run)
    final = snapshot(tmp)
    res = {"command": " ".join(cmd), "before": before, "steps": steps,
           "resumed": {"exit": resumed.returncode, "seconds": round(t1 - t0, 1), "digest": a,
                       "tail": resumed.stdout.strip().splitlines()[-4:] + resumed.stderr.strip().splitlines()[-2:]},
           "uninterrupted_rerun": {"exit": again.returncode, "seconds": round(time.perf_counter() - t1, 1), "digest": b},
           "identical": a == b and bool(a), "left_at_end": final,
           "tmp_files_in_run": [str(x.relative_to(run)) for x in run.rglob("*.tmp")]}
    print(json.dumps({k: res[k] for k in ("identical", "left_at_end", "tmp_files_in_run")}, indent=1))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="run the cases whose name contains this (or of this group number)")
    ap.add_argument("--kill9", action="store_true", help="kill -9 during `projection run --pipeline auto` and resume")
    ap.add_argument("--source", help="with --kill9: the source corpus (default: the pipeline's, CoNLL-2003 train)")
    ap.add_argument("--code", type=Path, help="run the projection package of this checkout (default: this one)")
    ap.add_argument("--out", default="hostile.json", help="file name under bench/out/")
    args = ap.parse_args()
    global CODE
    CODE = (args.code or REPO).resolve()
    command = " ".join(["python", "-m", "bench.hostile", *sys.argv[1:]])
    if args.kill9:
        res = kill9(args.source)
        save("hostile_kill9.json", {"command": command, **res})
        return
    rows = run_cases(args.only)
    counts = {k: sum(r["outcome"] == k for r in rows)
              for k in ("ok", "traceback", "silent loss", "hang", "leftover", "wrong", "skipped")}
    save(args.out, {"command": command, "code": str(CODE), "counts": counts, "cases": rows})
    print(f"\n{len(rows)} cases: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
