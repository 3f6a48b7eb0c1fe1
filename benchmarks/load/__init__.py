"""The load proof (run_load.py, locustfile.py, seed.py): python -m benchmarks.load.run_load.

This package has the same name as the module benchmarks/load.py (the speed benchmarks' load
generators), which a package shadows: that module's public names are loaded and re-exported
here, so `from benchmarks.load import Call, python_load, ...` keeps working. Renaming the
module (e.g. to benchmarks/loaders.py) would make this unnecessary.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_MODULE = Path(__file__).resolve().parent.parent / "load.py"

if _MODULE.exists():
    _spec = importlib.util.spec_from_file_location("benchmarks._load_generators", _MODULE)
    assert _spec is not None
    assert _spec.loader is not None
    _generators = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = _generators
    _spec.loader.exec_module(_generators)
    globals().update({k: v for k, v in vars(_generators).items() if not k.startswith("__")})
