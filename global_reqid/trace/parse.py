"""Read one line the scanner found: an event, a log line, or a skip.

:func:`parse` tells the formats apart line by line, cheapest check first:

* a sequence event (a JSON object with ``v`` and ``kind``), as
  :mod:`global_reqid.events` writes it: returned as the dict it is;
* oslo.log's default text format (``2026-11-23 17:18:54.810 11117 DEBUG
  glance.api [None req-... ...] message``), with or without the date and
  pid (the devstack journal drops them), ANSI colours removed;
* oslo.log ``JSONFormatter`` records, and ours (ids at the top level too);
* ``journalctl -o json`` entries, whose ``MESSAGE`` is read as above;
* syslog lines (``Nov 23 17:18:54 host glance-api[11117]: ...``);
* access lines: gunicorn with ``in_reqid=``/``out_reqid=``, Apache and
  eventlet, uwsgi, and nova/placement's ``status: 200 len: 12 time: 0.1``;
* what a server notes about a request it received (glance's version
  negotiation, keystone's ``REQUEST_METHOD``/``PATH_INFO``) and what
  keystoneauth writes about a call (``REQ:``, ``RESP:``, ``GET call to
  identity for URL used request id req-...``).

Every string that leaves this module is decoded as UTF-8 with replacement,
has no control character but tab (no terminal escape gets through) and has
its secrets masked. Request ids count only when they are ``req-<uuid>`` or
a bare uuid (kolla's central logging), anything else is dropped.
"""

import calendar
import functools
import json
import math
import os
import re
import time
import urllib.parse

from global_reqid import ids
from global_reqid.events import redact
from global_reqid.trace import model

EVENT = 'event'
LOG = 'log'
SKIP = 'skip'

#: Characters of a line kept in ``text`` and ``message``; the rest of a
#: longer line is cut off (its secrets with it) and its length noted.
MAX_TEXT = 65536
TRUNCATED = '...[truncated, %d chars]'

_ERROR_LEVELS = model.ERROR_LEVELS | {'TRACE'}
_LEVELS = ('DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL|TRACE|AUDIT')
# syslog priorities (journal PRIORITY) as Python levels.
_PRIORITY_LEVELS = ('CRITICAL', 'CRITICAL', 'CRITICAL', 'ERROR', 'WARNING',
                    'INFO', 'INFO', 'DEBUG')
_MONTHS = {name: index for index, name in enumerate(
    ('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct',
     'Nov', 'Dec'), 1)}
# Top packages of loggers that run inside many services: they do not name
# the participant a line belongs to.
_LIBRARIES = frozenset((
    'keystoneauth', 'keystoneauth1', 'keystonemiddleware', 'stevedore',
    'glance_store', 'sqlalchemy', 'alembic', 'urllib3', 'requests', 'py',
    'eventlet', 'routes', 'dogpile', 'amqp', 'kombu', 'paste', 'webob',
    'keystoneclient', 'novaclient', 'cinderclient', 'neutronclient',
    'glanceclient', 'openstack', 'os_brick', 'os_vif', 'castellan',
    'taskflow', 'tooz', 'pymemcache', 'root'))

_SGR = re.compile(r'\x1b\[[0-9;]*m')
# C0 but tab, DEL, C1, line and paragraph separators, bidi controls.
_CONTROL = re.compile('[\x00-\x08\x0a-\x1f\x7f-\x9f'
                      '\u2028\u2029\u202a-\u202e\u2066-\u2069]')
_UUID = re.compile(r'[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}')

# oslo.log text: the date, pid, level and logger, then the rest. A
# formatter without datefmt (log_config_append) writes ",506.506".
_OSLO = re.compile(
    r'(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[ T](?P<hms>[0-9]{2}:[0-9]{2}:'
    r'[0-9]{2})(?:[.,](?P<frac>[0-9]{1,6})(?:\.[0-9]{1,6})?)? '
    r'(?:(?P<pid>[0-9]{1,10}) )?'
    r'(?P<level>[A-Z]{1,16}) (?P<logger>[^\s\[\]]{1,256}) ?')
