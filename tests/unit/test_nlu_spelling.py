"""The spelling corrector (pure) and its Rasa component, with the real encoder."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from benchmarks.nlu import with_typos
from bot.nlu.encoder import load_encoder
from bot.nlu.featurizer import MiniLMFeaturizer, meant_text
from bot.nlu.spelling import (
    WRITTEN,
    Correction,
    SpellingCorrector,
    edit_distance,
    rewrite,
)
from bot.nlu.spelling_component import SpellingNormaliser
from tests.unit.nlu_training import assert_tiny_model_recognises

VOCABULARY = {
    "status": 9,
    "order": 20,
    "refund": 7,
    "account": 6,
    "create": 3,
    "representative": 2,
    "register": 4,
    "cancellation": 2,
    "stats": 1,
}
KNOWN = {"kettle", "the", "leaks", "hello", "my", "where", "is"}


@pytest.fixture
def corrector() -> SpellingCorrector:
    return SpellingCorrector(VOCABULARY, KNOWN)


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("statsu", "status"),  # swapped letters
        ("ordr", "order"),  # dropped letter
        ("refunnd", "refund"),  # extra letter
        ("acount", "account"),
        ("creat", "create"),
        ("representitive", "representative"),  # wrong letter, long word
        ("reprsentitive", "representative"),  # two edits, long word
        ("cancelation", "cancellation"),
        ("Statsu", "status"),  # first word, capitalised
        ("pls", "please"),  # txt-speak, any length
        ("U", "you"),
        ("wanna", "want to"),
    ],
)
def test_typos_and_txt_speak_map_to_the_meant_word(
    corrector: SpellingCorrector, written: str, meant: str
) -> None:
    assert corrector.correct(written) == meant


@pytest.mark.parametrize(
    "written",
    [
        "status",  # in the vocabulary
        "kettle",  # a known English word the training data lacks
        "ord",  # too short to guess
        "deregister",  # two edits from "register" but two letters shorter
        "zzzzzz",  # nothing near
        "order2",  # digits: a reference, not a word
        "a@b.co",
    ],
)
def test_known_short_far_or_non_words_stay(
    corrector: SpellingCorrector, written: str
) -> None:
    assert corrector.correct(written) is None


def test_ties_go_to_the_more_frequent_word() -> None:
    corrector = SpellingCorrector({"card": 1, "cart": 5}, set())

    assert corrector.correct("carx") == "cart"


def test_capitalised_words_after_the_first_are_names_unless_shouting(
    corrector: SpellingCorrector,
) -> None:
    assert corrector.corrections(["my", "name", "is", "Ordr"]) == [
        None,
        None,
        None,
        None,
    ]
    assert corrector.corrections(["ORDR", "STATSU"]) == [
        Correction("ORDR", "order"),
        Correction("STATSU", "status"),
    ]


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("", "", 0),
        ("abc", "abc", 0),
        ("abc", "acb", 1),
        ("abc", "", 3),
        ("ca", "abc", 3),
    ],
)
def test_edit_distance(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance


def test_rewrite_replaces_words_and_moves_spans() -> None:
    text = "ordr statsu, pls!"

    new, spans = rewrite(text, [(0, 4), (5, 11), (13, 16)], ["order", None, "please"])

    assert new == "order statsu, please!"
    assert [new[start:end] for start, end in spans] == ["order", "statsu", "please"]


def test_with_typos_changes_one_inner_letter_of_one_long_word() -> None:
    examples = [("where is my parcel today", "x"), ("hi", "greet")]

    typed = with_typos(examples, random.Random(3))

    assert typed[1] == ("hi", "greet")
    before, after = examples[0][0].split(), typed[0][0].split()
    changed = [(b, a) for b, a in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1
    word, typo = changed[0]
    assert len(word) >= 5 and word[0] == typo[0] and word[-1] == typo[-1]
    assert edit_distance(word, typo) == 1
    assert typed == with_typos(examples, random.Random(3))  # seeded


# The Rasa component.


def _context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), model_id="test", node_name="spelling")


def _tokenized(tmp_path: Path, *texts: str) -> list[Message]:
    tokenizer = WhitespaceTokenizer.create(
        WhitespaceTokenizer.get_default_config(),
        LocalModelStorage(tmp_path),
        Resource("tokenizer"),
        _context(),
    )
    return tokenizer.process([Message(data={TEXT: text}) for text in texts])


def _trained(tmp_path: Path) -> SpellingNormaliser:
    storage = LocalModelStorage(tmp_path)
    component = SpellingNormaliser.create({}, storage, Resource("spelling"), _context())
    training = TrainingData(
        _tokenized(tmp_path, "where is my order", "order status please")
    )
    resource = component.train(training)
    return SpellingNormaliser.load({}, storage, resource, _context())


def test_component_is_a_trainable_featurizer() -> None:
    registered = DefaultV1Recipe._from_registry(SpellingNormaliser.__name__)

    assert registered.clazz is SpellingNormaliser
    assert registered.is_trainable


def test_tokens_are_rewritten_and_the_text_and_offsets_kept(tmp_path: Path) -> None:
    (message,) = _tokenized(tmp_path, "ordr statsu pls, Ngozi")

    _trained(tmp_path).process([message])

    tokens = message.get("text_tokens")
    assert [t.text for t in tokens] == ["order", "status", "please", "Ngozi"]
    assert [t.lemma for t in tokens[:3]] == ["order", "status", "please"]
    assert [t.get(WRITTEN) for t in tokens] == ["ordr", "statsu", "pls", None]
    assert message.get(TEXT) == "ordr statsu pls, Ngozi"
    assert [(t.start, t.end) for t in tokens] == [(0, 4), (5, 11), (12, 15), (17, 22)]
    assert meant_text(message.get(TEXT), tokens)[0] == "order status please, Ngozi"


def test_an_untrained_component_still_reads_txt_speak(tmp_path: Path) -> None:
    component = SpellingNormaliser.load(
        {}, LocalModelStorage(tmp_path), Resource("never-trained"), _context()
    )
    (message,) = _tokenized(tmp_path, "thx u")

    component.process([message])

    assert [t.text for t in message.get("text_tokens")] == ["thanks", "you"]


def test_the_encoder_reads_the_meant_words(tmp_path: Path) -> None:
    typed, clean = _tokenized(tmp_path, "ordr statsu pls", "order status please")
    _trained(tmp_path).process([typed, clean])
    featurizer = MiniLMFeaturizer.create(
        MiniLMFeaturizer.get_default_config(),
        LocalModelStorage(tmp_path),
        Resource("minilm"),
        _context(),
    )

    featurizer.process([typed, clean])

    typed_sequence, typed_sentence = typed.get_dense_features(TEXT)
    clean_sequence, clean_sentence = clean.get_dense_features(TEXT)
    assert typed_sentence is not None and clean_sentence is not None
    np.testing.assert_allclose(typed_sentence.features, clean_sentence.features)
    assert typed_sequence is not None and clean_sequence is not None
    np.testing.assert_allclose(typed_sequence.features, clean_sequence.features)
    np.testing.assert_allclose(
        clean_sentence.features[0],
        load_encoder(None).encode(["order status please"])[0],
        atol=1e-6,
    )


TINY_CONFIG = """\
language: en
assistant_id: spelling_test
pipeline:
  - name: WhitespaceTokenizer
  - name: bot.nlu.spelling_component.SpellingNormaliser
  - name: CountVectorsFeaturizer
  - name: DIETClassifier
    epochs: 40
    random_seed: 42
    entity_recognition: false
    number_of_transformer_layers: 0
"""
TINY_NLU = """\
version: "3.1"
nlu:
- intent: track_order
  examples: |
    - where is my package
    - package status
    - track my delivery please
- intent: greet
  examples: |
    - hello
    - hi there
    - good morning
"""


def test_a_model_with_the_component_reads_typos_as_its_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Word features only: without the component "pakcage statsu" shares no word
    # with the training data.
    assert_tiny_model_recognises(
        tmp_path,
        monkeypatch,
        TINY_CONFIG,
        TINY_NLU,
        [("pakcage statsu", "track_order"), ("helo", "greet")],
    )
