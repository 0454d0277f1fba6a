"""Executors: the ray executor gives the local executor's files, survives a killed actor and resumes a
killed job; executor choice, pool sizing and errors.

The Ray tests share one local Ray instance with 2 CPUs (module fixture), run on 40 sentences of
the bundled sample in shards of 10, with the deterministic ``given`` translation + a tiny random
encoder + ngram, and leave no process behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from projection import pipeline as pl
from projection import stages
from projection import rundir
from projection.corpora import SAMPLE_PATH
from projection.corpus import read_conll
from projection.errors import ProjectionError
from projection.executors import executors
from projection.executors.ray_cluster import plan_pools
from projection.procs import descendants
from tiny import identity_given_pipeline
from conftest import run_cli

REPO = Path(__file__).resolve().parent.parent
OUTPUTS = (rundir.PROJECTIONS, rundir.PROJECTED_CONLL, rundir.PROJECTED_PARQUET, rundir.ENTITIES)
N_SENTENCES, SHARD = 40, 10
LANGS = ("es", "de")


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_xlmr):
    """A source of 40 sentences, their 'translations' (the sentences themselves), a pipeline file."""
    root = tmp_path_factory.mktemp("executors")
    sents = read_conll(SAMPLE_PATH)[:N_SENTENCES]
    pfile, src = identity_given_pipeline(root, sents, tiny_xlmr, method="itermax")
    return root, pfile, src


@pytest.fixture(scope="module")
def local_runs(setup):
    """The local executor's runs of both languages, aligned in chunks of SHARD sentences."""
    root, pfile, src = setup
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PROJECTION_CACHE", str(root / "cache-local"))
        mp.setattr(stages, "ALIGN_CHUNK", SHARD)
        results = pl.run_many(LANGS, pfile, str(src), root / "local", executor="local")
    return {r.manifest["target_lang"]: r for r in results}


@pytest.fixture(scope="module")
def ray_instance():
    pytest.importorskip("ray")
    from projection.executors.ray_cluster import ray_session

    before = {p.pid for p in descendants(os.getpid())}
    with ray_session(num_cpus=2) as info:
        yield info
    left = [p.pid for p in descendants(os.getpid()) if p.pid not in before]
    assert not left, f"processes left behind by the Ray instance: {left}"


def _same_files(a: Path, b: Path) -> None:
    for name in OUTPUTS:
        assert (a / name).read_bytes() == (b / name).read_bytes(), f"{name} differs between {a} and {b}"


@pytest.mark.slow
def test_ray_writes_the_local_files_for_each_language(setup, local_runs, ray_instance, tmp_path, logged):
    _, pfile, src = setup
    results = pl.run_many(LANGS, pfile, str(src), tmp_path / "ray", executor="ray",
                          shard_size=SHARD)
    assert [r.out for r in results] == [tmp_path / "ray" / lang for lang in LANGS]  # OUT/<lang>
    for res in results:
        lang = res.manifest["target_lang"]
        _same_files(local_runs[lang].out, res.out)
        m = rundir.read_manifest(res.out)
        assert m["executor"]["name"] == "ray" and m["executor"]["shard_size"] == SHARD
        assert rundir.read_manifest(local_runs[lang].out)["executor"] == {"name": "local"}
        st = m["stages"]
        assert st["align"]["shards"] == N_SENTENCES // SHARD and st["align"]["work_items"] == N_SENTENCES // SHARD
        assert st["translate"]["whole_corpus"] is True and st["align"]["whole_corpus"] is False  # given: by position
        assert m["counts"] == local_runs[lang].manifest["counts"]
        assert m["engines"] == local_runs[lang].manifest["engines"]
    assert any("align -> project" in line for line in logged())


@pytest.mark.slow
def test_killed_actor_is_restarted_and_output_complete(setup, local_runs, ray_instance, tmp_path, monkeypatch):
    _, pfile, src = setup
    flag = tmp_path / "killed"
    monkeypatch.setenv("PROJECTION_KILL_ONCE", f"align:{flag}")
    res = pl.run("es", pfile, str(src), tmp_path / "run", executor="ray", shard_size=SHARD)
    assert "align actor" in flag.read_text()  # an align actor did kill itself mid-run
    assert res.stats["sentences_in"] == N_SENTENCES
    _same_files(local_runs["es"].out, res.out)


