"""Language codes: moved to the core module :mod:`projection.languages` (the export stage needs
them too, and stages do not import each other); re-exported here for the translate stage."""

from projection.languages import ALIASES, NLLB_LANGUAGES, Language, languages, nllb_code, resolve_language

__all__ = ["ALIASES", "NLLB_LANGUAGES", "Language", "languages", "nllb_code", "resolve_language"]
