#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""What happens when a safeguard itself fails: one rule for all of them.

A safeguard's own unexpected exception (anything but an
:class:`~xloud_nova_ext.exception.XloudError`, which it raises on purpose)
is never the user's failure. The driver reaches each safeguard through a
:class:`Failsafe`, which turns such an exception into one of two outcomes,
chosen per safeguard method:

* **refuse**: a :class:`~xloud_nova_ext.exception.SafeguardFailed`, which the
  driver's hooks hand to nova as a pre-check error before anything moves
  (live migrations keep running on their source, cold migrations roll back);
  for the steps where going on without the safeguard could send or lose a
  vTPM secret;
* **proceed** (every other step): a WARNING with the traceback, and nova
  goes on as it would without the safeguard. A step that hands data on
  (:data:`PASSTHROUGH`) hands it on unchanged.

The operator's guide (admin/failures) tells which steps do which.
"""

import contextlib
import inspect

from oslo_config import cfg
from oslo_log import log as logging

from xloud_nova_ext import exception

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

#: Safeguard method -> the argument it returns, changed or not (the first
#: of these names it has); when the method fails and nova proceeds, that
#: argument is returned as it came.
PASSTHROUGH = {
    'check_can_live_migrate_destination': ('check_data', 'migrate_data'),
    'get_instance_disk_info': ('disk_info',),
}


class Failsafe(object):
    """A safeguard as the driver sees it: its failures follow the rule.

    ``refuse`` names the methods whose unexpected failure refuses the
    migration; any other method's failure lets nova proceed. Attributes
    are read from and written to the safeguard itself.
    """

    def __init__(self, name, guard, refuse=()):
        object.__setattr__(self, '_fs_name', name)
        object.__setattr__(self, '_fs_guard', guard)
        object.__setattr__(self, '_fs_refuse', frozenset(refuse))

    @property
    def __wrapped__(self):
        """The safeguard itself."""
        return self._fs_guard

    def __setattr__(self, attr, value):
        setattr(self._fs_guard, attr, value)

    def __delattr__(self, attr):
        delattr(self._fs_guard, attr)

    def __getattr__(self, attr):
        member = getattr(self._fs_guard, attr)
        if attr.startswith('_') or not callable(member):
            return member

        def call(*args, **kwargs):
            try:
                result = member(*args, **kwargs)
            except exception.XloudError:
                raise
            except Exception as e:
                return self._fs_failed(attr, e, member, args, kwargs)
            if isinstance(result, contextlib.AbstractContextManager):
                return _Context(self, attr, result)
            return result
        return call

    def _fs_wrap(self, value):
        """What a safeguard's context yields, under the same rule."""
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        return Failsafe(self._fs_name, value, self._fs_refuse)

    def _fs_failed(self, attr, error, member=None, args=(), kwargs=None):
        if attr in self._fs_refuse:
            LOG.exception('The %(name)s safeguard failed in %(step)s; the '
                          'migration is refused before anything moves.',
                          {'name': self._fs_name, 'step': attr})
            raise exception.SafeguardFailed(
                safeguard=self._fs_name, host=CONF.host, step=attr,
                error=type(error).__name__) from error
        LOG.warning('The %(name)s safeguard failed in %(step)s; nova '
                    'proceeds as it would without it.',
                    {'name': self._fs_name, 'step': attr}, exc_info=True)
        if attr not in PASSTHROUGH or member is None:
            return None
        bound = inspect.signature(member).bind(*args, **(kwargs or {}))
        for param in PASSTHROUGH[attr]:
            if param in bound.arguments:
                return bound.arguments[param]
        return None


class _Context(object):
    """A safeguard's context manager (around one of nova's steps).

    Exceptions of nova's step inside it pass through untouched; only the
    safeguard's own entry and exit follow the rule.
    """

    def __init__(self, failsafe, attr, context):
        self._failsafe = failsafe
        self._attr = attr
        self._context = context
        self._entered = False

    def __enter__(self):
        try:
            value = self._context.__enter__()
        except exception.XloudError:
            raise
        except Exception as e:
            return self._failsafe._fs_failed(self._attr, e)
        self._entered = True
        return self._failsafe._fs_wrap(value)

    def __exit__(self, exc_type, exc, tb):
        if not self._entered:
            return False
        try:
            return self._context.__exit__(exc_type, exc, tb)
        except exception.XloudError:
            raise
        except Exception as e:
            if e is exc:
                raise
            if exc is not None:
                # nova's own error is the one to report; ours is logged.
                LOG.warning('The %(name)s safeguard failed in %(step)s '
                            'while nova failed too.',
                            {'name': self._failsafe._fs_name,
                             'step': self._attr}, exc_info=True)
                return False
            self._failsafe._fs_failed(self._attr, e)
            return False
