"""Tests of global_reqid.ids: constants, the strict validator, new ids."""

import re
import string
import uuid

from hypothesis import example
from hypothesis import given
from hypothesis import strategies as st
from oslo_middleware import request_id as oslo_request_id
import pytest
import webob

from global_reqid import ids

SERVICE_NAME_CHARS = string.ascii_letters + string.digits + '._:-'
# Unicode decimal digits that int() and \d accept but a request id must not
# contain: Arabic-Indic, Devanagari, fullwidth, mathematical bold.
UNICODE_DIGITS = [
    chr(base + n)
    for base in (0x0660, 0x0966, 0xFF10, 0x1D7CE)
    for n in range(10)
]
FULLWIDTH_HEX_LETTERS = [chr(0xFF41 + n) for n in range(6)]  # a..f
# Look-alikes of a valid id: eight Arabic-Indic / fullwidth digits.
ARABIC_INDIC_ID = 'req-%s-0000-4000-8000-000000000000' % ''.join(
    chr(0x0660 + n) for n in range(8)
)
FULLWIDTH_ID = 'req-%s-0000-4000-8000-000000000000' % ''.join(
    chr(0xFF10 + n) for n in range(8)
)
SUFFIXES = ['\n', '\r\n', '\r', ' ', '\t', '\x00', '\x85', '\u2028']


def reference_is_valid(value):
    """An independent reading of the rule: req- and a canonical uuid."""
    if type(value) is not str:
        return False
    if len(value) != 40 or not value.startswith('req-'):
        return False
    rest = value[4:]
    try:
        parsed = uuid.UUID(rest)
    except ValueError:
        return False
    # NOTE: uuid.UUID() also parses upper case, braces, 'urn:uuid:' and
    # unicode digits (through int()); only the canonical lowercase form
    # survives the round trip.
    return str(parsed) == rest


valid_ids = st.uuids().map(lambda u: 'req-%s' % u)


@st.composite
def with_suffix(draw):
    return draw(valid_ids) + draw(st.sampled_from(SUFFIXES))


@st.composite
def with_prefix(draw):
    return draw(st.sampled_from(SUFFIXES)) + draw(valid_ids)


@st.composite
def upper_cased(draw):
    value = draw(valid_ids)
    hex_positions = [i for i, c in enumerate(value) if c in 'abcdef']
    if not hex_positions:
        return value.upper()
    chosen = draw(
        st.lists(st.sampled_from(hex_positions), min_size=1, unique=True)
    )
    chars = list(value)
    for i in chosen:
        chars[i] = chars[i].upper()
    return ''.join(chars)


@st.composite
def unicode_digits(draw):
    """A valid id with one ASCII hex char swapped for a look-alike."""
    value = draw(valid_ids)
    positions = [i for i, c in enumerate(value) if i >= 4 and c != '-']
    i = draw(st.sampled_from(positions))
    c = value[i]
    if c.isdigit():
        replacement = draw(
            st.sampled_from([d for d in UNICODE_DIGITS if int(d) == int(c)])
        )
    else:
        replacement = FULLWIDTH_HEX_LETTERS['abcdef'.index(c)]
    return value[:i] + replacement + value[i + 1 :]


@st.composite
def overlong(draw):
    return draw(valid_ids) + draw(st.text(min_size=1, max_size=80))


@st.composite
def bare_or_misprefixed(draw):
    u = str(draw(st.uuids()))
    prefix = draw(
        st.sampled_from(['', 'REQ-', 'req_', 'req', 'reqx', 'req-{'])
    )
    return prefix + u


@st.composite
def mutated(draw):
    """A valid id with one character replaced by anything."""
    value = draw(valid_ids)
    i = draw(st.integers(min_value=0, max_value=len(value) - 1))
    return value[:i] + draw(st.characters()) + value[i + 1 :]


candidate_values = st.one_of(
    valid_ids,
    with_suffix(),
    with_prefix(),
    upper_cased(),
    unicode_digits(),
    overlong(),
    bare_or_misprefixed(),
    mutated(),
    st.text(alphabet='0123456789abcdef-req', min_size=36, max_size=44),
    st.text(),
    st.just(''),
    st.none(),
    st.integers(),
    valid_ids.map(str.encode),
    valid_ids.map(lambda v: v.encode('utf-16')),
    st.uuids(),
)