@pytest.mark.slow
def test_stage_error_reaches_the_user_as_one_line(setup, ray_instance, tmp_path):
    _, pfile, src = setup
    # the tiny encoder has 4 layers: the driver does not load it, the align actor finds out
    with pytest.raises(ProjectionError, match="layer 9 requested but .* has only 4 layers"):
        pl.run("es", pfile, str(src), tmp_path / "run", overrides=["align.layer=9"], executor="ray", shard_size=SHARD)
    assert not (tmp_path / "run" / rundir.MANIFEST).exists()


def _session_processes(sid: int) -> list[int]:
    """The live (not zombie) processes of session ``sid``."""
    import psutil

    out = []
    for p in psutil.process_iter(["status"]):
        try:
            if p.info["status"] != psutil.STATUS_ZOMBIE and os.getsid(p.pid) == sid:
                out.append(p.pid)
        except (OSError, psutil.Error):
            continue
    return out


def _session_cmdlines(sid: int) -> list[str]:
    """The start of each command line of session ``sid`` (a process's title when it renamed itself)."""
    import psutil

    out = []
    for pid in _session_processes(sid):
        try:
            out.append(" ".join(psutil.Process(pid).cmdline())[:60])
        except psutil.Error:
            continue
    return out


@pytest.mark.slow
def test_killed_job_resumes_from_its_finished_shards(setup, local_runs, ray_instance, tmp_path, logged):
    root, pfile, src = setup
    out, flag = tmp_path / "run", tmp_path / "killed"
    env = {**os.environ, "PROJECTION_KILL_ONCE": f"driver:{flag}", "PROJECTION_PROGRESS": "0"}
    env.pop("RAY_ADDRESS", None)
    cmd = [sys.executable, "-m", "projection", "run", "--lang", "es", "--pipeline", str(pfile), "--source", str(src),
           "--out", str(out), "--executor", "ray", "--shard-size", str(SHARD)]
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        log = proc.communicate(timeout=480)[0].decode()  # generous: the machine may be loaded
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL, log  # the job was killed after its first shard
    assert len(list(out.glob("stages/project-*/*.jsonl"))) == 1 and not (out / rundir.MANIFEST).exists()
    # the killed job's Ray instance dies with it (its per-node agents linger for a while: end them)
    deadline = time.monotonic() + 60
    names = lambda: _session_cmdlines(proc.pid)  # noqa: E731
    while any("raylet" in n or "gcs_server" in n or "MapWorker" in n for n in names()) and time.monotonic() < deadline:
        time.sleep(1)
    core = [n for n in names() if "raylet" in n or "gcs_server" in n or "MapWorker" in n]
    for pid in _session_processes(proc.pid):
        os.kill(pid, signal.SIGKILL)
    assert not core, core

    res = pl.run("es", pfile, str(src), out, executor="ray", shard_size=SHARD)
    st = res.manifest["stages"]["project"]
    assert st["shards_cached"] == 1 and st["work_items"] == N_SENTENCES // SHARD - 1
    _same_files(local_runs["es"].out, out)
    # finished: a rerun starts no Ray at all
    again = pl.run("es", pfile, str(src), out, executor="ray", shard_size=SHARD)
    assert any("Ray not started" in line for line in logged()) and again.manifest["stages"]["project"]["cached"]
    _same_files(local_runs["es"].out, out)


@pytest.mark.slow
def test_run_killed_after_alignment_on_local_finishes_on_ray_recomputing_nothing(setup, ray_instance, tmp_path, logged):
    """One cache layout: what ``--executor local`` stored before it was killed is what ray loads."""
    _, pfile, src = setup
    ref = pl.run("es", pfile, str(src), tmp_path / "ref", executor="local")  # default chunks, like the CLI's
    out, flag = tmp_path / "run", tmp_path / "killed"
    env = {**os.environ, "PROJECTION_KILL_ONCE": f"project:{flag}", "PROJECTION_PROGRESS": "0"}
    env.pop("RAY_ADDRESS", None)
    cmd = [sys.executable, "-m", "projection", "run", "--lang", "es", "--pipeline", str(pfile), "--source", str(src),
           "--out", str(out), "--executor", "local"]
    proc = subprocess.run(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=240)
    assert proc.returncode == -signal.SIGKILL, proc.stdout.decode()  # killed after alignment, before projection
    assert "local executor before project" in flag.read_text()
    assert list(out.glob("stages/align-*/*.npz")) and not list(out.glob("stages/project-*"))
    assert not (out / rundir.MANIFEST).exists()

    res = pl.run("es", pfile, str(src), out, executor="ray")
    st = res.manifest["stages"]
    assert res.manifest["executor"]["name"] == "ray"
    assert st["translate"]["cached"] and st["translate"]["work_items"] == 0
    assert st["align"]["cached"] and st["align"]["work_items"] == 0
    assert not st["project"]["cached"] and st["project"]["work_items"] == st["project"]["shards"]
    assert any(line.startswith("ray: project: 1 work item(s)") for line in logged()), logged()  # projection only
    _same_files(ref.out, out)
    assert res.manifest["counts"] == ref.manifest["counts"]


