"""Start-up hook of the Python programs ``global-reqid-trace record`` runs.

``record`` puts this file's directory first on ``PYTHONPATH``, so every
Python program it starts (the ``openstack`` CLI, openstacksdk scripts, and
the Python programs those start) imports it at start-up, before its own
code. It runs the ``sitecustomize`` this one shadows (Debian's Python ships
one), then, only when ``GLOBAL_REQID_RECORD_ID`` is set, calls
:func:`global_reqid.client.instrument_from_environment`. It never raises:
a program must start whatever happens here.
"""

import os
import sys


def _chain():
    """Run the sitecustomize this file shadows, as site.py would."""
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    path = [p for p in sys.path
            if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec('sitecustomize', path)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    # NOTE: the shadowed module takes our place in sys.modules, so later
    # "import sitecustomize" finds it, as it would have without record.
    sys.modules['sitecustomize'] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - site.py's own behaviour
        sys.stderr.write('Error in sitecustomize; set PYTHONVERBOSE for '
                         'traceback:\n%s: %s\n' % (type(exc).__name__, exc))


def _instrument():
    if not os.environ.get('GLOBAL_REQID_RECORD_ID'):
        return
    # NOTE: a Python without global_reqid (another venv) runs unrecorded;
    # record's summary says no client event was written.
    from global_reqid import client
    client.instrument_from_environment()


for _step in (_chain, _instrument):
    try:
        _step()
    except Exception:  # noqa: BLE001, S110 - never break a program's start
        pass
del _step
