import pytest

from tiny import tiny_encoder


@pytest.mark.parametrize("kind", ["bert", "xlmr"])
def test_tiny_encoder_loads(tmp_path_factory, kind):
    from transformers import AutoModel, AutoTokenizer

    path = tiny_encoder(tmp_path_factory.mktemp("m"), kind)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path)
    enc = tok([["España", "wins", "."]], is_split_into_words=True, return_tensors="pt")
    out = model(**enc, output_hidden_states=True)
    assert len(out.hidden_states) == 5
    assert out.last_hidden_state.shape[-1] == 32
