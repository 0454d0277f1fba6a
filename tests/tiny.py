"""Tiny randomly initialised models, built on the fly (no hub, no download).

``tiny_encoder(dir, kind)`` writes a transformers encoder folder (model + fast tokenizer)
whose vocabulary is trained on the bundled sample plus a few Spanish/German words, so
the aligners and trainers can be exercised end to end in seconds.
"""

from __future__ import annotations

import functools
from pathlib import Path

EXTRA = (
    "el la los las de del en y que un una por con para es al se su lo como más pero sus le ya o fue este ha "
    "der die das und ist nicht ein eine zu den mit von im dem des auf für sich auch "
    "Alemania España Francia Gobierno presidente ciudad equipo Deutschland Regierung Stadt Mannschaft"
)


def _corpus_lines() -> list[str]:
    from projection.corpora import SAMPLE_PATH
    from projection.corpus import read_conll

    lines = [" ".join(s.tokens) for s in read_conll(SAMPLE_PATH)]
    return lines + [EXTRA] * 3


@functools.lru_cache(maxsize=None)
def _build(kind: str, root: str) -> str:
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaModel

    out = Path(root) / f"tiny-{kind}"
    if (out / "config.json").exists():
        return str(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    if kind == "bert":
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=False)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        tok.train_from_iterator(_corpus_lines(), trainers.WordPieceTrainer(vocab_size=600, special_tokens=specials))
        cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
        )
        from tokenizers import decoders

        tok.decoder = decoders.WordPiece()
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                       sep_token="[SEP]", mask_token="[MASK]", model_max_length=512)
        fast.save_pretrained(out)
        cfg = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=4, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=128)
        BertModel(cfg).save_pretrained(out)
    elif kind == "xlmr":
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.NFKC()
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = __import__("tokenizers").decoders.Metaspace()
        specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
        tok.train_from_iterator(_corpus_lines(), trainers.UnigramTrainer(vocab_size=600, special_tokens=specials, unk_token="<unk>"))
        bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", bos), ("</s>", eos)]
        )
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                       pad_token="<pad>", cls_token="<s>", sep_token="</s>", mask_token="<mask>",
                                       model_max_length=512)
        fast.save_pretrained(out)
        cfg = XLMRobertaConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=4, num_attention_heads=2,
                               intermediate_size=64, max_position_embeddings=130, pad_token_id=1, bos_token_id=0,
                               eos_token_id=2)
        XLMRobertaModel(cfg).save_pretrained(out)
    else:
        raise ValueError(kind)
    return str(out)


def tiny_encoder(root: str | Path, kind: str = "bert") -> str:
    """Path of a tiny random encoder folder (``kind`` = ``bert`` or ``xlmr``) under ``root``."""
    return _build(kind, str(root))


def shared_tiny_encoder(tmp_path_factory, kind: str = "bert") -> str:
    """:func:`tiny_encoder` built once per test session, shared by xdist workers under a file lock."""
    import os

    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # workers have base/popen-gwN: share their common parent
        base = base.parent
    root = base / "tiny-encoders-shared"
    root.mkdir(exist_ok=True)
    with FileLock(str(root / f".{kind}.lock")):
        return tiny_encoder(root, kind)


def identity_given_pipeline(root: Path, sents, model: str, method: str | None = None) -> tuple[Path, Path]:
    """A source CoNLL file of ``sents``, their 'translations' (the sentences themselves) and a pipeline
    file (given translations, the embed aligner on ``model`` at layer 2, ngram projection):
    ``(pipeline file, source file)``."""
    from projection.corpus import write_conll

    src = root / "src.conll"
    write_conll(sents, src)
    trans = root / "translations.txt"
    trans.write_text("".join(" ".join(s.tokens) + "\n" for s in sents), encoding="utf-8")
    pfile = root / "p.toml"
    method_line = f'method = "{method}"\n' if method else ""
    pfile.write_text(f"""
[translate]
engine = "given"
path = "{trans}"

[align]
engine = "embed"
model = "{model}"
layer = 2
{method_line}
[project]
method = "ngram"
""", encoding="utf-8")
    return pfile, src
