"""Which warnings Switchboard's processes show: ours, not our libraries' deprecations.

Python hides DeprecationWarnings outside `__main__`, but sanic (the web server of
Rasa and rasa-sdk) turns them all back on when it is imported
(`filterwarnings("once", category=DeprecationWarning)` in sanic/app.py), so the Rasa
server and the action server printed dozens of notices about their libraries' own
code at every start. `quiet_warnings()`, called first by every entry point that
loads them (`python -m bot`; bot/rasa_process.py, before bot/rasa_server.py loads
Rasa, and again after Rasa's command line sets its own filters; the NLU
benchmarks), hides those by module: only DeprecationWarnings, only from the
packages listed below, each with the reason.
Every other warning still shows, errors are untouched, and the deprecations our own
code triggers show once per place.

The web app (waitress, Flask) and the worker never import sanic: Python's defaults
keep them quiet. `rasa train` writes everything to its log (bot/train_output.py).
"""

from __future__ import annotations

import re
import warnings

# Deprecation notices about code inside these packages. None is about a call of
# ours, and none can be acted on but by a release of the package itself (versions
# are pinned in requirements/lock.txt).
THIRD_PARTY_DEPRECATIONS = (
    # rasa 3.6: argparse's nested argument groups (rasa.cli.arguments), its
    # `import pkg_resources`, and SQLAlchemy 2.0 notices on its tracker store.
    "rasa",
    # sanic-cors (Rasa's CORS): distutils' LooseVersion, gone in Python 3.12.
    "sanic_cors",
    # TensorFlow (Rasa's DIET): `sre_constants` and `jax.xla_computation`.
    "tensorflow",
    # packaging and matplotlib call pyparsing 2 names that pyparsing 3 renamed
    # (PyparsingDeprecationWarning, also a UserWarning).
    "packaging",
    "matplotlib",
    # typer and spaCy's CLI (loaded with spaCy): click 8.2 names removed in 9.0,
    # and spaCy's `import pkg_resources`.
    "typer",
    "spacy",
    # setuptools' pkg_resources: `declare_namespace` of mpl_toolkits and ruamel;
    # and its deprecation as a whole, raised in whichever package imports it first
    # (apscheduler, Rasa's job scheduler, or spaCy or rasa above).
    "pkg_resources",
    "apscheduler",
)
# Our packages: Python would hide their deprecations (outside `__main__`); show
# them, once per place, so that we fix them.
OWN_PACKAGES = ("bot", "actions", "channels", "knowledge_base", "benchmarks")


def package_pattern(names: tuple[str, ...]) -> str:
    """A `module` regex for these packages and their submodules (not `rasa_sdk`)."""
    return rf"({'|'.join(re.escape(name) for name in names)})(\.|$)"


def quiet_warnings() -> None:
    """Set this process's warning filters; call it before anything imports Rasa."""
    # First, so that sanic's catch-all "once" filter (see above) goes in before our
    # filters, which then come first: the first filter that matches decides.
    import sanic  # noqa: F401

    warnings.filterwarnings(
        "default", category=DeprecationWarning, module=package_pattern(OWN_PACKAGES)
    )
    warnings.filterwarnings(
        "ignore",
        category=DeprecationWarning,
        module=package_pattern(THIRD_PARTY_DEPRECATIONS),
    )
