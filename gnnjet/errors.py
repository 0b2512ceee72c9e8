"""Exceptions a user can cause (bad config, bad input files); CLIs print their message and exit 1."""

MAX_MESSAGE = 2000  # characters of a message; text quoted from another library beyond that is cut


class GnnjetError(Exception):
    """Base class: an error the user can fix; the message says what to do.

    The message is one line whatever it quotes (uproot's and h5py's errors span several lines), and bounded."""

    def __init__(self, message: object = "") -> None:
        text = " ".join(str(message).split())
        super().__init__(text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "...")


class ConfigError(GnnjetError):
    """A config file is invalid (unknown key, wrong type, missing key, bad expression)."""


class DataError(GnnjetError):
    """Input data is unusable (missing branch, unreadable file, no jets left)."""
