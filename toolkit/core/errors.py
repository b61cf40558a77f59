"""The one exception type a user sees: a sentence saying what happened and what to do."""


class ConvlensError(Exception):
    """An error a user can act on; the CLI prints its message without a traceback."""
