"""Errors a user can act on: each says what was wrong, the value, and what to do."""


class ActorstanceError(Exception):
    """Base class: the CLI prints these as one line and exits non-zero, without a traceback."""


class ConfigError(ActorstanceError):
    """A config file or override is invalid (unknown key, wrong type, bad value)."""


class BundleError(ActorstanceError):
    """A model bundle is missing, incomplete or incompatible with this version."""


class InputError(ActorstanceError):
    """An input file cannot be read at all (missing, unknown format, empty)."""


class DataError(ActorstanceError):
    """Labelled data is malformed (bad offsets, unknown labels)."""
