"""Measurements that need a process of their own.

``tracemalloc`` counts every allocation of the process, whichever thread makes it. In the
full suite other tests leave threads behind (a data loader finishing, a worker pool idling,
a Dask client closing) whose allocations land inside a measured window now and then, so a
memory bound measured in the suite's process is sometimes exceeded by memory the code under
test never allocated. A fresh interpreter runs only the measured code.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def in_fresh_interpreter(source: str, timeout: float = 180.0) -> Any:
    """Runs ``source`` in a new Python process (at the repository root) and returns the JSON
    value of the last line it printed."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(source)], capture_output=True, text=True,
                            timeout=timeout, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