# The same without date and pid (devstack's journal format).
_BARE_OSLO = re.compile(
    r'(?P<level>%s) (?P<logger>[A-Za-z_][^\s\[\]]{0,255}) ?' % _LEVELS)
# [global local identity...], [-], or an older [local identity...].
_CONTEXT = re.compile(r'\[(?P<ctx>[^\[\]\n]{1,1024})\](?: |$)')
_ID_SLOT = re.compile(r'None|-|req-\S*|%s' % _UUID.pattern)
_INSTANCE = re.compile(r'\[instance: [^\]]{1,64}\] ')
# The end of oslo's logging_debug_format_suffix: /path/file.py:123.
_CODE_LOCATION = re.compile(r'/\S*:[0-9]{1,9}')
_OLD_PID = re.compile(r' ?from \(pid=[0-9]{1,10}\)$')
_TRACEBACK = re.compile(
    r'Traceback \(most recent call last\):|\s+File ".*", line [0-9]+, in ')
_SYSLOG = re.compile(
    r'(?:<[0-9]{1,3}>)?(?P<mon>[A-Z][a-z]{2}) (?P<day>[ 0-9][0-9]) '
    r'(?P<hms>[0-9]{2}:[0-9]{2}:[0-9]{2}) \S+ (?P<ident>[^\s\[\]:]{1,64})'
    r'(?:\[(?P<pid>[0-9]{1,10})\])?: ')

# Access lines. The request as quoted in every format:
_REQUEST = r'"(?P<method>[A-Z]{1,16}) (?P<path>\S+)(?: HTTP/[0-9.]+)?"'
_GUNICORN = re.compile(
    r'\[(?P<time>[^\]]{1,40})\] (?:pid=<(?P<pid>[0-9]{1,10})> )?\S+ '
    + _REQUEST + r' (?P<status>[0-9]{3}) (?:[0-9]+|-)'
    r'(?: (?P<secs>[0-9]{1,10}(?:\.[0-9]{1,9})?)s)?(?P<rest>.*)')
_IN_REQID = re.compile(r' in_reqid=(\S*)')
_OUT_REQID = re.compile(r' out_reqid=(\S*)')
# Apache (common, combined, maybe %D) and eventlet's wsgi log.
_APACHE = re.compile(
    r'(?:\S+:[0-9]+ )?\S+ \S+ \S+ \[(?P<time>[^\]]{1,40})\] ' + _REQUEST
    + r' (?P<status>[0-9]{3}) (?:[0-9]+|-)(?: "[^"]*" "[^"]*")?'
    r'(?: (?P<number>[0-9]{1,16}(?P<point>\.[0-9]{1,9})?))?\s*$')
# nova's wsgi_log_format and placement's request log.
_STATUS_LEN = re.compile(
    r'\S+ ' + _REQUEST + r' status: (?P<status>[0-9]{3}) +len: \S+'
    r'(?: +microversion: \S+)?(?: +time: (?P<secs>[0-9]{1,10}'
    r'(?:\.[0-9]{1,9})?))?')
_UWSGI = re.compile(
    r'\[pid: (?P<pid>[0-9]{1,10})\|[^\]]{0,200}\] \S+ \([^)]{0,200}\) '
    r'\{[^}]{0,200}\} \[(?P<time>[^\]]{1,40})\] (?P<method>[A-Z]{1,16}) '
    r'(?P<path>\S+) => generated [0-9]+ bytes in (?P<msecs>[0-9]{1,10}) '
    r'msecs \(HTTP/[0-9.]+ (?P<status>[0-9]{3})\)')
_CLF_TIME = re.compile(
    r'(?P<day>[0-9]{1,2})/(?P<mon>[A-Z][a-z]{2})/(?P<year>[0-9]{4})[: ]'
    r'(?P<hms>[0-9]{2}:[0-9]{2}:[0-9]{2})(?: (?P<zone>[+-][0-9]{4}))?')
