"""`python -m mimicry.experiments` is the same as `mimicry`."""

from mimicry.experiments.cli import main

main()
