"""A plugin that cannot be imported: QML Studio reports it as failed and starts without it."""


def _load_native_part():
    raise RuntimeError("boom")


_load_native_part()
