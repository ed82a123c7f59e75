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

"""What the driver hooks call: the CPU pre-check, start-up check, records.

:class:`CPUGuard` holds nova's ``Host`` (for the libvirt connection) and
the configuration, and serves these hooks:

* :meth:`~CPUGuard.check_can_live_migrate_destination` - on the
  destination, before any memory is copied: does this hypervisor run the
  guest's CPU?
* :meth:`~CPUGuard.init_host` - at start-up: do the ``[libvirt]
  cpu_models`` (with ``cpu_model_extra_flags``) run here?
* :meth:`~CPUGuard.guest_started` - after a guest (re)starts (spawn,
  power on, reboot, host boot, cold migration or revert): note in its
  system_metadata the CPU it really runs (its migratable ``<cpu>``);
* :meth:`~CPUGuard.update_available_resource` - add this hypervisor's
  host-model CPU to the ``cpu_info`` nova reports, for the baseline tool
  and as a fallback for guests started before this driver recorded their
  CPU.

Which guest CPU the destination checks, best first (:func:`guest_cpu`):

1. the CPU recorded when the guest last started: libvirt's migratable
   ``<cpu>`` of the running domain, i.e. exactly what a live migration
   sends (for a host-model guest, the expansion made on the host where it
   started, which a live migration keeps);
2. ``instance.vcpu_model`` when it names a model (custom mode);
3. for host-model guests, the host-model CPU the source publishes in its
   ``cpu_info``, plus the guest's extra flags;
4. the source host's CPU from ``cpu_info`` (nova's own choice).

nova's own comparisons (``[workarounds] skip_cpu_compare_on_dest``,
``skip_cpu_compare_at_startup``) are left as the operator set them: with
nova's defaults both checks run, ours first.
"""

from nova import conf as nova_conf
from nova import objects
from nova.virt.libvirt import utils as libvirt_utils
from oslo_log import log as logging
from oslo_serialization import jsonutils

from xloud_nova_ext.cpu import compare
from xloud_nova_ext.cpu import hypervisor
from xloud_nova_ext.cpu import xmlcpu
from xloud_nova_ext import exception

CONF = nova_conf.CONF
LOG = logging.getLogger(__name__)

#: system_metadata keys of the recorded CPU: a header and numbered chunks
#: (nova limits each value to 255 characters; a real host-model expansion
#: takes 200 to 600).
RECORD_KEY = 'xloud_cpu'
_CHUNK = 250
_RECORD_VERSION = '1'
#: Missing features spelled out in a refusal; the log has all of them.
#: nova keeps 255 characters of an instance fault's message, and the
#: refusal (code, cause, fix) must fit (a Skylake guest refused by a
#: Nehalem host lacks 26 features).
_MESSAGE_FEATURES = 8
_NOT_NOW = object()
#: Virt types whose CPU libvirt compares (nova's own check: kvm only).
_COMPARED_VIRT_TYPES = ('kvm', 'qemu')


def read_record(sysmeta):
    """(cpu, machine, host) recorded in system_metadata, or None."""
    header = sysmeta.get(RECORD_KEY)
    if not header:
        return None
    try:
        version, count, machine, host = header.split(';', 3)
        if version != _RECORD_VERSION:
            return None
        text = ''.join(sysmeta['%s_%d' % (RECORD_KEY, i)]
                       for i in range(1, int(count) + 1))
        return xmlcpu.decode(text), machine or None, host
    except (ValueError, KeyError) as e:
        LOG.warning('Ignoring an unreadable recorded guest CPU: %s', e)
        return None


def write_record(sysmeta, cpu, machine, host):
    """Record ``cpu`` (None clears); True if system_metadata changed."""
    new = {}
    if cpu is not None:
        text = xmlcpu.encode(cpu)
        chunks = [text[i:i + _CHUNK] for i in range(0, len(text), _CHUNK)]
        new[RECORD_KEY] = ';'.join(
            (_RECORD_VERSION, str(len(chunks)), machine or '', host))
        for i, chunk in enumerate(chunks, 1):
            new['%s_%d' % (RECORD_KEY, i)] = chunk
    old = {k: v for k, v in sysmeta.items() if _is_record_key(k)}
    if old == new:
        return False
    for key in old:
        if key not in new:
            del sysmeta[key]
    sysmeta.update(new)
    return True


