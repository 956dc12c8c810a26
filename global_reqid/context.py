"""The ids of the request being served, and oslo.context integration.

Two things live here:

* a ``contextvars`` holder of the current request's ids
  (:class:`RequestIds`), set by :class:`global_reqid.middleware.RequestId`
  for exactly the time a request is served, so code running for that
  request (outbound calls, log formatters) finds them, and threads or
  concurrent requests never see each other's;
* :func:`from_environ` / :func:`from_dict`, which build an oslo.context
  ``RequestContext`` (or a service's own subclass) carrying both ids and
  the trace links, and keep them across ``to_dict()`` round trips (RPC).
"""

import contextlib
import contextvars
import functools
import typing

from oslo_context import context as oslo_context

from global_reqid import ids

__all__ = [
    'RequestContext', 'RequestIds', 'TraceContextMixin', 'activate',
    'bound', 'current', 'deactivate', 'from_dict',
    'from_environ', 'logging_values', 'traced_class',
]


class RequestIds(typing.NamedTuple):
    """The ids of one request, as one service sees them."""

    #: This service's fresh local id.
    request_id: str
    #: The validated inbound global id, or None when this service is root.
    global_request_id: typing.Optional[str] = None
    #: This service's name.
    service: typing.Optional[str] = None
    #: The calling service's name (trace link), if it sent a valid one.
    caller: typing.Optional[str] = None
    #: The caller's local id (trace link), if it sent a valid one.
    parent_request_id: typing.Optional[str] = None

    @property
    def global_id(self):
        """The id of the whole action: the global id, or ours when root."""
        return self.global_request_id or self.request_id


_CURRENT = contextvars.ContextVar('global_reqid.current', default=None)


def current():
    """Return the :class:`RequestIds` of the request being served, or None."""
    return _CURRENT.get()


def activate(request_ids):
    """Make ``request_ids`` current; return a token for :func:`deactivate`.

    Both holders are set: ours, and oslo.context's thread-local current
    context (a fresh ``RequestContext`` with the two ids), which oslo.log
    and the services' code read. The previous values come back with
    :func:`deactivate`. ``None`` makes no ids current in either.
    """
    previous = oslo_context.get_current()
    if request_ids is None:
        _clear_oslo_current()
    else:
        # NOTE: oslo.context keeps the current context in a thread-local
        # nobody clears, so lines logged before a service builds its own
        # context would carry an earlier request's ids. The constructor
        # makes this one current.
        oslo_context.RequestContext(
            request_id=request_ids.request_id,
            global_request_id=request_ids.global_request_id, overwrite=True)
    return _CURRENT.set(request_ids), previous


def deactivate(token):
    """Undo the :func:`activate` that returned ``token``."""
    var_token, previous = token
    try:
        _CURRENT.reset(var_token)
    except ValueError:
        # NOTE: a server that closes the response iterable in another
        # context than the one that called the app; nothing to restore.
        _CURRENT.set(None)
    if previous is not None:
        previous.update_store()
    else:
        _clear_oslo_current()


def _clear_oslo_current():
    # NOTE: oslo.context has no public way to clear its current context; its
    # thread-local store is the one place it lives. None (not a deleted
    # attribute) keeps the next get_current() on its fast path.
    oslo_context._request_store.context = None


@contextlib.contextmanager
def bound(request_ids):
    """Make ``request_ids`` current inside a ``with`` block.

    For work that is not a WSGI request: an RPC handler, a periodic task,
    a test.
    """
    token = activate(request_ids)
    try:
        yield request_ids
    finally:
        deactivate(token)


class TraceContextMixin:
    """Adds the trace links to an oslo.context ``RequestContext`` class.

    ``caller_service`` and ``parent_request_id`` are kept by ``to_dict()``
    and ``from_dict()`` (as ``FROM_DICT_EXTRA_KEYS``) and offered to log
    format strings by ``get_logging_values()``.
    """

    TRACE_KEYS = ('caller_service', 'parent_request_id')

    def __init__(self, *args, caller_service=None, parent_request_id=None,
                 **kwargs):
        self.caller_service = caller_service
        self.parent_request_id = parent_request_id
        super().__init__(*args, **kwargs)

    def to_dict(self):
        values = super().to_dict()
        values['caller_service'] = self.caller_service
        values['parent_request_id'] = self.parent_request_id
        return values

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        extra = list(getattr(cls, 'FROM_DICT_EXTRA_KEYS', []))
        cls.FROM_DICT_EXTRA_KEYS = extra + [
            k for k in TraceContextMixin.TRACE_KEYS if k not in extra]


class RequestContext(TraceContextMixin, oslo_context.RequestContext):
    """oslo.context's ``RequestContext`` with the trace links."""


@functools.cache
def traced_class(base=oslo_context.RequestContext):
    """Return ``base`` with :class:`TraceContextMixin` mixed in.

    A service's own context class (nova's, glance's) keeps its behaviour and
    its ``isinstance`` checks; the result is cached, one class per base.
    """
    if issubclass(base, TraceContextMixin):
        return base
    if base is oslo_context.RequestContext:
        return RequestContext
    return type(base.__name__, (TraceContextMixin, base),
                {'__module__': base.__module__,
                 '__qualname__': base.__qualname__})


def from_environ(environ, context_class=None, **kwargs):
    """Build a request context from a WSGI environ, with both ids and links.

    :param environ: the WSGI environ our filter (or oslo's) has prepared:
        ``openstack.request_id`` and ``openstack.global_request_id`` give
        the ids, our ``global_reqid.*`` keys the trace links.
    :param context_class: oslo.context's ``RequestContext`` (the default)
        or a subclass; the trace links are mixed in.
    :param kwargs: override values, as for oslo's ``from_environ``.
    """
    cls = traced_class(context_class or oslo_context.RequestContext)
    kwargs.setdefault('caller_service', environ.get(ids.ENV_CALLER))
    kwargs.setdefault('parent_request_id',
                      environ.get(ids.ENV_PARENT_REQUEST_ID))
    return cls.from_environ(environ, **kwargs)


def from_dict(values, context_class=None, **kwargs):
    """Rebuild a context from ``to_dict()`` output (RPC), keeping the links."""
    cls = traced_class(context_class or oslo_context.RequestContext)
    return cls.from_dict(values, **kwargs)


def logging_values(context=None):
    """Return the id fields for a log record, applying the root rule.

    ``context`` is an oslo.context ``RequestContext``, a dict of its logging
    values, or None (then oslo's current context, then our holder). The
    result has ``request_id`` and ``global_request_id`` (the local id when
    there is no global one); it is empty when no id is known.
    """
    held = _CURRENT.get()
    if context is None:
        context = oslo_context.get_current()
    if context is None:
        if held is None:
            return {}
        return {'request_id': held.request_id,
                'global_request_id': held.global_id,
                'caller_service': held.caller,
                'parent_request_id': held.parent_request_id}
    if isinstance(context, dict):
        values = dict(context)
    else:
        values = context.get_logging_values()
    if held is not None and values.get('request_id') == held.request_id:
        values.setdefault('caller_service', held.caller)
        values.setdefault('parent_request_id', held.parent_request_id)
    if values.get('request_id') and not values.get('global_request_id'):
        values['global_request_id'] = values['request_id']
    return values
