"""The small error tree of sigconv.

Every error sigconv raises on purpose derives from :class:`SigconvError`, and
also from the built-in exception a caller would naturally catch, so that
``except ValueError`` keeps working for bad values and ``except OSError`` for
file problems.
"""


class SigconvError(Exception):
    """Base class of the errors sigconv raises deliberately."""


class InputError(SigconvError, ValueError):
    """An argument has a value sigconv cannot work with."""


class InputTypeError(SigconvError, TypeError):
    """An argument has a type (or dtype) sigconv cannot work with."""


class FileFormatError(SigconvError, OSError):
    """A file is missing, unreadable, truncated or of an unsupported kind."""


class OutputExistsError(SigconvError, FileExistsError):
    """The output file exists and overwriting was not allowed."""


class MissingExtraError(SigconvError, ImportError):
    """An optional dependency is not installed; the message names the extra to install
    (``pip install 'sigconv[plot]'``)."""


class OutputClosedError(SigconvError, BrokenPipeError):
    """The reader of a pipe sigconv writes to went away (``sigconv ... -o - | head``).

    Not a failure of sigconv: the command line ends quietly with exit status 141
    (128 + SIGPIPE), as programs killed by SIGPIPE do."""
