"""The command line's own error type, in a module of its own: ``python -m vidlab.cli.main``
runs main.py as ``__main__``, so a class defined there would be a second, different class for
the subcommand modules that import it."""


class CLIError(Exception):
    """A user error found by the command line itself (printed as one line, exit code 2)."""