def test_environ_keys_equal_oslo_middleware():
    """The environ keys are oslo.middleware's, so stock services read them."""
    assert ids.ENV_REQUEST_ID == oslo_request_id.ENV_REQUEST_ID
    assert ids.ENV_GLOBAL_REQUEST_ID == oslo_request_id.GLOBAL_REQ_ID


def test_request_id_header_equals_oslo_case_insensitively():
    """The header is oslo's inbound and response header, in any case."""
    ours = ids.REQUEST_ID_HEADER.lower()
    assert ours == oslo_request_id.INBOUND_HEADER.lower()
    assert ours == oslo_request_id.HTTP_RESP_HEADER_REQUEST_ID.lower()


def test_environ_key_matches_what_a_wsgi_server_sets():
    """HTTP_* keys are the ones webob (a WSGI environ) uses for the header."""
    for header, key in (
        (ids.REQUEST_ID_HEADER, ids.HTTP_REQUEST_ID),
        (ids.CALLER_HEADER, ids.HTTP_CALLER),
        (ids.PARENT_HEADER, ids.HTTP_PARENT),
    ):
        request = webob.Request.blank('/', headers={header.lower(): 'v'})
        assert request.environ[key] == 'v'


@given(candidate_values)
@example('')
@example(None)
@example(b'req-00000000-0000-4000-8000-000000000000')
@example('req-00000000-0000-4000-8000-000000000000')
@example('req-00000000-0000-4000-8000-000000000000\n')
@example('req-ABCDEF00-0000-4000-8000-000000000000')
@example(ARABIC_INDIC_ID)
@example(FULLWIDTH_ID)
@example('req-0000_000-0000-4000-8000-000000000000')
@example('req-{00000000-0000-4000-8000-00000000000}')
@example('req-00000000000000000000000000000000000000')
@example(40)
def test_is_valid_request_id_agrees_with_reference(value):
    """Valid means exactly req- + a canonical lowercase uuid, nothing else."""
    assert ids.is_valid_request_id(value) is reference_is_valid(value)


@given(valid_ids)
def test_generated_valid_ids_are_accepted(value):
    """Every req- + lowercase uuid string is accepted."""
    assert ids.is_valid_request_id(value) is True


def test_trailing_newline_rejected_where_oslo_accepts_it():
    """oslo's re.match(...$) lets 'req-<uuid>\\n' through; we do not."""
    value = 'req-%s\n' % uuid.uuid4()
    assert re.match(oslo_request_id.ID_FORMAT, value) is not None
    assert ids.is_valid_request_id(value) is False


def test_str_subclass_rejected():
    """Only a plain str is a request id: a subclass may lie about itself."""

    class Sneaky(str):
        pass

    value = Sneaky('req-%s' % uuid.uuid4())
    assert ids.is_valid_request_id(str(value)) is True
    assert ids.is_valid_request_id(value) is False


def test_new_request_id_is_valid_uuid4():
    """new_request_id() gives req- + a version 4, RFC 4122 variant uuid."""
    for _ in range(200):
        value = ids.new_request_id()
        assert ids.is_valid_request_id(value)
        parsed = uuid.UUID(value[4:])
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_new_request_id_unique_and_random_in_every_free_digit():
    """new_request_id() never repeats and varies every random hex digit."""
    values = [ids.new_request_id() for _ in range(4000)]
    assert len(set(values)) == len(values)
    fixed = {4 + 14: '4'}  # the version nibble
    for i in range(4, 40):
        seen = {v[i] for v in values}
        if values[0][i] == '-':
            assert seen == {'-'}
        elif i in fixed:
            assert seen == {fixed[i]}
        elif i == 4 + 19:  # the variant nibble: 10xx
            assert seen == set('89ab')
        else:
            assert seen == set('0123456789abcdef'), i


@pytest.mark.parametrize(
    ('given', 'expected'),
    [
        (
            'req-0b8f1c3e-52a4-4c9e-9d3a-1f2e3d4c5b6a',
            'req-0b8f1c3e-52a4-4c9e-9d3a-1f2e3d4c5b6a',
        ),
        (
            '0b8f1c3e-52a4-4c9e-9d3a-1f2e3d4c5b6a',
            'req-0b8f1c3e-52a4-4c9e-9d3a-1f2e3d4c5b6a',
        ),
        (
            'REQ-0B8F1C3E-52A4-4C9E-9D3A-1F2E3D4C5B6A',
            'req-0b8f1c3e-52a4-4c9e-9d3a-1f2e3d4c5b6a',
        ),
        (
            '0B8F1C3E-52A4-4C9E-9D3A-1F2E3D4C5B6A',
            'req-0b8f1c3e-52a4-4c9e-9d3a-1f2e3d4c5b6a',
        ),
    ],
)
def test_normalize_accepts_ids_and_bare_uuids(given, expected):
    """A request id or a bare uuid, in any case, normalizes to req-<uuid>."""
    assert ids.normalize_request_id(given) == expected


