"""Tests of the PySide6 GUI, run offscreen with pytest-qt."""
