"""Tests of global_reqid.context: the ids holder and oslo.context glue."""

import contextvars
import json
import threading

from oslo_context import context as oslo_context
import pytest

from global_reqid import context
from global_reqid import ids

LOCAL = 'req-11111111-1111-4111-8111-111111111111'
GLOBAL = 'req-22222222-2222-4222-8222-222222222222'
PARENT = 'req-33333333-3333-4333-8333-333333333333'


@pytest.fixture
def environ():
    return {
        ids.ENV_REQUEST_ID: LOCAL,
        ids.ENV_GLOBAL_REQUEST_ID: GLOBAL,
        ids.ENV_CALLER: 'nova-api',
        ids.ENV_PARENT_REQUEST_ID: PARENT,
        'HTTP_X_USER_ID': 'user-1',
        'HTTP_X_PROJECT_ID': 'project-1',
    }


class ServiceContext(oslo_context.RequestContext):
    """A service's own context class, as nova's or glance's."""

    FROM_DICT_EXTRA_KEYS = ['flavor']

    def __init__(self, *args, flavor=None, **kwargs):
        self.flavor = flavor
        super().__init__(*args, **kwargs)

    def to_dict(self):
        values = super().to_dict()
        values['flavor'] = self.flavor
        return values


class OtherServiceContext(oslo_context.RequestContext):
    """A second service context class."""


def test_global_id_is_the_global_request_id_when_given():
    """RequestIds.global_id is the inbound global id when there is one."""
    held = context.RequestIds(LOCAL, GLOBAL)
    assert held.global_id == GLOBAL


def test_global_id_root_rule():
    """RequestIds.global_id is the local id when this service is root."""
    assert context.RequestIds(LOCAL).global_id == LOCAL
    assert context.RequestIds(LOCAL, None).global_id == LOCAL


def test_current_is_none_when_nothing_is_served():
    """current() is None outside of any request."""
    assert context.current() is None


def test_activate_deactivate_restores_previous():
    """deactivate() restores exactly what was current before activate()."""
    outer = context.RequestIds(LOCAL, GLOBAL, 'glance-api')
    inner = context.RequestIds(PARENT, GLOBAL, 'nova-api')
    outer_token = context.activate(outer)
    assert context.current() is outer
    inner_token = context.activate(inner)
    assert context.current() is inner
    context.deactivate(inner_token)
    assert context.current() is outer
    context.deactivate(outer_token)
    assert context.current() is None


def test_bound_nesting_restores_outer_ids():
    """bound() blocks nest; leaving one restores the outer ids."""
    outer = context.RequestIds(LOCAL, GLOBAL)
    inner = context.RequestIds(PARENT)
    with context.bound(outer) as got_outer:
        assert got_outer is outer
        assert context.current() is outer
        with context.bound(inner):
            assert context.current() is inner
        assert context.current() is outer
    assert context.current() is None


def test_bound_restores_outer_ids_on_exception():
    """bound() restores the outer ids even when its block raises."""
    outer = context.RequestIds(LOCAL)
    with context.bound(outer):
        with pytest.raises(RuntimeError):
            with context.bound(context.RequestIds(PARENT)):
                raise RuntimeError('boom')
        assert context.current() is outer
    assert context.current() is None


def test_deactivate_with_token_from_another_context_never_raises():
    """A token from another context (server closes elsewhere) is not fatal."""
    other = contextvars.copy_context()
    token = other.run(context.activate, context.RequestIds(LOCAL))
    context.deactivate(token)
    assert context.current() is None
    assert other.run(context.current) == context.RequestIds(LOCAL)


