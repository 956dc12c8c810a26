"""global_reqid: one request id across every OpenStack service.

Import the parts you need; nothing runs on import:

* :mod:`global_reqid.ids`: header and environ constants, the id validator;
* :mod:`global_reqid.middleware`: the ``RequestId`` paste filter;
* :mod:`global_reqid.context`: current ids and oslo.context integration;
* :mod:`global_reqid.log`: oslo.log formatters that emit both ids;
* :mod:`global_reqid.opts`: the ``[global_reqid]`` options.
"""

__all__ = ['context', 'ids', 'log', 'middleware', 'opts']
