"""Tests of global_reqid.log: both formatters always emit both ids."""

import io
import json
import logging
import uuid

from oslo_config import cfg
from oslo_context import context as oslo_context
from oslo_log import formatters as oslo_formatters
from oslo_log import log as oslo_log
import pytest

from global_reqid import context
from global_reqid import log

LOCAL = 'req-11111111-1111-4111-8111-111111111111'
GLOBAL = 'req-22222222-2222-4222-8222-222222222222'
OTHER = 'req-44444444-4444-4444-8444-444444444444'
CONTEXT_FORMAT = '[%(global_request_id)s %(request_id)s] %(message)s'
DEFAULT_FORMAT = 'DEFAULT %(message)s'


@pytest.fixture
def oslo_conf():
    """A ConfigOpts with oslo.log's options and oslo's default formats."""
    conf = cfg.ConfigOpts()
    oslo_log.register_options(conf)
    conf(args=[], default_config_files=[])
    return conf


@pytest.fixture
def conf(oslo_conf):
    """oslo.log options with short, parseable format strings."""
    oslo_conf.set_override('logging_context_format_string', CONTEXT_FORMAT)
    oslo_conf.set_override('logging_default_format_string', DEFAULT_FORMAT)
    oslo_conf.set_override('logging_debug_format_suffix', '')
    return oslo_conf


@pytest.fixture
def text_formatter(conf):
    return log.ContextFormatter(config=conf)


@pytest.fixture
def json_formatter():
    return log.JSONFormatter()


@pytest.fixture
def attach():
    """Attach a formatter to a real logger writing to a StringIO."""
    attached = []

    def _attach(formatter):
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        name = 'global_reqid.tests.log.%s' % uuid.uuid4().hex
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.addHandler(handler)
        attached.append((logger, handler))
        return logger, stream

    yield _attach
    for logger, handler in attached:
        logger.removeHandler(handler)
        handler.close()


def make_record(message='hello', **attrs):
    record = logging.LogRecord(
        'global_reqid.tests', logging.INFO, __file__, 1, message, (), None
    )
    record.__dict__.update(attrs)
    return record


def with_global():
    return oslo_context.RequestContext(
        request_id=LOCAL, global_request_id=GLOBAL, overwrite=False
    )


def root():
    return oslo_context.RequestContext(request_id=LOCAL, overwrite=False)


def clear_current():
    oslo_context._request_store.__dict__.pop('context', None)


def no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), keys
    return dict(pairs)


def parse(line):
    return json.loads(line, object_pairs_hook=no_duplicate_keys)


# Text: global_reqid.log.ContextFormatter


def test_text_context_with_global_id(text_formatter, attach):
    """A context with a global id logs [global local]."""
    logger, stream = attach(text_formatter)
    ctx = with_global()
    clear_current()
    logger.info('hello', extra={'context': ctx})
    assert stream.getvalue() == '[%s %s] hello\n' % (GLOBAL, LOCAL)


def test_text_context_without_global_id_root_rule(text_formatter, attach):
    """A context with no global id logs its local id in the global column."""
    logger, stream = attach(text_formatter)
    ctx = root()
    clear_current()
    logger.info('hello', extra={'context': ctx})
    line = stream.getvalue()
    assert line == '[%s %s] hello\n' % (LOCAL, LOCAL)
    assert 'None' not in line


def test_text_held_ids_without_context(text_formatter, attach):
    """With no oslo context, the ids of the request being served are used."""
    logger, stream = attach(text_formatter)
    with context.bound(context.RequestIds(LOCAL, GLOBAL, 'glance-api')):
        logger.info('with global')
    with context.bound(context.RequestIds(LOCAL, None, 'glance-api')):
        logger.info('root')
    assert stream.getvalue().splitlines() == [
        '[%s %s] with global' % (GLOBAL, LOCAL),
        '[%s %s] root' % (LOCAL, LOCAL),
    ]


def test_text_nothing_known_uses_default_format(text_formatter, attach):
    """With no context and no held ids, the default format, no crash."""
    logger, stream = attach(text_formatter)
    logger.info('hello')
    assert stream.getvalue() == 'DEFAULT hello\n'


def test_text_current_oslo_context_root_rule(text_formatter, attach):
    """A current oslo context with no global id gets the root rule too."""
    logger, stream = attach(text_formatter)
    oslo_context.RequestContext(request_id=LOCAL)
    logger.info('hello')
    assert stream.getvalue() == '[%s %s] hello\n' % (LOCAL, LOCAL)


def test_text_explicit_context_wins(text_formatter, attach):
    """An explicit context wins over the current one and the held ids."""
    logger, stream = attach(text_formatter)
    explicit = with_global()
    oslo_context.RequestContext(request_id=OTHER)
    with context.bound(context.RequestIds(OTHER)):
        logger.info('hello', extra={'context': explicit})
    assert stream.getvalue() == '[%s %s] hello\n' % (GLOBAL, LOCAL)


def test_text_oslo_default_format_root_rule(oslo_conf, attach):
    """With oslo's default format string the global column is never None."""
    logger, stream = attach(log.ContextFormatter(config=oslo_conf))
    ctx = root()
    clear_current()
    logger.info('hello', extra={'context': ctx})
    line = stream.getvalue()
    assert '[%s %s ' % (LOCAL, LOCAL) in line
    assert 'None' not in line


def test_text_keyword_argument_adapter_root_rule(text_formatter, attach):
    """context= through oslo.log's KeywordArgumentAdapter gets the rule."""
    logger, stream = attach(text_formatter)
    adapter = oslo_log.getLogger(logger.name)
    assert isinstance(adapter, oslo_log.KeywordArgumentAdapter)
    ctx = root()
    clear_current()
    adapter.info('x', context=ctx)
    assert stream.getvalue() == '[%s %s] x\n' % (LOCAL, LOCAL)


