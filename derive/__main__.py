"""python -m derive: the derive command line."""
import sys

from .cli import main

sys.exit(main())
