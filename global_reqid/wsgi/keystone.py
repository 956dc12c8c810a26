"""keystone's API with the global_reqid filter in place of oslo's.

keystone has no paste file: ``keystone.server.flask.core`` builds its
middleware in code, from the ``_APP_MIDDLEWARE`` tuple loaded through the
stevedore namespace ``keystone.server_middleware``, and that tuple holds
oslo.middleware's ``RequestId``. Stacked with ours it would mint a second
local id per request: keystone would log and answer one, our events would
hold the other.

Serve this module instead of ``keystone.wsgi.api``::

    gunicorn --no-control-socket 'global_reqid.wsgi.keystone:application'

It builds the application with keystone's own entry function, unchanged,
then adjusts the object it returns: oslo's ``RequestId`` is taken out of
the chain and :class:`global_reqid.middleware.RequestId` wraps the whole
application, reading its options from the ``[global_reqid]`` section of
``keystone.conf``. No keystone file or module attribute is changed.
"""

import sys
import threading

__all__ = ['create_application', 'replace_request_id']

#: Attributes through which WSGI middleware reach the application they
#: wrap: oslo.middleware and osprofiler use ``application``, werkzeug and
#: keystone's own middleware ``app``.
_INNER_ATTRS = ('application', 'app')
#: More middleware than any keystone release has; the walk stops there.
_MAX_DEPTH = 64

_LOCK = threading.Lock()
_APPLICATION = []


def _inner(node):
    """(attribute, wrapped application) of a middleware, or (None, None)."""
    for attr in _INNER_ATTRS:
        inner = getattr(node, attr, None)
        if callable(inner):
            return attr, inner
    return None, None


def replace_request_id(app, make_filter):
    """Take oslo's ``RequestId`` out of a Flask app's chain; wrap it whole.

    :param app: a Flask application, as keystone's entry function returns
        it (its ``wsgi_app`` is the middleware chain).
    :param make_filter: called with the chain once oslo's filter is out of
        it; returns the filter that wraps it.
    :returns: how many oslo ``RequestId`` instances were taken out.
    """
    from oslo_middleware import request_id as oslo_request_id

    removed = 0
    parent, attr, node = app, 'wsgi_app', app.wsgi_app
    for _ in range(_MAX_DEPTH):
        inner_attr, inner = _inner(node)
        if isinstance(node, oslo_request_id.RequestId):
            # NOTE: the filter before it now calls what it wrapped.
            setattr(parent, attr, inner)
            removed += 1
            node = inner
            continue
        if inner is None:
            break
        parent, attr, node = node, inner_attr, inner
    app.wsgi_app = make_filter(app.wsgi_app)
    return removed


def create_application():
    """Build keystone's public API with the filter; a new app per call."""
    import keystone.conf
    from keystone.server import wsgi as keystone_wsgi

    from global_reqid import middleware

    # NOTE: keystone parses sys.argv as its own options, and under gunicorn
    # those are gunicorn's: keystone would exit with status 2. It sees the
    # program name only, and sys.argv is given back afterwards.
    argv = sys.argv
    sys.argv = argv[:1]
    try:
        app = keystone_wsgi.initialize_public_application()
    finally:
        sys.argv = argv
    replace_request_id(
        app, lambda inner: middleware.RequestId(inner, keystone.conf.CONF))
    return app


def __getattr__(name):
    # NOTE: WSGI servers look up ``application``; it is built on that first
    # look-up, not when the module is imported.
    if name != 'application':
        raise AttributeError('module %r has no attribute %r'
                             % (__name__, name))
    with _LOCK:
        if not _APPLICATION:
            _APPLICATION.append(create_application())
    return _APPLICATION[0]
