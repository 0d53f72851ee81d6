"""Qt-free core of QML Studio: circuit designs, datasets, training and project files.

Nothing in this package may import Qt, pyqtgraph, ``qmlstudio.gui`` or the plugin
manager; the rule is checked by import-linter (see pyproject.toml) and a test.
"""
