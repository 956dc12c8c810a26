"""Masking of secrets in what the filter records.

:func:`global_reqid.events.schema.to_json` calls :func:`query`,
:func:`headers` and :func:`body` for every event, off the request path, so
no sink sees a secret in clear. Nothing here raises on bad input: what
cannot be read safely is summarised or masked, never passed through.

Two masks, chosen by what the secret is:

* ``{SHA256}<hex>`` (:func:`hash_value`, as keystoneauth logs tokens) for
  bearer secrets that machines make: tokens, cookies, signatures,
  generated credentials. The same token gives the same string in every
  event, so a trace can follow it from keystone's answer to the calls that
  use it.
* ``***`` (:data:`MASK`) for secrets that people choose and for keys:
  passwords, passcodes, PINs, temp URL and API keys, Basic credentials,
  and any value cut short by truncation.

NOTE: an unsalted SHA-256 of a password is an offline guessing oracle, and
the hash of the first characters of a value gives them away; neither is
ever written.

Names are matched case-insensitively on their letters and digits only, so
``adminPass``, ``admin_pass``, ``X-Auth-Key`` and ``OS_PASSWORD`` need no
separate entries.
"""

import functools
import json
import re
import urllib.parse

MASK = '***'
TRUNCATED = '...[truncated, %d bytes]'

#: Lower-case names of the headers whose values are secrets. Any header
#: whose name matches the body rules (``token``, ``secret``, ``password``,
#: ``credential``, ``signature``, a last word ``key`` ...) is masked too.
SECRET_HEADERS = frozenset([
    # keystone and keystonemiddleware
    'x-auth-token', 'x-subject-token', 'x-service-token',
    'openstack-auth-receipt',
    # HTTP
    'authorization', 'proxy-authorization', 'cookie', 'set-cookie',
    # swift: tempauth and swauth tokens and keys (swauth sends the new
    # user's key as X-Auth-User-Key and the admin's as X-Auth-Admin-Key),
    # temp URL and container sync keys
    'x-storage-token', 'x-auth-key', 'x-storage-pass', 'x-auth-user-key',
    'x-auth-admin-key',
    'x-account-meta-temp-url-key', 'x-account-meta-temp-url-key-2',
    'x-container-meta-temp-url-key', 'x-container-meta-temp-url-key-2',
    'x-container-sync-key',
    # S3 API (swift s3api, radosgw)
    'x-amz-security-token',
    'x-amz-server-side-encryption-customer-key',
    'x-amz-copy-source-server-side-encryption-customer-key',
])

_HASH = 'hash'
_STAR = 'star'
_BLOB = 'blob'  # keystone's credential blob: JSON in a string, or a secret

# Fragments of a name reduced to lower-case letters and digits. oslo_utils'
# _SANITIZE_KEYS are all covered, the deployment keys by the key rule.
_STAR_FRAGMENTS = re.compile(
    'passw|passphrase|passcode|pswd|adminpass|newpass|oldpass|authpass|'
    'userpass|rootpass|privatekey|apikey|authkey|tempurlkey|customerkey|'
    'encryptedkey|encryptionkey|fernetkey|sslkey|cryptokek|hashsuffix|'
    'clusterfsid|userdata|configdrive|totp')
_HASH_FRAGMENTS = re.compile(
    'secret|token|credential|signature|authorization|cookie|sessionid|'
    'receipt|assertion|samlresponse|accesskey|verifier')
# Whole words (camelCase and separators split) that are secrets.
_STAR_WORDS = frozenset(['pass', 'pwd', 'pw', 'pin', 'otp', 'psk', 'kek',
                         'payload'])
_HASH_WORDS = frozenset(['sig', 'jwt'])
_HASH_NAMES = frozenset(['access', 'auth'])
# Metadata about a secret, never the secret: ``password_expires_at``,
# ``token_type``, ``secret_ref``, ``SignatureMethod``, ``token_url``.
_SAFE_SUFFIXES = ('expiresat', 'expires', 'expiry', 'expiration', 'type',
                  'ref', 'href', 'method', 'version', 'algorithm', 'name',
                  'url', 'uri')
