"""``apertium``: rule-based MT with the Debian Apertium packages, run as one subprocess per batch.

Starting Apertium costs 0.1-0.3 s, so a whole batch goes through one ``apertium`` call.
Plain ``apertium eng-spa`` on one-sentence-per-line text is *not* safe for NER data: lines
without final punctuation ("Peter Blackburn", "BRUSSELS 1996-08-22") are one sentence to
Apertium, and its transfer rules move words across the line break ("big\\ndog barks" ->
"perro\\ngrande ladridos"). This engine therefore writes Apertium's stream format itself
and runs the pipeline in null-flush mode (``apertium -f none -z``): every sentence ends
with ``\\0``, every module flushes there, so no word crosses a sentence boundary and the
output has exactly one segment per input. Unknown-word marks are removed (``-u``).

With ``markers=True`` the inputs are HTML with entity markers
(``<span class="PER" id="e0">Peter Blackburn</span>``, see
:mod:`projection.translate.markers`); the spans become Apertium *word-bound blanks*
(``[[t:span:PER:e0]]Peter Blackburn[[/]]``, the mechanism behind ``apertium -f html``),
which travel with their words through reordering, and come back as the same HTML.

Modes are picked from the language codes (``en``/``eng`` + ``es``/``spa`` -> ``eng-spa``;
``en-gl``, ``en-eo``, ``eng-cat``, and the reverse modes for back-translation);
``model=`` names a mode explicitly (e.g. ``eng-cat_valencia``).
"""

from __future__ import annotations

import html
import os
import re
import shutil
import unicodedata
from pathlib import Path
from functools import lru_cache
from typing import Any

from projection import procs
from projection.errors import ProjectionError
from projection.store import code_hash
from projection.translate.base import check_one_per_input
from projection.translate.languages import resolve_language
from projection.translate.text import clean_text

# The Debian package that provides each mode (both directions live in one package).
DEBIAN_PACKAGES = {
    "eng-spa": "apertium-eng-spa", "spa-eng": "apertium-eng-spa",
    "eng-cat": "apertium-eng-cat", "cat-eng": "apertium-eng-cat",
    "en-gl": "apertium-en-gl", "gl-en": "apertium-en-gl",
    "en-eo": "apertium-eo-en", "eo-en": "apertium-eo-en",
    "en-es": "apertium-en-es", "es-en": "apertium-en-es",
    "en-ca": "apertium-en-ca", "ca-en": "apertium-en-ca",
}

_ESCAPE = re.compile(r"([\\\[\]^$@/<>{}])")
_HTML_TAG = re.compile(r"<span\s+class=\"([^\"]*)\"(?:\s+id=\"([^\"]*)\")?\s*>|</span\s*>|<[^>]*>")
_WBLANK_OPEN = re.compile(r"t:span:([^:\]]*)(?::([^\]]*))?")


def _escape(text: str) -> str:
    """Plain text -> Apertium stream format (reserved characters backslash-escaped)."""
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    return _ESCAPE.sub(r"\\\1", text)


def _html_to_stream(text: str) -> str:
    """Our marker HTML -> stream format with word-bound blanks; other tags become superblanks."""
    out: list[str] = []
    pos = 0
    for m in _HTML_TAG.finditer(text):
        out.append(_escape(html.unescape(text[pos : m.start()])))
        tag = m.group(0)
        if m.group(1) is not None:
            label = m.group(1)
            ident = m.group(2)
            out.append(f"[[t:span:{label}{':' + ident if ident else ''}]]")
        elif tag.startswith("</span"):
            out.append("[[/]]")
        else:
            out.append("[" + _escape(tag) + "]")
        pos = m.end()
    out.append(_escape(html.unescape(text[pos:])))
    return "".join(out)


