"""uWSGI's own uwsgidecorators (the PyPI uwsgi package's file in site-packages), loaded under
another name: 'uwsgidecorators' itself is rwsgi's, already in sys.modules, so the file is
found on sys.path as the real uWSGI package installs it and executed as
`pypi_uwsgidecorators`. Test apps use `from pypi_decorators import pypi`."""

import importlib.util
import os
import sys

for entry in sys.path:
    candidate = os.path.join(entry, "uwsgidecorators.py")
    if entry and os.path.isfile(candidate):
        PYPI_FILE = candidate
        break
else:
    raise RuntimeError("uWSGI's uwsgidecorators.py is not on sys.path")
_spec = importlib.util.spec_from_file_location("pypi_uwsgidecorators", PYPI_FILE)
pypi = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pypi)
