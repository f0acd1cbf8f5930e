"""`python -m gradwork.cli ...` runs the command line."""

import sys

from gradwork.cli import main

sys.exit(main())