def _is_record_key(key):
    return key == RECORD_KEY or (key.startswith(RECORD_KEY + '_') and
                                 key[len(RECORD_KEY) + 1:].isdigit())


def _cpu_info(compute_info):
    info = (compute_info or {}).get('cpu_info') or {}
    if isinstance(info, str):
        info = jsonutils.loads(info)
    if not isinstance(info, dict):
        raise xmlcpu.CPUDefError('cpu_info is not a JSON object')
    return info


def guest_cpu(instance, src_compute_info):
    """(cpu, machine, origin) to check for ``instance``; cpu may be None.

    ``origin`` says in words where the definition comes from; it ends up
    in the refusal so that an operator can judge it.
    """
    record = read_record(instance.system_metadata)
    if record:
        cpu, machine, host = record
        return cpu, machine, ('the CPU the guest runs, recorded when it '
                              'last started (on %s)' % host)
    vcpu_model = instance.vcpu_model
    wanted = xmlcpu.from_vcpu_model(vcpu_model) if vcpu_model else None
    if wanted and wanted.model and wanted.mode == xmlcpu.CUSTOM:
        return wanted, None, "the instance's CPU model (nova vcpu_model)"
    source = instance.host
    try:
        return _from_source(_cpu_info(src_compute_info), source, wanted)
    except (ValueError, TypeError, xmlcpu.CPUDefError) as e:
        # Without a record, nova's data is all there is: refuse rather
        # than guess (a hard reboot records the CPU and ends this).
        raise exception.CPUDefinitionInvalid(
            what='source host %s (its cpu_info)' % source, detail=e)


def _from_source(info, source, wanted):
    mode = wanted.mode if wanted else xmlcpu.HOST_MODEL
    if mode not in xmlcpu.PASSTHROUGH_MODES:
        host_model = xmlcpu.host_model_from_info(info)
        if host_model:
            extra = dict(wanted.features) if wanted else {}
            return (host_model.merged(extra).replace(mode=xmlcpu.CUSTOM),
                    None, 'the host-model CPU of source host %s' % source)
    if info.get('model'):
        return (xmlcpu.from_cpu_info(info).replace(vendor=None), None,
                'the CPU of source host %s' % source)
    return None, None, 'nothing'


