#!/usr/bin/env bash
# Installs what the test lab needs: OpenSSH (sshd per simulated host), OpenIPMI's ipmi_sim
# (a BMC per host), ipmitool (the client blackstart drives), python3 (the lab's services),
# the fan-out baselines (pdsh), Debian's chromium (the HTML report is checked in a real
# browser), graphviz (`dot` renders the plan's graph in tests), openssl (lab certificates),
# tmux (the live progress is read off a terminal),
# iproute2 (`ip netns`: the jump-host lab builds its networks in namespaces),
# and, in a virtual environment under target/ (or $BLACKSTART_LAB_VENV), OpenStack's Redfish
# emulator sushy-tools and ansible-core (whose `ansible-inventory` the inventory tests compare
# against). Idempotent: does nothing when everything is present.
set -euo pipefail
need_install=0
for tool in /usr/sbin/sshd ssh-keygen ipmi_sim ipmitool python3 pdsh pkg-config chromium dot openssl tmux ip sqlite3; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "$tool" ] || need_install=1
done
for package in libssl-dev python3-venv ca-certificates fonts-dejavu-core; do
  dpkg -s "$package" >/dev/null 2>&1 || need_install=1
done
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_install=1
if [ "$need_install" = 1 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq openssh-server openssh-client openipmi ipmitool python3 \
    pdsh iproute2 libssl-dev pkg-config chromium graphviz fonts-dejavu-core openssl \
    python3-venv ca-certificates tmux sqlite3 >/dev/null
fi
# sshd's privilege-separation directory; the lab runs sshd as root on loopback addresses.
if [ "$(id -u)" = 0 ]; then mkdir -p -m 0755 /run/sshd; else sudo mkdir -p -m 0755 /run/sshd; fi
for tool in /usr/sbin/sshd ssh-keygen ipmi_sim ipmitool python3 chromium dot openssl tmux ip sqlite3; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "$tool" ] || { echo "lab: $tool is missing after install" >&2; exit 1; }
done
# sushy-tools (Redfish BMC emulator) from PyPI, pinned to the version the lab was written for.
VENV="${BLACKSTART_LAB_VENV:-$(cd "$(dirname "$0")/.." && pwd)/target/lab-venv}"
if ! "$VENV/bin/sushy-emulator" --help >/dev/null 2>&1; then
  python3 -m venv "$VENV" || { echo "lab: cannot create a virtual environment in $VENV (python3-venv?)" >&2; exit 1; }
  "$VENV/bin/pip" install -q 'sushy-tools==2.2.0' || { echo "lab: pip could not install sushy-tools into $VENV" >&2; exit 1; }
fi
# ansible-core, pinned: `ansible-inventory --list` is the reference for reading inventories.
# `python -m pip` installs into this environment even when it was copied from another tree.
ansible_version() { "$VENV/bin/ansible-inventory" --version 2>/dev/null | head -n 1 || true; }
if [[ "$(ansible_version)" != *"core 2.17.7"* ]]; then
  "$VENV/bin/python" -m pip install -q 'ansible-core==2.17.7' || { echo "lab: pip could not install ansible-core into $VENV" >&2; exit 1; }
fi
"$VENV/bin/sushy-emulator" --help >/dev/null 2>&1 || { echo "lab: sushy-emulator is missing from $VENV after install" >&2; exit 1; }
"$VENV/bin/python" -c 'import bcrypt' || { echo "lab: bcrypt is missing from $VENV" >&2; exit 1; }
[[ "$(ansible_version)" == *"core 2.17.7"* ]] || { echo "lab: ansible-inventory (ansible-core 2.17.7) is missing from $VENV after install" >&2; exit 1; }
echo "lab packages: ok"
