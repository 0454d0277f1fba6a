"""spaCy engine: ``spacy.blank(lang)`` + an ``ner`` pipe trained from scratch.

No pretrained model is needed and training takes minutes on a CPU, which makes it the
quick baseline for a new language. Sentences are given as words (spaCy's tokenizer is
not used), so predictions line up with the corpus tokens one to one. The best epoch on
dev (seqeval F1) is kept. ``lang`` is any spaCy language code (``xx`` = multi-language).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from projection.errors import ProjectionError
from projection.progress import bar
from projection.records import Sentence
from projection.store import package_versions
from projection.tags import spans_to_tags
from projection.train.base import prepare, read_train_json, sentence_tokens, write_train_json
from projection.train.config import TrainConfig

SPACY_DIR = "spacy"


def _doc(nlp, sentence: Sentence):
    from spacy.tokens import Doc

    doc = Doc(nlp.vocab, words=list(sentence.tokens))
    doc.ents = [doc.char_span(doc[sp.start].idx, doc[sp.end - 1].idx + len(doc[sp.end - 1]), label=sp.label)
                for sp in sentence.spans]
    return doc


class SpacyTagger:
    def __init__(self, nlp, labels: list[str], config: TrainConfig, info: dict[str, Any]):
        self.nlp = nlp
        self.labels = list(labels)
        self.config = config
        self.info = info

    def predict(self, sentences: Sequence[Sentence] | Sequence[Sequence[str]], description: str = "predict") -> list[list[str]]:
        from spacy.tokens import Doc

        from projection.records import Span

        words = sentence_tokens(sentences)
        docs = (Doc(self.nlp.vocab, words=w) for w in words)
        out = []
        with bar(len(words), description) as advance:
            for doc in self.nlp.pipe(docs, batch_size=256):
                spans = [Span(e.start, e.end, e.label_) for e in doc.ents]
                out.append(spans_to_tags(spans, len(doc)))
                advance(1)
        return out


class SpacyTrainer:
    """``spacy`` engine."""

    name = "spacy"

    def __init__(self, model: str | None = None, lang: str | None = None, **_: Any):
        # ``model`` is accepted (and ignored) so that every engine takes the same options.
        self.lang = lang

    def signature(self) -> dict[str, Any]:
        return {"engine": self.name, "lang": self.lang, "versions": package_versions("spacy")}

    def train(self, train: Sequence[Sentence], dev: Sequence[Sentence] | None, config: TrainConfig,
              out_dir: str | Path, data: dict[str, Any] | None = None) -> Path:
        import spacy
        from spacy.training import Example
        from spacy.util import compounding, minibatch

        from projection.train.metrics import score

        out = Path(out_dir)
        if config.strip_marks:
            raise ProjectionError("strip_marks applies to transformer encoders (their tokenizer); the spacy "
                                  "engine learns from the words as they are")
        if config.init_from:
            raise ProjectionError("init_from starts a transformer tagger from another one's weights; the spacy engine "
                                  "trains from its blank pipeline")
        train_s, dev_s, labels = prepare(train, dev, config)
        lang = self.lang or config.lang
        try:
            nlp = spacy.blank(lang)
        except Exception as e:  # spaCy raises ImportError/ValueError subclasses for unknown codes
            raise ProjectionError(f"spaCy has no language {lang!r} ({e}); use e.g. en, es, de, nl or xx") from None
        ner = nlp.add_pipe("ner")
        for lab in sorted({t[2:] for t in labels if t != "O"}):
            ner.add_label(lab)
        random.seed(config.seed)
        spacy.util.fix_random_seed(config.seed)
        from spacy.tokens import Doc

        # The predicted side is the bare words (no annotation); the reference side has the entities.
        examples = [Example(Doc(nlp.vocab, words=list(s.tokens)), _doc(nlp, s)) for s in train_s]
        optimizer = nlp.initialize(lambda: examples)
        info = {"engine": self.name, "arch": "spacy", "encoder": None, "signature": {**self.signature(), "lang": lang},
                "data": dict(data or {}), "train_sentences": len(train_s), "dev_sentences": len(dev_s) if dev_s else 0}
        tagger = SpacyTagger(nlp, labels, config, info)
        history: list[dict[str, Any]] = []
        best_f1, best_epoch, best_bytes = -1.0, 0, None
        rng = random.Random(config.seed)
        for epoch in range(1, config.epochs + 1):
            rng.shuffle(examples)
            losses: dict[str, float] = {}
            t0 = time.perf_counter()
            n_batches = 0
            with bar(len(examples), f"epoch {epoch}/{config.epochs}") as advance:
                for batch in minibatch(examples, size=compounding(4.0, 32.0, 1.001)):
                    nlp.update(batch, drop=config.spacy_dropout, sgd=optimizer, losses=losses)
                    n_batches += 1
                    advance(len(batch))
            record: dict[str, Any] = {"epoch": epoch, "loss": float(losses.get("ner", 0.0)) / max(n_batches, 1),
                                      "train_seconds": round(time.perf_counter() - t0, 1)}
            if dev_s:
                m = score([s.tags for s in dev_s], tagger.predict(dev_s, description=f"dev {epoch}/{config.epochs}"))
                record.update({"dev_f1": m["f1"], "dev_precision": m["precision"], "dev_recall": m["recall"]})
                if m["f1"] > best_f1:
                    best_f1, best_epoch, best_bytes = m["f1"], epoch, nlp.to_bytes()
            history.append(record)
        if best_bytes is not None:
            nlp.from_bytes(best_bytes)
        else:
            best_epoch = config.epochs
        info.update({"history": history, "best_epoch": best_epoch, "best_dev_f1": best_f1 if dev_s else None})
        out.mkdir(parents=True, exist_ok=True)
        nlp.to_disk(out / SPACY_DIR)
        write_train_json(out, {**info, "labels": labels, "config": config.to_dict()})
        return out

    @classmethod
    def load(cls, model_dir: str | Path, device: str | None = None, backend: str = "torch",
             precision: str | None = None) -> SpacyTagger:
        import spacy

        meta = read_train_json(model_dir)
        path = Path(model_dir) / SPACY_DIR
        if not path.exists():
            raise ProjectionError(f"{model_dir}: no {SPACY_DIR}/ folder")
        return SpacyTagger(spacy.load(path), meta["labels"], TrainConfig.from_dict(meta["config"]), meta)
