"""The projection stage: map source entity spans onto the words of a translation.

``projectors`` is the stage's registry (method name -> implementation)::

    from projection.project import projectors, ProjectionInput
    proj = projectors.create("ngram", threshold=0.5)
    projected = proj.project([ProjectionInput(sentence, target_tokens, alignment)])

Methods: ``heuristic`` (alignment runs), ``ngram`` (candidate matching, vectorised),
``markers`` (spans recovered from mark-then-translate output, ngram as fallback).
The sentence filtering policies (``apply_policy``) live in the core module
:mod:`projection.filtering` and are re-exported here. This package imports no other stage;
the pipeline feeds it.
"""

from projection.filtering import POLICIES, apply_policy
from projection.project.base import ProjectionInput, Projector, is_break_token
from projection.registry import Registry

projectors: Registry[Projector] = Registry("projection method")
projectors.add("heuristic", "projection.project.heuristic:HeuristicProjector")
projectors.add("ngram", "projection.project.ngram:NgramProjector")
projectors.add("markers", "projection.project.markers:MarkersProjector")

__all__ = ["POLICIES", "ProjectionInput", "Projector", "apply_policy", "is_break_token", "projectors"]
