"""The one exception type the ``eval`` command turns into ``error: <message>`` and exit code 2."""


class EvalError(Exception):
    """A user-facing error: the message is printed on one line, without a traceback."""
