"""The image stand-in of the demo (not glance).

``POST /v2/images``, ``PUT /v2/images/<id>/file`` and ``GET
/v2/images/<id>``. Image records live in memory; the data is stored in
swift through a keystoneauth1 session with the caller's token, as glance's
multi-tenant swift store does.
"""

import hashlib
import json
import logging
import re
import threading
import uuid

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint

from global_reqid.cmd._demo import common

#: Seconds a call to swift may take.
TIMEOUT = 30
#: The container image data is stored in.
CONTAINER = 'images'

_IMAGE_PATH = re.compile(r'/v2/images/([0-9a-f-]{36})(/file)?')


class Glance:
    """The image stand-in: image records in memory, data in swift."""

    def __init__(self, object_store_url):
        self.log = logging.getLogger('glance.api.v2.images')
        self.store_log = logging.getLogger('glance.store.swift')
        self.object_store_url = object_store_url.rstrip('/')
        self._images = {}
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        method = environ['REQUEST_METHOD']
        path = environ.get('PATH_INFO', '')
        if path.rstrip('/') == '/v2/images' and method == 'POST':
            return self._create(environ, start_response)
        match = _IMAGE_PATH.fullmatch(path)
        with self._lock:
            image = self._images.get(match[1]) if match else None
        if image is None:
            return common.error(start_response, '404 Not Found',
                                'No image found.')
        if match[2] and method == 'PUT':
            return self._upload(environ, start_response, image)
        if not match[2] and method == 'GET':
            self.log.info('Showing image %s', image['id'])
            return common.answer(start_response, '200 OK', dict(image))
        return common.error(start_response, '405 Method Not Allowed',
                            'The method is not allowed.')

    def _create(self, environ, start_response):
        try:
            asked = json.loads(common.read(environ))
            name = str(asked['name'])
        except (ValueError, KeyError, TypeError):
            return common.error(start_response, '400 Bad Request',
                                'Expecting a JSON image with a name.')
        image_id = str(uuid.uuid4())
        now = common.now().strftime(common.TIME_FORMAT)
        image = {
            'id': image_id, 'name': name, 'status': 'queued',
            'disk_format': asked.get('disk_format', 'raw'),
            'container_format': asked.get('container_format', 'bare'),
            'visibility': 'shared', 'owner': environ['HTTP_X_PROJECT_ID'],
            'size': None, 'checksum': None, 'created_at': now,
            'updated_at': now, 'self': '/v2/images/' + image_id,
            'file': '/v2/images/%s/file' % image_id,
        }
        with self._lock:
            self._images[image_id] = image
        self.log.info('Created image %s (%s)', image_id, name)
        return common.answer(start_response, '201 Created', dict(image),
                             [('Location', '/v2/images/' + image_id)])

    def _upload(self, environ, start_response, image):
        data = common.read(environ)
        image['status'] = 'saving'
        url = '%s/v1/AUTH_%s' % (self.object_store_url,
                                 environ['HTTP_X_PROJECT_ID'])
        self.store_log.info('Storing %d bytes of image %s in swift',
                            len(data), image['id'])
        sess = ks_session.Session(auth=token_endpoint.Token(
            url, environ['HTTP_X_AUTH_TOKEN']), timeout=TIMEOUT)
        try:
            sess.put('/%s/%s' % (CONTAINER, image['id']), data=data,
                     endpoint_filter={'service_type': 'object-store'},
                     headers={'Content-Type': 'application/octet-stream'})
        except ks_exceptions.ClientException as exc:
            image['status'] = 'queued'
            self.store_log.error('Swift refused image %s: %s',
                                 image['id'], type(exc).__name__)
            return common.error(start_response, '502 Bad Gateway',
                                'The image store failed.')
        image.update(status='active', size=len(data),
                     checksum=hashlib.md5(data,
                                          usedforsecurity=False).hexdigest(),
                     updated_at=common.now().strftime(common.TIME_FORMAT))
        self.log.info('Image %s is active (%d bytes)', image['id'],
                      len(data))
        return common.answer(start_response, '204 No Content')


def glance_factory(global_conf, object_store_url):
    """paste.app_factory of the image stand-in."""
    return Glance(object_store_url)
