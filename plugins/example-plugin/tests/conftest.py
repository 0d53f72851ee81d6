# QML Studio's testing kit: its fixtures (qmlstudio_plugin, qmlstudio_train...) load by
# themselves through its pytest11 entry point; importing them here also works from a
# source checkout of QML Studio.
from qmlstudio.testing.pytest_plugin import *  # noqa: F401,F403
