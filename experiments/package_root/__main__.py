"""`python -m mimicry` is the same as `mimicry`."""

from mimicry.experiments.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