_ASCTIME = re.compile(r'([0-9]{4}-[0-9]{2}-[0-9]{2}) ([0-9]{2}:[0-9]{2}:'
                      r'[0-9]{2})(?:[.,]([0-9]{1,6}))?')
_CTIME = re.compile(
    r'[A-Z][a-z]{2} (?P<mon>[A-Z][a-z]{2}) +(?P<day>[0-9]{1,2}) '
    r'(?P<hms>[0-9]{2}:[0-9]{2}:[0-9]{2}) (?P<year>[0-9]{4})')

# What servers note about a request they received.
_GLANCE_REQUEST = re.compile(
    r'Determining version of request: (?P<method>[A-Z]{1,16}) '
    r'(?P<path>\S+) Accept:')
_KEYSTONE_METHOD = re.compile(r'REQUEST_METHOD: `(?P<method>[A-Z]{1,16})`')
_KEYSTONE_PATH = re.compile(r'PATH_INFO: `(?P<path>[^`]*)`')

# keystoneauth1.session: _http_log_request, _http_log_response and the
# request id line of Session.request (split loggers drop the prefixes).
_KSA_REQ = re.compile(
    r'(?:REQ: )?curl -g -i(?: --insecure| --cacert "[^"]*")*'
    r'(?: -X (?P<method>[A-Z]{1,16}))? (?:"(?P<qurl>[^"]*)"|(?P<url>\S+))')
_KSA_RESP = re.compile(r'(?:RESP: )?\[(?P<status>[0-9]{3})\]')
_KSA_RESP_ID = re.compile(
    r'(?:^| )x-(?:openstack|compute)-request-id: (?P<id>\S+)',
    re.IGNORECASE)
_KSA_CALL = re.compile(
    r'(?P<method>[A-Z]{1,16}) call to (?:(?P<target>[^/]{1,128}?) for )?'
    r'(?P<url>\S+) used request id (?P<id>\S+)$')


def parse(raw, service_hint=None):
    """Read one line: ``('event', dict)``, ``('log', LogLine)`` or
    ``('skip', reason)``.

    ``raw`` is a :class:`~global_reqid.trace.model.RawLine`;
    ``service_hint`` names the participant of every line of its source
    (see :func:`service_from_path`), else the journal unit or program
    name, the logger's top package or the file name do. Never raises.
    """
    try:
        return _parse(raw, service_hint)
    except Exception as error:  # noqa: BLE001 - one bad line is a skip
        return SKIP, 'parser error: %s' % type(error).__name__


def service_from_path(path):
    """The participant a log file is named after, or None.

    ``/var/log/glance/glance-api.log.2.gz`` -> ``glance-api``,
    ``keystone_access.log`` -> ``keystone``; ``-`` and ``journal`` name
    nobody, nor do generic names (``access.log``, ``syslog``).
    """
    if not isinstance(path, str):
        return None
    return _service_from_name(os.path.basename(path))


_COMPRESSED = re.compile(r'\.(?:gz|bz2|xz|zst|lz4)$')
_ROTATED = re.compile(r'(?:[-_.][0-9]{8}(?:[0-9]{2})?|\.[0-9]{1,4})$')
_LOG_SUFFIX = re.compile(r'\.(?:log|txt|out|err)$')
_ROLE_SUFFIX = re.compile(r'[-_](?:access|error)$')
_GENERIC_NAMES = frozenset((
    '', '-', 'journal', 'access', 'error', 'syslog', 'messages', 'daemon',
    'other_vhosts_access', 'stdin', 'stdout', 'stderr'))


@functools.lru_cache(maxsize=256)
def _service_from_name(name):
    previous = None
    while name != previous:
        previous = name
        for pattern in (_COMPRESSED, _ROTATED, _LOG_SUFFIX):
            name = pattern.sub('', name)
    if name.endswith('.jsonl'):  # <service>.<host>.<pid>.jsonl
        name = name.partition('.')[0]
    name = _ROLE_SUFFIX.sub('', name)
    if name.startswith('screen-'):  # devstack's gate logs
        name = name[len('screen-'):]
    return None if name in _GENERIC_NAMES else name


