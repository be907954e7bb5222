from bot.identity import METADATA_KEY, ChannelIdentity, sign_identity, verify_identity


def test_signed_identity_round_trips() -> None:
    identity = ChannelIdentity(channel="sms", phone="+14155550134")
    assert verify_identity(sign_identity(identity, "s3cret"), "s3cret") == identity


def test_tampered_or_unsigned_identity_is_ignored() -> None:
    metadata = sign_identity(ChannelIdentity(channel="sms", phone="+14155550134"), "k")
    metadata[METADATA_KEY]["phone"] = "+14155550178"
    assert verify_identity(metadata, "k") is None
    assert (
        verify_identity({METADATA_KEY: {"channel": "sms", "phone": "+1"}}, "k") is None
    )
    assert verify_identity(None, "k") is None


def test_identity_signed_with_another_secret_is_ignored() -> None:
    metadata = sign_identity(
        ChannelIdentity(channel="voice", phone="+14155550134"), "a"
    )
    assert verify_identity(metadata, "b") is None
