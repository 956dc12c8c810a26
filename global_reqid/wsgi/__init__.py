"""WSGI entry points that serve a service with the filter in place.

For services that build their middleware in code rather than from a paste
file: :mod:`global_reqid.wsgi.keystone`.
"""

__all__ = ['keystone']