class CPUGuard(object):
    """The CPU safeguard of one compute host."""

    def __init__(self, host, conf=CONF):
        self._host = host
        self._conf = conf
        #: This host as nova names it ([DEFAULT] host), read once at start
        #: as nova's compute manager reads it.
        self.host = conf.host
        self._warned_no_support = False
        self._domcaps = hypervisor.DomainCapabilities(host)
        #: (domain capabilities it was read from, host-model CPU or None)
        self._host_model = (None, None)

    # Start-up

    def init_host(self):
        """Raise CPUModelsUnusable unless every ``cpu_models`` runs here.

        Adds to nova's own start-up check: it runs for ``qemu`` too, passes
        virt type, arch and machine type, and names missing features.
        """
        self._log_nova_checks()
        libvirt_conf = self._conf.libvirt
        if (not self._conf.xloud.validate_cpu_models_on_startup or
                libvirt_conf.cpu_mode != 'custom' or
                libvirt_conf.virt_type not in _COMPARED_VIRT_TYPES):
            return
        extra = {}
        for flag in libvirt_conf.cpu_model_extra_flags:
            name = flag.lower().lstrip('+-')
            extra[name] = (xmlcpu.DISABLE if flag.startswith('-')
                           else xmlcpu.REQUIRE)
        conn = self._host.get_connection()
        arch = self._host.get_capabilities().host.cpu.arch
        machine = libvirt_utils.get_default_machine_type(arch)
        names = {n.lower(): n for n in conn.getCPUModelNames(arch, 0)}
        unusable = []
        for model in libvirt_conf.cpu_models:
            cpu = xmlcpu.CPUDef.make(names.get(model.lower(), model), extra)
            verdict = self._verdict(cpu, libvirt_conf.virt_type, arch,
                                    machine)
            if not verdict.supported:
                self._warn_no_support(verdict)
                return
            if verdict.failed:
                # libvirtd not answering now says nothing about the models;
                # nova's own start-up check and the migration pre-check
                # still run.
                LOG.warning('Cannot check [libvirt] cpu_models %s now: %s',
                            model, verdict.detail)
                continue
            if not verdict.compatible:
                unusable.append((model, verdict.reason()))
        if unusable:
            raise exception.CPUModelsUnusable(
                models=', '.join(m for m, _ in unusable),
                host=self.host,
                detail='; '.join('%s: %s' % u for u in unusable))

    def _log_nova_checks(self):
        # Both checks run with nova's defaults; say so once, and how to rely
        # on ours alone, without changing the operator's settings.
        for ours, nova_opt in (('cpu_precheck', 'skip_cpu_compare_on_dest'),
                               ('validate_cpu_models_on_startup',
                                'skip_cpu_compare_at_startup')):
            if (getattr(self._conf.xloud, ours) and
                    not getattr(self._conf.workarounds, nova_opt)):
                LOG.info('[xloud] %(ours)s and nova\'s own CPU comparison '
                         '([workarounds] %(nova)s = False) both run. nova\'s '
                         'runs for kvm only, without virt type, arch or '
                         'machine type, and may refuse guests this host '
                         'runs; set [workarounds] %(nova)s = True to rely on '
                         'the Xloud check alone.',
                         {'ours': ours, 'nova': nova_opt})

    # Live migration

    def check_can_live_migrate_destination(self, instance,
                                           src_compute_info):
        """Raise a refusal unless this hypervisor runs the guest CPU.

        Runs on the destination at the start of its pre-check, before
        nova creates anything there. CPUIncompatible when libvirt says no;
        CPUCheckFailed when libvirt could not answer (the conductor then
        tries another host); CPUDefinitionInvalid when nova's data about
        the guest CPU is unreadable. A hypervisor that cannot compare CPUs
        (most non-x86 ones) lets the guest through with a warning.
        """
        virt_type = self._conf.libvirt.virt_type
        if (not self._conf.xloud.cpu_precheck or
                virt_type not in _COMPARED_VIRT_TYPES):
            return
        cpu, machine, origin = guest_cpu(instance, src_compute_info)
        if cpu is None:
            LOG.warning('No CPU definition known for the guest; skipping '
                        'the CPU pre-check.', instance=instance)
            return
        try:
            image_meta = objects.ImageMeta.from_instance(instance)
            arch = libvirt_utils.get_arch(image_meta)
            machine = machine or libvirt_utils.get_machine_type(image_meta)
            verdict = self._verdict(cpu, virt_type, arch, machine)
        # The safeguard's own failure is never "incompatible CPU".
        except Exception as e:
            LOG.exception('The CPU pre-check failed', instance=instance)
            verdict = compare.Verdict(False, failed=True, detail='%s: %s' % (
                type(e).__name__, compare.first_line(e)))
        if not verdict.supported:
            self._warn_no_support(verdict)
            return
        if verdict.failed:
            LOG.warning('Refusing the live migration: could not check the '
                        'guest CPU %(cpu)s here: %(error)s', {
                            'cpu': cpu.describe(), 'error': verdict.detail},
                        instance=instance)
            raise exception.CPUCheckFailed(host=self.host,
                                           detail=verdict.detail)
        if not verdict.compatible:
            self._refuse(instance, cpu, origin, virt_type, arch, machine,
                         verdict)
        LOG.debug('Guest CPU %(cpu)s runs here (%(origin)s).',
                  {'cpu': cpu.model, 'origin': origin}, instance=instance)

    def _refuse(self, instance, cpu, origin, virt_type, arch, machine,
                verdict):
        host = self.host
        LOG.warning('Refusing the live migration to %(host)s: its '
                    '%(virt_type)s hypervisor cannot run the guest CPU '
                    '%(cpu)s (%(origin)s; arch %(arch)s, machine type '
                    '%(machine)s): %(reason)s', {
                        'host': host, 'virt_type': virt_type,
                        'cpu': cpu.describe(), 'origin': origin,
                        'arch': arch, 'machine': machine or 'default',
                        'reason': verdict.reason()}, instance=instance)
        raise exception.CPUIncompatible(
            host=host, model=cpu.model, virt_type=virt_type,
            detail=verdict.reason(limit=_MESSAGE_FEATURES))

    def _verdict(self, cpu, virt_type, arch, machine):
        """compareHypervisorCPU, after checking QEMU knows the model.

        compareHypervisorCPU judges features against libvirt's CPU map and
        says yes to a model this QEMU does not have (an older QEMU on the
        destination), whose migration then fails with "CPU model ... is not
        supported by hypervisor" (seen in the integration tier).
        """
        models = self._hypervisor_models(virt_type, arch, machine)
        if models is not None and cpu.model not in models:
            return compare.Verdict(False, detail=(
                'its hypervisor does not support CPU model %s' % cpu.model))
        return compare.compare(self._host.get_connection(), cpu, virt_type,
                               arch, machine)

    def _hypervisor_models(self, virt_type, arch, machine):
        # A failure is not cached: it may be a passing libvirtd restart;
        # compareHypervisorCPU, next, then answers or fails itself.
        try:
            return self._domcaps.models(virt_type, arch, machine)
        except (compare.libvirt_error(), xmlcpu.CPUDefError) as e:
            LOG.warning('Cannot list the CPU models of the hypervisor '
                        '(%s, %s, %s): %s', virt_type, arch, machine, e)
            return None

    # Records and reports

    def guest_started(self, instance, save=False):
        """Note in system_metadata the CPU the guest now runs.

        Reads the migratable ``<cpu>`` of the running domain, which is what
        a live migration sends. Best effort: a failure only clears the
        record, and the pre-check then falls back to nova's data.
        """
        cpu = machine = None
        try:
            xml = self._host.get_guest(instance).get_xml_desc(
                dump_migratable=True)
            cpu = xmlcpu.domain_cpu(xml)
            machine = xmlcpu.parse_xml(xml).find('os/type').get('machine')
        # A failure here must never fail the spawn or reboot it follows.
        except Exception as e:
            LOG.warning('Cannot read the CPU of the guest: %s', e,
                        instance=instance)
        if cpu is not None and (cpu.mode != xmlcpu.CUSTOM or not cpu.model):
            cpu = None
        if (write_record(instance.system_metadata, cpu, machine,
                         self.host) and save):
            instance.save()

    def update_available_resource(self, resources):
        """Add this hypervisor's host-model CPU to nova's cpu_info."""
        host_model = self._get_host_model()
        if host_model is None:
            return
        info = jsonutils.loads(resources['cpu_info'])
        info[xmlcpu.CPU_INFO_HOST_MODEL_KEY] = xmlcpu.host_model_to_info(
            host_model)
        resources['cpu_info'] = jsonutils.dumps(info)

    def _get_host_model(self):
        # Read again only when libvirt or QEMU changed (see .hypervisor);
        # a failure is not kept: the next periodic update tries again.
        virt_type = self._conf.libvirt.virt_type
        try:
            arch = self._host.get_capabilities().host.cpu.arch
            root = self._domcaps.get(virt_type, arch)
            if root is not self._host_model[0]:
                found = self._read_host_model(root, virt_type, arch)
                if found is _NOT_NOW:
                    return None
                self._host_model = (root, found)
        except (compare.libvirt_error(), xmlcpu.CPUDefError) as e:
            LOG.warning('Cannot read the host-model CPU: %s', e)
            return None
        return self._host_model[1]

    def _read_host_model(self, root, virt_type, arch):
        host_model = xmlcpu.host_model(root)
        if host_model is None:
            return None
        # Never publish a reference that this very hypervisor refuses: other
        # hosts would then refuse guests that run here.
        verdict = compare.compare(self._host.get_connection(), host_model,
                                  virt_type, arch)
        if verdict.failed:
            LOG.warning('Cannot check the host-model CPU %s now: %s',
                        host_model.model, verdict.detail)
            return _NOT_NOW
        if not verdict.compatible:
            LOG.warning('Not publishing the host-model CPU %s: this '
                        'hypervisor itself refuses it (%s).',
                        host_model.model, verdict.reason())
            return None
        return host_model

    def _warn_no_support(self, verdict):
        if not self._warned_no_support:
            self._warned_no_support = True
            LOG.warning('This hypervisor cannot compare CPUs (%s); the '
                        'Xloud CPU check lets every guest through.',
                        verdict.detail)
