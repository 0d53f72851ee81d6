"""Errors that mean "the user's input is wrong", shown without a traceback."""


class QMLStudioError(Exception):
    """Base class of every error whose message is meant for the user.

    The CLI prints these on stderr (exit code 1) and the GUI shows them in a dialog;
    anything else is a bug and keeps its traceback.
    """


class DesignError(QMLStudioError, ValueError):
    """A circuit design is invalid: unknown gate, wrong arity, qubit out of range..."""


class ExpressionError(DesignError):
    """An angle expression cannot be parsed or uses something not allowed."""


class OptionError(QMLStudioError, ValueError):
    """An option given to an encoding, dataset, optimizer or backend is invalid."""
