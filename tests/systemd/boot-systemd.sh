#!/bin/sh
# Boots systemd as PID 1 of the namespaces this script runs in, on a throw-away root.
#
# Run by tests/systemd/container.py as
#   script -qfec "unshare --cgroup --pid --fork --kill-child --mount --uts --ipc --net \
#                 --propagation private sh boot-systemd.sh WORKDIR CHECKOUT" /dev/null
# so this shell is PID 1 of a new PID namespace, in a private mount namespace, with a pty
# (from `script`) as its terminal. Everything it mounts lives in that mount namespace and
# disappears with it; the only host paths it writes are directories inside WORKDIR.
#
# The root is an overlay of the host's / whose upper layer is a tmpfs: the service's
# /opt/shopwatch, /etc/shopwatch, /var/lib/shopwatch ... are written to memory, never to
# the host. CHECKOUT (a copy of the repository) appears at /usr/local/src/shopwatch.
set -eu

work=$1
checkout=$2
root=$work/root
layers=$work/layers

mkdir -p "$root" "$layers"
mount -t tmpfs -o mode=0755 shopwatch-layers "$layers"
mkdir "$layers/upper" "$layers/work"
mount -t overlay shopwatch-root \
    -o "lowerdir=/,upperdir=$layers/upper,workdir=$layers/work" "$root"

# Kernel file systems, as a container manager gives them: /proc/sys and /sys read-only.
mount -t proc proc "$root/proc"
mount --bind "$root/proc/sys" "$root/proc/sys"
mount -o remount,bind,ro "$root/proc/sys"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
# Our own cgroup namespace: its root is the fresh sub-cgroup the test made for us.
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$root/sys/fs/cgroup"

# A minimal /dev: the harmless character devices, a private devpts, the pty as console.
mount -t tmpfs -o mode=0755,nosuid,noexec shopwatch-dev "$root/dev"
for node in null zero full random urandom tty; do
    touch "$root/dev/$node"
    mount --bind "/dev/$node" "$root/dev/$node"
done
console=$(tty)
touch "$root/dev/console"
mount --bind "$console" "$root/dev/console"
mkdir "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mount -t tmpfs -o mode=1777,nosuid,nodev shopwatch-shm "$root/dev/shm"
mount -t tmpfs -o mode=0755,nosuid,nodev shopwatch-run "$root/run"
mount -t tmpfs -o mode=1777,nosuid,nodev shopwatch-tmp "$root/tmp"

mkdir -p "$root/usr/local/src/shopwatch"
mount --bind "$checkout" "$root/usr/local/src/shopwatch"

# Units that would touch global kernel state (clock, modules, sysctl, binfmt, devices,
# swap, the host's disks) or are useless here are masked; fstab is empty.
units=$root/etc/systemd/system
for unit in \
    systemd-timesyncd.service systemd-modules-load.service kmod-static-nodes.service \
    systemd-sysctl.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount \
    proc-sys-fs-binfmt_misc.mount systemd-udevd.service systemd-udev-trigger.service \
    systemd-udev-settle.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
    systemd-hwdb-update.service systemd-pstore.service systemd-random-seed.service \
    systemd-remount-fs.service systemd-firstboot.service systemd-machine-id-commit.service \
    systemd-repart.service systemd-pcrphase.service systemd-pcrphase-sysinit.service \
    systemd-journal-flush.service systemd-journald-audit.socket \
    dev-hugepages.mount dev-mqueue.mount sys-fs-fuse-connections.mount \
    sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
    cryptsetup.target veritysetup.target integritysetup.target swap.target \
    systemd-ask-password-console.path systemd-ask-password-wall.path \
    getty.target console-getty.service; do
    ln -sf /dev/null "$units/$unit"
done
: >"$root/etc/fstab"
# The target systemd boots into: sysinit, the journal, and the bus (systemd-run needs it).
cat >"$units/shopwatch-test.target" <<'EOF'
[Unit]
Description=shopwatch test boot
Requires=sysinit.target systemd-journald.socket dbus.socket
After=sysinit.target systemd-journald.socket dbus.socket
AllowIsolate=yes
EOF

cd "$root"
pivot_root . .
umount -l .
cd /
# LoadCredential= needs shared propagation on / (systemd mounts the credentials directory
# in the service's namespace from a mount it makes in its own).
mount --make-rshared /

exec env -i container=shopwatch-test PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    setpriv --bounding-set=-sys_module,-sys_time,-syslog,-sys_rawio,-sys_pacct,-wake_alarm,-block_suspend,-mac_admin,-mac_override,-audit_control \
    /lib/systemd/systemd --system --unit=shopwatch-test.target