_SAFE_NAMES = frozenset(['sortkey', 'publickey'])
#: First words of names that count or bound secrets (``max_active_keys``).
_COUNT_WORDS = frozenset(['max', 'min', 'num', 'number', 'count'])

_NOT_ALNUM = re.compile(r'[^a-z0-9]')
_WORDS = re.compile(r'[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+')
_HASHED = re.compile(r'\{SHA256\}[0-9a-f]{64}')
_BASIC = re.compile(r'\s*basic\s', re.IGNORECASE)
_PLAIN_WORD = re.compile(r'[A-Za-z][a-z]*')

# Content types never shown, whatever their bytes look like.
_BINARY_MAJOR = frozenset(['image', 'audio', 'video', 'font', 'model'])
_BINARY_TYPES = frozenset([
    'application/octet-stream', 'application/gzip', 'application/x-gzip',
    'application/zip', 'application/x-tar', 'application/x-bzip2',
    'application/x-xz', 'application/zstd', 'application/pdf',
    'application/x-iso9660-image', 'application/x-7z-compressed',
])
_ARCHIVE_MAGIC = (b'\x1f\x8b', b'PK\x03\x04', b'\x28\xb5\x2f\xfd',
                  b'\xfd7zXZ\x00', b'QFI\xfb')
_CONTROL = re.compile(r'[\x00-\x08\x0e-\x1f\x7f]')
_FORM = 'application/x-www-form-urlencoded'

# A lenient JSON lexer: a string may be cut off by truncation.
_JSON_TOKEN = re.compile(r'''
    (?P<string>"(?:[^"\\]|\\.)*(?:"|\\?\Z))
  | (?P<punct>[{}\[\]:,])
  | (?P<space>\s+)
  | (?P<literal>[^\s{}\[\]:,"]+)
''', re.VERBOSE | re.DOTALL)
_JSON_LITERAL = re.compile(r'-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|'
                           r'true|false|null')
_JSON_CUT_LITERAL = re.compile(r'-?[0-9]*(?:\.[0-9]*)?(?:[eE][+-]?[0-9]*)?|'
                               r't(?:r(?:ue?)?)?|f(?:a(?:l(?:se?)?)?)?|'
                               r'n(?:u(?:ll?)?)?')
_MAX_DEPTH = 4  # JSON in a string in JSON ...

# Free text. Leads end where a value starts; a value runs to its closing
# quote or, when it has none (truncated), to the end of the text or line.
# Values in escaped text (\"password\": \"...\") are found by _escaped_end.
# Whatever follows a closing quote up to a separator is part of the value
# too ('abc'def): a password may hold quotes.
_QUOTED = (r'(?:"(?:[^"\\\n]|\\.)*(?:"|\\?(?=\n)|\\?\Z)|'
           r"'(?:[^'\\\n]|\\.)*(?:'|\\?(?=\n)|\\?\Z))")
_STRUCT_VALUE = re.compile(r'(?:%s|(?![{\[]))[^\s,;}\]]*' % _QUOTED)
_URL_VALUE = re.compile(_QUOTED + r'?[^\s&"\'<>]*')
_LINE_VALUE = re.compile(r'[^\r\n]*')
_FLAG_VALUE = re.compile(_QUOTED + r'?[^\s"\']*')
# A YAML block scalar (password: |) goes on over the lines indented deeper.
_BLOCK_SCALAR = re.compile(r'[|>][-+0-9]*[ \t]*(?=\r?\n|\Z)')
_BLOCK_VALUE = r'[^\r\n]*(?:\r?\n(?:[ \t]{%d,}[^\r\n]*|[ \t]*(?=\r?\n)))*'
_XML_VALUE = re.compile(r'(?:<!\[CDATA\[.*?(?:\]\]>|\Z)|[^<])*', re.DOTALL)
_PART_VALUE = re.compile(r'.*?(?=\r?\n--|\Z)', re.DOTALL)
_QUOTE = re.compile(r'\\*["\']')
_ESCAPED_QUOTE = re.compile(r'(\\+)(["\'])')

_QUOTED_LEAD = re.compile(
    r'(?P<q>\\*["\'])(?P<name>[^"\'\\\s<>{}\[\]]{1,128})(?P=q)\s*[:=]\s*')
