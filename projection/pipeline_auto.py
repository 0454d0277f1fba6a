"""The ``auto`` pipeline: ``nllb`` when its models can be loaded, otherwise ``offline`` (Apertium).

``auto`` is not a file: :func:`choose_auto` picks ``nllb`` when the NLLB-200 and mBERT models
can be loaded (present locally, in the Hugging Face cache, or the hub is reachable), otherwise
``offline`` for the languages Apertium covers, and says which and why.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Sequence
from pathlib import Path

from projection.errors import ProjectionError
from projection.pipeline_config import PipelineConfig, load_pipeline, resolve_value

SOURCE_LANG = "en"


def _hub_reachable(timeout: float = 3.0) -> tuple[bool, str]:
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False, "HF_HUB_OFFLINE is set"
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    host = re.sub(r"^https?://", "", endpoint).split("/")[0]
    hostname, _, port = host.partition(":")
    try:
        socket.create_connection((hostname, int(port or 443)), timeout=timeout).close()
        return True, ""
    except OSError as e:
        return False, f"{hostname} is unreachable ({e.strerror or e})"


def model_available(name: str) -> tuple[bool, str]:
    """Whether a model can be loaded: a local folder, in the Hugging Face cache, or the hub is reachable."""
    path = Path(name)
    if path.exists():
        return True, ""
    if path.is_absolute() or name.startswith(".") or name.count("/") > 1:
        return False, f"{name}: no such folder"
    try:
        from huggingface_hub import try_to_load_from_cache

        for filename in ("config.json", "tokenizer_config.json", "model.bin"):
            if isinstance(try_to_load_from_cache(name, filename), str):
                return True, ""
    except Exception:  # noqa: BLE001 - a broken cache is the same as no cache here
        pass
    ok, why = _hub_reachable()
    return ok, "" if ok else f"{name} is not in the local Hugging Face cache and {why}"


def choose_auto(lang: str, overrides: Sequence[str] = ()) -> tuple[PipelineConfig, str]:
    """The ``auto`` choice for ``lang``: (pipeline, one-line reason)."""
    from projection.translate.nllb import BASE_MODEL, BASE_TOKENIZER

    nllb = load_pipeline("nllb", overrides)
    needed = [nllb.translate.get("model") or BASE_MODEL, nllb.translate.get("tokenizer") or BASE_TOKENIZER,
              nllb.align.get("model", "bert-base-multilingual-cased")]
    missing = []
    for name in dict.fromkeys(resolve_value("model", n, lang) for n in needed):
        ok, why = model_available(name)
        if not ok:
            missing.append(why)
    if not missing:
        return nllb, "auto: NLLB-200 and mBERT can be loaded -> pipeline nllb"
    from projection.translate.apertium import find_mode

    try:
        find_mode(SOURCE_LANG, lang)
    except ProjectionError as e:
        raise ProjectionError(
            f"auto: no pipeline can translate into {lang!r} on this machine: the NLLB-200 models cannot be loaded "
            f"({missing[0]}), and Apertium has no en->{lang} mode ({e}). Make the models available (internet, or "
            f"[translate] model = a local folder via --set), or use --pipeline given with translations you have."
        ) from None
    return load_pipeline("offline", overrides), f"auto: NLLB-200 models not available ({missing[0]}) -> pipeline offline (Apertium)"