def _from_stream(text: str, as_html: bool) -> str:
    """Apertium stream format -> text (or our marker HTML when ``as_html``)."""
    out: list[str] = []
    i, n = 0, len(text)
    plain: list[str] = []

    def flush_plain() -> None:
        if plain:
            s = "".join(plain)
            out.append(html.escape(s, quote=False) if as_html else s)
            plain.clear()

    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            plain.append(text[i + 1])
            i += 2
        elif text.startswith("[[", i):
            j = text.find("]]", i + 2)
            if j < 0:
                plain.append(text[i:])
                break
            content = text[i + 2 : j]
            i = j + 2
            if not as_html:
                continue
            flush_plain()
            if content == "/":
                out.append("</span>")
            else:
                m = _WBLANK_OPEN.fullmatch(content)
                if m:
                    ident = f' id="{m.group(2)}"' if m.group(2) else ""
                    out.append(f'<span class="{m.group(1)}"{ident}>')
        elif c == "[":
            # a superblank: formatting kept verbatim (escapes inside undone)
            j = i + 1
            buf: list[str] = []
            while j < n and text[j] != "]":
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(text[j])
                j += 1
            flush_plain()
            out.append("".join(buf))
            i = j + 1
        else:
            plain.append(c)
            i += 1
    flush_plain()
    return "".join(out)


MODE_DIRS = ("/usr/share/apertium/modes", "/usr/local/share/apertium/modes")


@lru_cache(maxsize=1)
def available_modes() -> tuple[str, ...]:
    """Installed Apertium modes; a clear error if Apertium is missing.

    The mode files are listed directly (what ``apertium -l`` prints, without starting a
    shell script); ``apertium -l`` is the fallback for unusual installations.
    """
    if shutil.which("apertium") is None:
        raise ProjectionError(
            "Apertium is not installed: install the Debian packages, e.g. "
            "`sudo apt-get install apertium apertium-eng-spa` (or apertium-eng-cat, apertium-en-gl, apertium-eo-en)"
        )
    modes = {p.stem for d in MODE_DIRS if Path(d).is_dir() for p in Path(d).glob("*.mode")}
    if not modes:
        try:
            res = procs.run(["apertium", "-l"], env=_env(), timeout=60)
        except (OSError, procs.ProcessTimeout):
            return ()
        modes = {m.strip() for m in res.stdout.decode("utf-8", "replace").split() if m.strip()}
    return tuple(sorted(modes))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["LC_ALL"] = "C.UTF-8"
    env["LANG"] = "C.UTF-8"
    return env


def _codes(lang: str) -> list[str]:
    try:
        return resolve_language(lang).codes()
    except ProjectionError:
        return [lang.lower()]


def find_mode(src_lang: str, tgt_lang: str, explicit: str | None = None) -> str:
    """The Apertium mode for a language pair, or an error naming the Debian package to install."""
    modes = available_modes()
    if explicit:
        if explicit not in modes:
            pkg = DEBIAN_PACKAGES.get(explicit, f"apertium-{explicit}")
            raise ProjectionError(f"Apertium mode {explicit!r} is not installed (Debian package {pkg}); installed: {', '.join(modes)}")
        return explicit
    candidates = [f"{a}-{b}" for a in _codes(src_lang) for b in _codes(tgt_lang)]
    for cand in candidates:
        if cand in modes:
            return cand
    known = [c for c in candidates if c in DEBIAN_PACKAGES]
    if known:
        pkg = DEBIAN_PACKAGES[known[0]]
        hint = f"install the Debian package {pkg} (`sudo apt-get install {pkg}`)"
    else:
        names: list[str] = []
        for a, b in zip(_codes(src_lang)[:2], _codes(tgt_lang)[:2]):
            names += [f"apertium-{a}-{b}", f"apertium-{b}-{a}"]
        hint = (f"Apertium pairs are packaged as {' or '.join(dict.fromkeys(names))}; "
                f"see `apt-cache search apertium-` for the pairs your distribution has")
    raise ProjectionError(f"no Apertium mode for {src_lang}->{tgt_lang} (tried {', '.join(candidates)}): {hint}")


@lru_cache(maxsize=1)
def _dpkg_versions() -> dict[str, str]:
    """Installed Debian package versions, read from dpkg's status file (no subprocess)."""
    versions: dict[str, str] = {}
    try:
        text = Path("/var/lib/dpkg/status").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return versions
    for para in text.split("\n\n"):
        name = version = None
        installed = False
        for line in para.split("\n"):
            if line.startswith("Package: "):
                name = line[9:].strip()
            elif line.startswith("Version: "):
                version = line[9:].strip()
            elif line.startswith("Status: "):
                installed = line.rstrip().endswith(" installed")
        if name and version and installed:
            versions[name] = version
    return versions