def test_text_is_an_oslo_context_formatter(text_formatter):
    """The text formatter is oslo.log's, so log_config_append accepts it."""
    assert isinstance(text_formatter, oslo_formatters.ContextFormatter)


# JSON: global_reqid.log.JSONFormatter


def assert_ids(doc, request_id, global_request_id):
    assert doc['request_id'] == request_id
    assert doc['global_request_id'] == global_request_id
    assert doc['context']['request_id'] == request_id
    assert doc['context']['global_request_id'] == global_request_id


def test_json_context_with_global_id(json_formatter, attach):
    """A context with a global id: both ids at top level and in context."""
    logger, stream = attach(json_formatter)
    ctx = with_global()
    clear_current()
    logger.info('hello', extra={'context': ctx})
    doc = parse(stream.getvalue())
    assert doc['message'] == 'hello'
    assert_ids(doc, LOCAL, GLOBAL)


def test_json_context_without_global_id_root_rule(json_formatter, attach):
    """No global id: the local id is the global field, at top and inside."""
    logger, stream = attach(json_formatter)
    ctx = root()
    clear_current()
    logger.info('hello', extra={'context': ctx})
    doc = parse(stream.getvalue())
    assert_ids(doc, LOCAL, LOCAL)


def test_json_held_ids_without_context(json_formatter, attach):
    """With no oslo context, the held ids and links fill the record."""
    logger, stream = attach(json_formatter)
    held = context.RequestIds(LOCAL, None, 'glance-api', 'nova-api', OTHER)
    with context.bound(held):
        logger.info('hello')
    doc = parse(stream.getvalue())
    assert_ids(doc, LOCAL, LOCAL)
    assert doc['context']['caller_service'] == 'nova-api'
    assert doc['context']['parent_request_id'] == OTHER


def test_json_held_ids_with_global(json_formatter):
    """Held ids with a global id put it at top level and in context."""
    with context.bound(context.RequestIds(LOCAL, GLOBAL)):
        doc = parse(json_formatter.format(make_record()))
    assert_ids(doc, LOCAL, GLOBAL)


def test_json_nothing_known(json_formatter, attach):
    """With nothing known the record still parses, with null ids."""
    logger, stream = attach(json_formatter)
    logger.info('hello')
    doc = parse(stream.getvalue())
    assert doc['message'] == 'hello'
    assert doc['request_id'] is None
    assert doc['global_request_id'] is None
    assert doc['context'] == {}


def test_json_keyword_argument_adapter_root_rule(json_formatter, attach):
    """context= through oslo.log's KeywordArgumentAdapter gets the rule."""
    logger, stream = attach(json_formatter)
    ctx = root()
    clear_current()
    oslo_log.getLogger(logger.name).info('x', context=ctx)
    doc = parse(stream.getvalue())
    assert doc['message'] == 'x'
    assert_ids(doc, LOCAL, LOCAL)


def test_json_extra_context_root_rule(json_formatter):
    """A context carried in record.extra gets the root rule too."""
    ctx = root()
    clear_current()
    record = make_record(context=ctx, extra={'context': ctx, 'k': 'v'})
    doc = parse(json_formatter.format(record))
    assert_ids(doc, LOCAL, LOCAL)
    assert doc['extra'] == {'k': 'v'}


def test_json_is_an_oslo_json_formatter(json_formatter):
    """The JSON formatter is oslo.log's, so log_config_append accepts it."""
    assert isinstance(json_formatter, oslo_formatters.JSONFormatter)


# Both: the record is shared with other handlers


def formatters(conf):
    return [log.ContextFormatter(config=conf), log.JSONFormatter()]


@pytest.mark.parametrize('which', [0, 1], ids=['text', 'json'])
def test_record_left_as_it_was(conf, which):
    """Formatting changes no attribute the record had before."""
    formatter = formatters(conf)[which]
    ctx = root()
    clear_current()
    snapshot = dict(vars(ctx))
    extra = {'context': ctx, 'k': 'v'}
    record = make_record(context=ctx, extra=extra, extra_keys=['k'])
    before = dict(vars(record))
    formatter.format(record)
    after = vars(record)
    for key, value in before.items():
        assert after[key] is value, key
    assert record.extra == {'context': ctx, 'k': 'v'}
    assert vars(ctx) == snapshot
    assert ctx.global_request_id is None


@pytest.mark.parametrize('which', [0, 1], ids=['text', 'json'])
def test_no_attribute_left_holding_a_substitute(conf, which):
    """No record attribute is left holding our substitute context."""
    formatter = formatters(conf)[which]
    with context.bound(context.RequestIds(LOCAL, GLOBAL)):
        record = make_record()
        formatter.format(record)
    assert 'context' not in vars(record)
    assert not any(isinstance(v, dict) for v in vars(record).values())


@pytest.mark.parametrize('ctx_factory', [root, with_global])
@pytest.mark.parametrize(
    'stock',
    [oslo_formatters.JSONFormatter, oslo_formatters.ContextFormatter],
)
def test_stock_handler_after_ours_sees_the_same_record(
    conf, ctx_factory, stock
):
    """A stock oslo handler sharing the record formats it as if alone."""
    ctx = ctx_factory()
    clear_current()
    stock_formatter = (
        stock(config=conf)
        if stock is oslo_formatters.ContextFormatter
        else stock()
    )
    shared = make_record(context=ctx)
    alone = logging.makeLogRecord(dict(vars(shared)))
    for ours in formatters(conf):
        ours.format(shared)
    assert stock_formatter.format(shared) == stock_formatter.format(alone)
