"""The one exception type that reaches a user as a single line."""

__all__ = ["NeurosimError"]


class NeurosimError(Exception):
    """A user-facing error: one line that names what was wrong.

    The CLI prints the message on stderr and exits with status 2; everything
    else (a bug) keeps its traceback.
    """
