"""Labelling stage: tag word-tokenised (English) sentences with entities and a confidence.

Used by the back-translation direction (target sentences -> English -> labelled -> projected
back). Engines (registry ``labellers``; ``labellers.create(name, model=..., **options)``):

* ``trained``      a model folder of ``projection train``; loaded by the ``load`` callable the
                   pipeline passes (``projection.train.load_model``)       - :mod:`.trained`
* ``transformers`` any ``AutoModelForTokenClassification`` folder, tags from its ``id2label``
                                                                         - :mod:`.hf`

Every engine has ``label(sentences) -> list[list[LabelledSpan]]`` and ``signature()``;
:func:`guess_engine` tells a folder's engine. This stage imports no other stage, and
importing it imports neither torch nor transformers.
"""

from __future__ import annotations

from pathlib import Path

from projection.errors import ProjectionError
from projection.label.base import Labeller, LabelledSpan, decode, normalise_tags
from projection.registry import Registry

labellers: Registry = Registry("labelling engine")
labellers.add("trained", "projection.label.trained:TrainedLabeller")
labellers.add("transformers", "projection.label.hf:HfTokenLabeller")


def guess_engine(model: str | Path) -> str:
    """``trained`` for a ``projection train`` folder, ``transformers`` for a token-classification folder."""
    from projection.label.hf import is_token_classifier
    from projection.label.trained import is_trained_model

    if is_trained_model(model):
        return "trained"
    if is_token_classifier(model):
        return "transformers"
    if not Path(model).exists():
        raise ProjectionError(f"{model}: no such model folder")
    raise ProjectionError(f"{model}: neither a `projection train` model folder (train.json) nor a transformers "
                          "token-classification folder (config.json with a ...ForTokenClassification architecture)")


__all__ = ["Labeller", "LabelledSpan", "decode", "guess_engine", "labellers", "normalise_tags"]
