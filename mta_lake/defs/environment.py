"""The environment, read once when the code location loads.

Every ``MTA_*`` variable is declared in ``mta_lake.core.settings`` (table: docs/SETTINGS.md). A bad
value fails here, at load, with a message naming the variable, before any schedule or run starts.
"""

from mta_lake.core.settings import Settings

SETTINGS = Settings.from_env()
