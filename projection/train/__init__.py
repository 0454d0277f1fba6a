"""Train and evaluate NER models: the ``train`` stage.

Engines (``trainers`` registry): ``token`` (transformers encoder + linear classifier on the
last layer), ``feature-aggregation`` (DLFA/AIF fusion of a lower layer, arXiv 2205.08497)
and ``spacy`` (``spacy.blank(lang)`` NER from scratch). Each implements
:class:`~projection.train.base.Trainer`: ``train(train, dev, config, out_dir)`` saves a
model folder, ``load(dir).predict(sentences)`` gives tags.

Notebook use::

    from projection.train import TrainConfig, train_model, evaluate
    model_dir = train_model(["conll2003-en:train"], model="models/e5-small", arch="token",
                            dev="conll2003-en:dev", out="runs/en-model", config=TrainConfig(epochs=2))
    metrics = evaluate(model_dir, "conll2002-es:test")     # writes predictions.conll + metrics.json

This stage imports no other stage.
"""

from __future__ import annotations

from projection.registry import Registry
from projection.train.api import evaluate, load_model, train_model
from projection.train.base import Predictor, Trainer
from projection.train.config import TrainConfig, map_labels, parse_label_map

trainers: Registry = Registry("trainer")
trainers.add("token", "projection.train.transformer:TransformerTrainer")
trainers.add("feature-aggregation", "projection.train.transformer:FeatureAggregationTrainer")
trainers.add("spacy", "projection.train.spacy_engine:SpacyTrainer")

__all__ = ["trainers", "TrainConfig", "Trainer", "Predictor", "train_model", "evaluate", "load_model",
           "map_labels", "parse_label_map"]