_BARE_LEAD = re.compile(
    r'(?<![\w.-])(?P<name>[A-Za-z_][\w.-]{0,127})'
    r'(?:(?P<url>=)(?![ \t])|[ \t]*[:=][ \t]*)')
_FLAG_LEAD = re.compile(r'(?<![\w-])--?(?P<name>[A-Za-z][\w-]{0,127})'
                        r'(?:=|[ \t]+)')
# NOTE: attributes only as XML writes them (name="value"): a Python repr
# (<TokenModel (audit_id=...) at 0x7f...> in keystone's RBAC line) is not
# an element whose whole rest of the line is its content.
_XML_LEAD = re.compile(
    r'<(?:[\w.-]+:)?(?P<name>[A-Za-z_][\w.-]{0,127})'
    r'(?:\s+[\w:.-]{1,128}\s*=\s*(?:"[^"<>]*"|\'[^\'<>]*\'))*\s*>')
# A multipart/form-data part: bounded so a text without blank lines is not
# scanned to its end for every name="...".
_PART_LEAD = re.compile(
    r'\bname="(?P<name>[^"\r\n]{1,128})"[^\r\n]{0,256}'
    r'(?:\r?\n[^\r\n]{1,256}){0,8}\r?\n\r?\n', re.IGNORECASE)
_PEM = re.compile(
    r'(?P<begin>-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----).*?'
    r'(?P<end>-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)', re.DOTALL)
# scheme://user:password@host; a cut-off password runs to the end.
_USERINFO = re.compile(r'(?<![\w+.-])(?P<lead>[A-Za-z][\w+.-]*://'
                       r'[^/\s:@?#]*:)[^/\s@?#]*(?P<end>@|\Z)')
_SCHEME = re.compile(
    r'\b(?P<scheme>Bearer|Basic)(?P<space>[ \t]+)(?P<value>[\w.~+/-]+=*)',
    re.IGNORECASE)
# Fernet tokens and receipts, JWS/JWT, swift tempauth tokens.
_TOKEN_SHAPE = re.compile(r'(?<![\w-])(?:gAAAAA[\w-]*=*|'
                          r'eyJ[\w-]+\.[\w-]*(?:\.[\w-]*)?|'
                          r'AUTH_tk[0-9a-f]*)')
# Whatever path() could mask starts with one of these.
_PATH_HINT = re.compile(r'token|gAAAAA|eyJ|AUTH_tk|://', re.IGNORECASE)
_HINT = re.compile(r'[=:<-]|gAAAAA|eyJ|AUTH_tk|bearer|basic',
                   re.IGNORECASE)


def hash_value(value):
    """Return ``{SHA256}`` and the SHA-256 hex digest of ``value``.

    The same secret always gives the same string (keystoneauth's
    ``Session._process_header`` writes tokens the same way).
    """
    # NOTE: imported here: OpenSSL's hashlib costs ~4 ms at import, and
    # global-reqid-trace imports this module on every run, most of
    # which hash nothing.
    import hashlib
    if not isinstance(value, bytes):
        value = str(value).encode('utf-8', 'surrogatepass')
    return '{SHA256}' + hashlib.sha256(value).hexdigest()


def _classify(name):
    """How the value of a field, parameter or header called ``name`` is
    masked: ``_HASH``, ``_STAR``, ``_BLOB`` or None (not a secret)."""
    if len(name) > 128:  # NOTE: long names would crowd out the cache
        return _classify_name(name)
    return _classify_cached(name)


def _classify_name(name):
    flat = _NOT_ALNUM.sub('', name.lower())
    if not flat or flat in _SAFE_NAMES or flat.endswith(_SAFE_SUFFIXES):
        return None
    if flat == 'blob':
        return _BLOB
    words = [word.lower() for word in _WORDS.findall(name)]
    while words and words[-1].isdigit():
        words.pop()
    if words and words[0] in _COUNT_WORDS:
        return None     # max_active_keys: how many, not which
    if (_STAR_FRAGMENTS.search(flat) or _STAR_WORDS.intersection(words)
            or words and words[-1] in ('key', 'keys')):
        return _STAR
    if (_HASH_FRAGMENTS.search(flat) or _HASH_WORDS.intersection(words)
            or flat in _HASH_NAMES):
        return _HASH
    return None


