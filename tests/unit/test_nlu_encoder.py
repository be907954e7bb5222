"""Tests for the numpy all-MiniLM-L6-v2 encoder and its Rasa featurizer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import ACTION_NAME, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from threadpoolctl import ThreadpoolController

from bot.nlu import encoder
from bot.nlu.encoder import (
    MAX_SEQ_LENGTH,
    EncoderFilesError,
    SentenceEncoder,
    load_encoder,
)
from bot.nlu.featurizer import MiniLMFeaturizer
from tests.unit.nlu_training import assert_tiny_model_recognises

SENTENCES = [
    "where is my order 104257?",
    "My parcel hasn't arrived yet, can you check?",
    "I want to cancel order 112233",
    "Can I return a lamp that arrived broken?",
    "Crème brûlée recipes for the weekend",
    "",
]
# Computed once with sentence-transformers 6.2.0 on torch 2.13.0 (CPU) from the same
# files: SentenceTransformer(<package's model dir>).encode(SENTENCES)[:, :8].
REFERENCE_FIRST_8 = [
    (-0.02525, 0.00691, 0.04458, 0.01537, 0.03877, -0.01915, -0.06958, -0.03343),
    (0.00146, -0.02012, 0.04394, -0.00795, 0.03275, -0.01780, 0.02332, -0.07468),
    (-0.07118, 0.03975, 0.04664, -0.01957, -0.05103, -0.04120, -0.02666, -0.05121),
    (-0.01079, -0.01540, 0.07131, -0.02627, -0.00839, -0.00856, -0.00017, -0.03101),
    (-0.01878, -0.07430, 0.04392, 0.00504, -0.02099, 0.00170, -0.04118, -0.03397),
    (-0.11884, 0.04830, -0.00255, -0.01101, 0.05195, 0.01029, 0.11543, 0.00070),
]
# Cosine similarities between SENTENCES[i] and SENTENCES[j], same reference run.
REFERENCE_COSINES = [
    (0, 1, 0.45972),
    (0, 2, 0.55973),
    (0, 3, 0.17903),
    (0, 4, 0.07794),
    (0, 5, 0.06185),
    (1, 2, 0.25854),
    (1, 3, 0.23322),
    (1, 4, 0.06980),
    (1, 5, 0.07761),
    (2, 3, 0.12896),
    (2, 4, 0.02533),
    (2, 5, 0.10016),
    (3, 4, 0.00091),
    (3, 5, -0.02866),
    (4, 5, 0.03742),
]
# 30 repetitions: 481 word pieces, so the reference cut it at 256 as well.
LONG_TEXT = "I ordered a lamp and a chair last week but only the chair came. " * 30
LONG_REFERENCE_FIRST_8 = (
    (0.02310, -0.09731, 0.06033, -0.00463, -0.06360, -0.03655, -0.10525, -0.10078),
)
# The reference's token embeddings (last hidden states): "parcel" and "hasn" of
# SENTENCES[1] are one word piece each; "104257" of SENTENCES[0] is three (104 ##25
# ##7), averaged.
PARCEL_FIRST_6 = (-0.54878, -0.25595, -0.02749, -0.21289, 0.49422, 0.28542)
HASN_FIRST_6 = (0.04059, -0.06982, 0.44763, -0.24233, -0.18643, -0.12078)
ORDER_NUMBER_FIRST_6 = (-0.24416, -0.06985, 0.25118, 0.11951, 0.28652, -0.06610)


@pytest.fixture(scope="module")
def model() -> SentenceEncoder:
    return load_encoder()


def test_embeddings_match_sentence_transformers(model: SentenceEncoder) -> None:
    embeddings = model.encode(SENTENCES)

    assert embeddings.shape == (len(SENTENCES), 384)
    assert embeddings.dtype == np.float32
    np.testing.assert_allclose(embeddings[:, :8], REFERENCE_FIRST_8, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    for i, j, cosine in REFERENCE_COSINES:
        assert float(embeddings[i] @ embeddings[j]) == pytest.approx(cosine, abs=1e-4)


def test_encoding_is_deterministic(model: SentenceEncoder) -> None:
    first = model.encode(SENTENCES)

    assert np.array_equal(first, model.encode(SENTENCES))
    # A fresh load (not the cached encoder) gives the same bits.
    assert np.array_equal(
        first, encoder.read_encoder(encoder.default_model_dir()).encode(SENTENCES)
    )


def test_weights_are_loaded_once_per_process(model: SentenceEncoder) -> None:
    assert load_encoder(None) is model
    assert load_encoder(str(encoder.default_model_dir())) is model


def test_batch_equals_single(model: SentenceEncoder) -> None:
    # Different lengths in one batch: padding must not change any text's embedding.
    batched = model.encode(SENTENCES, batch_size=4)
    single = np.stack([model.encode([text])[0] for text in SENTENCES])

    np.testing.assert_allclose(batched, single, atol=1e-5)


def blas_threads() -> list[int]:
    """The thread count of each BLAS library loaded in the process."""
    blas = ThreadpoolController().select(user_api="blas").lib_controllers
    return [library.get_num_threads() for library in blas]


def test_one_text_runs_on_one_blas_thread_and_a_batch_on_all(
    model: SentenceEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = blas_threads()
    seen: list[list[int]] = []
    forward = SentenceEncoder._forward

    def counting(self: SentenceEncoder, encodings: list[Any]) -> Any:
        seen.append(blas_threads())
        return forward(self, encodings)

    monkeypatch.setattr(SentenceEncoder, "_forward", counting)
    model.encode([SENTENCES[0]])
    model.encode(SENTENCES[:2])

    assert seen == [[1] * len(before), before]
    assert blas_threads() == before


def test_encode_is_encode_with_tokens_without_the_tokens(
    model: SentenceEncoder,
) -> None:
    sentences, tokens = model.encode_with_tokens(SENTENCES)

    assert np.array_equal(model.encode(SENTENCES), sentences)
    assert len(tokens) == len(SENTENCES)


def test_order_is_kept_though_batches_are_sorted_by_length(
    model: SentenceEncoder,
) -> None:
    reversed_texts = SENTENCES[::-1]

    np.testing.assert_allclose(
        model.encode(reversed_texts, batch_size=2),
        model.encode(SENTENCES)[::-1],
        atol=1e-5,
    )


def test_long_input_is_truncated_at_256_word_pieces(model: SentenceEncoder) -> None:
    longer = LONG_TEXT + " And my lamp is still missing, please send it again!"

    embeddings, pieces = model.encode_with_tokens([LONG_TEXT, longer])

    np.testing.assert_allclose(embeddings[:1, :8], LONG_REFERENCE_FIRST_8, atol=1e-4)
    # The words after the cut change nothing; 254 pieces besides [CLS] and [SEP].
    np.testing.assert_allclose(embeddings[0], embeddings[1], atol=1e-6)
    assert [len(p.states) for p in pieces] == [MAX_SEQ_LENGTH - 2] * 2


def test_empty_text_gets_a_unit_embedding(model: SentenceEncoder) -> None:
    embedding, pieces = model.encode_with_tokens([""])

    np.testing.assert_allclose(embedding[0, :8], REFERENCE_FIRST_8[-1], atol=1e-4)
    assert pieces[0].states.shape == (0, 384)
    assert pieces[0].spans.shape == (0, 2)
    assert model.encode([]).shape == (0, 384)


def test_paraphrases_are_closer_than_unrelated_texts(model: SentenceEncoder) -> None:
    track, paraphrase, unrelated = model.encode(
        [
            "where is my package",
            "my parcel still hasn't shown up",
            "do you sell gift cards",
        ]
    )

    assert track @ paraphrase > track @ unrelated + 0.2


def test_wrong_weights_are_refused_with_their_checksum(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"not the weights")

    with pytest.raises(EncoderFilesError) as error:
        load_encoder(str(tmp_path))

    message = str(error.value)
    assert "model.safetensors has sha256 " in message
    assert encoder.CHECKSUMS["model.safetensors"] in message
    assert "refusing to load" in message


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EncoderFilesError, match=r"model\.safetensors cannot be read"):
        load_encoder(str(tmp_path))


def test_missing_model_package_names_the_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoder, "MODEL_PACKAGE", "no_such_model_package")

    with pytest.raises(EncoderFilesError, match="requirements/lock.txt"):
        encoder.default_model_dir()


def test_tokenizer_is_checked_too(tmp_path: Path) -> None:
    real = encoder.default_model_dir()
    (tmp_path / "model.safetensors").symlink_to(real / "model.safetensors")
    tokenizer = (real / "tokenizer.json").read_text().replace("[UNK]", "[UKN]")
    (tmp_path / "tokenizer.json").write_text(tokenizer)

    with pytest.raises(EncoderFilesError, match=r"tokenizer\.json has sha256"):
        load_encoder(str(tmp_path))


# The Rasa component.


def _execution_context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), model_id="test", node_name="minilm")


def _featurizer(tmp_path: Path, **config: Any) -> MiniLMFeaturizer:
    return MiniLMFeaturizer.create(
        {**MiniLMFeaturizer.get_default_config(), **config},
        LocalModelStorage(tmp_path),
        Resource("minilm"),
        _execution_context(),
    )


def _tokenized(*texts: str, tmp_path: Path) -> list[Message]:
    tokenizer = WhitespaceTokenizer.create(
        WhitespaceTokenizer.get_default_config(),
        LocalModelStorage(tmp_path),
        Resource("tokenizer"),
        _execution_context(),
    )
    return tokenizer.process([Message(data={TEXT: text}) for text in texts])


def test_component_is_registered_as_a_featurizer() -> None:
    registered = DefaultV1Recipe._from_registry(MiniLMFeaturizer.__name__)

    assert registered.clazz is MiniLMFeaturizer
    assert DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER in registered.types
    assert not registered.is_trainable


def test_process_adds_sentence_and_token_features(
    tmp_path: Path, model: SentenceEncoder
) -> None:
    messages = _tokenized(SENTENCES[1], SENTENCES[0], tmp_path=tmp_path)

    _featurizer(tmp_path).process(messages)

    sequence, sentence = messages[0].get_dense_features(TEXT)
    assert sequence is not None and sentence is not None
    assert {feature.origin for feature in messages[0].features} == {"minilm"}
    np.testing.assert_allclose(
        sentence.features, model.encode([SENTENCES[1]]), atol=1e-6
    )
    # WhitespaceTokenizer: My parcel hasn t arrived yet can you check
    assert sequence.features.shape == (9, 384)
    np.testing.assert_allclose(sequence.features[1, :6], PARCEL_FIRST_6, atol=1e-4)
    np.testing.assert_allclose(sequence.features[2, :6], HASN_FIRST_6, atol=1e-4)
    # where is my order 104257
    order_sequence, _ = messages[1].get_dense_features(TEXT)
    assert order_sequence is not None
    assert order_sequence.features.shape == (5, 384)
    np.testing.assert_allclose(
        order_sequence.features[4, :6], ORDER_NUMBER_FIRST_6, atol=1e-4
    )


def test_token_beyond_the_cut_gets_zero_features(tmp_path: Path) -> None:
    (message,) = _tokenized(LONG_TEXT + " lamp", tmp_path=tmp_path)

    _featurizer(tmp_path).process([message])

    sequence, _ = message.get_dense_features(TEXT)
    assert sequence is not None
    assert sequence.features.shape == (len(message.get("text_tokens")), 384)
    assert sequence.features[0].any()
    assert not sequence.features[-1].any()


def test_training_data_is_featurized_in_batches_like_single_messages(
    tmp_path: Path,
) -> None:
    texts = SENTENCES[:5]
    examples = _tokenized(*texts, tmp_path=tmp_path)
    # A story's action step: it has no text, so it gets no text features.
    examples.append(Message(data={ACTION_NAME: "utter_greet"}))
    singles = _tokenized(*texts, tmp_path=tmp_path)
    featurizer = _featurizer(tmp_path, batch_size=2)

    featurizer.process_training_data(TrainingData(examples))
    for message in singles:
        featurizer.process([message])

    for batched, single in zip(examples[:-1], singles, strict=True):
        batched_sequence, batched_sentence = batched.get_dense_features(TEXT)
        sequence, sentence = single.get_dense_features(TEXT)
        assert batched_sequence is not None and sequence is not None
        assert batched_sentence is not None and sentence is not None
        np.testing.assert_allclose(
            batched_sentence.features, sentence.features, atol=1e-5
        )
        np.testing.assert_allclose(
            batched_sequence.features, sequence.features, atol=1e-4
        )
    assert examples[-1].features == []


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"batch_size": 0}, "at least 1"),
        ({"batch_size": "32"}, "whole number"),
        ({"model_dir": 7}, "directory path"),
    ],
)
def test_bad_config_is_refused(
    tmp_path: Path, config: dict[str, Any], problem: str
) -> None:
    with pytest.raises(InvalidConfigException, match=problem):
        _featurizer(tmp_path, **config)


def test_featurizer_refuses_unchecked_weights(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 64)

    with pytest.raises(EncoderFilesError, match="refusing to load"):
        _featurizer(tmp_path, model_dir=str(tmp_path))


TINY_CONFIG = """\
recipe: default.v1
language: en
assistant_id: encoder_test
pipeline:
  - name: WhitespaceTokenizer
  - name: bot.nlu.featurizer.MiniLMFeaturizer
  - name: DIETClassifier
    epochs: 40
    random_seed: 42
    entity_recognition: false
"""
# No word of the held-out questions below occurs in these examples: only the
# pretrained features can tell the intents apart.
TINY_NLU = """\
version: "3.1"
nlu:
- intent: track_order
  examples: |
    - where is my package
    - has my parcel shipped yet
    - when will my delivery arrive
    - track my order please
- intent: greet
  examples: |
    - hello
    - hi there
    - good morning
    - hey, how are you
"""


def test_component_trains_and_predicts_in_rasa(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_tiny_model_recognises(
        tmp_path,
        monkeypatch,
        TINY_CONFIG,
        TINY_NLU,
        [
            ("yo!", "greet"),
            ("good evening", "greet"),
            ("I am still waiting for the shipment I bought", "track_order"),
            ("the courier hasn't brought the box", "track_order"),
        ],
    )
