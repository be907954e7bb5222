"""Tests for the SpokenEntityExtractor Rasa graph component."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.importers.importer import TrainingDataImporter
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.component import SpokenEntityExtractor


@pytest.fixture()
def make_extractor(tmp_path: Path) -> Any:
    """Returns a factory creating the component the way Rasa's graph does."""

    def factory(config: dict[str, Any] | None = None) -> SpokenEntityExtractor:
        return SpokenEntityExtractor.create(
            {**SpokenEntityExtractor.get_default_config(), **(config or {})},
            LocalModelStorage(tmp_path),
            Resource("spoken_entity_extractor"),
            ExecutionContext(GraphSchema({}), model_id="test"),
        )

    return factory


def test_default_config() -> None:
    assert SpokenEntityExtractor.get_default_config() == {"default_region": "US"}


def test_process_adds_entities_with_extractor_name(make_extractor: Any) -> None:
    extractor = make_extractor()
    message = Message(
        data={TEXT: "where is order 104257? my email is jane@example.com"}
    )

    (processed,) = extractor.process([message])

    assert processed is message
    assert message.get(ENTITIES) == [
        {
            "entity": "order_number",
            "start": 15,
            "end": 21,
            "value": "104257",
            "confidence_entity": 1.0,
            "extractor": "SpokenEntityExtractor",
        },
        {
            "entity": "email",
            "start": 35,
            "end": 51,
            "value": "jane@example.com",
            "confidence_entity": 1.0,
            "extractor": "SpokenEntityExtractor",
        },
    ]
    # add_to_output=True: the entities are part of the parse result.
    assert message.as_dict_nlu()[ENTITIES] == message.get(ENTITIES)


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        ("jane@example.com", "email", "jane@example.com"),
        ("Jane.Doe@Example.com", "email", "jane.doe@example.com"),
        ("104257", "order_number", "104257"),
        ("#104257", "order_number", "104257"),
        ("T-000123", "ticket_reference", "T-000123"),
        ("4155550134", "phone", "+14155550134"),
        ("(415) 555-0134", "phone", "+14155550134"),
        ("one oh four two five seven", "order_number", "104257"),
        ("jane dot doe at example dot com", "email", "jane.doe@example.com"),
    ],
)
def test_verbatim_value_message_gets_entity(
    make_extractor: Any, text: str, entity: str, value: str
) -> None:
    message = Message(data={TEXT: text})
    make_extractor().process([message])
    entities = message.get(ENTITIES)
    assert [(e["entity"], e["value"]) for e in entities] == [(entity, value)]
    start, end = entities[0]["start"], entities[0]["end"]
    assert text[start:end] == text.lstrip("#")


def test_existing_entities_are_kept(make_extractor: Any) -> None:
    name = {"entity": "name", "start": 11, "end": 16, "value": "Maria"}
    message = Message(data={TEXT: "my name is Maria, ticket 45", ENTITIES: [name]})

    make_extractor().process([message])

    entities = message.get(ENTITIES)
    assert entities[0] == name
    assert [(e["entity"], e["value"]) for e in entities[1:]] == [
        ("ticket_reference", "T-000045")
    ]


def test_processing_twice_does_not_duplicate(make_extractor: Any) -> None:
    extractor = make_extractor()
    message = Message(data={TEXT: "order 104257"})
    extractor.process([message])
    extractor.process([message])
    assert len(message.get(ENTITIES)) == 1


def test_message_without_entities_or_text_gets_empty_list(make_extractor: Any) -> None:
    plain = Message(data={TEXT: "hello there"})
    empty = Message(data={TEXT: ""})
    no_text = Message(data={})
    make_extractor().process([plain, empty, no_text])
    assert plain.get(ENTITIES) == []
    assert empty.get(ENTITIES) == []
    assert no_text.get(ENTITIES) == []


def test_default_region_config(make_extractor: Any) -> None:
    message = Message(data={TEXT: "020 7946 0958"})
    make_extractor({"default_region": "GB"}).process([message])
    assert [e["value"] for e in message.get(ENTITIES)] == ["+442079460958"]


def test_unknown_region_is_a_config_error(make_extractor: Any) -> None:
    with pytest.raises(InvalidConfigException):
        make_extractor({"default_region": "Atlantis"})


def test_component_is_registered_for_config_yml() -> None:
    registered = DefaultV1Recipe._from_registry(
        "bot.nlu.component.SpokenEntityExtractor"
    )
    assert registered.clazz is SpokenEntityExtractor
    assert DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR in registered.types
    assert registered.is_trainable is False


def test_pipeline_with_component_validates(tmp_path: Path) -> None:
    """The component fits into a real NLU graph built from a config.yml."""
    import rasa.engine.validation
    from rasa.shared.data import TrainingType

    config_file = tmp_path / "config.yml"
    config_file.write_text(
        "recipe: default.v1\n"
        "language: en\n"
        "pipeline:\n"
        "  - name: WhitespaceTokenizer\n"
        "  - name: RegexFeaturizer\n"
        "  - name: bot.nlu.component.SpokenEntityExtractor\n"
        "    default_region: US\n"
        "policies: []\n"
    )
    importer = TrainingDataImporter.load_from_config(str(config_file))
    model_config = DefaultV1Recipe().graph_config_for_recipe(
        importer.get_config(), {}, training_type=TrainingType.NLU
    )
    rasa.engine.validation.validate(model_config)

    nodes = model_config.predict_schema.nodes
    node = next(n for n in nodes.values() if n.uses is SpokenEntityExtractor)
    assert node.fn == "process"
    assert node.config["default_region"] == "US"
