"""Outbound propagation: every call a service makes carries the ids.

Two ways, both wire-compatible with keystoneauth1:

* :class:`Adapter` (and :func:`adapter_for`): an explicit keystoneauth1
  adapter built from a request context, for code that passes its context;
* :func:`instrument` / :func:`uninstrument`: explicit, idempotent,
  reversible hooks on ``keystoneauth1.session.Session.request`` and on
  ``requests.adapters.HTTPAdapter.send`` (swiftclient and other clients
  that use requests without keystoneauth), for code that does not. Inside a
  request the ids come from the filter's holder, else from oslo.context's
  current context; outside any request a call carries nothing new (unless
  a fixed id is given, as ``global-reqid-trace record`` does). An id the
  caller set explicitly is never overwritten.

Every call made while instrumented can also be recorded as a ``client``
event (the caller's side of the arrow) through the same sinks as the
filter's ``server`` events.
"""

import contextvars
import os
import socket
import threading
import time

from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import session as ks_session
from oslo_context import context as oslo_context
import requests.adapters

from global_reqid import context as reqid_context
from global_reqid import ids
from global_reqid.events import schema

__all__ = ['Adapter', 'adapter_for', 'instrument',
           'instrument_from_environment', 'is_instrumented',
           'outbound_headers', 'uninstrument']

#: Environment of ``global-reqid-trace record``'s child processes.
RECORD_ID_ENV = 'GLOBAL_REQID_RECORD_ID'
RECORD_NAME_ENV = 'GLOBAL_REQID_RECORD_NAME'


def outbound_headers(context=None, service_name=None):
    """The headers an outbound call of the current request should carry.

    ``context`` is an oslo.context ``RequestContext`` (or anything with
    ``global_id`` and ``request_id``), else the filter's current ids, else
    oslo.context's current context. Empty when there is no request.
    """
    held = reqid_context.current() if context is None else None
    if held is not None:
        global_id, local, name = held.global_id, held.request_id, held.service
    else:
        context = context or oslo_context.get_current()
        if context is None:
            return {}
        local = getattr(context, 'request_id', None)
        global_id = getattr(context, 'global_id', None) or local
        name = None
    headers = {}
    if ids.is_valid_request_id(global_id):
        headers[ids.REQUEST_ID_HEADER] = global_id
    name = service_name or name
    if name and ids.is_valid_service_name(name):
        headers[ids.CALLER_HEADER] = name
    if ids.is_valid_request_id(local):
        headers[ids.PARENT_HEADER] = local
    return headers


class Adapter(ks_adapter.Adapter):
    """A keystoneauth1 adapter whose every call carries a context's ids.

    ``X-OpenStack-Request-ID`` is the context's global id (its local id when
    it has no global one), with the caller's service name and local id as
    trace links. A ``global_request_id`` given on one call wins, as with
    keystoneauth's own adapter.
    """

    def __init__(self, session, *args, context=None, service_name=None,
                 **kwargs):
        headers = outbound_headers(context, service_name)
        global_id = headers.pop(ids.REQUEST_ID_HEADER, None)
        kwargs.setdefault('global_request_id', global_id)
        extra = dict(kwargs.pop('additional_headers', None) or {})
        for name, value in headers.items():
            extra.setdefault(name, value)
        super().__init__(session, *args, additional_headers=extra, **kwargs)


def adapter_for(session, context=None, **kwargs):
    """Build an :class:`Adapter` for ``context`` (default: the current)."""
    return Adapter(session, context=context, **kwargs)


class _Config:
    """What :func:`instrument` was asked for; replaced whole, never mutated."""

    __slots__ = ('service_name', 'global_request_id', 'sinks', 'host',
                 'by_service')

    def __init__(self, service_name, global_request_id, sinks,
                 previous=None):
        self.service_name = service_name
        self.global_request_id = global_request_id
        self.sinks = tuple(sinks)
        self.host = socket.gethostname()
        # NOTE: several filters in one process (test rigs, all-in-one
        # WSGI containers) each instrument: a call made while one of them
        # serves a request goes to that filter's sinks, not the last
        # loaded one's.
        self.by_service = dict(previous.by_service) if previous else {}
        if service_name and self.sinks:
            self.by_service[service_name] = self.sinks

    def sinks_for(self, held):
        """The sinks of the service serving ``held``, else ours."""
        if held is not None and held.service in self.by_service:
            return self.by_service[held.service]
        return self.sinks


class _Hooks:
    """The originals and the current configuration of the hooks."""

    lock = threading.Lock()
    originals = None
    config = None
    #: Client events that could not be built (counted, never raised).
    failed_events = 0


# The service type keystoneauth was asked for, for the call being made.
_SERVICE_TYPE = contextvars.ContextVar('global_reqid.service_type',
                                       default=None)


