"""The warning filters every entry point sets: libraries' deprecations go, ours stay."""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Iterator

import pytest

from bot.quiet import quiet_warnings
from bot.settings import PROJECT_ROOT


@pytest.fixture
def shown() -> Iterator[list[warnings.WarningMessage]]:
    """The warnings a process shows after quiet_warnings(), from Python's defaults."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("ignore", DeprecationWarning)  # Python's default
        warnings.simplefilter("default")  # and everything else shown
        # sanic (imported by quiet_warnings) shows every deprecation when first
        # imported; in this test process another test may have imported it already.
        warnings.filterwarnings("once", category=DeprecationWarning)
        quiet_warnings()
        yield caught


def warn(category: type[Warning], module: str) -> None:
    """A warning raised from code in `module`."""
    warnings.warn_explicit(
        f"a {category.__name__} from {module}",
        category,
        filename=f"/site-packages/{module.replace('.', '/')}.py",
        lineno=1,
        module=module,
    )


@pytest.mark.parametrize(
    "module",
    [
        "tensorflow.python.debug.cli.debugger_cli_common",
        "rasa.core.tracker_store",
        "rasa",
        "sanic_cors.extension",
        "packaging.requirements",
        "pkg_resources",
    ],
)
def test_a_listed_librarys_deprecations_are_silent(
    shown: list[warnings.WarningMessage], module: str
) -> None:
    warn(DeprecationWarning, module)

    assert shown == []


@pytest.mark.parametrize(
    "module", ["bot.services.queue", "actions.orders", "channels.sms", "rasa_sdk"]
)
def test_deprecations_from_our_code_and_unlisted_packages_show(
    shown: list[warnings.WarningMessage], module: str
) -> None:
    warn(DeprecationWarning, module)

    assert [str(w.message) for w in shown] == [f"a DeprecationWarning from {module}"]


def test_a_listed_librarys_other_warnings_show(
    shown: list[warnings.WarningMessage],
) -> None:
    warn(RuntimeWarning, "tensorflow.python.framework")
    warn(UserWarning, "rasa.shared.utils.io")

    assert [w.category for w in shown] == [RuntimeWarning, UserWarning]


def test_warnings_made_errors_still_raise() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        quiet_warnings()
        with pytest.raises(UserWarning, match="from rasa"):
            warn(UserWarning, "rasa.shared.utils.io")


def test_a_process_loading_rasa_sdk_starts_quietly_and_errors_show() -> None:
    # A new interpreter: the warning filters of the process, as `python -m bot` sets
    # them, while rasa-sdk's server loads (sanic, sanic-cors, ...).
    code = (
        "from bot.quiet import quiet_warnings\n"
        "quiet_warnings()\n"
        "import rasa_sdk.endpoint\n"
        "import warnings\n"
        "warnings.warn_explicit('ours', DeprecationWarning, 'bot/x.py', 1, module='bot.x')\n"
        "raise SystemExit('an error')\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "bot/x.py:1: DeprecationWarning: ours",
        "an error",
    ]
