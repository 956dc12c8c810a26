"""Turn a request path into a route template: ``/v2/images/{uuid}/file``.

Traces group and filter calls by route, so ids in paths must not make every
call unique. Only segments that are plainly ids are replaced; names and
versions (``v2``, ``v2.1``) stay.
"""

import re

_UUID = re.compile(
    r'[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?'
    r'[0-9a-fA-F]{12}', re.ASCII)
_REQUEST_ID = re.compile(r'req-[0-9a-f-]{36}', re.ASCII)
_NUMBER = re.compile(r'[0-9]+', re.ASCII)
# keystone's ids are 32 hex characters without dashes; tokens and hashes are
# longer hex strings.
_HEX_ID = re.compile(r'[0-9a-fA-F]{16,}', re.ASCII)


def template(path):
    """Return ``path`` with id-like segments replaced by placeholders.

    ``{uuid}`` for uuids (with or without dashes), ``{request_id}`` for
    request ids, ``{id}`` for numbers and long hex ids. The query string,
    if any, is not part of a route.
    """
    if not path:
        return '/'
    path = path.split('?', 1)[0]
    parts = path.split('/')
    changed = False
    for i, part in enumerate(parts):
        # NOTE: ids are all digits or at least 16 characters long: most
        # segments (names, versions) are ruled out without a regex.
        if len(part) < 16:
            if not part.isdigit() or not _NUMBER.fullmatch(part):
                continue
            parts[i] = '{id}'
        elif _UUID.fullmatch(part):
            parts[i] = '{uuid}'
        elif _REQUEST_ID.fullmatch(part):
            parts[i] = '{request_id}'
        elif _HEX_ID.fullmatch(part):
            parts[i] = '{id}'
        else:
            continue
        changed = True
    return '/'.join(parts) if changed else path
