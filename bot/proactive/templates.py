"""The proactive messages' templates: one text file per event and channel.

`<event>.<channel>.txt` in NOTIFICATION_TEMPLATES_DIR (`shipped.sms.txt`,
`delayed.web.txt`), with `{placeholders}` filled from the event. The operator edits
them; `load` checks them at start (every event and channel has one, every
placeholder is one the event provides, nothing else is in the folder), so a typo
stops the web app and the worker instead of texting a customer "{trackng}".
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

from bot.proactive.schema import ConsentChannel, EventKind

COMMON = frozenset({"name", "shop"})
ORDER = COMMON | {"order", "status"}
# What each event can fill in (anything else in a template is refused).
PLACEHOLDERS: dict[EventKind, frozenset[str]] = {
    EventKind.SHIPPED: ORDER | {"carrier", "tracking_number", "tracking_url"},
    EventKind.OUT_FOR_DELIVERY: ORDER | {"carrier", "tracking_number"},
    EventKind.DELIVERED: ORDER,
    EventKind.DELAYED: ORDER | {"new_date"},
    EventKind.CANCELLED: ORDER,
    EventKind.REFUND_ISSUED: ORDER | {"amount"},
    EventKind.TICKET_UPDATED: COMMON | {"ticket", "status"},
    EventKind.TICKET_RESOLVED: COMMON | {"ticket", "status"},
}
MAX_TEMPLATE_LENGTH = 1000


class TemplateError(ValueError):
    """A template is missing, unreadable or uses a placeholder it cannot have."""


@dataclass(frozen=True)
class Templates:
    """The checked templates, by (event, channel)."""

    texts: dict[tuple[EventKind, ConsentChannel], str]

    def render(
        self, kind: EventKind, channel: ConsentChannel, values: dict[str, str]
    ) -> str:
        """The message for `kind` on `channel` (every placeholder was checked)."""
        return self.texts[(kind, channel)].format_map(values).strip()


def fields_of(text: str) -> set[str]:
    """The placeholder names in `text` (TemplateError when it is malformed)."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(str(exc)) from exc
    names = set()
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise TemplateError(f"{{{name}}} is not a plain placeholder")
        names.add(name)
    return names


def check(kind: EventKind, channel: ConsentChannel, text: str) -> str:
    """`text` if it is a valid template for `kind`, else a TemplateError."""
    label = f"{kind.value}.{channel.value}.txt"
    if not text.strip():
        raise TemplateError(f"{label} is empty")
    if len(text) > MAX_TEMPLATE_LENGTH:
        raise TemplateError(f"{label} is longer than {MAX_TEMPLATE_LENGTH} characters")
    try:
        unknown = fields_of(text) - PLACEHOLDERS[kind]
    except TemplateError as exc:
        raise TemplateError(f"{label}: {exc}") from exc
    if unknown:
        allowed = ", ".join(sorted(PLACEHOLDERS[kind]))
        raise TemplateError(
            f"{label} uses unknown placeholder(s) {', '.join(sorted(unknown))}; "
            f"{kind.value} can use: {allowed}"
        )
    return text


def load(folder: Path) -> Templates:
    """Every template in `folder`, checked (TemplateError names the first problem)."""
    if not folder.is_dir():
        raise TemplateError(f"NOTIFICATION_TEMPLATES_DIR {folder} is not a folder")
    expected = {
        f"{kind.value}.{channel.value}.txt": (kind, channel)
        for kind in EventKind
        for channel in ConsentChannel
    }
    present = {path.name for path in folder.glob("*.txt")}
    if stray := sorted(present - set(expected)):
        raise TemplateError(
            f"{folder}: unknown template file(s) {', '.join(stray)} (names are "
            "<event>.<channel>.txt)"
        )
    if missing := sorted(set(expected) - present):
        raise TemplateError(f"{folder}: missing template(s) {', '.join(missing)}")
    texts = {}
    for name, (kind, channel) in expected.items():
        try:
            raw = (folder / name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TemplateError(f"{folder / name}: {exc}") from exc
        texts[(kind, channel)] = check(kind, channel, raw)
    return Templates(texts)
