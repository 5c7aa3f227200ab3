"""`python -m statusd` runs the daemon."""

import sys

from statusd.cli import main

sys.exit(main())
