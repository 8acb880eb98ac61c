"""``python -m teamgate.simulator --port N``."""

import sys

from teamgate.simulator.cli import main

sys.exit(main())
