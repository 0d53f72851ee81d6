"""``python -m qmlstudio`` runs the command line (and, without a command, the GUI)."""

import sys

from qmlstudio.cli import main

sys.exit(main())
