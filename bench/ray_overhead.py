"""The ``ray`` executor's overhead against ``local`` on one machine, where Ray cannot win.

Runs ``projection run --pipeline offline`` (Apertium + eflomal + ngram) on the full
CoNLL-2003 English train (``PROJECTION_DATA`` must point at the real data) into one
language with each executor, back to back, each in its own process and its own fresh run
directory, in two scenarios:

* ``uncached`` - an empty translation cache for each run: Apertium translates everything;
* ``cached``   - the translation cache warmed by the uncached local run, for both: only
  alignment and projection are work.

For each run it records the wall time (measured from here: process start to exit, Ray
start-up and shutdown included), the manifest's stage timings and translation statistics
(cached vs translated lines), and memory sampled every 0.5 s over the run's whole process
session (the driver plus, for ``ray``, the raylet, GCS, agents and workers): the peak of
the summed RSS and of the summed PSS (RSS counts shared pages, e.g. Ray's object store,
once per process). It also times an idle local Ray instance (start-up and memory).

    PROJECTION_DATA=../shared/data python -m bench.ray_overhead [--lang es] [--scenarios uncached cached] [--repeat N]

Writes ``bench/out/ray_overhead.json`` and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from bench import OUT, save

REPO = Path(__file__).resolve().parent.parent


def _session_pids(sid: int) -> list[int]:
    pids = []
    for p in psutil.process_iter(["status"]):
        try:
            if p.info["status"] != psutil.STATUS_ZOMBIE and os.getsid(p.pid) == sid:
                pids.append(p.pid)
        except (OSError, psutil.Error):
            continue
    return pids


def _memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in bytes of one process (PSS where the platform has it; RSS otherwise)."""
    try:
        m = psutil.Process(pid).memory_full_info()
    except psutil.AccessDenied:
        try:
            rss = psutil.Process(pid).memory_info().rss
        except psutil.Error:
            return 0, 0
        return rss, rss
    except psutil.Error:
        return 0, 0
    return m.rss, getattr(m, "pss", m.rss)


class Sampler(threading.Thread):
    """Peak summed RSS/PSS of a process session, and of it without the driver (pid == sid)."""

    def __init__(self, sid: int, every: float = 0.5):
        super().__init__(daemon=True)
        self.sid, self.every = sid, every
        self.stop = threading.Event()
        self.peak = {"rss": 0, "pss": 0, "rss_without_driver": 0, "pss_without_driver": 0, "processes": 0}

    def run(self) -> None:
        while not self.stop.is_set():
            pids = _session_pids(self.sid)
            mem = {pid: _memory(pid) for pid in pids}
            rss = sum(r for r, _ in mem.values())
            pss = sum(p for _, p in mem.values())
            others = [m for pid, m in mem.items() if pid != self.sid]
            for key, value in (("rss", rss), ("pss", pss), ("rss_without_driver", sum(r for r, _ in others)),
                               ("pss_without_driver", sum(p for _, p in others)), ("processes", len(pids))):
                self.peak[key] = max(self.peak[key], value)
            self.stop.wait(self.every)


