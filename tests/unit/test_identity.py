import json

import pytest

from bot.identity import METADATA_KEY, ChannelIdentity, sign_identity, verify_identity
from bot.signing import WEBCHAT_BODY, sign

SMS = ChannelIdentity(channel="sms", phone="+14155550134")


def test_signed_identity_round_trips() -> None:
    metadata = sign_identity(SMS, "s3cret", "conv-1", issued_at=1000)
    assert verify_identity(metadata, "s3cret", "conv-1", now=1100) == SMS


def test_tampered_identity_is_ignored() -> None:
    metadata = sign_identity(SMS, "k", "conv-1")
    metadata[METADATA_KEY]["phone"] = "+14155550178"
    assert verify_identity(metadata, "k", "conv-1") is None


def test_identity_for_another_conversation_is_ignored() -> None:
    assert verify_identity(sign_identity(SMS, "k", "conv-1"), "k", "conv-2") is None


def test_old_identity_is_ignored() -> None:
    metadata = sign_identity(SMS, "k", "conv-1", issued_at=1000)
    assert verify_identity(metadata, "k", "conv-1", now=1000 + 3600) is None


def test_identity_signed_with_another_secret_is_ignored() -> None:
    assert verify_identity(sign_identity(SMS, "a", "c"), "b", "c") is None


@pytest.mark.parametrize(
    "metadata",
    [None, "text", [], {METADATA_KEY: "x"}, {METADATA_KEY: {"channel": "sms"}},
     {METADATA_KEY: {"channel": "sms", "signature": "é" * 64}},
     {METADATA_KEY: {"channel": "sms", "signature": 5}},
     {METADATA_KEY: {"channel": "sms", "weird": object(), "signature": "0" * 64}}],
)  # fmt: skip
def test_malformed_metadata_is_ignored_not_an_error(metadata: object) -> None:
    assert verify_identity(metadata, "k", "conv-1") is None


def test_an_identity_signature_is_not_valid_for_another_purpose() -> None:
    metadata = sign_identity(SMS, "k", "conv-1", issued_at=1000)
    record = metadata[METADATA_KEY]
    payload = {key: value for key, value in record.items() if key != "signature"}
    message = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    record["signature"] = sign(message, "k", WEBCHAT_BODY)
    assert verify_identity(metadata, "k", "conv-1", now=1100) is None
