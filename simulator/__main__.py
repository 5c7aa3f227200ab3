"""`python -m simulator` runs statusd-sim."""

import sys

from simulator.cli import main

sys.exit(main())
