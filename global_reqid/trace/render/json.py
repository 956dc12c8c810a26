"""The trace as JSON, for other tools.

:func:`global_reqid.trace.model.to_dict` with a top-level ``"version":
1`` first; keys keep the model's order, so the same trace always gives
the same bytes. Values JSON cannot hold are made plain first: NaN and
infinite numbers become ``null``, tuples and sets lists, bytes and other
objects strings, dict keys strings.

NOTE: this module is ``global_reqid.trace.render.json``; ``import json``
below is an absolute import and gives the standard library's module.
"""

import json
import math
import re

from global_reqid.trace import model

#: The layout of the document: raised when a field changes meaning or is
#: removed; fields are only ever added within a version.
VERSION = 1

_SURROGATE = re.compile('[\ud800-\udfff]')


def _plain(value):
    """``value`` with only what :func:`json.dumps` writes as it is."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {_key(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(item) for item in value), key=repr)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode('utf-8', 'backslashreplace')
    return str(value)


def _key(key):
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(_plain(key))
    return str(key)


def render(trace, indent=2):
    """Render ``trace`` as a JSON document (ends in a newline).

    ``indent`` as for :func:`json.dumps` (``None``: one line).
    """
    document = {'version': VERSION}
    document.update(model.to_dict(trace))
    if not isinstance(trace.stats, model.Stats):
        document['stats'] = None
    document = _plain(document)
    out = json.dumps(document, indent=indent, ensure_ascii=False)
    if _SURROGATE.search(out):
        # NOTE: a lone surrogate (a log line decoded with surrogateescape)
        # cannot be written as UTF-8; escaped, it is valid JSON.
        out = json.dumps(document, indent=indent, ensure_ascii=True)
    return out + '\n'
