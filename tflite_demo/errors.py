"""The app's one error type: a problem the user can fix, printed as one line."""


class DemoError(Exception):
    """A problem the user can fix (bad file, missing device); printed as one line."""