_classify_cached = functools.lru_cache(maxsize=2048)(_classify_name)


def _is_masked(value):
    return value == MASK or _HASHED.fullmatch(value) is not None


def _masked(action, value):
    """The mask of one whole secret value (never a cut-off one)."""
    if not value or _is_masked(value):
        return value
    if action != _STAR and not _BASIC.match(value):
        return hash_value(value)
    return MASK


def _as_text(value):
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode('latin-1')
    return '' if value is None else str(value)


def headers(values):
    """Return ``{name: value}`` with the values of secret headers hashed.

    ``values`` is a dict or an iterable of ``(name, value)`` pairs (WSGI
    response headers). Repeated names (compared case-insensitively) are
    joined with ``', '``, each value masked on its own; names keep their
    first spelling. Passwords, keys and Basic credentials become ``***``.
    Other values are masked as free text (a ``Location`` with a signed
    query, a URL with a password).
    """
    try:
        grouped = {}
        for name, value in _header_items(values):
            grouped.setdefault(name.lower(), (name, []))[1].append(value)
        return {name: ', '.join(_mask_header(name, value) for value in vals)
                for name, vals in grouped.values()}
    except Exception:
        return {}  # NOTE: fail closed: nothing is better than a leak.


def _header_items(values):
    if not values:
        return
    items = values.items() if hasattr(values, 'items') else values
    for item in items:
        try:
            name, value = item
        except (TypeError, ValueError):
            continue
        for one in value if isinstance(value, (list, tuple)) else [value]:
            yield _as_text(name), _as_text(one)


def _mask_header(name, value):
    action = _classify(name)
    if action is None and name.lower() in SECRET_HEADERS:
        action = _HASH
    if action is None:  # a Location, a debug header: mask what is inside
        return _mask_text(_mask_url(value))
    return _masked(action, value)


def _mask_url(value):
    """Mask the query string of a URL-like value."""
    if '?' not in value:
        return value
    head, _, tail = value.partition('?')
    params, mark, fragment = tail.partition('#')
    return head + '?' + query(params) + mark + fragment


def query(query_string):
    """Return a URL query string with the values of secret parameters
    masked (hashed when percent-decoded, ``***`` for passwords and keys).

    Everything else, order and encoding included, is unchanged. A
    parameter after ``;`` is masked too, and a masked value runs to the
    next ``&``: whichever separator the server uses, nothing of it shows.
    """
    try:
        return _mask_query(_as_text(query_string))
    except Exception:
        return MASK


def _mask_query(text, cut=False):
    """Mask a query string; when ``cut``, its last value may be cut off."""
    pieces = text.split('&')
    last = len(pieces) - 1
    return '&'.join(_mask_param(piece, cut and index == last)
                    for index, piece in enumerate(pieces))


def _mask_param(piece, cut):
    if ';' not in piece:
        # NOTE: the common case, one name=value, without the general loop.
        name, sep, value = piece.partition('=')
        if not sep:
            return piece
        action = _classify(urllib.parse.unquote_plus(name)
                           if '%' in name or '+' in name else name)
        if not action:
            return piece
        value = (_masked(_STAR, value) if cut else
                 _masked(action, urllib.parse.unquote_plus(value)))
        return name + '=' + value
    parts = piece.split(';')
    for index, part in enumerate(parts):
        name, sep, value = part.partition('=')
        action = sep and _classify(urllib.parse.unquote_plus(name))
        if action:
            value = ';'.join([value] + parts[index + 1:])
            value = (_masked(_STAR, value) if cut else
                     _masked(action, urllib.parse.unquote_plus(value)))
            return ';'.join(parts[:index] + [name + '=' + value])
    return piece


