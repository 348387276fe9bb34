"""``python -m elicense.cli``."""

from elicense.cli import main

main()
