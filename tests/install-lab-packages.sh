#!/usr/bin/env bash
# Installs what the test lab needs: OpenSSH (sshd per simulated host), OpenIPMI's ipmi_sim
# (a BMC per host), ipmitool (the client blackstart drives), python3 (the lab's services),
# the fan-out baselines (pdsh), Debian's chromium (the HTML report is checked in a real
# browser) and graphviz (`dot` renders the plan's graph in tests). Idempotent: does nothing when everything is present.
set -euo pipefail
need_install=0
for tool in /usr/sbin/sshd ssh-keygen ipmi_sim ipmitool python3 pdsh pkg-config chromium dot; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "$tool" ] || need_install=1
done
dpkg -s libssl-dev >/dev/null 2>&1 || need_install=1
if [ "$need_install" = 1 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq openssh-server openssh-client openipmi ipmitool python3 \
    pdsh iproute2 libssl-dev pkg-config chromium graphviz fonts-dejavu-core >/dev/null
fi
# sshd's privilege-separation directory; the lab runs sshd as root on loopback addresses.
if [ "$(id -u)" = 0 ]; then mkdir -p -m 0755 /run/sshd; else sudo mkdir -p -m 0755 /run/sshd; fi
for tool in /usr/sbin/sshd ssh-keygen ipmi_sim ipmitool python3 chromium dot; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "$tool" ] || { echo "lab: $tool is missing after install" >&2; exit 1; }
done
echo "lab packages: ok"
