"""``python -m closp_lite.cli``."""

import sys

from closp_lite.cli import main

sys.exit(main())
