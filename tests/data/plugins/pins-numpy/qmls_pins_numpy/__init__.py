"""A plugin with nothing in it but a numpy pin that QML Studio must refuse."""