@pytest.mark.parametrize(
    'junk',
    [
        '',
        'req-',
        'req-0b8f1c3e52a44c9e9d3a1f2e3d4c5b6a',
        '0b8f1c3e52a44c9e9d3a1f2e3d4c5b6a',
        '{0b8f1c3e-52a4-4c9e-9d3a-1f2e3d4c5b6a}',
        'urn:uuid:0b8f1c3e-52a4-4c9e-9d3a-1f2e3d4c5b6a',
        'req-req-0b8f1c3e-52a4-4c9e-9d3a-1f2e3d4c5b6a',
        'req-0b8f1c3e-52a4-4c9e-9d3a-1f2e3d4c5b6a-0',
        'req-\u0660b8f1c3e-52a4-4c9e-9d3a-1f2e3d4c5b6a',
        'req-0b8f1c3e-52a4-4c9e-9d3a-1f2e3d4c5b6g',
        None,
        b'req-0b8f1c3e-52a4-4c9e-9d3a-1f2e3d4c5b6a',
        42,
    ],
)
def test_normalize_returns_none_for_junk(junk):
    """Anything but an id or a bare uuid normalizes to None."""
    assert ids.normalize_request_id(junk) is None


@given(st.uuids())
def test_normalize_result_is_always_valid(value):
    """What normalize returns for a bare uuid is a valid request id."""
    result = ids.normalize_request_id(str(value).upper())
    assert result == 'req-%s' % value
    assert ids.is_valid_request_id(result)


def reference_is_valid_service_name(value):
    return (
        type(value) is str
        and 1 <= len(value) <= 64
        and all(c in SERVICE_NAME_CHARS for c in value)
    )


@given(
    st.one_of(
        st.text(alphabet=SERVICE_NAME_CHARS, max_size=70),
        st.text(alphabet=SERVICE_NAME_CHARS, min_size=1, max_size=64).map(
            lambda v: v + '\n'
        ),
        st.text(max_size=70),
        st.none(),
        st.binary(max_size=10),
    )
)
@example('nova-api')
@example('a' * 64)
@example('a' * 65)
@example('')
@example('glance\n')
@example('n\u0660va')
@example('nova api')
def test_is_valid_service_name_agrees_with_reference(value):
    """A service name is 1-64 of [A-Za-z0-9._:-] and nothing else."""
    assert ids.is_valid_service_name(value) is (
        reference_is_valid_service_name(value)
    )


@pytest.mark.parametrize(
    'value',
    ['a\nb', 'x\r\ny', 'evil\x1b[31m', 'line\u2028sep', 'n\x85l'],
)
def test_safe_repr_escapes_line_breaks_and_controls(value):
    """safe_repr never lets a line break or control character through."""
    text = ids.safe_repr(value)
    assert text.isprintable()
    assert '\n' not in text and '\r' not in text


def test_safe_repr_truncates_long_values():
    """safe_repr shows at most `limit` chars and says how long it was."""
    value = 'A' * 10000
    text = ids.safe_repr(value, limit=48)
    assert text.startswith(repr('A' * 48))
    assert '10000' in text
    assert len(text) < 100


def test_safe_repr_keeps_short_values_whole():
    """A value within the limit is shown whole, as its repr."""
    assert ids.safe_repr('req-x') == repr('req-x')


@pytest.mark.parametrize('value', [None, 42, 1.5, object(), iter('abc')])
def test_safe_repr_never_raises_for_non_sized_values(value):
    """A value with no len() is shown as its type name, never raised on."""
    assert ids.safe_repr(value) == '<%s>' % type(value).__name__


@pytest.mark.parametrize('value', [{'a': 1}, {1, 2}])
def test_safe_repr_never_raises_for_sized_unsliceable_values(value):
    """safe_repr of an untrusted sized value that cannot be sliced is safe."""
    assert isinstance(ids.safe_repr(value), str)


@given(st.text(max_size=300) | st.binary(max_size=300))
def test_safe_repr_is_one_printable_line(value):
    """safe_repr of any str or bytes is one short printable line."""
    text = ids.safe_repr(value)
    assert text.isprintable()
    assert len(text) <= 48 * 10 + 40
