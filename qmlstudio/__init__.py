"""QML Studio: design, train and benchmark quantum machine-learning circuits."""

__version__ = "0.1.0"
