"""Exceptions a user can cause (bad config, bad input files); CLIs print their message and exit 1."""


class GnnjetError(Exception):
    """Base class: an error the user can fix; the message says what to do."""


class ConfigError(GnnjetError):
    """A config file is invalid (unknown key, wrong type, missing key, bad expression)."""


class DataError(GnnjetError):
    """Input data is unusable (missing branch, unreadable file, no jets left)."""