def _parse(raw, service_hint):
    data = raw.data
    if isinstance(data, str):
        data = data.encode('utf-8', 'surrogatepass')
    data = bytes(data).rstrip(b'\r\n')
    head = data.lstrip()[:1]
    if not head:
        return SKIP, 'empty line'
    if head == b'{':
        return _parse_json(raw, data, service_hint)
    if b'\x00' in data:
        return SKIP, 'binary data'
    line = _clean_text(data.decode('utf-8', 'replace'))
    return _parse_text(raw, line, service_hint)


def _parse_text(raw, line, service_hint):
    fields = _text_fields(line)
    if fields is None:
        return SKIP, 'unknown format'
    return LOG, _log_line(raw, line, fields, service_hint)


def _text_fields(line, start=0):
    """The fields of a text line (from ``start``), or None if no format
    matches it. ``span`` is where the message is in ``line``."""
    if line[start:start + 1].isdigit():
        match = _OSLO.match(line, start)
        if match:
            fields = _oslo_fields(match, line)
            fields['time'] = _local_time(match['date'], match['hms'],
                                         match['frac'])
            if match['pid']:
                fields['pid'] = int(match['pid'])
            return fields
    match = _BARE_OSLO.match(line, start)
    if match:
        return _oslo_fields(match, line)
    match = start == 0 and _SYSLOG.match(line)
    if match:
        fields = _text_fields(line, match.end()) or {
            'message': line[match.end():], 'span': (match.end(), len(line))}
        fields['service'] = match['ident']
        if fields.get('time') is None:
            fields['time'] = _syslog_time(match)
        if match['pid']:
            fields.setdefault('pid', int(match['pid']))
        return fields
    message = line[start:] if start else line
    fields = _access_fields(message)
    if fields is None and _TRACEBACK.match(message):
        fields = {}
    if fields is not None:
        fields['message'] = message
        fields['span'] = (start, len(line))
    return fields


def _oslo_fields(match, line):
    """Level, logger, ids and message of an oslo.log text line."""
    fields = {'level': match['level'], 'logger': match['logger']}
    start = match.end()
    context = _CONTEXT.match(line, start)
    if context:
        tokens = context['ctx'].split(' ')
        if _ID_SLOT.fullmatch(tokens[0]):
            _context_ids(tokens, fields)
            start = context.end()
    instance = _INSTANCE.match(line, start)
    if instance:
        start = instance.end()
    message = line[start:]
    if match['level'] == 'DEBUG':
        message = _without_debug_suffix(message)
    fields['message'] = message
    fields['span'] = (start, start + len(message))
    return fields


def _without_debug_suffix(message):
    """The message without ``funcName /path/file.py:123``, devstack's
    ``{{(pid=1) funcName /path/file.py:123}}`` or the older
    ``from (pid=1) funcName /path/file.py:123``."""
    if message.endswith('}}'):
        start = message.rfind('{{')
        return message[:start].rstrip(' ') if start >= 0 else message
    head, space, location = message.rpartition(' ')
    if space and location[:1] == '/' and _CODE_LOCATION.fullmatch(location):
        head, space, function = head.rpartition(' ')
        if space and function:
            if head.endswith(')') and _OLD_PID.search(head):
                head = head[:_OLD_PID.search(head).start()]
            return head
    return message


def _context_ids(tokens, fields):
    first = _request_id(tokens[0])
    second = _request_id(tokens[1]) if len(tokens) > 1 else None
    if (second is None and first is not None and len(tokens) > 1
            and not _ID_SLOT.fullmatch(tokens[1])):
        # NOTE: oslo.log before the global id: [local user project ...].
        fields['request_id'] = first
        identity = tokens[1:]
    else:
        fields['global_request_id'] = first
        fields['request_id'] = second
        identity = tokens[2:]
    # Only oslo's own identity formats (user project domain ...) say
    # which field is which; devstack's "project_name user_name" does not.
    if len(identity) >= 5:
        fields['user_id'] = _identity(identity[0])
        fields['project_id'] = _identity(identity[1])