# --------------------------------------------------------------------------- fast checks


def test_executor_from_pipeline_file_and_errors(tmp_path, setup):
    _, pfile, _ = setup
    assert executors.names() == ["local", "ray"]
    text = pfile.read_text(encoding="utf-8")
    good = tmp_path / "ray.toml"
    good.write_text('[pipeline]\nexecutor = "ray"\n' + text, encoding="utf-8")
    cfg = pl.load_pipeline(good)
    assert cfg.executor == "ray" and cfg.to_dict()["executor"] == "ray"
    bad = tmp_path / "bad.toml"
    bad.write_text('[pipeline]\nexecutor = "spark"\n' + text, encoding="utf-8")
    with pytest.raises(ProjectionError, match=r"\[pipeline\] executor = 'spark' is not one of: local, ray"):
        pl.load_pipeline(bad)
    jobs = [pl.Job("es", cfg, "x", [], "s", tmp_path, "k", [], tmp_path, [], None, False)]
    assert pl._executor_name(jobs, None) == "ray" and pl._executor_name(jobs, "local") == "local"
    with pytest.raises(ProjectionError, match="executor ray: unknown key .adress.; options: address, shard_size"):
        pl.run("es", pfile, str(setup[2]), tmp_path / "r", executor="ray", adress="x")
    with pytest.raises(ProjectionError, match="shard-size must be a positive"):
        executors.create("ray", shard_size=0)


def test_missing_ray_names_the_extra(monkeypatch):
    from projection.executors import ray as rx

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ProjectionError, match=r"pip install 'projection\[ray\]'"):
        rx.import_ray()


def test_pools_leave_a_cpu_slot_free_and_use_gpus():
    pools = plan_pools([("translate", 8, False), ("align", 8, False), ("project", 8, False)], cpus=2, gpus=0)
    assert [p.size for p in pools] == [2, 2, 1]
    assert sum(p.size * p.num_cpus for p in pools) <= 2 - 1  # a pool of 1-CPU actors on 2 CPUs could deadlock
    assert all(p.num_gpus == 0 for p in pools)
    gpu = plan_pools([("translate", 8, True), ("align", 8, True), ("project", 8, False)], cpus=32, gpus=4)
    assert [(p.size, p.num_gpus) for p in gpu] == [(2, 1.0), (2, 1.0), (8, 0.0)]
    one = plan_pools([("translate", 8, True), ("align", 8, True)], cpus=8, gpus=1)
    assert [(p.size, p.num_gpus) for p in one] == [(1, 0.5), (1, 0.5)]
    assert plan_pools([("align", 1, False)], cpus=2, gpus=0)[0].threads == 2  # a whole-corpus task gets the cores


def _cli(monkeypatch, capsys, *args):
    return run_cli(monkeypatch, capsys, *args)


def test_cli_languages_and_executor_options(setup, tmp_path, monkeypatch, capsys):
    _, pfile, src = setup
    code, _, err = _cli(monkeypatch, capsys, "run", "--lang", "es", "--pipeline", pfile, "--source", src,
                        "--executor", "local", "--ray-address", "head:6379")
    assert code == 2 and "apply to --executor ray only" in err
    code, out, err = _cli(monkeypatch, capsys, "run", "--lang", "es,de", "--pipeline", pfile, "--source", src,
                          "--out", tmp_path / "runs", "--json")
    assert code == 0, err
    got = json.loads(out)
    assert set(got) == {"es", "de"} and got["de"]["out"] == str(tmp_path / "runs" / "de")
    assert rundir.read_manifest(tmp_path / "runs" / "es")["executor"] == {"name": "local"}
