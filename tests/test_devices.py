"""The one device resolver (projection.devices): auto, explicit devices, bad names, and every stage using it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from projection.devices import resolve_device
from projection.errors import ProjectionError

PKG = Path(__file__).resolve().parent.parent / "projection"


@pytest.fixture
def gpus(monkeypatch):
    """Set what torch and CTranslate2 report: gpus(torch=True, ct2=0)."""
    import ctranslate2
    import torch

    def set_(torch_gpu: bool, ct2_gpus: int) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: torch_gpu)
        monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: ct2_gpus)

    return set_


@pytest.mark.parametrize("auto", ["auto", None, "", "AUTO"])
def test_auto_is_cuda_when_the_runtime_sees_a_gpu(gpus, auto):
    gpus(True, 1)
    assert resolve_device(auto) == "cuda" and resolve_device(auto, runtime="ctranslate2") == "cuda"
    gpus(False, 0)
    assert resolve_device(auto) == "cpu" and resolve_device(auto, runtime="ctranslate2") == "cpu"


def test_each_runtime_is_asked_about_its_own_gpu(gpus):
    gpus(False, 2)  # a CPU-only torch next to a CUDA build of CTranslate2
    assert resolve_device("auto") == "cpu" and resolve_device("auto", runtime="ctranslate2") == "cuda"
    gpus(True, 0)
    assert resolve_device("auto") == "cuda" and resolve_device("auto", runtime="ctranslate2") == "cpu"


def test_a_failing_probe_means_cpu(monkeypatch):
    import torch

    def broken() -> bool:
        raise RuntimeError("CUDA driver initialization failed")

    monkeypatch.setattr(torch.cuda, "is_available", broken)
    assert resolve_device("auto") == "cpu"


def test_an_explicit_device_is_kept(gpus):
    gpus(False, 0)
    assert resolve_device("cuda") == "cuda" and resolve_device("CUDA", runtime="ctranslate2") == "cuda"
    gpus(True, 1)
    assert resolve_device("cpu") == "cpu" and resolve_device(" cpu ", runtime="ctranslate2") == "cpu"
    assert resolve_device("cuda:1") == "cuda:1"  # torch takes an index in the name


@pytest.mark.parametrize("bad, runtime, message", [
    ("gpu", "torch", "device must be auto, cpu, cuda or cuda:N, not 'gpu'"),
    ("mps", "torch", "device must be auto, cpu, cuda or cuda:N, not 'mps'"),
    ("cuda:x", "torch", "not 'cuda:x'"),
    ("gpu", "ctranslate2", "device must be auto, cpu or cuda, not 'gpu'"),
    ("cuda:1", "ctranslate2", "device must be auto, cpu or cuda, not 'cuda:1'"),  # CTranslate2 takes the index apart
])
def test_a_bad_device_name_is_a_clear_error(bad, runtime, message):
    with pytest.raises(ProjectionError, match=re.escape(message)):
        resolve_device(bad, runtime=runtime)


def test_an_unknown_runtime_is_a_bug():
    with pytest.raises(ValueError, match="runtime"):
        resolve_device("auto", runtime="onnx")  # type: ignore[arg-type]


def test_the_stages_use_the_one_resolver():
    """No module but projection.devices asks a runtime for a GPU or defines a device resolver."""
    probes = re.compile(r"cuda\.is_available\(|get_cuda_device_count\(|def _?resolve_device\(|def _?device\(|"
                        r"def _resolved_device\(")
    found = [f"{p.relative_to(PKG)}:{n}" for p in sorted(PKG.rglob("*.py")) if p.name != "devices.py"
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1) if probes.search(line)]
    assert not found, f"device probing outside projection.devices: {found}"


def test_engines_reject_a_bad_device_through_it(tmp_path, gpus):
    from projection.label.hf import HfTokenLabeller
    from projection.translate.hf import HfTranslator

    with pytest.raises(ProjectionError, match=re.escape("not 'gpu'")):
        HfTranslator("en", "es", model="some/model", device="gpu")
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")
    gpus(False, 0)
    assert HfTokenLabeller(str(tmp_path), device="auto").device == "cpu"
    with pytest.raises(ProjectionError, match=re.escape("not 'tpu'")):
        HfTokenLabeller(str(tmp_path), device="tpu")


CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Example Xeon
flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512_vnni

processor\t: 1
model name\t: Example Xeon
flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512_vnni amx_int8
"""


def test_hardware_names_the_cpu_and_the_features_that_pick_kernels(tmp_path, monkeypatch):
    from projection.devices import KERNEL_ENV, hardware

    for name in KERNEL_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MKL_ENABLE_INSTRUCTIONS", "AVX2")
    (tmp_path / "cpuinfo").write_text(CPUINFO, encoding="utf-8")
    hw = hardware(tmp_path / "cpuinfo")
    assert hw["cpu"] == "Example Xeon"
    assert hw["isa"] == ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni"]  # the first processor's block
    assert hw["env"] == {"MKL_ENABLE_INSTRUCTIONS": "AVX2"} and hw["cores"] >= 1 and hw["machine"]
    none = hardware(tmp_path / "missing")  # no /proc/cpuinfo (macOS, Windows): no flags, still a record
    assert none["isa"] == [] and none["machine"] == hw["machine"]