def _identity(value):
    return None if value in ('-', 'None', '') else value


def _request_id(value):
    """``value`` if it is a request id, the id of a bare uuid, else None."""
    if type(value) is not str:
        return None
    if ids.is_valid_request_id(value):
        return value
    if len(value) == 36:
        return ids.normalize_request_id(value)
    return None


def _access_fields(line):
    """Fields of an access line (a whole line or a log message), or None.
    """
    if '"' in line:
        match = _STATUS_LEN.match(line)
        if match:
            return _access(match, _seconds(match['secs']))
        match = _APACHE.match(line)
        if match:
            fields = _access(match, _apache_duration(match))
            fields['time'] = _clf_time(match['time'])
            return fields
        match = _GUNICORN.match(line)
        if match:
            fields = _access(match, _seconds(match['secs']))
            fields['time'] = _clf_time(match['time'])
            if match['pid']:
                fields['pid'] = int(match['pid'])
            inbound = _IN_REQID.search(match['rest'])
            answered = _OUT_REQID.search(match['rest'])
            if inbound:
                fields['inbound_request_id'] = _request_id(inbound[1])
                fields['global_request_id'] = fields['inbound_request_id']
            if answered:
                fields['callee_request_id'] = _request_id(answered[1])
                fields['request_id'] = fields['callee_request_id']
            return fields
    if ' => generated ' in line:
        match = _UWSGI.match(line)
        if match:
            fields = _access(match, float(match['msecs']))
            fields['time'] = _ctime(match['time'])
            fields['pid'] = int(match['pid'])
            return fields
    return None


def _access(match, duration_ms):
    return {'kind': model.KIND_ACCESS, 'method': match['method'],
            'path': _mask_path(match['path']),
            'status': int(match['status']), 'duration_ms': duration_ms}


def _seconds(text):
    # Rounded to what logs give (oslo.service: 0.1 µs): no float noise.
    return None if text is None else round(float(text) * 1000.0, 4)


def _apache_duration(match):
    """eventlet logs seconds (``0.681778``), Apache's ``%D`` microseconds.
    """
    if match['number'] is None:
        return None
    if match['point']:
        return round(float(match['number']) * 1000.0, 4)
    return int(match['number']) / 1000.0


def _parse_json(raw, data, service_hint):
    try:
        record = json.loads(data)
    except (ValueError, RecursionError):
        return SKIP, 'truncated or corrupt JSON'
    if 'v' in record and 'kind' in record:
        return EVENT, record
    if '__REALTIME_TIMESTAMP' in record or 'MESSAGE' in record:
        return _journal(raw, data, record, service_hint)
    if 'message' in record and ('levelname' in record or 'name' in record):
        return _oslo_json(raw, data, record, service_hint)
    return SKIP, 'unknown JSON record'


def _oslo_json(raw, data, record, service_hint):
    """An oslo.log ``JSONFormatter`` record, or ours."""
    context = record.get('context')
    if type(context) is not dict:
        context = {}
    level = _short(record.get('levelname'))
    fields = {
        'time': _epoch(record.get('created')),
        'level': level.upper() if level else None,
        'logger': _short(record.get('name')),
        'pid': _int(record.get('process')),
        'message': _clean_text(_as_str(record.get('message'))),
        'global_request_id': _request_id(record.get('global_request_id'))
        or _request_id(context.get('global_request_id')),
        'request_id': _request_id(record.get('request_id'))
        or _request_id(context.get('request_id')),
        'user_id': _short(context.get('user_id') or context.get('user')),
        'project_id': _short(context.get('project_id')
                             or context.get('project')
                             or context.get('tenant')),
    }
    if fields['time'] is None:
        fields['time'] = _asctime(record.get('asctime'))
    line = _line_text(data)
    parsed = _log_line(raw, line, fields, service_hint)
    if record.get('traceback'):
        parsed.error = True
    return LOG, parsed


