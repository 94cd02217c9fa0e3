"""``python -m deepseek.bench``: see ``deepseek.bench`` and ``--help``."""
import sys

from ._cli import main

sys.exit(main())
