"""Rasa graph component: intents from the pretrained sentence embedding, blended with DIET.

Add it to ``config.yml`` after ``DIETClassifier`` (which it blends with) and before
``FallbackClassifier`` (which then thresholds the blended confidence)::

    pipeline:
      # ...
      - name: bot.nlu.featurizer.MiniLMFeaturizer
      - name: DIETClassifier
      - name: bot.nlu.classifier.SentenceIntentClassifier
        blend: 0.5
      - name: FallbackClassifier

It trains a multinomial logistic regression on each example's dense sentence
features (in our pipeline the all-MiniLM-L6-v2 embedding, the only dense
featurizer). A sentence encoder trained on paraphrase pairs puts "I want my money
back" next to "refund please" whatever words the training data used, so this
classifier generalises to other people's wording where DIET, which learns mostly
from sparse word and character features, is surer of the words it was trained on.
At prediction it blends the two probability distributions::

    p(intent) = blend * p_DIET(intent) + (1 - blend) * p_embedding(intent)

(``blend`` 0 uses the embedding classifier alone; an intent outside DIET's ranking
has DIET probability 0). The blended ranking replaces the message's ``intent`` and
``intent_ranking``; DIET's entities are untouched. Training takes seconds; the
weights are stored as plain arrays (``.npz``, no pickle) with the intent names.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "weights.npz"
INTENTS_FILE = "intents.json"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class SentenceIntentClassifier(GraphComponent, IntentClassifier):
    """Logistic regression on the sentence embedding, blended with DIET's ranking."""

    @classmethod
    def required_components(cls) -> list[type]:
        """Components that should be included in the pipeline before this component."""
        return [DenseFeaturizer]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """The component's default config (see parent class for full docstring)."""
        return {
            # Weight of the previous classifier's (DIET's) probabilities; 0 = ours only.
            "blend": 0.5,
            # Inverse L2 regularisation strength of the logistic regression.
            "C": 16.0,
            # Iterations of the (deterministic) L-BFGS solver.
            "max_iter": 3000,
            # Intents kept in the ranking (0 = all).
            "ranking_length": 10,
        }

    @staticmethod
    def required_packages() -> list[str]:
        """Packages needed to be installed."""
        return ["sklearn"]

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Checks ``blend``, ``C``, ``max_iter`` and ``ranking_length``."""
        blend = config.get("blend", 0.5)
        if isinstance(blend, bool) or not isinstance(blend, int | float):
            raise InvalidConfigException(
                f"{cls.__name__}: blend must be a number, not {blend!r}."
            )
        if not 0.0 <= blend <= 1.0:
            raise InvalidConfigException(
                f"{cls.__name__}: blend must be between 0 and 1, not {blend}."
            )
        c = config.get("C", 16.0)
        if isinstance(c, bool) or not isinstance(c, int | float) or c <= 0:
            raise InvalidConfigException(
                f"{cls.__name__}: C must be a positive number, not {c!r}."
            )
        for key in ("max_iter", "ranking_length"):
            value = config.get(key, 1)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidConfigException(
                    f"{cls.__name__}: {key} must be a whole number >= 0, "
                    f"not {value!r}."
                )

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceIntentClassifier:
        """Creates an untrained component (see parent class for full docstring)."""
        return cls(config, model_storage, resource)

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        intents: list[str] | None = None,
        weights: np.ndarray | None = None,
        bias: np.ndarray | None = None,
    ) -> None:
        """Builds the component, trained when ``intents``, weights and bias are given.

        Raises:
            InvalidConfigException: If the config is invalid.
        """
        self._config = {**self.get_default_config(), **config}
        self.validate_config(self._config)
        self._model_storage = model_storage
        self._resource = resource
        self.intents = intents or []
        self.weights = weights
        self.bias = bias

    @property
    def blend(self) -> float:
        """The previous classifier's share of the blended probabilities."""
        return float(self._config["blend"])

    @blend.setter
    def blend(self, weight: float) -> None:
        """Changes the share for this process (``make calibrate-nlu`` tries several)."""
        self.validate_config({**self._config, "blend": weight})
        self._config["blend"] = weight

    def train(self, training_data: TrainingData) -> Resource:
        """Fits the logistic regression on the intent examples' sentence embeddings.

        Args:
            training_data: Featurized training data.

        Returns:
            The resource the weights were stored in.
        """
        from sklearn.linear_model import LogisticRegression

        examples = [
            m
            for m in training_data.intent_examples
            if sentence_embedding(m) is not None and m.get(INTENT)
        ]
        intents = sorted({str(m.get(INTENT)) for m in examples})
        if len(intents) < 2:
            logger.warning(
                "%s: fewer than two intents with sentence features, not trained.",
                self.__class__.__name__,
            )
            return self._resource
        index = {intent: i for i, intent in enumerate(intents)}
        x = np.stack([sentence_embedding(m) for m in examples])  # type: ignore[misc]
        y = np.array([index[str(m.get(INTENT))] for m in examples])
        model = LogisticRegression(
            C=float(self._config["C"]), max_iter=int(self._config["max_iter"])
        )
        model.fit(x, y)
        weights, bias = model.coef_, model.intercept_
        if len(intents) == 2:
            # A binary model has one row, for the second class: softmax over
            # (-z/2, z/2) is the sigmoid of z, so both rows give the same answer.
            weights = np.vstack([-weights / 2, weights / 2])
            bias = np.concatenate([-bias / 2, bias / 2])
        self.intents = intents
        self.weights = weights.astype(np.float32)
        self.bias = bias.astype(np.float32)
        self.persist()
        return self._resource

    def probabilities(self, embedding: np.ndarray) -> np.ndarray:
        """This classifier's own probability of each of :attr:`intents`.

        Args:
            embedding: One sentence embedding, ``(dimension,)``.

        Returns:
            The softmax over the intents, in :attr:`intents` order.
        """
        if self.weights is None or self.bias is None:
            raise ValueError("the classifier is not trained")
        logits = self.weights @ embedding.astype(np.float32) + self.bias
        logits -= logits.max()
        exp = np.exp(logits)
        return exp / exp.sum()

    def process(self, messages: list[Message]) -> list[Message]:
        """Replaces each message's intent and ranking with the blended ones.

        A message without a sentence embedding, or a component that was not trained,
        leaves the message as the previous classifier left it.

        Args:
            messages: The messages; changed in place.

        Returns:
            The same messages.
        """
        if self.weights is None:
            return messages
        for message in messages:
            embedding = sentence_embedding(message)
            if embedding is None:
                continue
            ours = dict(
                zip(self.intents, self.probabilities(embedding).tolist(), strict=True)
            )
            previous = {
                str(r["name"]): float(r["confidence"])
                for r in message.get(INTENT_RANKING_KEY) or []
                if r.get("name") in ours
            }
            ranking = blend(ours, previous, self.blend)
            length = int(self._config["ranking_length"])
            if length:
                ranking = ranking[:length]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages

    def persist(self) -> None:
        """Stores the weights as plain arrays and the intent names as JSON."""
        if self.weights is None or self.bias is None:
            return
        with self._model_storage.write_to(self._resource) as directory:
            np.savez(directory / WEIGHTS_FILE, weights=self.weights, bias=self.bias)
            (directory / INTENTS_FILE).write_text(json.dumps(self.intents))

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SentenceIntentClassifier:
        """Loads the trained weights (see parent class for full docstring)."""
        try:
            with model_storage.read_from(resource) as directory:
                with np.load(directory / WEIGHTS_FILE, allow_pickle=False) as arrays:
                    weights, bias = arrays["weights"], arrays["bias"]
                intents = json.loads((directory / INTENTS_FILE).read_text())
        except (ValueError, FileNotFoundError):
            logger.warning(
                "%s: no trained weights found; it will pass DIET's intents through.",
                cls.__name__,
            )
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, intents, weights, bias)


def sentence_embedding(message: Message) -> np.ndarray | None:
    """The message text's dense sentence features as one vector, if it has any."""
    _, sentence = message.get_dense_features(TEXT)
    if sentence is None:
        return None
    return np.asarray(sentence.features, dtype=np.float32).reshape(-1)


def blend(
    ours: dict[str, float], previous: dict[str, float], weight: float
) -> list[dict[str, Any]]:
    """The blended ranking, best first: ``weight`` of ``previous``, the rest ``ours``.

    Without a previous ranking, ours is the ranking.

    Args:
        ours: This classifier's probability per intent (every known intent).
        previous: The previous classifier's confidences (intents it ranked).
        weight: The previous classifier's share, 0 to 1.

    Returns:
        ``{"name", "confidence"}`` dicts sorted by confidence, then name.
    """
    if not previous:
        weight = 0.0
    scores = {
        intent: weight * previous.get(intent, 0.0) + (1.0 - weight) * p
        for intent, p in ours.items()
    }
    return [
        {"name": intent, "confidence": score}
        for intent, score in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
