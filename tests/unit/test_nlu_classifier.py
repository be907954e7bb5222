"""bot.nlu.classifier: the sentence-embedding intent classifier blended with DIET."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import (
    FEATURE_TYPE_SENTENCE,
    INTENT,
    INTENT_RANKING_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.classifier import SentenceIntentClassifier, blend
from tests.unit.nlu_training import assert_tiny_model_recognises

# Three intents, each a direction in a 4-dimensional "embedding" space.
DIRECTIONS = {
    "greet": (1.0, 0.0, 0.0, 0.0),
    "goodbye": (0.0, 1.0, 0.0, 0.0),
    "faq": (0.0, 0.0, 1.0, 0.0),
}


def _message(vector: tuple[float, ...], intent: str | None = None) -> Message:
    message = Message(data={TEXT: "text", **({INTENT: intent} if intent else {})})
    message.add_features(
        Features(
            np.array([vector], dtype=np.float32),
            FEATURE_TYPE_SENTENCE,
            TEXT,
            "minilm",
        )
    )
    return message


def _training_data() -> TrainingData:
    rng = np.random.default_rng(7)
    examples = []
    for intent, direction in DIRECTIONS.items():
        for _ in range(8):
            noisy = np.array(direction) + rng.normal(0, 0.1, 4)
            examples.append(_message(tuple(noisy), intent))
    return TrainingData(examples)


def _storage(tmp_path: Path) -> LocalModelStorage:
    tmp_path.mkdir(parents=True, exist_ok=True)
    return LocalModelStorage(tmp_path)


def _classifier(storage: LocalModelStorage, **config: Any) -> SentenceIntentClassifier:
    return SentenceIntentClassifier.create(
        {**SentenceIntentClassifier.get_default_config(), **config},
        storage,
        Resource("sentence_classifier"),
        ExecutionContext(GraphSchema({}), model_id="test"),
    )


def test_component_is_registered_as_a_trainable_intent_classifier() -> None:
    registered = DefaultV1Recipe._from_registry(SentenceIntentClassifier.__name__)

    assert registered.clazz is SentenceIntentClassifier
    assert DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER in registered.types
    assert registered.is_trainable


def test_trained_alone_it_ranks_the_nearest_intent_first(tmp_path: Path) -> None:
    classifier = _classifier(_storage(tmp_path), blend=0.0)
    classifier.train(_training_data())
    message = _message((0.1, 0.9, 0.1, 0.0))

    classifier.process([message])

    ranking = message.get(INTENT_RANKING_KEY)
    assert message.get(INTENT)["name"] == "goodbye"
    assert ranking[0]["name"] == "goodbye"
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0, abs=1e-5)
    assert ranking == sorted(ranking, key=lambda r: -r["confidence"])


def test_two_intents_give_both_probabilities(tmp_path: Path) -> None:
    data = TrainingData(
        [m for m in _training_data().training_examples if m.get(INTENT) != "faq"]
    )
    classifier = _classifier(_storage(tmp_path), blend=0.0)
    classifier.train(data)
    message = _message((0.2, 0.8, 0.0, 0.0))

    classifier.process([message])

    ranking = message.get(INTENT_RANKING_KEY)
    assert [r["name"] for r in ranking] == ["goodbye", "greet"]
    assert ranking[0]["confidence"] + ranking[1]["confidence"] == pytest.approx(1.0)
    assert 0.5 < ranking[0]["confidence"] < 1.0


def test_blend_weighs_the_previous_ranking() -> None:
    ours = {"greet": 0.6, "goodbye": 0.3, "faq": 0.1}
    previous = {"goodbye": 0.9, "greet": 0.1}  # faq not ranked: probability 0

    ranking = blend(ours, previous, 0.5)

    assert ranking == [
        {"name": "goodbye", "confidence": pytest.approx(0.6)},
        {"name": "greet", "confidence": pytest.approx(0.35)},
        {"name": "faq", "confidence": pytest.approx(0.05)},
    ]


def test_blend_without_a_previous_ranking_is_ours() -> None:
    ours = {"greet": 0.2, "faq": 0.8}

    assert blend(ours, {}, 0.7) == [
        {"name": "faq", "confidence": 0.8},
        {"name": "greet", "confidence": 0.2},
    ]


def test_process_blends_with_diets_ranking_on_the_message(tmp_path: Path) -> None:
    classifier = _classifier(_storage(tmp_path), blend=0.5)
    classifier.train(_training_data())
    message = _message((0.0, 0.0, 1.0, 0.0))
    message.set(INTENT, {"name": "greet", "confidence": 1.0})
    message.set(INTENT_RANKING_KEY, [{"name": "greet", "confidence": 1.0}])
    own = classifier.probabilities(np.array([0.0, 0.0, 1.0, 0.0]))

    classifier.process([message])

    confidences = {r["name"]: r["confidence"] for r in message.get(INTENT_RANKING_KEY)}
    by_intent = dict(zip(classifier.intents, own.tolist(), strict=True))
    assert confidences["greet"] == pytest.approx(0.5 + 0.5 * by_intent["greet"])
    assert confidences["faq"] == pytest.approx(0.5 * by_intent["faq"])
    assert message.get(INTENT)["name"] == max(confidences, key=confidences.__getitem__)


def test_ranking_length_cuts_the_ranking(tmp_path: Path) -> None:
    classifier = _classifier(_storage(tmp_path), blend=0.0, ranking_length=2)
    classifier.train(_training_data())
    message = _message((1.0, 0.0, 0.0, 0.0))

    classifier.process([message])

    assert len(message.get(INTENT_RANKING_KEY)) == 2


def test_message_without_sentence_features_is_left_alone(tmp_path: Path) -> None:
    classifier = _classifier(_storage(tmp_path))
    classifier.train(_training_data())
    message = Message(data={TEXT: "no features"})
    message.set(INTENT, {"name": "faq", "confidence": 0.4})

    classifier.process([message])

    assert message.get(INTENT) == {"name": "faq", "confidence": 0.4}


def test_weights_survive_persist_and_load(tmp_path: Path) -> None:
    storage = _storage(tmp_path)
    trained = _classifier(storage, blend=0.0)
    trained.train(_training_data())
    loaded = SentenceIntentClassifier.load(
        {**SentenceIntentClassifier.get_default_config(), "blend": 0.0},
        storage,
        Resource("sentence_classifier"),
        ExecutionContext(GraphSchema({}), model_id="test"),
    )
    vector = np.array([0.3, 0.2, 0.9, 0.1], dtype=np.float32)

    assert loaded.intents == trained.intents
    np.testing.assert_allclose(
        loaded.probabilities(vector), trained.probabilities(vector), atol=1e-7
    )


def test_training_is_deterministic(tmp_path: Path) -> None:
    first = _classifier(_storage(tmp_path / "a"))
    second = _classifier(_storage(tmp_path / "b"))
    first.train(_training_data())
    second.train(_training_data())

    assert first.weights is not None and second.weights is not None
    np.testing.assert_array_equal(first.weights, second.weights)


def test_untrained_load_passes_intents_through(tmp_path: Path) -> None:
    loaded = SentenceIntentClassifier.load(
        SentenceIntentClassifier.get_default_config(),
        _storage(tmp_path),
        Resource("never_trained"),
        ExecutionContext(GraphSchema({}), model_id="test"),
    )
    message = _message((1.0, 0.0, 0.0, 0.0))
    message.set(INTENT, {"name": "faq", "confidence": 0.9})

    loaded.process([message])

    assert message.get(INTENT) == {"name": "faq", "confidence": 0.9}


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"blend": 1.5}, "between 0 and 1"),
        ({"blend": "half"}, "must be a number"),
        ({"C": 0}, "positive number"),
        ({"max_iter": -1}, "max_iter must be a whole number"),
        ({"ranking_length": 2.5}, "ranking_length must be a whole number"),
    ],
)
def test_invalid_config_is_refused(
    tmp_path: Path, config: dict[str, Any], problem: str
) -> None:
    with pytest.raises(InvalidConfigException, match=problem):
        _classifier(_storage(tmp_path), **config)


TINY_CONFIG = """\
recipe: default.v1
language: en
assistant_id: classifier_test
pipeline:
  - name: WhitespaceTokenizer
  - name: bot.nlu.featurizer.MiniLMFeaturizer
  - name: bot.nlu.classifier.SentenceIntentClassifier
    blend: 0.0
"""
# No word of the questions below occurs in these examples: only the pretrained
# sentence embedding can tell the intents apart.
TINY_NLU = """\
version: "3.1"
nlu:
- intent: request_refund
  examples: |
    - I want a refund
    - refund my purchase please
    - give me a refund
- intent: greet
  examples: |
    - hello
    - hi there
    - good morning
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
            ("I would like my money back", "request_refund"),
            ("reimbursement for the item", "request_refund"),
            ("hey, how are you", "greet"),
        ],
    )
