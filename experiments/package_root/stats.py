"""`mimicry.stats`: the project's one statistics module, `mimicry.data.stats`, under a short name."""

from mimicry.data.stats import *  # noqa: F403
from mimicry.data.stats import __all__  # noqa: F401
