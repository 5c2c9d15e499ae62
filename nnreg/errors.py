"""The one exception a user can act on."""


class NnregError(Exception):
    """An error a user can fix (bad params, a missing or corrupt file); a stage prints it as one line."""
