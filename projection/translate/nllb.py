"""``nllb``: NLLB-200 (or any M2M100-architecture model) through CTranslate2.

CTranslate2 runs NLLB several times faster than transformers on a CPU (int8 weights,
fused kernels, no Python in the decoding loop). ``model`` is either a CTranslate2 model
folder (with ``model.bin``) or a transformers checkpoint (local folder or hub name),
which is converted once with CTranslate2's converter into
``$PROJECTION_CACHE/ct2/<name>-<fingerprint>`` and reused afterwards.

The tokenizer is always that of the base NLLB-200 model
(``facebook/nllb-200-distilled-600M``) unless ``tokenizer=`` names another one
(``tokenizer="model"``: the model folder's own): fine-tuned NLLB checkpoints such as
EasyProject's ship tokenizer files that do not reproduce NLLB's special-token layout, and
every NLLB-200 model shares the same vocabulary.

Options: ``device`` (``auto``: CUDA if visible, else CPU), ``compute_type`` (default
``int8`` on CPU, ``float16`` on GPU), ``beam_size`` (4), ``max_length`` (maximum number of
generated target tokens, 256), ``max_input_length`` (source tokens kept, 1024),
``batch_tokens`` (padded source tokens per batch; batches are sorted by length),
``threads`` (CPU threads), ``markers`` (ignored; NLLB carries ``[ ... ]`` markers as text).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from projection.devices import resolve_device
from projection.errors import ProjectionError
from projection.store import check_model_folder, code_hash, package_versions
from projection.translate.base import (
    default_threads,
    model_fingerprint,
    token_batches,
    translate_nonempty,
)
from projection.translate.languages import nllb_code

BASE_MODEL = "facebook/nllb-200-distilled-600M"
BASE_TOKENIZER = BASE_MODEL


def is_ct2_folder(path: str | Path) -> bool:
    p = Path(path)
    return p.is_dir() and (p / "model.bin").is_file()


def _display_name(model: str) -> str:
    p = Path(model)
    return p.name if p.exists() else model


def convert_to_ct2(model: str, out_root: Path | None = None, quantization: str | None = None) -> Path:
    """Convert a transformers NLLB/M2M100 checkpoint into a cached CTranslate2 folder (once).

    The folder name carries the checkpoint's fingerprint, so a retrained checkpoint is
    converted again; conversion writes to a temporary folder renamed into place, so a
    killed conversion never leaves a half-written model behind.
    """
    from projection.translate.cache import cache_root

    fp = model_fingerprint(model)
    name = _display_name(model).replace("/", "--")
    root = out_root or cache_root() / "ct2"
    out = root / f"{name}-{fp.replace(':', '-')}-{quantization or 'orig'}"
    if is_ct2_folder(out):
        return out
    root.mkdir(parents=True, exist_ok=True)
    try:
        from ctranslate2.converters import TransformersConverter
    except ImportError as e:  # pragma: no cover - dependency of the package
        raise ProjectionError(f"CTranslate2's converter needs transformers and torch: {e}") from None
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=root))
    try:
        try:
            TransformersConverter(model, low_cpu_mem_usage=True).convert(str(tmp / "m"), quantization=quantization, force=True)
        except OSError as e:
            raise ProjectionError(
                f"cannot load the transformers checkpoint {model!r} for conversion ({str(e).splitlines()[0]}); "
                "without internet access give a local folder or a CTranslate2 model folder"
            ) from None
        except ValueError as e:
            raise ProjectionError(f"cannot convert {model!r} with CTranslate2: {e}") from None
        try:
            os.replace(tmp / "m", out)
        except OSError:
            if not is_ct2_folder(out):  # another process finished first: theirs is as good as ours
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def load_nllb_tokenizer(name: str, src_code: str):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name, src_lang=src_code)
    except OSError as e:
        raise ProjectionError(
            f"cannot load the NLLB tokenizer {name!r} ({str(e).splitlines()[0]}); "
            "offline, pass tokenizer=<local folder with the NLLB-200 tokenizer>"
        ) from None


class NllbTranslator:
    """NLLB-200 through CTranslate2 (see the module docstring for the options)."""

    name = "nllb"
    marker_style = "brackets"
    cacheable = True

    def __init__(
        self,
        src_lang: str = "en",
        tgt_lang: str = "es",
        model: str | None = None,
        tokenizer: str | None = None,
        device: str = "auto",
        compute_type: str | None = None,
        beam_size: int = 4,
        max_length: int = 256,
        max_input_length: int = 1024,
        batch_tokens: int | None = None,
        threads: int | None = None,
        markers: bool = False,
    ):
        self.src_lang, self.tgt_lang = src_lang, tgt_lang
        self.src_code, self.tgt_code = nllb_code(src_lang), nllb_code(tgt_lang)
        self.model = str(model or BASE_MODEL)
        if tokenizer == "model":
            tokenizer = self.model
        self.tokenizer_name = str(tokenizer or BASE_TOKENIZER)
        check_model_folder(self.model, "NLLB model")
        check_model_folder(self.tokenizer_name, "tokenizer")
        self.device = resolve_device(device, runtime="ctranslate2")
        self.compute_type = compute_type or ("float16" if self.device == "cuda" else "int8")
        self.beam_size = int(beam_size)
        self.max_length = int(max_length)
        self.max_input_length = int(max_input_length)
        self.batch_tokens = int(batch_tokens or (16384 if self.device == "cuda" else 4096))
        self.threads = int(threads or default_threads())
        self.chunk_size = 1024 if self.device == "cuda" else 128
        if self.beam_size < 1 or self.max_length < 1:
            raise ProjectionError("beam_size and max_length must be at least 1")
        self._translator = None
        self._tokenizer = None
        self._lock = threading.Lock()
        self._signature: dict[str, Any] | None = None

    # -- loading (lazy: a run served entirely from the cache never loads the model)
    def _ct2_path(self) -> Path:
        return Path(self.model) if is_ct2_folder(self.model) else convert_to_ct2(self.model)

    def _load(self):
        with self._lock:
            if self._translator is None:
                import ctranslate2

                path = self._ct2_path()
                try:
                    self._translator = ctranslate2.Translator(
                        str(path), device=self.device, compute_type=self.compute_type,
                        inter_threads=1, intra_threads=self.threads,
                    )
                except (RuntimeError, ValueError) as e:
                    raise ProjectionError(f"cannot load the CTranslate2 model {path}: {e}") from None
                self._tokenizer = load_nllb_tokenizer(self.tokenizer_name, self.src_code)
                for code in (self.src_code, self.tgt_code):
                    if self._tokenizer.convert_tokens_to_ids(code) == self._tokenizer.unk_token_id:
                        raise ProjectionError(f"the tokenizer {self.tokenizer_name!r} has no language token {code}")
        return self._translator, self._tokenizer

    def signature(self) -> dict[str, Any]:
        if self._signature is None:
            model_fp = model_fingerprint(self.model)
            tok_fp = model_fingerprint(self.tokenizer_name)
            self._signature = {
                "engine": self.name,
                "model": _display_name(self.model),
                "model_fingerprint": model_fp,
                "tokenizer": _display_name(self.tokenizer_name),
                "tokenizer_fingerprint": tok_fp,
                "src": self.src_code,
                "tgt": self.tgt_code,
                "device": self.device,
                "compute_type": self.compute_type,
                "beam_size": self.beam_size,
                "max_length": self.max_length,
                "max_input_length": self.max_input_length,
                "versions": package_versions("ctranslate2", "transformers", "tokenizers"),
                "code": code_hash(__name__, "projection.translate.base", "projection.translate.text"),
            }
        return self._signature

    # -- translation
    def translate_tokens(self, texts: list[str]) -> list[list[str]]:
        """Target subword tokens per input (language prefix and end token stripped)."""
        translator, tok = self._load()
        tok.src_lang = self.src_code
        enc = tok(list(texts), truncation=True, max_length=self.max_input_length)["input_ids"]
        sources = [tok.convert_ids_to_tokens(ids) for ids in enc]
        out: list[list[str]] = [[] for _ in texts]
        for batch in token_batches([len(s) for s in sources], self.batch_tokens):
            results = translator.translate_batch(
                [sources[i] for i in batch],
                target_prefix=[[self.tgt_code]] * len(batch),
                beam_size=self.beam_size,
                max_decoding_length=self.max_length + 1,  # + the target-language prefix token
                max_input_length=0,
                return_scores=False,
            )
            for i, r in zip(batch, results):
                hyp = list(r.hypotheses[0])
                if hyp and hyp[0] == self.tgt_code:
                    hyp = hyp[1:]
                out[i] = hyp
        return out

    def _decode(self, tokens: list[str]) -> str:
        tok = self._tokenizer
        return tok.decode(tok.convert_tokens_to_ids(tokens), skip_special_tokens=True)

    def translate(self, texts: list[str]) -> list[str]:
        def run(batch: list[str]) -> list[str]:
            return [self._decode(t) for t in self.translate_tokens(batch)]

        return translate_nonempty(list(texts), run)