def body(data, content_type=None, limit=None):
    """Return a captured body fit to record: masked text, or a summary.

    ``data`` is the captured bytes (perhaps a prefix of the real body),
    ``content_type`` the Content-Type header or None, ``limit`` the most
    characters of text to keep (None: all). Text has every secret masked
    (a secret value that reaches the end of ``data`` may be cut short, and
    is ``***`` rather than a hash), then is cut to ``limit`` characters,
    followed by
    ``...[truncated, N bytes]`` (N: bytes captured). Binary content is
    summarised as ``{"binary": true, "bytes": N, "content_type": ...}``.
    Never raises: on any failure the summary says the body was omitted.
    """
    try:
        return _body(data, content_type, limit)
    except Exception:
        return _summary(data, content_type, omitted='redaction failed')


def _body(data, content_type, limit):
    if data is None:
        return ''
    media, charset = _media_type(_as_text(content_type))
    if isinstance(data, str):
        text = data
    else:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError('body data must be bytes, not %s'
                            % type(data).__name__)
        data = bytes(data)
        text = _decode(data, media, charset)
        if text is None:
            return _summary(data, content_type)
    # NOTE: the capture may have stopped anywhere: a value that runs to
    # the end of it may be cut short, and is never hashed.
    if media == _FORM:
        masked = _mask_query(text, cut=True)
    else:
        masked = _mask_text(text, cut=True)
    if limit is not None and len(masked) > max(int(limit), 0):
        masked = masked[:max(int(limit), 0)] + TRUNCATED % len(data)
    return masked


def _summary(data, content_type, omitted=None):
    try:
        size = len(data)
    except Exception:
        size = None
    summary = {'binary': omitted is None, 'bytes': size,
               'content_type': None if content_type is None
               else _as_text(content_type)}
    if omitted:
        summary['omitted'] = omitted
    return summary


def _media_type(content_type):
    parts = content_type.split(';')
    charset = 'utf-8'
    for param in parts[1:]:
        key, _, value = param.partition('=')
        if key.strip().lower() == 'charset' and value.strip(' "\''):
            charset = value.strip(' "\'')
    return parts[0].strip().lower(), charset


def _decode(data, media, charset):
    """Decode ``data`` if it is text, else None."""
    if (media in _BINARY_TYPES or media.partition('/')[0] in _BINARY_MAJOR
            or data.startswith(_ARCHIVE_MAGIC)):
        return None
    try:
        text = _decode_prefix(data, charset)
    except LookupError:  # unknown charset, or not a text encoding
        text = _decode_prefix(data, 'utf-8')
    except UnicodeDecodeError:
        return None
    if text is None or '\x00' in text:
        return None
    if len(_CONTROL.findall(text)) * 10 > len(text):
        return None
    return text


def _decode_prefix(data, charset):
    """Decode bytes that may end in the middle of a character."""
    try:
        return data.decode(charset)
    except UnicodeDecodeError as error:
        if error.reason != 'unexpected end of data':
            return None
        return data[:error.start].decode(charset)


def free_text(value):
    """Return free text (a log line, an error message) with secrets
    masked: ``name=value``, ``"name": "value"``, ``<name>value</name>``,
    ``--name value``, ``Bearer``/``Basic`` credentials, URL passwords,
    private keys, fernet/JWT/swift tokens, and JSON even when cut off."""
    try:
        return _mask_text(_as_text(value))
    except Exception:
        return MASK


def path(value):
    """Return a URL path with the segment after a ``tokens`` segment
    (``/v2.0/tokens/{token}``) and token-shaped segments hashed.

    Not called by :mod:`~global_reqid.events.schema`: ``route`` is already
    free of ids; this is for callers that record the raw path.
    """
    try:
        text = _as_text(value)
        # NOTE: the common path has nothing token-like: one search, and the
        # path is returned as it is.
        if not _PATH_HINT.search(text):
            return text
        segments = text.split('/')
        for index in range(1, len(segments)):
            if segments[index] and 'token' in segments[index - 1].lower():
                segments[index] = hash_value(
                    urllib.parse.unquote(segments[index]))
        return _mask_shapes(_mask_userinfo('/'.join(segments)))
    except Exception:
        return MASK


def _mask_text(text, depth=0, cut=False):
    """Mask any text; when ``cut``, it may end in the middle of a value."""
    if depth < _MAX_DEPTH and _looks_like_json(text):
        masked = _mask_json(text, depth)
        if masked is not None:
            return masked
    if not _HINT.search(text):
        return text
    for rule in _TEXT_RULES:
        text = rule(text, cut)
    return text


