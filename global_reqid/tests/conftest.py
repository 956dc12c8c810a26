"""Fixtures shared by every test module."""

import os
import shutil
import tempfile

import pytest

from global_reqid import context
from global_reqid import opts

_EVENTS = []


def pytest_configure(config):
    """Events of filters built without an event_dir go to a temp dir.

    The filter records to ``$GLOBAL_REQID_EVENTS`` when no ``event_dir`` is
    configured; no test may write to /var/log/global-reqid.
    """
    _EVENTS.append(tempfile.mkdtemp(prefix='global-reqid-events-'))
    os.environ[opts.EVENT_DIR_ENV] = _EVENTS[0]


def pytest_unconfigure(config):
    for path in _EVENTS:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(autouse=True)
def no_current_request():
    """Every test starts with no request ids current and leaves none behind.

    ``activate(None)`` clears both holders (ours and oslo.context's current
    context); ``deactivate`` restores what was current before the test.
    """
    token = context.activate(None)
    yield
    context.deactivate(token)