def _journal(raw, data, record, service_hint):
    """A ``journalctl -o json`` entry; MESSAGE is read as a text line."""
    message = record.get('MESSAGE')
    if isinstance(message, list):
        if not all(type(b) is int and 0 <= b < 256 for b in message):
            return SKIP, 'journal MESSAGE that is not bytes'
        message = bytes(message).decode('utf-8', 'replace')
    message = _clean_text(_as_str(message))
    fields = _text_fields(message) or {'message': message}
    fields.pop('span', None)  # NOTE: text is the JSON entry, not MESSAGE
    realtime = _digits(record.get('__REALTIME_TIMESTAMP'), 19)
    if realtime is not None:
        fields['time'] = realtime / 1e6
    pid = _digits(record.get('_PID'), 10)
    if pid is not None:
        fields['pid'] = pid
    fields['logger'] = fields.get('logger') or _short(
        record.get('LOGGER_NAME'))
    level = fields.get('level') or _short(record.get('LOGGER_LEVEL'), 16)
    priority = _digits(record.get('PRIORITY'), 1)
    if not level and priority is not None and priority < 8:
        level = _PRIORITY_LEVELS[priority]
    fields['level'] = level.upper() if level else None
    if priority is not None and priority <= 3:
        fields['error'] = True
    fields['request_id'] = fields.get('request_id') or _request_id(
        record.get('REQUEST_ID'))
    fields['global_request_id'] = fields.get(
        'global_request_id') or _request_id(record.get('GLOBAL_REQUEST_ID'))
    service = (_unit_service(record.get('_SYSTEMD_UNIT'))
               or _short(record.get('SYSLOG_IDENTIFIER')))
    if service:
        fields['service'] = service
    return LOG, _log_line(raw, _line_text(data), fields, service_hint)


def _digits(value, limit):
    """The int of a journal field of ASCII digits, else None."""
    if (isinstance(value, str) and 0 < len(value) <= limit
            and value.isascii() and value.isdigit()):
        return int(value)
    return None


def _unit_service(unit):
    """``devstack@g-api.service`` -> ``g-api``; scopes name nobody."""
    if not isinstance(unit, str) or not unit.endswith('.service'):
        return None
    name = unit[:-len('.service')].rpartition('@')[2]
    return _short(name) or None


_LINE_OWN = ('time', 'pid', 'global_request_id', 'request_id')


def _log_line(raw, text, fields, service_hint):
    """Build the LogLine: classify the message; mask what is shown.

    ``fields['span']``, when given, is where the message is in ``text``:
    the masked message is then cut from the masked text (one masking).
    """
    message = fields.get('message', '')
    if 'kind' not in fields:
        more = _message_fields(message, fields.get('logger'))
        if more:
            # What the line itself says wins: its context column's ids, and
            # its time and pid (an access message's time is to the second).
            for key in _LINE_OWN:
                if fields.get(key) is not None:
                    more.pop(key, None)
            fields.update(more)
    level = fields.get('level')
    error = bool(fields.get('error') or level in _ERROR_LEVELS
                 or (message[:1] in ('T', ' ')
                     and _TRACEBACK.match(message)))
    span = fields.get('span')
    if span is None:
        def masker(text, message):
            return _mask(text), _mask_message(message)
    else:
        def masker(text, message):
            return _mask_line(text, message, span)
    logger = fields.get('logger')
    # NOTE: masked when first read: most lines of a trace are never shown.
    return model.LogLine(
        masker=masker, source=raw.source, offset=raw.offset, text=text,
        time=fields.get('time'), level=level, logger=logger,
        pid=fields.get('pid'),
        service=service_hint or fields.get('service')
        or _service(logger, raw.source),
        global_request_id=fields.get('global_request_id'),
        request_id=fields.get('request_id'),
        user_id=fields.get('user_id'), project_id=fields.get('project_id'),
        message=message, error=error,
        kind=fields.get('kind', model.KIND_LOG),
        method=fields.get('method'), path=fields.get('path'),
        url=fields.get('url'), target=fields.get('target'),
        status=fields.get('status'), duration_ms=fields.get('duration_ms'),
        callee_request_id=fields.get('callee_request_id'),
        inbound_request_id=fields.get('inbound_request_id'))