def _deb_version(package: str) -> str:
    return _dpkg_versions().get(package, "unknown")


def default_timeout(size: int) -> float:
    """Seconds allowed for one Apertium call on ``size`` bytes: 30 s plus 1 s per 5 kB (Apertium
    translates about 20 kB/s on one busy core; words of thousands of characters make it
    quadratic), at most 300 s."""
    return min(30.0 + size / 5000, 300.0)


class ApertiumTranslator:
    """Apertium as a subprocess (see the module docstring)."""

    name = "apertium"
    marker_style = "html"
    cacheable = True

    def __init__(self, src_lang: str = "en", tgt_lang: str = "es", model: str | None = None, markers: bool = False,
                 mark_unknown: bool = False, timeout: float | None = None, **ignored: Any):
        unknown = set(ignored) - {"device", "beam_size", "max_length", "batch_tokens", "threads"}
        if unknown:
            raise ProjectionError(f"apertium: unknown option(s) {', '.join(sorted(unknown))}")
        self.src_lang, self.tgt_lang = src_lang, tgt_lang
        self.mode = find_mode(src_lang, tgt_lang, model)
        self.markers = bool(markers)
        self.mark_unknown = bool(mark_unknown)
        self.timeout = timeout
        self.chunk_size = 2000
        self._signature: dict[str, Any] | None = None

    def signature(self) -> dict[str, Any]:
        if self._signature is None:
            self._signature = self._make_signature()
        return self._signature

    def _make_signature(self) -> dict[str, Any]:
        pkg = DEBIAN_PACKAGES.get(self.mode, "")
        if not pkg:  # a mode we have no table entry for: name the package that ships the mode file
            pkg = next((p for p in _dpkg_versions() if p.startswith("apertium-") and all(
                part in p for part in self.mode.split("_")[0].split("-"))), "")
        return {
            "engine": self.name,
            "mode": self.mode,
            "markers": self.markers,
            "mark_unknown": self.mark_unknown,
            "versions": {"apertium": _deb_version("apertium"), **({pkg: _deb_version(pkg)} if pkg else {})},
            "code": code_hash(__name__, "projection.translate.base", "projection.translate.text"),
        }

    def _run(self, segments: list[str]) -> list[str]:
        cmd = ["apertium", "-f", "none", "-z"] + ([] if self.mark_unknown else ["-u"]) + [self.mode]
        data = "".join(s + "[]\0" for s in segments).encode("utf-8")
        timeout = self.timeout if self.timeout is not None else default_timeout(len(data))
        try:
            res = procs.run(cmd, input=data, env=_env(), timeout=timeout)
        except procs.ProcessTimeout:
            longest = max((len(w) for seg in segments for w in seg.split()), default=0)
            raise ProjectionError(
                f"apertium {self.mode} timed out after {timeout:.0f} s on {len(segments):,} segments "
                f"({len(data):,} bytes; longest word {longest:,} characters); raise [translate] timeout "
                "if the input is right") from None
        if res.returncode != 0:
            err = res.stderr.decode("utf-8", "replace").strip().splitlines()
            raise ProjectionError(f"apertium {self.mode} failed (exit {res.returncode}): {err[-1] if err else ''}")
        parts = res.stdout.decode("utf-8", "replace").split("\0")
        # Modules flush once more at end of input, so trailing empty segments are normal.
        if len(parts) < len(segments) or any(p.strip() for p in parts[len(segments):]):
            if len(segments) == 1:
                raise ProjectionError(f"apertium {self.mode}: unexpected output for {segments[0][:80]!r}")
            mid = len(segments) // 2  # isolate whatever confused the pipeline
            return self._run(segments[:mid]) + self._run(segments[mid:])
        return parts[: len(segments)]

    def translate(self, texts: list[str]) -> list[str]:
        cleaned = [clean_text(t) for t in texts]
        idx = [i for i, t in enumerate(cleaned) if t]
        out = [""] * len(texts)
        if idx:
            to_stream = _html_to_stream if self.markers else _escape
            segments = [to_stream(cleaned[i]) for i in idx]
            for i, seg in zip(idx, self._run(segments)):
                out[i] = _from_stream(seg, self.markers)
        return check_one_per_input(texts, out, self.name)
