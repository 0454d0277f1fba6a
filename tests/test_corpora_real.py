"""Named corpora on the real evaluation data (PROJECTION_DATA)."""

import pytest

from conftest import need_data
from projection import load_corpus
from projection.corpus import corpus_stats


@pytest.mark.parametrize(
    "name,rel,sentences,entities,per_label",
    [
        ("conll2003-en:train", "conll2003-en/eng.train", 14041, 23499, {"LOC": 7140, "MISC": 3438, "ORG": 6321, "PER": 6600}),
        ("conll2003-en:test", "conll2003-en/eng.testb", 3453, 5648, {"LOC": 1668, "MISC": 702, "ORG": 1661, "PER": 1617}),
        ("conll2002-es:train", "conll2002/esp/esp.train", 8323, 18798, {"LOC": 4914, "MISC": 2173, "ORG": 7390, "PER": 4321}),
        ("conll2002-nl:test", "conll2002/ned/ned.testb", 5195, 3941, {"LOC": 774, "MISC": 1187, "ORG": 882, "PER": 1098}),
        ("conll2003-de:test", "easy-label-projection-ner/original/de/de.conll.test.tsv", 3005, 3673,
         {"LOC": 1035, "MISC": 670, "ORG": 773, "PER": 1195}),
        ("europarl-ner-es:test", "europarl-ner/es-europarl.test.conll02", 799, 697, {"LOC": 99, "MISC": 186, "ORG": 328, "PER": 84}),
    ],
)
def test_named_corpus_counts(name, rel, sentences, entities, per_label):
    need_data(rel)
    st = corpus_stats(load_corpus(name))
    assert st["sentences"] == sentences
    assert st["entities"] == entities
    assert st["per_label"] == per_label


def test_conll2003_iob1_becomes_iob2():
    need_data("conll2003-en/eng.train")
    s = load_corpus("conll2003-en:train")[0]
    assert s.tokens[:3] == ["EU", "rejects", "German"]
    assert s.tags[:3] == ["B-ORG", "O", "B-MISC"]