def _mask_json(text, depth):
    """Mask a JSON document, or the start of one; None if not JSON."""
    tokens = [(m.lastgroup, m.group()) for m in _JSON_TOKEN.finditer(text)]
    first = next((lexeme for kind, lexeme in tokens if kind != 'space'), '')
    if first not in ('{', '['):
        return None
    last = len(tokens) - 1
    for index, (kind, lexeme) in enumerate(tokens):
        if kind == 'literal' and not _JSON_LITERAL.fullmatch(lexeme) and not (
                index == last and _JSON_CUT_LITERAL.fullmatch(lexeme)):
            return None
    out = []
    stack = []      # (is an object, name the container is the value of)
    key = None      # name of the member whose value comes next
    want_key = False
    for kind, lexeme in tokens:
        if kind == 'string' and want_key:
            key, want_key = _decode_string(lexeme)[0], False
        elif kind == 'punct':
            if lexeme in '{[':
                stack.append((lexeme == '{',
                              key if key is not None
                              else stack[-1][1] if stack else None))
            elif lexeme in '}]' and stack:
                stack.pop()
            if lexeme != ':':
                key = None
                want_key = lexeme in '{,' and bool(stack) and stack[-1][0]
        elif kind != 'space':
            lexeme = _mask_json_value(kind, lexeme, stack, key, depth)
            key = None
        out.append(lexeme)
    return ''.join(out)


def _mask_json_value(kind, lexeme, stack, key, depth):
    if stack and stack[-1][0]:
        name, parent = key, stack[-1][1]
    else:  # an array item is masked as its array is
        name, parent = (stack[-1][1] if stack else None), None
    action = _classify(name) if name is not None else None
    if (action is None and parent is not None and name == 'id'
            and 'token' in parent.lower()):
        action = _HASH  # {"token": {"id": ...}}: keystone token auth
    if kind == 'literal':
        if action is None or lexeme in ('null', 'true', 'false'):
            return lexeme
        return '"%s"' % MASK
    value, complete = _decode_string(lexeme)
    if action is None:
        masked = _mask_text(value, depth + 1, cut=not complete)
    elif action == _BLOB and depth + 1 < _MAX_DEPTH and _looks_like_json(
            value):
        # keystone's EC2 credential: {"access": ..., "secret": ...} as a
        # string; anything else in a blob (a TOTP seed) is a secret whole.
        masked = _mask_json(value, depth + 1)
    else:
        masked = None
    if masked is None:
        return json.dumps(_masked(action, value) if complete else MASK)
    if masked == value:
        return lexeme
    encoded = json.dumps(masked, ensure_ascii=False)
    return encoded if complete else encoded[:-1]


def _looks_like_json(value):
    return value.lstrip('\ufeff \t\r\n')[:1] in ('{', '[')


def _decode_string(token):
    """Return the value of a JSON string token and whether it is whole."""
    inner = token[1:]
    if len(inner) and inner.endswith('"'):
        run = len(inner) - 1 - len(inner[:-1].rstrip('\\'))
        if run % 2 == 0:
            try:
                return json.loads(token, strict=False), True
            except ValueError:
                return inner[:-1], True
    for cut in range(6):  # drop a cut-off escape such as \u00
        try:
            return json.loads('"%s"' % inner[:len(inner) - cut],
                              strict=False), False
        except ValueError:
            continue
    return inner, False


def _mask_after(text, cut, lead, value_for):
    """Mask the value after each match of ``lead`` that names a secret.

    Only the lead is consumed when its name is not a secret, so a pair
    inside the value of a harmless one is still seen.
    """
    out = []
    cursor = 0
    for match in lead.finditer(text):
        if match.start() < cursor:
            continue
        action = _classify(match.group('name'))
        if action is None:
            continue
        pattern, decode = value_for(match)
        end = _escaped_end(text, match.end())
        if end is None:
            value = pattern.match(text, match.end())
            if value is None:
                # NOTE: a structure ("token": {...}) is not a value: the
                # pairs inside it are masked on their own.
                continue
            end = value.end()
        out.append(text[cursor:match.end()])
        out.append(_mask_span(action, text[match.end():end], decode,
                              cut and end == len(text)))
        cursor = end
    if not out:
        return text
    out.append(text[cursor:])
    return ''.join(out)