def _service(logger, source):
    top = logger.partition('.')[0] if logger else None
    if top and top not in _LIBRARIES and not top.startswith('oslo'):
        return top
    return service_from_path(source) or top


def _message_fields(message, logger):
    """What an access, request or call message says, or None."""
    head = message[:1]
    if head == 'R':
        if message.startswith('REQ: '):
            return _ksa_request(message)
        if message.startswith('RESP: ['):
            return _ksa_response(message)
        if message.startswith('REQUEST_METHOD: `'):
            match = _KEYSTONE_METHOD.match(message)
            return match and {'kind': model.KIND_REQUEST,
                              'method': match['method']}
        return None
    if head == 'P' and message.startswith('PATH_INFO: `'):
        match = _KEYSTONE_PATH.match(message)
        return match and {'kind': model.KIND_REQUEST,
                          'path': _mask_path(match['path'])}
    if head == 'D' and message.startswith('Determining version of '):
        match = _GLANCE_REQUEST.match(message)
        return match and {'kind': model.KIND_REQUEST,
                          'method': match['method'],
                          'path': _mask_path(match['path'])}
    if message.startswith('curl -g -i'):
        return _ksa_request(message)
    if head == '[' and logger and logger.endswith('session.response'):
        return _ksa_response(message)
    if ' call to ' in message and ' used request id ' in message:
        return _ksa_call(message)
    return _access_fields(message)


def _ksa_request(message):
    match = _KSA_REQ.match(message)
    if not match:
        return None
    url = match['qurl'] if match['qurl'] is not None else match['url']
    return dict(_url_fields(url), kind=model.KIND_CALL,
                method=match['method'])


def _ksa_response(message):
    match = _KSA_RESP.match(message)
    if not match:
        return None
    answered = _KSA_RESP_ID.search(message, match.end())
    return {'kind': model.KIND_CALL, 'status': int(match['status']),
            'callee_request_id': answered and _request_id(answered['id'])}


def _ksa_call(message):
    match = _KSA_CALL.match(message)
    if not match:
        return None
    fields = _url_fields(match['url'])
    fields.update(kind=model.KIND_CALL, method=match['method'],
                  callee_request_id=_request_id(match['id']))
    if match['target']:
        fields['target'] = match['target']
    return fields


def _url_fields(url):
    """Masked url and path[?query] of a call, and its host:port."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return {'url': _mask_path(url)}
    path = parts.path or '/'
    if parts.query:
        path += '?' + parts.query
    return {'url': _mask_path(url), 'path': _mask_path(path),
            'target': parts.netloc.rpartition('@')[2] or None}


def _mask_path(value):
    """A path, path?query or URL with tokens and secret parameters masked.
    """
    head, mark, query = value.partition('?')
    masked = redact.path(head)
    if mark:
        masked += '?' + redact.query(query.partition('#')[0])
    return masked


def _mask_line(text, message, span):
    """The masked line and message, masking the line once if it can."""
    if len(text) > MAX_TEXT:
        return _mask(text), _mask_message(message)
    prefix, suffix = text[:span[0]], text[span[1]:]
    if not message.startswith(_BODY_LEADS):
        masked = _mask(text)
        # NOTE: free_text answers MASK when it fails: mask the parts then.
        if (masked != redact.MASK
                and len(masked) >= len(prefix) + len(suffix)
                and masked.startswith(prefix) and masked.endswith(suffix)):
            return masked, masked[len(prefix):len(masked) - len(suffix)]
    message = _mask_message(message)
    return _mask(prefix) + message + _mask(suffix), message


_BODY_LEADS = ('RESP BODY: ', 'REQ: curl ', 'curl -g -i ')


def _mask_message(message):
    """Mask a message; keystoneauth's JSON bodies are masked as JSON."""
    if message.startswith('RESP BODY: '):
        return 'RESP BODY: ' + _mask(message[len('RESP BODY: '):])
    if message.startswith(_BODY_LEADS) and " -d '" in message:
        head, lead, body = message.partition(" -d '")
        end = "'" if body.endswith("'") else ''
        return (_mask(head) + lead + _mask(body[:len(body) - len(end)])
                + end)
    return _mask(message)


