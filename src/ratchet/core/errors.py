"""The one exception type for problems a user can fix."""


class RatchetError(Exception):
    """A problem with the user's data, params or environment.

    The message names the file or field at fault and the fix; the CLI prints it as one line and
    exits non-zero, never with a traceback.
    """
