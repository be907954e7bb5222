"""`python -m bot`: the Switchboard command line."""

import sys

from bot.cli import main

sys.exit(main())
