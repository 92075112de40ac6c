"""CLI command groups, one module each; see `experiments.cli.COMMAND_MODULES`."""
