"""projection: NER training data for languages that have none, by annotation projection.

The public Python API is re-exported here so that a notebook needs one import::

    import projection as pj
    sents = pj.load_corpus("conll2003-en:train")
"""

from projection.errors import InputError, ProjectionError
from projection.records import (
    Alignment,
    EntityStatus,
    ProjectedEntity,
    ProjectedSentence,
    Sentence,
    Span,
)
from projection.tags import spans_to_tags, tags_to_spans, to_iob1, to_iob2
from projection.corpus import read_conll, read_corpus, write_corpus
from projection.corpora import load_corpus, resolve_corpus

__version__ = "0.1.0"

__all__ = [
    "Alignment",
    "EntityStatus",
    "InputError",
    "ProjectedEntity",
    "ProjectedSentence",
    "ProjectionError",
    "Sentence",
    "Span",
    "load_corpus",
    "read_conll",
    "read_corpus",
    "resolve_corpus",
    "spans_to_tags",
    "tags_to_spans",
    "to_iob1",
    "to_iob2",
    "write_corpus",
    "__version__",
]
