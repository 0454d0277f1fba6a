"""What the project knows about the data a projection starts from: licence and citation.

A dataset card states the licence of the source corpus (a projection is a derived work of
it) and how to cite it. Corpora are keyed by the corpus part of their name
(``conll2003-en`` for ``conll2003-en:train``); translations the project knows of are matched
by file name. Anything else is stated as unknown, for the publisher to fill in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class SourceInfo:
    pretty: str  # "CoNLL-2003 English": names the data in a title
    phrase: str  # "the English CoNLL-2003 data": names it in a sentence
    hub_id: str | None  # the source on the Hugging Face Hub, for source_datasets: extended|<id>
    license: str  # a Hub licence identifier ("other", "apache-2.0", "unknown")
    license_name: str | None  # with license "other"
    license_link: str | None
    license_note: str  # one Markdown paragraph
    url: str | None
    citation: str | None  # BibTeX


_CONLL03_BIB = """@inproceedings{tjong-kim-sang-de-meulder-2003-introduction,
    title = "Introduction to the {C}o{NLL}-2003 Shared Task: Language-Independent Named Entity Recognition",
    author = "Tjong Kim Sang, Erik F.  and
      De Meulder, Fien",
    booktitle = "Proceedings of the Seventh Conference on Natural Language Learning at {HLT}-{NAACL} 2003",
    year = "2003",
    url = "https://www.aclweb.org/anthology/W03-0419",
    pages = "142--147",
}"""

_ELP_BIB = """@inproceedings{garcia-ferrero-etal-2022-model,
    title = "Model and Data Transfer for Cross-Lingual Sequence Labelling in Zero-Resource Settings",
    author = "Garc{\\'\\i}a-Ferrero, Iker  and
      Agerri, Rodrigo  and
      Rigau, German",
    booktitle = "Findings of the Association for Computational Linguistics: EMNLP 2022",
    year = "2022",
    address = "Abu Dhabi, United Arab Emirates",
    publisher = "Association for Computational Linguistics",
    url = "https://aclanthology.org/2022.findings-emnlp.478",
    doi = "10.18653/v1/2022.findings-emnlp.478",
    pages = "6403--6416",
}"""

SOURCES: dict[str, SourceInfo] = {
    "conll2003-en": SourceInfo(
        pretty="CoNLL-2003 English",
        phrase="the English CoNLL-2003 data",
        hub_id="conll2003",
        license="other",
        license_name="conll-2003-reuters-research-only",
        license_link="https://trec.nist.gov/data/reuters/reuters.html",
        license_note=(
            "The English CoNLL-2003 data are Reuters news (the Reuters Corpus, RCV1) annotated at the University of "
            "Antwerp. No licence is stated for the annotations; the text may be used under the Reuters Corpus "
            "agreement, which NIST grants for research purposes. This projection is a derived work of it: "
            "**research use only**, and check the Reuters terms before you redistribute it."),
        url="https://www.clips.uantwerpen.be/conll2003/ner/",
        citation=_CONLL03_BIB,
    ),
    "sample": SourceInfo(
        pretty="Projection toolkit English sample",
        phrase="the English sample bundled with the projection toolkit",
        hub_id=None,
        license="apache-2.0",
        license_name=None,
        license_link=None,
        license_note="The 200-sentence English sample was written for the projection toolkit and shares its "
                     "Apache-2.0 licence.",
        url=None,
        citation=None,
    ),
}

UNKNOWN = SourceInfo(
    pretty="English NER corpus",
    phrase="an English NER corpus",
    hub_id=None,
    license="unknown",
    license_name=None,
    license_link=None,
    license_note="The licence of the source corpus is not known to the projection toolkit: find it out and state it "
                 "here before publishing, since the projected data are a derived work of the source.",
    url=None,
    citation=None,
)


@dataclass(frozen=True)
class TranslationInfo:
    description: str  # one Markdown sentence
    license_note: str  # one Markdown sentence
    citation: str | None


# file-name patterns of published translations (the `given` translate engine records the file name)
TRANSLATIONS: tuple[tuple[re.Pattern[str], TranslationInfo], ...] = (
    (re.compile(r"^DeepL\.\d+\.\w+\.(train|dev|test)\.tsv$"), TranslationInfo(
        "the DeepL translation of CoNLL-2003 published with Easy-Label-Projection "
        "(García-Ferrero et al., 2022; github.com/ikergarcia1996/Easy-Label-Projection), whose own projected "
        "labels are not used: only its target words",
        "The Easy-Label-Projection repository is Apache-2.0 and states no licence for its data, which keep the terms "
        "of the data they were made from (here CoNLL-2003: research use only).", _ELP_BIB)),
)


def source_info(corpus: str | None) -> SourceInfo:
    """The licence and citation of a source corpus name (``conll2003-en:train``); :data:`UNKNOWN` otherwise."""
    key = str(corpus or "").partition(":")[0]
    info = SOURCES.get(key)
    if info is None:
        return UNKNOWN
    return info


def translation_info(translate_signature: dict) -> TranslationInfo | None:
    """What the project knows of a given translation file (by its name), else ``None``."""
    name = str(translate_signature.get("file") or "")
    for pattern, info in TRANSLATIONS:
        if pattern.match(name):
            return info
    return None
