"""Fixtures shared by every test module."""

import pytest

from global_reqid import context


@pytest.fixture(autouse=True)
def no_current_request():
    """Every test starts with no request ids current and leaves none behind.

    ``activate(None)`` clears both holders (ours and oslo.context's current
    context); ``deactivate`` restores what was current before the test.
    """
    token = context.activate(None)
    yield
    context.deactivate(token)
