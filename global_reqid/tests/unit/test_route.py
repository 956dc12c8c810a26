"""Route templates replace ids in paths and keep names and versions."""

import pytest

from global_reqid.events import route


@pytest.mark.parametrize('path,expected', [
    ('/v2/images/070833a5-4f01-4ae7-9892-73e6556940ea/file',
     '/v2/images/{uuid}/file'),
    ('/v2.1/servers/070833a54f014ae7989273e6556940ea/action',
     '/v2.1/servers/{uuid}/action'),
    ('/v3/users/25a1f0a4543740778deb98dc1ad33a97/projects',
     '/v3/users/{uuid}/projects'),
    ('/v3/endpoints/0123456789abcdef0123', '/v3/endpoints/{id}'),
    ('/v2.0/ports/42', '/v2.0/ports/{id}'),
    ('/v2/images?limit=20&marker=x', '/v2/images'),
    ('/identity/v3/auth/tokens', '/identity/v3/auth/tokens'),
    ('/v1/AUTH_test/container/object-name', '/v1/AUTH_test/container/'
     'object-name'),
    ('/requests/req-0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9',
     '/requests/{request_id}'),
    ('', '/'),
    ('/', '/'),
])
def test_template(path, expected):
    """Ids become placeholders; names, versions and slashes stay."""
    assert route.template(path) == expected
