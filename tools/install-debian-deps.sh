#!/bin/bash
# Install the Debian 12 packages the test tiers need: libvirt, QEMU (TCG
# guests) and swtpm for the integration tier's two hosts; util-linux,
# iproute2 and e2fsprogs for their namespaces, veth pair and small loop
# filesystems; a C toolchain and headers so that pip can build
# libvirt-python; python3-venv and git for tools/bootstrap.sh and pbr; the
# shell linter, shellcheck; for the main job's real cloud
# (xloud-migration-demo --hypervisor libvirt), RabbitMQ and MariaDB (run as
# its own children, never as system services) and cpio to pack the heartbeat
# guest's initramfs (its kernel and busybox are fetched with apt-get
# download, not installed); syslinux, mtools and dosfstools to make that
# guest's bootable disk image (xloud_harness.heartbeat.disk); iptables, for
# the integration tier's firewall that drops the migration connection
# inside one host's namespace.
#
# Idempotent and non-interactive: safe to run again, and on a fresh machine
# with empty apt lists. It starts nothing: the packages' scripts would start
# libvirtd in the machine's own namespaces, while the tests run their own
# daemons (xloud_nova_ext/tests/integration).
set -euo pipefail

packages=(
    libvirt-daemon libvirt-daemon-driver-qemu libvirt-daemon-system
    libvirt-clients qemu-system-x86 qemu-utils swtpm swtpm-tools
    iproute2 util-linux mount e2fsprogs iptables
    libvirt-dev pkg-config gcc libc6-dev python3-dev python3-venv git
    shellcheck
    rabbitmq-server mariadb-server cpio
    syslinux syslinux-common mtools dosfstools
    # The real cloud (--hypervisor libvirt): the disguised shared instances
    # directory (bindfs, FUSE) and nova's disk copy between hosts (rsync).
    bindfs rsync
    jq
)

if [ "$(id -u)" -ne 0 ]; then
    exec sudo -- "$0" "$@"
fi

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-q -o Acquire::Retries=3 -o DPkg::Lock::Timeout=300)

# invoke-rc.d and deb-systemd-invoke ask policy-rc.d before starting a
# service; 101 means "do not". Keep a policy the machine already has.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    trap 'rm -f "$policy"' EXIT
    printf '#!/bin/sh\n# install-debian-deps.sh: start no service\nexit 101\n' \
        > "$policy"
    chmod 755 "$policy"
fi

apt-get "${apt_opts[@]}" update
# Recommends (ovmf, lvm2, dnsmasq, other hypervisor drivers...) are not
# needed by the tests and would double the download. --no-upgrade: install
# what is missing, leave what a developer's machine has as it is.
apt-get "${apt_opts[@]}" -y --no-install-recommends --no-upgrade \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    install "${packages[@]}"