def instrument(service_name=None, global_request_id=None, sinks=()):
    """Make every outbound call carry the current ids; reversible.

    :param service_name: the caller name sent when the current request
        does not say (calls outside a request, or inside one that came
        through oslo's filter).
    :param global_request_id: a fixed global id for calls made outside any
        request (a client command recorded as one action).
    :param sinks: where ``client`` events go (the filter's sinks).

    Calling it again replaces the settings; the hooks are installed once.
    """
    if global_request_id is not None and not ids.is_valid_request_id(
            global_request_id):
        raise ValueError('global_request_id must be req-<uuid>')
    if service_name is not None and not ids.is_valid_service_name(
            service_name):
        raise ValueError('service_name must be 1-64 of [A-Za-z0-9._:-]')
    with _Hooks.lock:
        _Hooks.config = _Config(service_name, global_request_id, sinks,
                                _Hooks.config)
        if _Hooks.originals is None:
            send = requests.adapters.HTTPAdapter.send
            request = ks_session.Session.request
            requests.adapters.HTTPAdapter.send = _hooked_send(send)
            ks_session.Session.request = _hooked_request(request)
            _Hooks.originals = (send, request)


def uninstrument():
    """Remove the hooks, restoring the originals exactly; idempotent."""
    with _Hooks.lock:
        if _Hooks.originals is not None:
            send, request = _Hooks.originals
            requests.adapters.HTTPAdapter.send = send
            ks_session.Session.request = request
        _Hooks.originals = None
        _Hooks.config = None


def is_instrumented():
    """Whether :func:`instrument` is in effect."""
    return _Hooks.originals is not None


def instrument_from_environment(environ=None):
    """Instrument as ``global-reqid-trace record`` asks its child to.

    Reads ``GLOBAL_REQID_RECORD_ID`` (the fixed global id),
    ``GLOBAL_REQID_RECORD_NAME`` (the caller name, default ``client``) and
    ``GLOBAL_REQID_EVENTS`` (where client events go). Returns whether it
    instrumented; never raises.
    """
    environ = os.environ if environ is None else environ
    try:
        global_id = environ.get(RECORD_ID_ENV)
        if not ids.is_valid_request_id(global_id):
            return False
        name = environ.get(RECORD_NAME_ENV) or 'client'
        if not ids.is_valid_service_name(name):
            name = 'client'
        sinks = ()
        directory = environ.get('GLOBAL_REQID_EVENTS')
        if directory:
            from global_reqid.events import sinks as sinks_module
            sinks = (sinks_module.FileSink(directory, name),)
        instrument(service_name=name, global_request_id=global_id,
                   sinks=sinks)
        return True
    except Exception:  # noqa: BLE001 - a client must start whatever happens
        return False


def _current_headers(config):
    """Headers for a call made now, or {} when there is nothing to send."""
    headers = outbound_headers(service_name=None)
    if not headers:
        if config.global_request_id is None:
            return {}
        headers = {ids.REQUEST_ID_HEADER: config.global_request_id}
    if ids.CALLER_HEADER not in headers and config.service_name:
        headers[ids.CALLER_HEADER] = config.service_name
    return headers


def _hooked_request(original):
    def request(self, url, method, **kwargs):
        endpoint_filter = kwargs.get('endpoint_filter') or {}
        service_type = (endpoint_filter.get('service_type')
                        or kwargs.get('microversion_service_type'))
        token = _SERVICE_TYPE.set(service_type)
        try:
            return original(self, url, method, **kwargs)
        finally:
            _SERVICE_TYPE.reset(token)
    request.__wrapped__ = original
    return request


def _hooked_send(original):
    def send(self, request, *args, **kwargs):
        config = _Hooks.config
        headers = _current_headers(config) if config is not None else {}
        if not headers:
            return original(self, request, *args, **kwargs)
        for name, value in headers.items():
            if name not in request.headers:
                request.headers[name] = value
        if not config.sinks:
            return original(self, request, *args, **kwargs)
        start = time.time()
        t0 = time.perf_counter()
        try:
            response = original(self, request, *args, **kwargs)
        except BaseException as exc:
            _emit(config, request, None, exc, start, t0)
            raise
        _emit(config, request, response, None, start, t0)
        return response
    send.__wrapped__ = original
    return send


def _emit(config, request, response, error, start, t0):
    """Record the caller's side of one call; never raises."""
    try:
        sent = request.headers.get(ids.REQUEST_ID_HEADER)
        held = reqid_context.current()
        answered = None
        length = None
        if response is not None:
            answered = response.headers.get(ids.REQUEST_ID_HEADER)
            length = response.headers.get('Content-Length')
        url = requests.utils.urlparse(request.url)
        body = request.body
        event = {
            'v': schema.VERSION,
            'kind': 'client',
            'global_request_id': sent if ids.is_valid_request_id(sent)
            else None,
            'request_id': held.request_id if held else None,
            'parent_request_id': request.headers.get(ids.PARENT_HEADER),
            'service': request.headers.get(ids.CALLER_HEADER),
            'host': config.host,
            'pid': os.getpid(),
            'method': request.method,
            'scheme': url.scheme or None,
            'target': url.netloc,
            'service_type': _SERVICE_TYPE.get(),
            'path': url.path or '/',
            'query': url.query or None,
            'status': response.status_code if response is not None
            else None,
            'error': type(error).__name__ if error is not None else None,
            'start': start,
            'duration_ms': round((time.perf_counter() - t0) * 1000.0, 3),
            'request_bytes': len(body) if isinstance(body, (bytes, str))
            else 0,
            'response_bytes': int(length) if length and length.isdigit()
            else None,
            'callee_request_id': answered
            if ids.is_valid_request_id(answered) else None,
        }
        for sink in config.sinks_for(held):
            sink.emit(event)
    except Exception:  # noqa: BLE001 - recording never breaks a call
        _Hooks.failed_events += 1