def _escaped_end(text, start):
    """The end of an escaped quoted value (``\\"...\\"``) at ``start``.

    Escaped ``n`` times over, the closing quote follows ``n`` backslashes
    (plus a multiple of ``2n + 2`` for backslashes ending the value) and a
    quote inside the value follows ``n`` more: count, do not guess. None
    when no escaped quote opens a value at ``start``.
    """
    opener = _ESCAPED_QUOTE.match(text, start)
    if opener is None:
        return None
    level, quote = len(opener.group(1)), opener.group(2)
    for close in _ESCAPED_QUOTE.finditer(text, opener.end()):
        run = len(close.group(1))
        if close.group(2) == quote and run % (2 * level + 2) == level:
            return close.end()
    return len(text)


def _mask_span(action, raw, decode=False, cut=False):
    """Mask a value as written: quoted or bare, whole or cut off."""
    value = raw.strip()
    if not value:
        return raw
    head = raw[:len(raw) - len(raw.lstrip())]
    tail = raw[len(raw.rstrip()):]
    quote = _QUOTE.match(value)
    if quote:
        mark = quote.group()
        inner = value[len(mark):]
        if len(inner) >= len(mark) and inner.endswith(mark):
            value = mark + _masked(action, inner[:-len(mark)]) + mark
        elif inner and not _is_masked(inner):
            value = mark + MASK
    elif cut:
        value = _masked(_STAR, value)
    else:
        if decode:
            value = urllib.parse.unquote_plus(value)
        value = _masked(action, value)
    return head + value + tail


def _mask_pem(text, cut=False):
    return _PEM.sub(r'\g<begin>%s\g<end>' % MASK, text)


def _mask_userinfo(text, cut=False):
    return _USERINFO.sub(r'\g<lead>%s\g<end>' % MASK, text)


def _mask_xml(text, cut):
    return _mask_after(text, cut, _XML_LEAD, lambda m: (_XML_VALUE, False))


def _mask_parts(text, cut):
    return _mask_after(text, cut, _PART_LEAD,
                       lambda m: (_PART_VALUE, False))


def _mask_quoted_pairs(text, cut):
    return _mask_after(text, cut, _QUOTED_LEAD,
                       lambda m: (_STRUCT_VALUE, False))


def _mask_bare_pairs(text, cut):
    return _mask_after(text, cut, _BARE_LEAD, _bare_value)


def _bare_value(match):
    if match.group('url'):
        return _URL_VALUE, True
    text = match.string
    if not _BLOCK_SCALAR.match(text, match.end()):
        return _LINE_VALUE, False
    line = text[text.rfind('\n', 0, match.start()) + 1:match.start()]
    indent = len(line) - len(line.lstrip(' \t'))
    return re.compile(_BLOCK_VALUE % (indent + 1)), False


def _mask_flags(text, cut):
    return _mask_after(text, cut, _FLAG_LEAD,
                       lambda m: (_FLAG_VALUE, False))


def _mask_schemes(text, cut):
    def mask(match):
        value = match.group('value')
        if _PLAIN_WORD.fullmatch(value) or _is_masked(value):
            return match.group()
        if (match.group('scheme').lower() == 'basic'
                or cut and match.end() == len(text)):
            value = MASK
        else:
            value = hash_value(value)
        return match.group('scheme') + match.group('space') + value
    return _SCHEME.sub(mask, text)


def _mask_shapes(text, cut=False):
    # NOTE: a fernet token cut short is still hashed: its first characters
    # are a version and a timestamp, and the rest is random.
    return _TOKEN_SHAPE.sub(lambda m: hash_value(m.group()), text)


_TEXT_RULES = (_mask_pem, _mask_userinfo, _mask_xml, _mask_parts,
               _mask_quoted_pairs, _mask_bare_pairs, _mask_flags,
               _mask_schemes, _mask_shapes)
