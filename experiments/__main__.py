"""`python -m experiments` is the same as `mimicry`."""

from experiments.cli import main

main()
