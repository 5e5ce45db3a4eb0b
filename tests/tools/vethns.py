"""A device namespace on a veth pair for the daemon tests, and its teardown.

The gateway's end stays in the root namespace (the daemon's net_af_packet
port); the device's end goes into the namespace with an address. No IPv6 on
either end (no router solicitations or MLD reports: the only frames the
gateway sees are the ones a test sends), TX checksum offload off on the
device's end (veth leaves UDP checksums to an offload that never happens, so
frames read through AF_PACKET would carry partial checksums and be dropped as
udp_checksum), and the gateway as a static neighbour.
"""
import shutil
import subprocess


def sh(*args):
    subprocess.run(args, check=True, capture_output=True, timeout=30)


def up(ns, veth_gw, veth_dev, dev_ip, gw_ip):
    sh('ip', 'netns', 'add', ns)
    sh('ip', 'link', 'add', veth_gw, 'type', 'veth', 'peer', 'name', veth_dev, 'netns', ns)
    sh('sysctl', '-q', '-w', f'net.ipv6.conf.{veth_gw}.disable_ipv6=1')
    sh('ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', f'net.ipv6.conf.{veth_dev}.disable_ipv6=1')
    sh('ip', 'link', 'set', veth_gw, 'up')
    sh('ip', '-n', ns, 'addr', 'add', f'{dev_ip}/24', 'dev', veth_dev)
    sh('ip', '-n', ns, 'link', 'set', veth_dev, 'up')
    sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
    sh('ip', 'netns', 'exec', ns, 'ethtool', '-K', veth_dev, 'tx', 'off')
    with open(f'/sys/class/net/{veth_gw}/address') as f:
        mac = f.read().strip()
    sh('ip', '-n', ns, 'neigh', 'add', gw_ip, 'lladdr', mac, 'dev', veth_dev, 'nud', 'permanent')


def down(procs, ns, veth_gw, dpdk_prefixes, work):
    """Kill what is left, remove the namespace, the veth, DPDK's runtime directories and
    the work directory. Never raises: it runs after failures too."""
    for p in procs:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
    subprocess.run(['ip', 'netns', 'del', ns], capture_output=True)
    subprocess.run(['ip', 'link', 'del', veth_gw], capture_output=True)
    for prefix in dpdk_prefixes:
        shutil.rmtree(f'/var/run/dpdk/{prefix}', ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
