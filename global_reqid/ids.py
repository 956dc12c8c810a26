"""Request id constants and the one strict validator.

The values of the environ keys and of the header are oslo's
(``oslo_middleware.request_id``), so our filter and stock services can be
mixed in one cloud.
"""

import os
import re

#: WSGI environ key of the local request id (oslo.middleware's value).
ENV_REQUEST_ID = 'openstack.request_id'
#: WSGI environ key of the validated inbound global id (oslo's value).
ENV_GLOBAL_REQUEST_ID = 'openstack.global_request_id'
#: WSGI environ key of the validated caller service name (ours).
ENV_CALLER = 'global_reqid.caller'
#: WSGI environ key of the validated caller's local request id (ours).
ENV_PARENT_REQUEST_ID = 'global_reqid.parent_request_id'

#: The request id header, inbound (global id) and outbound (local id).
#: HTTP header names are case-insensitive; this is oslo's spelling.
REQUEST_ID_HEADER = 'X-OpenStack-Request-ID'
#: Trace-link header: the calling service's name.
CALLER_HEADER = 'X-Global-Reqid-Caller'
#: Trace-link header: the calling service's local request id.
PARENT_HEADER = 'X-Global-Reqid-Parent'


def environ_key(header):
    """Return the CGI environ key of an HTTP header name."""
    return 'HTTP_' + header.upper().replace('-', '_')


HTTP_REQUEST_ID = environ_key(REQUEST_ID_HEADER)
HTTP_CALLER = environ_key(CALLER_HEADER)
HTTP_PARENT = environ_key(PARENT_HEADER)

#: ``req-`` and a lowercase 8-4-4-4-12 hex uuid. Used with ``fullmatch``
#: only: ``$`` in oslo's ``re.match`` pattern lets a trailing newline in.
REQUEST_ID_PATTERN = re.compile(
    r'req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
    re.ASCII)
REQUEST_ID_LENGTH = 40

#: A service name sent as a trace link: 1-64 of ``[A-Za-z0-9._:-]``.
SERVICE_NAME_PATTERN = re.compile(r'[A-Za-z0-9._:-]{1,64}', re.ASCII)

_UUID_PATTERN = re.compile(
    r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
    re.ASCII)


def is_valid_request_id(value):
    """Tell whether ``value`` is exactly ``req-`` + a lowercase uuid."""
    return (type(value) is str and len(value) == REQUEST_ID_LENGTH
            and REQUEST_ID_PATTERN.fullmatch(value) is not None)


def is_valid_service_name(value):
    """Tell whether ``value`` is a service name we accept as a trace link."""
    return (type(value) is str and len(value) <= 64
            and SERVICE_NAME_PATTERN.fullmatch(value) is not None)


def normalize_request_id(value):
    """Return ``req-<uuid>`` for a request id or a bare uuid, else None.

    For ids a person types or pastes (the CLI), never for ids on the wire:
    surrounding whitespace is trimmed and upper case folded; central log
    stores (kolla's) keep ids without the ``req-`` prefix.
    """
    if type(value) is not str:
        return None
    value = value.strip().lower()
    if _UUID_PATTERN.fullmatch(value):
        value = 'req-' + value
    return value if is_valid_request_id(value) else None


def new_request_id():
    """Return a fresh ``req-<uuid4>`` id, as oslo.context generates it."""
    # NOTE: formatting 16 random bytes ourselves is half the cost of
    # str(uuid.uuid4()) and gives the same version 4, variant 1 layout.
    h = os.urandom(16).hex()
    return 'req-%s-%s-4%s-%s%s-%s' % (
        h[:8], h[8:12], h[13:16], _VARIANT[h[16]], h[17:20], h[20:])


_VARIANT = {c: '89ab'[int(c, 16) & 3] for c in '0123456789abcdef'}


def safe_repr(value, limit=48):
    """A short, escaped ``repr`` of an untrusted value, for DEBUG logs."""
    try:
        length = len(value)
        text = repr(value[:limit])
    except (TypeError, KeyError):
        return '<%s>' % type(value).__name__
    if length > limit:
        text += '...(%d chars)' % length
    return text
