"""What a local study worker has loaded before its first trial.

The local Dask workers of a study (:func:`qmlstudio.workflow.study.run_study`) are forked
from a fork server that imported this module once: the engine, the built-in plugins,
scikit-learn's models and the compiled simulator loops (loaded from Numba's cache, compiled
the first time). Each worker, and a worker restarted after a crash, then starts its first
trial as fast as its next ones instead of importing and loading all of it again.

Importing this module does that work; nothing else imports it.
"""

from __future__ import annotations

import gc

# The collector would run a few hundred times over the objects these imports create, none of
# which is garbage: a fifth of the server's start, which every cold study waits for.
gc.disable()
try:
    import distributed  # noqa: F401  (the worker process itself)
    import qmls_ansatze  # noqa: F401
    import qmls_datasets  # noqa: F401
    import qmls_encodings  # noqa: F401
    import qmls_optimizers.counting  # noqa: F401
    import qmls_optimizers.gradient  # noqa: F401
    import qmls_statevector.backend  # noqa: F401
    import qiskit  # noqa: F401
    import sklearn.decomposition  # noqa: F401  (PCA of the features)
    import sklearn.linear_model  # noqa: F401  (the classical baselines)
    import sklearn.neural_network  # noqa: F401
    import sklearn.pipeline  # noqa: F401
    import sklearn.svm  # noqa: F401

    import qmlstudio.core.baselines  # noqa: F401
    import qmlstudio.core.kernels  # noqa: F401
    import qmlstudio.core.statevector  # noqa: F401
    from qmlstudio.workflow import warm_up
    from qmlstudio.workflow.study import _registry

    warm_up()  # the simulator's compiled loops
    _registry()  # the plugins, as a trial finds them

    # What is loaded stays for the server's life: out of the collector's sight in the server and
    # in every worker forked from it (whose memory pages it then does not touch either).
    gc.freeze()
finally:
    gc.enable()  # also when an import failed: the server then goes on without this module
