"""The project's own errors that say all: what is wrong, where, and what to do.

A job failing with one of them shows its message alone on the console (one line on stderr); the
traceback goes to the job's log (softtopic.workflow.script_logging). Any other exception keeps its full
traceback on the console, as Python prints it.
"""


class UserError(Exception):
    """A failure whose message is enough for the user (a bad input, a busy directory, a missing file)."""


class BusyError(UserError, RuntimeError):
    """Another process holds the lock of a directory this job would write."""
