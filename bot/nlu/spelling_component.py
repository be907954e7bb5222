"""Rasa graph component: txt-speak and typos mapped to known words, for the features.

Add it right after the tokenizer::

    pipeline:
      - name: WhitespaceTokenizer
      - name: bot.nlu.spelling_component.SpellingNormaliser
      # ... featurizers

Training stores the training data's word counts (the words a typo may be
corrected to, :mod:`bot.nlu.spelling`). On every message it rewrites the text of
the tokens that stand for another word ("statsu" -> "status", "pls" -> "please"),
keeping their character offsets, so the word featurizers see the meant word while
entity values, the message text and transcripts keep what the customer wrote. The
original is kept on the token (``written``); :class:`bot.nlu.featurizer.MiniLMFeaturizer`
encodes the rewritten text.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.encoder import load_encoder
from bot.nlu.spelling import WRITTEN, SpellingCorrector

VOCABULARY_FILE = "vocabulary.json"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True
)
class SpellingNormaliser(GraphComponent):
    """Rewrites tokens that are txt-speak or typos of the training data's words."""

    @classmethod
    def required_components(cls) -> list[type]:
        """Components that should be included in the pipeline before this component."""
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """The component's default config (see parent class for full docstring)."""
        # The encoder whose English word list marks words as correct: the
        # MiniLMFeaturizer's (same default, loaded once per process).
        return {"model_dir": None}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SpellingNormaliser:
        """Creates an untrained component (see parent class for full docstring)."""
        return cls(config, model_storage, resource, {})

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vocabulary: dict[str, int],
    ) -> None:
        """Builds the corrector over `vocabulary` and the encoder's word list."""
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._known = load_encoder(self._config["model_dir"]).words()
        self.corrector = SpellingCorrector(vocabulary, self._known)

    def train(self, training_data: TrainingData) -> Resource:
        """Counts the training examples' words and stores the counts.

        Args:
            training_data: Tokenized training data.

        Returns:
            The resource the counts were stored in.
        """
        counts: Counter[str] = Counter()
        for example in training_data.training_examples:
            for token in example.get(TOKENS_NAMES[TEXT]) or []:
                counts[token.text.lower()] += 1
        self.corrector = SpellingCorrector(dict(counts), self._known)
        with self._model_storage.write_to(self._resource) as directory:
            (directory / VOCABULARY_FILE).write_text(
                json.dumps(dict(sorted(counts.items())))
            )
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Rewrites the training examples' tokens (txt-speak in the data too)."""
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Rewrites each message's tokens that stand for another word, in place."""
        for message in messages:
            tokens = message.get(TOKENS_NAMES[TEXT]) or []
            if not tokens or any(token.get(WRITTEN) for token in tokens):
                continue  # nothing to do, or done already
            found = self.corrector.corrections([token.text for token in tokens])
            for token, correction in zip(tokens, found, strict=True):
                if correction is not None:
                    token.set(WRITTEN, correction.written)
                    token.text = correction.meant
                    token.lemma = correction.meant
        return messages

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SpellingNormaliser:
        """Loads the stored word counts (see parent class for full docstring)."""
        try:
            with model_storage.read_from(resource) as directory:
                vocabulary = json.loads((directory / VOCABULARY_FILE).read_text())
        except (ValueError, FileNotFoundError):
            vocabulary = {}
        return cls(config, model_storage, resource, vocabulary)
