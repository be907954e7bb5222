"""The Rasa server's process: `python -m bot.rasa_process run ...` (bot/launch.py).

It sets the warning filters (bot/quiet.py) before importing bot.rasa_server, whose
imports load Rasa and, through it, TensorFlow: imported first, TensorFlow's own
deprecation notices (`sre_constants`, `jax.xla_computation`) passed sanic's
catch-all filter and were printed at every start. Arguments are `rasa`'s own; see
bot/rasa_server.py for what differs from `rasa`.
"""

from __future__ import annotations

from bot.quiet import quiet_warnings


def main() -> None:
    """Filter warnings, then run the Rasa server (bot.rasa_server.main)."""
    quiet_warnings()
    from bot import rasa_server

    rasa_server.main()


if __name__ == "__main__":
    main()