def test_threads_never_see_each_others_ids():
    """Ids made current in one thread are invisible to every other thread."""
    workers = 8
    rounds = 50
    barrier = threading.Barrier(workers)
    mine = context.RequestIds(LOCAL, GLOBAL, 'main')
    seen = {}
    errors = []

    def work(n):
        try:
            start = context.current()
            held = context.RequestIds(
                ids.new_request_id(), ids.new_request_id(), 'svc-%d' % n
            )
            observed = []
            with context.bound(held):
                for _ in range(rounds):
                    barrier.wait(timeout=10)
                    observed.append(context.current())
            seen[n] = (start, held, observed, context.current())
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            barrier.abort()

    with context.bound(mine):
        threads = [
            threading.Thread(target=work, args=(n,)) for n in range(workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert context.current() is mine

    assert not errors
    assert len(seen) == workers
    for start, held, observed, after in seen.values():
        assert start is None
        assert all(o is held for o in observed)
        assert after is None
    assert len({h.request_id for _, h, _, _ in seen.values()}) == workers


def test_from_environ_plain_oslo_context_carries_ids_and_links(environ):
    """from_environ builds an oslo RequestContext with both ids and links."""
    ctx = context.from_environ(environ, overwrite=False)
    assert isinstance(ctx, oslo_context.RequestContext)
    assert ctx.request_id == LOCAL
    assert ctx.global_request_id == GLOBAL
    assert ctx.global_id == GLOBAL
    assert ctx.caller_service == 'nova-api'
    assert ctx.parent_request_id == PARENT
    assert ctx.user_id == 'user-1'
    assert ctx.project_id == 'project-1'


def test_from_environ_service_subclass_keeps_its_class(environ):
    """from_environ with a service's class returns an instance of it."""
    ctx = context.from_environ(
        environ, context_class=ServiceContext, flavor='m1', overwrite=False
    )
    assert isinstance(ctx, ServiceContext)
    assert isinstance(ctx, context.TraceContextMixin)
    assert ctx.flavor == 'm1'
    assert ctx.request_id == LOCAL
    assert ctx.global_request_id == GLOBAL
    assert ctx.caller_service == 'nova-api'
    assert ctx.parent_request_id == PARENT


def test_from_environ_leaves_the_service_class_unchanged(environ):
    """Mixing the links in does not alter the service's own class."""
    context.from_environ(
        environ, context_class=ServiceContext, overwrite=False
    )
    assert ServiceContext.FROM_DICT_EXTRA_KEYS == ['flavor']
    assert not issubclass(ServiceContext, context.TraceContextMixin)
    assert not hasattr(ServiceContext(overwrite=False), 'caller_service')


def test_from_environ_without_links_or_global_id():
    """A root request with no trace links gives None links, no errors."""
    ctx = context.from_environ({ids.ENV_REQUEST_ID: LOCAL}, overwrite=False)
    assert ctx.request_id == LOCAL
    assert ctx.global_request_id is None
    assert ctx.caller_service is None
    assert ctx.parent_request_id is None


def test_from_environ_root_rule():
    """A context with no global id reports its local id as global_id."""
    ctx = context.from_environ({ids.ENV_REQUEST_ID: LOCAL}, overwrite=False)
    assert ctx.global_id == ctx.request_id == LOCAL


def test_from_environ_kwargs_override_environ(environ):
    """Keyword arguments win over environ values, as in oslo."""
    ctx = context.from_environ(
        environ, caller_service='keystone', request_id=PARENT, overwrite=False
    )
    assert ctx.caller_service == 'keystone'
    assert ctx.request_id == PARENT


def test_from_environ_makes_context_current_like_oslo(environ):
    """Like oslo's from_environ, the new context becomes the current one."""
    ctx = context.from_environ(environ)
    assert oslo_context.get_current() is ctx


@pytest.mark.parametrize('context_class', [None, ServiceContext])
def test_to_dict_from_dict_round_trip_keeps_ids_and_links(
    environ, context_class
):
    """to_dict()/from_dict() keep both ids and both trace links."""
    ctx = context.from_environ(
        environ, context_class=context_class, overwrite=False
    )
    values = ctx.to_dict()
    assert values['caller_service'] == 'nova-api'
    assert values['parent_request_id'] == PARENT
    back = context.from_dict(
        values, context_class=context_class, overwrite=False
    )
    assert type(back) is type(ctx)
    assert back.request_id == LOCAL
    assert back.global_request_id == GLOBAL
    assert back.caller_service == 'nova-api'
    assert back.parent_request_id == PARENT
    assert back.user_id == 'user-1'


@pytest.mark.parametrize('context_class', [None, ServiceContext])
def test_round_trip_through_json_as_rpc_does(environ, context_class):
    """Ids and links survive to_dict() -> JSON -> from_dict(), as over RPC."""
    extra = {'flavor': 'm1'} if context_class else {}
    ctx = context.from_environ(
        environ, context_class=context_class, overwrite=False, **extra
    )
    wire = json.dumps(ctx.to_dict())
    back = context.from_dict(
        json.loads(wire), context_class=context_class, overwrite=False
    )
    assert back.request_id == LOCAL
    assert back.global_request_id == GLOBAL
    assert back.global_id == GLOBAL
    assert back.caller_service == 'nova-api'
    assert back.parent_request_id == PARENT
    if context_class:
        assert back.flavor == 'm1'


def test_stock_oslo_receiver_reads_our_dict(environ):
    """A service without global_reqid still builds a context from our dict."""
    values = json.loads(
        json.dumps(context.from_environ(environ, overwrite=False).to_dict())
    )
    back = oslo_context.RequestContext.from_dict(values, overwrite=False)
    assert back.request_id == LOCAL
    assert back.global_request_id == GLOBAL


def test_from_dict_of_a_stock_sender_has_no_links():
    """A dict from a service without global_reqid gives None links."""
    sent = oslo_context.RequestContext(
        request_id=LOCAL, global_request_id=GLOBAL, overwrite=False
    ).to_dict()
    back = context.from_dict(sent, overwrite=False)
    assert back.request_id == LOCAL
    assert back.global_request_id == GLOBAL
    assert back.caller_service is None
    assert back.parent_request_id is None


def test_logging_values_carry_links(environ):
    """get_logging_values() offers the trace links to format strings."""
    ctx = context.from_environ(environ, overwrite=False)
    values = ctx.get_logging_values()
    assert values['caller_service'] == 'nova-api'
    assert values['parent_request_id'] == PARENT


def test_traced_class_of_oslo_base_is_our_request_context():
    """The default base maps to global_reqid.context.RequestContext."""
    assert context.traced_class() is context.RequestContext
    assert (
        context.traced_class(oslo_context.RequestContext)
        is context.RequestContext
    )


def test_traced_class_caches_one_class_per_base():
    """traced_class returns the same class for a base, another per base."""
    first = context.traced_class(ServiceContext)
    assert context.traced_class(ServiceContext) is first
    other = context.traced_class(OtherServiceContext)
    assert other is not first
    assert issubclass(first, ServiceContext)
    assert issubclass(other, OtherServiceContext)
    assert first.__name__ == ServiceContext.__name__
    assert first.__module__ == ServiceContext.__module__


def test_traced_class_of_traced_class_is_itself():
    """Mixing the links into a class that has them changes nothing."""
    traced = context.traced_class(ServiceContext)
    assert context.traced_class(traced) is traced
    assert traced.FROM_DICT_EXTRA_KEYS.count('caller_service') == 1


def test_logging_values_root_rule_for_a_context():
    """logging_values gives the local id as global when there is none."""
    ctx = oslo_context.RequestContext(request_id=LOCAL, overwrite=False)
    values = context.logging_values(ctx)
    assert values['request_id'] == LOCAL
    assert values['global_request_id'] == LOCAL
    assert ctx.global_request_id is None


def test_logging_values_keeps_a_real_global_id():
    """logging_values keeps the global id of a context that has one."""
    ctx = oslo_context.RequestContext(
        request_id=LOCAL, global_request_id=GLOBAL, overwrite=False
    )
    values = context.logging_values(ctx)
    assert values['request_id'] == LOCAL
    assert values['global_request_id'] == GLOBAL


def test_logging_values_root_rule_for_a_dict_leaves_it_unchanged():
    """A dict context gets the root rule in a copy, never in place."""
    given = {'request_id': LOCAL, 'global_request_id': None}
    values = context.logging_values(given)
    assert values['global_request_id'] == LOCAL
    assert given == {'request_id': LOCAL, 'global_request_id': None}


def test_logging_values_empty_when_nothing_is_known():
    """With no context, no current context and no held ids: empty."""
    assert context.logging_values() == {}


def test_logging_values_fall_back_to_held_ids():
    """With no oslo context current, the held request's ids are used."""
    held = context.RequestIds(LOCAL, GLOBAL, 'glance-api', 'nova-api', PARENT)
    with context.bound(held):
        values = context.logging_values()
    assert values['request_id'] == LOCAL
    assert values['global_request_id'] == GLOBAL
    assert values['caller_service'] == 'nova-api'
    assert values['parent_request_id'] == PARENT


def test_logging_values_held_ids_root_rule():
    """Held ids of a root request give the local id as the global one."""
    with context.bound(context.RequestIds(LOCAL)):
        values = context.logging_values()
    assert values['request_id'] == LOCAL
    assert values['global_request_id'] == LOCAL


def test_logging_values_prefer_current_oslo_context_to_held_ids():
    """The service's own context, made in the request, wins over held ids."""
    with context.bound(context.RequestIds(LOCAL)):
        current = oslo_context.RequestContext(
            request_id=PARENT, global_request_id=GLOBAL
        )
        assert oslo_context.get_current() is current
        values = context.logging_values()
    assert values['request_id'] == PARENT
    assert values['global_request_id'] == GLOBAL


def test_bound_replaces_a_leftover_oslo_context():
    """bound() wins over an oslo context left in the thread, then restores it."""
    leftover = oslo_context.RequestContext(request_id=PARENT)
    with context.bound(context.RequestIds(LOCAL, GLOBAL)):
        values = context.logging_values()
        assert oslo_context.get_current() is not leftover
    assert (values['request_id'], values['global_request_id']) == (
        LOCAL,
        GLOBAL,
    )
    assert oslo_context.get_current() is leftover
