"""Rasa graph component that adds Switchboard's deterministic entities.

Use it in ``config.yml`` after the tokenizer and other extractors::

    pipeline:
      - name: WhitespaceTokenizer
      # ...
      - name: bot.nlu.component.SpokenEntityExtractor
        default_region: US

It needs no training and no tokens of its own: every message's text is passed to
:func:`bot.nlu.normalise.extract`, and the results are appended to the message's
entities with canonical values (``+14155550134``, ``T-000123``, ...).
"""

from __future__ import annotations

from typing import Any

import phonenumbers
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import ENTITY_ATTRIBUTE_CONFIDENCE_TYPE
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    EXTRACTOR,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.normalise import FoundEntity, extract


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False
)
class SpokenEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Extracts emails, phones, order numbers and ticket references by rule."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """The component's default config (see parent class for full docstring)."""
        return {
            # ISO 3166 region used for phone numbers written without "+<country>".
            "default_region": "US",
        }

    def __init__(self, config: dict[str, Any]) -> None:
        """Creates the extractor.

        Args:
            config: The component's configuration, merged with the defaults.

        Raises:
            InvalidConfigException: If ``default_region`` is not a known region.
        """
        self._config = {**self.get_default_config(), **config}
        region = str(self._config["default_region"]).upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise InvalidConfigException(
                f"{self.name}: unknown default_region "
                f"{self._config['default_region']!r}; use an ISO 3166 code like 'US'."
            )
        self.default_region = region

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SpokenEntityExtractor:
        """Creates a new `GraphComponent`.

        Args:
            config: This config overrides the `default_config`.
            model_storage: Unused: the component has nothing to persist.
            resource: Unused: the component has nothing to persist.
            execution_context: Information about the current graph run. Unused.

        Returns:
            An instantiated `SpokenEntityExtractor`.
        """
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        """Appends the rule-based entities to each message's entities.

        Processing a message twice does not duplicate this extractor's entities;
        an ``ENTITIES`` attribute is always set, even if nothing was found.

        Args:
            messages: The messages to process.

        Returns:
            The same messages, modified in place.
        """
        for message in messages:
            existing = message.get(ENTITIES) or []
            extracted = [
                entity
                for entity in self._entities_for(message)
                if not _already_present(entity, existing)
            ]
            message.set(
                ENTITIES,
                existing + self.add_extractor_name(extracted),
                add_to_output=True,
            )
        return messages

    def _entities_for(self, message: Message) -> list[dict[str, Any]]:
        """Runs the rules on the message's text.

        Args:
            message: A user message.

        Returns:
            Rasa entity dictionaries (without the extractor name).
        """
        text = message.get(TEXT)
        if not isinstance(text, str) or not text:
            return []
        return [_to_rasa_entity(found) for found in extract(text, self.default_region)]


def _to_rasa_entity(found: FoundEntity) -> dict[str, Any]:
    """Converts a found entity into Rasa's entity dictionary."""
    return {
        ENTITY_ATTRIBUTE_TYPE: found.entity,
        ENTITY_ATTRIBUTE_START: found.start,
        ENTITY_ATTRIBUTE_END: found.end,
        ENTITY_ATTRIBUTE_VALUE: found.value,
        ENTITY_ATTRIBUTE_CONFIDENCE_TYPE: 1.0,
    }


def _already_present(entity: dict[str, Any], existing: list[dict[str, Any]]) -> bool:
    """Tells whether this extractor already added the same entity (re-processing)."""
    return any(
        other.get(EXTRACTOR) == SpokenEntityExtractor.__name__
        and other.get(ENTITY_ATTRIBUTE_TYPE) == entity[ENTITY_ATTRIBUTE_TYPE]
        and other.get(ENTITY_ATTRIBUTE_START) == entity[ENTITY_ATTRIBUTE_START]
        and other.get(ENTITY_ATTRIBUTE_END) == entity[ENTITY_ATTRIBUTE_END]
        for other in existing
    )