def run_once(executor: str, lang: str, out: Path, cache: Path) -> dict:
    env = {**os.environ, "PROJECTION_CACHE": str(cache), "PROJECTION_PROGRESS": "0"}
    env.pop("RAY_ADDRESS", None)
    cmd = [sys.executable, "-m", "projection", "run", "--lang", lang, "--pipeline", "offline", "--out", str(out),
           "--executor", executor, "--json"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    sampler = Sampler(proc.pid)
    sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    # the session's leftovers (Ray's agents exit a little after the driver): sample until gone
    deadline = time.monotonic() + 30
    while _session_pids(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    sampler.stop.set()
    sampler.join()
    left = _session_pids(proc.pid)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr[-3000:]}")
    m = json.loads((out / "manifest.json").read_text())
    stats = m["stages"]["translate"].get("stats", {})
    return {
        "executor": executor, "wall_seconds": round(wall, 2), "manifest_timings": m["timings"],
        "translation": {"lines": stats.get("lines"), "cached": stats.get("cached"), "translated": stats.get("translated")},
        "memory_peak_mib": {k: (round(v / 2**20) if k != "processes" else v) for k, v in sampler.peak.items()},
        "processes_left_after_30s": len(left), "executor_info": m.get("executor"),
        "counts": {k: m["counts"][k] for k in ("sentences_in", "sentences_out", "entities", "projected", "rate")},
        "log_tail": stderr.strip().splitlines()[-6:],
    }


def idle_ray() -> dict:
    """Start a private local Ray instance, sample its memory for 5 s, shut it down."""
    code = (
        "import json, os, time\n"
        "from projection.executors.ray import ray_session\n"
        "t0 = time.perf_counter()\n"
        "with ray_session() as info:\n"
        "    print(json.dumps(info), flush=True)\n"
        "    time.sleep(6)\n"
        "print(json.dumps({'session_seconds': time.perf_counter() - t0}), flush=True)\n"
    )
    env = {**os.environ}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    first = json.loads(proc.stdout.readline())
    time.sleep(1)  # the instance is up: measure it idle
    sampler = Sampler(proc.pid)
    sampler.start()
    time.sleep(4)
    sampler.stop.set()
    sampler.join()
    proc.wait()
    return {"startup_seconds": first["startup_seconds"],
            "idle_memory_mib": {k: (round(v / 2**20) if k != "processes" else v) for k, v in sampler.peak.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lang", default="es")
    ap.add_argument("--scenarios", nargs="+", default=["uncached", "cached"], choices=["uncached", "cached"])
    ap.add_argument("--repeat", type=int, default=1, help="pairs per scenario; the order alternates (local first, then ray first)")
    ap.add_argument("--no-idle", action="store_true", help="skip the idle Ray instance measurement")
    args = ap.parse_args()
    if not os.environ.get("PROJECTION_DATA"):
        raise SystemExit("set PROJECTION_DATA to the real data (the full CoNLL-2003 train)")
    work = OUT / "ray_overhead"
    work.mkdir(parents=True, exist_ok=True)
    warm = work / "cache-warm"
    if "uncached" in args.scenarios:
        shutil.rmtree(warm, ignore_errors=True)  # the first uncached local run warms it again
    elif not (warm / "translations.sqlite").exists():
        raise SystemExit("the cached scenario needs a warm cache: run the uncached scenario first")
    results: dict = {"lang": args.lang, "cpus": os.cpu_count(), "load_average_start": os.getloadavg(), "scenarios": {}}
    if not args.no_idle:
        print("idle local Ray instance ...", flush=True)
        results["idle_ray"] = idle_ray()
        print(json.dumps(results["idle_ray"]), flush=True)
    for scenario in args.scenarios:
        pairs = []
        for rep in range(args.repeat):
            order = ("local", "ray") if rep % 2 == 0 else ("ray", "local")
            runs = {}
            for executor in order:
                if scenario == "cached":
                    cache = warm
                elif executor == "local" and rep == 0:
                    cache = warm
                else:
                    cache = work / f"cache-{scenario}-{executor}-{rep}"
                    shutil.rmtree(cache, ignore_errors=True)
                out = work / f"{scenario}-{executor}-{rep}"
                shutil.rmtree(out, ignore_errors=True)
                print(f"{scenario} #{rep}: {executor} ...", flush=True)
                runs[executor] = run_once(executor, args.lang, out, cache)
                print(json.dumps({k: runs[executor][k] for k in ("wall_seconds", "translation", "memory_peak_mib")}),
                      flush=True)
            runs["order"] = list(order)
            runs["ratio_ray_over_local"] = round(runs["ray"]["wall_seconds"] / runs["local"]["wall_seconds"], 3)
            pairs.append(runs)
        results["scenarios"][scenario] = pairs
    results["load_average_end"] = os.getloadavg()
    save("ray_overhead.json", results)
    print("\nscenario  # executor  wall s  translate  align  project  ray_start  peak RSS MiB (without driver)  peak PSS MiB")
    for scenario, pairs in results["scenarios"].items():
        for rep, runs in enumerate(pairs):
            for ex in runs["order"]:
                r = runs[ex]
                t = r["manifest_timings"]
                mem = r["memory_peak_mib"]
                print(f"{scenario:9} {rep} {ex:8} {r['wall_seconds']:7.1f} {t['translate']:10.1f} {t['align']:6.1f} "
                      f"{t['project']:8.1f} {t.get('ray_start', 0):10.1f} {mem['rss']:8d} ({mem['rss_without_driver']:d})"
                      f"{mem['pss']:22d}   translation cached {r['translation']['cached']}/{r['translation']['lines']}")
            print(f"{scenario:9} {rep} ray/local wall time: {runs['ratio_ray_over_local']:.3f} (order {' then '.join(runs['order'])})")
    if "idle_ray" in results:
        print(f"idle local Ray instance: start-up {results['idle_ray']['startup_seconds']:.1f} s, "
              f"memory {results['idle_ray']['idle_memory_mib']}")
    print("(ray stage timings are summed over shards and overlap in time; wall s is process start to exit)")
    print(f"wrote {OUT / 'ray_overhead.json'}")


if __name__ == "__main__":
    main()
