"""Language codes: the NLLB-200 table and resolution of ISO 639-1 / 639-3 / NLLB codes.

This module is data. ``NLLB_LANGUAGES`` lists the 202 NLLB-200 language codes (200 languages;
Arabic-script and Latin-script variants count as separate codes for Acehnese, Banjar,
Kashmiri, Central Kanuri and Tamasheq, and Chinese has a simplified and a traditional
code) in the order of the model's vocabulary (``FAIRSEQ_LANGUAGE_CODES`` in transformers'
``tokenization_nllb.py``), each with an English name and, where one exists, its ISO 639-1
code. ``resolve_language("es")``, ``("spa")`` and ``("spa_Latn")`` all give the same
:class:`Language`, so users type whichever code they know. Apertium modes and spaCy
tokenizers are picked from the same record, and the export stage takes a dataset card's
language code (ISO 639-1, else 639-3) from it. A core module: it imports no stage
(``projection.translate.languages`` re-exports it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from projection.errors import ProjectionError

# (NLLB code, English name, ISO 639-1 code or "").  Order = NLLB-200 vocabulary order.
NLLB_LANGUAGES: tuple[tuple[str, str, str], ...] = (
    ("ace_Arab", "Acehnese (Arabic script)", ""),
    ("ace_Latn", "Acehnese (Latin script)", ""),
    ("acm_Arab", "Mesopotamian Arabic", ""),
    ("acq_Arab", "Ta'izzi-Adeni Arabic", ""),
    ("aeb_Arab", "Tunisian Arabic", ""),
    ("afr_Latn", "Afrikaans", "af"),
    ("ajp_Arab", "South Levantine Arabic", ""),
    ("aka_Latn", "Akan", "ak"),
    ("amh_Ethi", "Amharic", "am"),
    ("apc_Arab", "North Levantine Arabic", ""),
    ("arb_Arab", "Modern Standard Arabic", "ar"),
    ("ars_Arab", "Najdi Arabic", ""),
    ("ary_Arab", "Moroccan Arabic", ""),
    ("arz_Arab", "Egyptian Arabic", ""),
    ("asm_Beng", "Assamese", "as"),
    ("ast_Latn", "Asturian", ""),
    ("awa_Deva", "Awadhi", ""),
    ("ayr_Latn", "Central Aymara", "ay"),
    ("azb_Arab", "South Azerbaijani", ""),
    ("azj_Latn", "North Azerbaijani", "az"),
    ("bak_Cyrl", "Bashkir", "ba"),
    ("bam_Latn", "Bambara", "bm"),
    ("ban_Latn", "Balinese", ""),
    ("bel_Cyrl", "Belarusian", "be"),
    ("bem_Latn", "Bemba", ""),
    ("ben_Beng", "Bengali", "bn"),
    ("bho_Deva", "Bhojpuri", ""),
    ("bjn_Arab", "Banjar (Arabic script)", ""),
    ("bjn_Latn", "Banjar (Latin script)", ""),
    ("bod_Tibt", "Standard Tibetan", "bo"),
    ("bos_Latn", "Bosnian", "bs"),
    ("bug_Latn", "Buginese", ""),
    ("bul_Cyrl", "Bulgarian", "bg"),
    ("cat_Latn", "Catalan", "ca"),
    ("ceb_Latn", "Cebuano", ""),
    ("ces_Latn", "Czech", "cs"),
    ("cjk_Latn", "Chokwe", ""),
    ("ckb_Arab", "Central Kurdish", ""),
    ("crh_Latn", "Crimean Tatar", ""),
    ("cym_Latn", "Welsh", "cy"),
    ("dan_Latn", "Danish", "da"),
    ("deu_Latn", "German", "de"),
    ("dik_Latn", "Southwestern Dinka", ""),
    ("dyu_Latn", "Dyula", ""),
    ("dzo_Tibt", "Dzongkha", "dz"),
    ("ell_Grek", "Greek", "el"),
    ("eng_Latn", "English", "en"),
    ("epo_Latn", "Esperanto", "eo"),
    ("est_Latn", "Estonian", "et"),
    ("eus_Latn", "Basque", "eu"),
    ("ewe_Latn", "Ewe", "ee"),
    ("fao_Latn", "Faroese", "fo"),
    ("pes_Arab", "Western Persian", "fa"),
    ("fij_Latn", "Fijian", "fj"),
    ("fin_Latn", "Finnish", "fi"),
    ("fon_Latn", "Fon", ""),
    ("fra_Latn", "French", "fr"),
    ("fur_Latn", "Friulian", ""),
    ("fuv_Latn", "Nigerian Fulfulde", "ff"),
    ("gla_Latn", "Scottish Gaelic", "gd"),
    ("gle_Latn", "Irish", "ga"),
    ("glg_Latn", "Galician", "gl"),
    ("grn_Latn", "Guarani", "gn"),
    ("guj_Gujr", "Gujarati", "gu"),
    ("hat_Latn", "Haitian Creole", "ht"),
    ("hau_Latn", "Hausa", "ha"),
    ("heb_Hebr", "Hebrew", "he"),
    ("hin_Deva", "Hindi", "hi"),
    ("hne_Deva", "Chhattisgarhi", ""),
    ("hrv_Latn", "Croatian", "hr"),
    ("hun_Latn", "Hungarian", "hu"),
    ("hye_Armn", "Armenian", "hy"),
    ("ibo_Latn", "Igbo", "ig"),
    ("ilo_Latn", "Ilocano", ""),
    ("ind_Latn", "Indonesian", "id"),
    ("isl_Latn", "Icelandic", "is"),
    ("ita_Latn", "Italian", "it"),
    ("jav_Latn", "Javanese", "jv"),
    ("jpn_Jpan", "Japanese", "ja"),
    ("kab_Latn", "Kabyle", ""),
    ("kac_Latn", "Jingpho", ""),
    ("kam_Latn", "Kamba", ""),
    ("kan_Knda", "Kannada", "kn"),
    ("kas_Arab", "Kashmiri (Arabic script)", "ks"),
    ("kas_Deva", "Kashmiri (Devanagari script)", ""),
    ("kat_Geor", "Georgian", "ka"),
    ("knc_Arab", "Central Kanuri (Arabic script)", ""),
    ("knc_Latn", "Central Kanuri (Latin script)", "kr"),
    ("kaz_Cyrl", "Kazakh", "kk"),
    ("kbp_Latn", "Kabiye", ""),
    ("kea_Latn", "Kabuverdianu", ""),
    ("khm_Khmr", "Khmer", "km"),
    ("kik_Latn", "Kikuyu", "ki"),
    ("kin_Latn", "Kinyarwanda", "rw"),
    ("kir_Cyrl", "Kyrgyz", "ky"),
    ("kmb_Latn", "Kimbundu", ""),
    ("kon_Latn", "Kikongo", "kg"),
    ("kor_Hang", "Korean", "ko"),
    ("kmr_Latn", "Northern Kurdish", "ku"),
    ("lao_Laoo", "Lao", "lo"),
    ("lvs_Latn", "Standard Latvian", "lv"),
    ("lij_Latn", "Ligurian", ""),
    ("lim_Latn", "Limburgish", "li"),
    ("lin_Latn", "Lingala", "ln"),
    ("lit_Latn", "Lithuanian", "lt"),
    ("lmo_Latn", "Lombard", ""),
    ("ltg_Latn", "Latgalian", ""),
    ("ltz_Latn", "Luxembourgish", "lb"),
    ("lua_Latn", "Luba-Kasai", ""),
    ("lug_Latn", "Ganda", "lg"),
    ("luo_Latn", "Luo", ""),
    ("lus_Latn", "Mizo", ""),
    ("mag_Deva", "Magahi", ""),
    ("mai_Deva", "Maithili", ""),
    ("mal_Mlym", "Malayalam", "ml"),
    ("mar_Deva", "Marathi", "mr"),
    ("min_Latn", "Minangkabau", ""),
    ("mkd_Cyrl", "Macedonian", "mk"),
    ("plt_Latn", "Plateau Malagasy", "mg"),
    ("mlt_Latn", "Maltese", "mt"),
    ("mni_Beng", "Meitei (Bengali script)", ""),
    ("khk_Cyrl", "Halh Mongolian", "mn"),
    ("mos_Latn", "Mossi", ""),
    ("mri_Latn", "Maori", "mi"),
    ("zsm_Latn", "Standard Malay", "ms"),
    ("mya_Mymr", "Burmese", "my"),
    ("nld_Latn", "Dutch", "nl"),
    ("nno_Latn", "Norwegian Nynorsk", "nn"),
    ("nob_Latn", "Norwegian Bokmal", "nb"),
    ("npi_Deva", "Nepali", "ne"),
    ("nso_Latn", "Northern Sotho", ""),
    ("nus_Latn", "Nuer", ""),
    ("nya_Latn", "Nyanja", "ny"),
    ("oci_Latn", "Occitan", "oc"),
    ("gaz_Latn", "West Central Oromo", "om"),
    ("ory_Orya", "Odia", "or"),
    ("pag_Latn", "Pangasinan", ""),
    ("pan_Guru", "Eastern Panjabi", "pa"),
    ("pap_Latn", "Papiamento", ""),
    ("pol_Latn", "Polish", "pl"),
    ("por_Latn", "Portuguese", "pt"),
    ("prs_Arab", "Dari", ""),
    ("pbt_Arab", "Southern Pashto", "ps"),
    ("quy_Latn", "Ayacucho Quechua", "qu"),
    ("ron_Latn", "Romanian", "ro"),
    ("run_Latn", "Rundi", "rn"),
    ("rus_Cyrl", "Russian", "ru"),
    ("sag_Latn", "Sango", "sg"),
    ("san_Deva", "Sanskrit", "sa"),
    ("sat_Beng", "Santali", ""),
    ("scn_Latn", "Sicilian", ""),
    ("shn_Mymr", "Shan", ""),
    ("sin_Sinh", "Sinhala", "si"),
    ("slk_Latn", "Slovak", "sk"),
    ("slv_Latn", "Slovenian", "sl"),
    ("smo_Latn", "Samoan", "sm"),
    ("sna_Latn", "Shona", "sn"),
    ("snd_Arab", "Sindhi", "sd"),
    ("som_Latn", "Somali", "so"),
    ("sot_Latn", "Southern Sotho", "st"),
    ("spa_Latn", "Spanish", "es"),
    ("als_Latn", "Tosk Albanian", "sq"),
    ("srd_Latn", "Sardinian", "sc"),
    ("srp_Cyrl", "Serbian", "sr"),
    ("ssw_Latn", "Swati", "ss"),
    ("sun_Latn", "Sundanese", "su"),
    ("swe_Latn", "Swedish", "sv"),
    ("swh_Latn", "Swahili", "sw"),
    ("szl_Latn", "Silesian", ""),
    ("tam_Taml", "Tamil", "ta"),
    ("tat_Cyrl", "Tatar", "tt"),
    ("tel_Telu", "Telugu", "te"),
    ("tgk_Cyrl", "Tajik", "tg"),
    ("tgl_Latn", "Tagalog", "tl"),
    ("tha_Thai", "Thai", "th"),
    ("tir_Ethi", "Tigrinya", "ti"),
    ("taq_Latn", "Tamasheq (Latin script)", ""),
    ("taq_Tfng", "Tamasheq (Tifinagh script)", ""),
    ("tpi_Latn", "Tok Pisin", ""),
    ("tsn_Latn", "Tswana", "tn"),
    ("tso_Latn", "Tsonga", "ts"),
    ("tuk_Latn", "Turkmen", "tk"),
    ("tum_Latn", "Tumbuka", ""),
    ("tur_Latn", "Turkish", "tr"),
    ("twi_Latn", "Twi", "tw"),
    ("tzm_Tfng", "Central Atlas Tamazight", ""),
    ("uig_Arab", "Uyghur", "ug"),
    ("ukr_Cyrl", "Ukrainian", "uk"),
    ("umb_Latn", "Umbundu", ""),
    ("urd_Arab", "Urdu", "ur"),
    ("uzn_Latn", "Northern Uzbek", "uz"),
    ("vec_Latn", "Venetian", ""),
    ("vie_Latn", "Vietnamese", "vi"),
    ("war_Latn", "Waray", ""),
    ("wol_Latn", "Wolof", "wo"),
    ("xho_Latn", "Xhosa", "xh"),
    ("ydd_Hebr", "Eastern Yiddish", "yi"),
    ("yor_Latn", "Yoruba", "yo"),
    ("yue_Hant", "Yue Chinese (Cantonese)", ""),
    ("zho_Hans", "Chinese (Simplified)", "zh"),
    ("zho_Hant", "Chinese (Traditional)", ""),
    ("zul_Latn", "Zulu", "zu"),
)

# Codes that name the same language by another standard code: ISO 639-3 macrolanguages
# (NLLB uses an individual language), ISO 639-2/B bibliographic codes, and retired codes.
ALIASES: dict[str, str] = {
    # macrolanguage (ISO 639-3) -> the NLLB individual language
    "ara": "arb_Arab", "fas": "pes_Arab", "msa": "zsm_Latn", "mon": "khk_Cyrl", "lav": "lvs_Latn",
    "sqi": "als_Latn", "orm": "gaz_Latn", "mlg": "plt_Latn", "nep": "npi_Deva", "pus": "pbt_Arab",
    "que": "quy_Latn", "swa": "swh_Latn", "uzb": "uzn_Latn", "yid": "ydd_Hebr", "nor": "nob_Latn",
    "aze": "azj_Latn", "kur": "kmr_Latn", "kau": "knc_Latn", "ful": "fuv_Latn", "aym": "ayr_Latn",
    "cmn": "zho_Hans", "fil": "tgl_Latn", "ekk": "est_Latn", "no": "nob_Latn",
    # ISO 639-2/B
    "ger": "deu_Latn", "fre": "fra_Latn", "chi": "zho_Hans", "dut": "nld_Latn", "gre": "ell_Grek",
    "arm": "hye_Armn", "baq": "eus_Latn", "bur": "mya_Mymr", "cze": "ces_Latn", "geo": "kat_Geor",
    "ice": "isl_Latn", "mac": "mkd_Cyrl", "mao": "mri_Latn", "may": "zsm_Latn", "per": "pes_Arab",
    "rum": "ron_Latn", "slo": "slk_Latn", "tib": "bod_Tibt", "wel": "cym_Latn", "alb": "als_Latn",
    # retired ISO 639-1 codes
    "iw": "heb_Hebr", "in": "ind_Latn", "ji": "ydd_Hebr", "mo": "ron_Latn",
}

# Preferred script when a three-letter code has several NLLB variants.
_DEFAULT_VARIANT = {"ace": "ace_Latn", "bjn": "bjn_Latn", "kas": "kas_Arab", "knc": "knc_Latn",
                    "taq": "taq_Latn", "zho": "zho_Hans"}
_TRADITIONAL_REGIONS = {"tw", "hk", "mo"}


@dataclass(frozen=True)
class Language:
    """One NLLB-200 language: ``nllb`` = ``spa_Latn``, ``iso3`` = ``spa``, ``iso1`` = ``es``."""

    nllb: str
    name: str
    iso1: str

    @property
    def iso3(self) -> str:
        return self.nllb.split("_")[0]

    @property
    def script(self) -> str:
        return self.nllb.split("_")[1]

    @property
    def short(self) -> str:
        """The shortest standard code: ISO 639-1 when there is one, else ISO 639-3."""
        return self.iso1 or self.iso3

    def codes(self) -> list[str]:
        """Codes other tools might use for this language, most common first (for Apertium modes)."""
        out = [c for c in (self.iso1, self.iso3) if c]
        out += [alias for alias, target in ALIASES.items() if target == self.nllb and alias not in out]
        return out


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, Language], dict[str, Language]]:
    by_code: dict[str, Language] = {}
    by_name: dict[str, Language] = {}
    langs = [Language(code, name, iso1) for code, name, iso1 in NLLB_LANGUAGES]
    for lang in langs:
        by_code[lang.nllb.lower()] = lang
        if lang.iso1:
            by_code[lang.iso1] = lang
        by_name[lang.name.lower()] = lang
    nllb_by_code = {lang.nllb: lang for lang in langs}
    for lang in langs:
        iso3 = lang.iso3
        if iso3 not in by_code:
            by_code[iso3] = nllb_by_code[_DEFAULT_VARIANT.get(iso3, lang.nllb)]
    for alias, target in ALIASES.items():
        by_code.setdefault(alias, nllb_by_code[target])
    # plain names without the script qualifier: "chinese" -> simplified, "kashmiri" -> Arabic script
    for lang in langs:
        base = re.sub(r"\s*\(.*\)$", "", lang.name).lower()
        by_name.setdefault(base, by_code[lang.iso3])
    return by_code, by_name


def languages() -> list[Language]:
    """All 202 NLLB-200 language codes as :class:`Language` records, in vocabulary order."""
    return [Language(code, name, iso1) for code, name, iso1 in NLLB_LANGUAGES]


def resolve_language(code: str) -> Language:
    """Resolve ``es`` / ``spa`` / ``spa_Latn`` / ``es-ES`` / ``zh-TW`` / ``Spanish`` to a :class:`Language`.

    Raises :class:`ProjectionError` with close matches for an unknown code.
    """
    by_code, by_name = _index()
    raw = str(code).strip()
    key = raw.replace("-", "_").lower()
    if key in by_code:
        return by_code[key]
    if key in by_name or raw.lower() in by_name:
        return by_name.get(key) or by_name[raw.lower()]
    parts = key.split("_")
    base = by_code.get(parts[0])
    if base is not None and len(parts) >= 2:
        for part in parts[1:]:
            if len(part) == 4:  # a script subtag: zh-Hant, kas_Deva
                cand = by_code.get(f"{base.iso3}_{part}")
                if cand is not None:
                    return cand
                break
            if base.iso3 == "zho" and part in _TRADITIONAL_REGIONS:
                return by_code["zho_hant"]
        if all(len(p) in (2, 3) and (p.isalpha() or p.isdigit()) for p in parts[1:]):
            return base  # a region subtag (es-ES, pt_BR, es-419) does not change the NLLB code
    from difflib import get_close_matches

    near = get_close_matches(key, list(by_code) + list(by_name), n=4, cutoff=0.6)
    hint = f"; did you mean {', '.join(near)}?" if near else ""
    raise ProjectionError(
        f"unknown language {code!r}: give an ISO 639-1 (es), ISO 639-3 (spa) or NLLB-200 (spa_Latn) code{hint}"
    )


def nllb_code(code: str) -> str:
    """The NLLB-200 code (``spa_Latn``) for any accepted language code."""
    return resolve_language(code).nllb


def language_key(code: str) -> str:
    """The key of a target's per-language defaults (label conventions): the shortest code of
    :func:`resolve_language` (``es`` for ``spa``, ``spa_Latn``, ``es-ES``, ``ger`` for ``de``), or the
    code itself, lower-cased, for a language NLLB-200 does not know (it then has no defaults of its own)."""
    try:
        return resolve_language(code).short
    except ProjectionError:
        return str(code).lower()