def _mask(text):
    if not text:
        return text
    if len(text) > MAX_TEXT:
        # NOTE: cut before masking: masking costs time in the length, and
        # a secret cut in two is masked as a cut value is.
        return redact.free_text(text[:MAX_TEXT]) + TRUNCATED % len(text)
    return redact.free_text(text)


def _clean_text(text):
    """No terminal escape: colours dropped, other controls replaced."""
    if '\x1b' in text:
        text = _SGR.sub('', text)
    return _CONTROL.sub('\ufffd', text)


def _line_text(data):
    return _clean_text(data.decode('utf-8', 'replace'))


def _as_str(value):
    if value is None:
        return ''
    return value if isinstance(value, str) else str(value)


def _short(value, limit=256):
    """A name from a record: a cleaned string, or None."""
    if not isinstance(value, str) or not value:
        return None
    return _clean_text(value[:limit])


def _int(value):
    return value if type(value) is int and 0 <= value < 2 ** 32 else None


def _epoch(value):
    if type(value) not in (int, float) or not math.isfinite(value):
        return None
    return float(value)


@functools.lru_cache(maxsize=4096)
def _local_second(date, hms):
    """Seconds since the epoch of a local date and time (mktime's rules).
    """
    year, month, day = (int(x) for x in date.split('-'))
    hour, minute, second = (int(x) for x in hms.split(':'))
    return time.mktime((year, month, day, hour, minute, second, 0, 0, -1))


def _local_time(date, hms, frac=None):
    try:
        second = _local_second(date, hms)
    except (ValueError, OverflowError):
        return None
    if frac:
        second += int(frac) / 10 ** len(frac)
    return second


def _asctime(value):
    """oslo's default ``asctime``: ``2026-11-23 17:18:54,810``, local."""
    if not isinstance(value, str):
        return None
    match = _ASCTIME.fullmatch(value)
    return match and _local_time(*match.groups())


def _clf_time(text):
    """``23/Nov/2026:17:18:54 +0000`` (zone) or ``23/Nov/2026 17:18:54``
    (local, eventlet)."""
    match = _CLF_TIME.match(text)
    if not match or match['mon'] not in _MONTHS:
        return None
    date = '%s-%02d-%02d' % (match['year'], _MONTHS[match['mon']],
                             int(match['day']))
    zone = match['zone']
    if zone is None:
        return _local_time(date, match['hms'])
    hour, minute, second = (int(x) for x in match['hms'].split(':'))
    utc = calendar.timegm((int(match['year']), _MONTHS[match['mon']],
                           int(match['day']), hour, minute, second))
    offset = (int(zone[1:3]) * 60 + int(zone[3:5])) * 60
    return utc - offset if zone[0] == '+' else utc + offset


def _syslog_time(match):
    """syslog's ``Nov 23 17:18:54``, local time in the last 12 months."""
    month = _MONTHS.get(match['mon'])
    if month is None:
        return None
    now = time.localtime()
    year = now.tm_year - ((month, int(match['day'])) > (now.tm_mon + 1, 0))
    return _local_time('%d-%02d-%02d' % (year, month, int(match['day'])),
                       match['hms'])


def _ctime(text):
    """uwsgi's ``Sun Nov 23 17:18:54 2026``, local time."""
    match = _CTIME.match(text)
    if match is None or match['mon'] not in _MONTHS:
        return None
    date = '%s-%02d-%02d' % (match['year'], _MONTHS[match['mon']],
                             int(match['day']))
    return _local_time(date, match['hms'])
