#!/usr/bin/env python3
"""Raw frames on a device's veth, to see which MAC the gateway sends to
(tests/control/test_mgmt.py, issue 12 item 10). Run inside the device's
namespace; prints one line: the Ethernet destination of the gateway's answer,
or "none" when nothing came within 3 s.

  neigh_probe.py IFACE GW_MAC GW_IP DEV_IP hello SRC_MAC SPORT
      a cookie-less DTLS 1.2 ClientHello from DEV_IP:SPORT whose frame says
      Ethernet source SRC_MAC; the answer is the HelloVerifyRequest
  neigh_probe.py IFACE GW_MAC GW_IP DEV_IP arp SRC_MAC
      an ARP request "who has GW_IP, tell DEV_IP at SRC_MAC" (RFC 826);
      the answer is the ARP reply

No scapy: the frames are a few fixed fields, and any python3 runs this
(sgtest.dtls builds the ClientHello).
"""
import os
import socket
import struct
import sys
import time

from sgtest.dtls import DTLS_PORT, client_hello

ETH_P_ALL = 0x0003
PSK_SUITES = [0xC0A8, 0x00A8]  # TLS_PSK_WITH_AES_128_CCM_8, TLS_PSK_WITH_AES_128_GCM_SHA256


def mac_bytes(s):
    return bytes.fromhex(s.replace(':', ''))


def mac_str(b):
    return ':'.join(f'{x:02x}' for x in b)


def ip_checksum(hdr):
    s = sum(struct.unpack('!10H', hdr))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def udp4_frame(src_mac, dst_mac, src_ip, dst_ip, sport, dport, payload):
    udp = struct.pack('!HHHH', sport, dport, 8 + len(payload), 0) + payload  # RFC 768: 0, none
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0x5347, 0, 64, 17, 0,
                     socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
    ip = ip[:10] + struct.pack('!H', ip_checksum(ip)) + ip[12:]
    return dst_mac + src_mac + b'\x08\x00' + ip + udp


def arp_request(src_mac, src_ip, target_ip):
    arp = struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 1, src_mac, socket.inet_aton(src_ip),
                      b'\x00' * 6, socket.inet_aton(target_ip))
    return b'\xff' * 6 + src_mac + b'\x08\x06' + arp + b'\x00' * 18


def wait_answer(sock, match, timeout=3.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        sock.settimeout(max(end - time.monotonic(), 0.01))
        try:
            f, addr = sock.recvfrom(65536)
        except socket.timeout:
            break
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        if match(f):
            return mac_str(f[:6])
    return 'none'


def main():
    iface, gw_mac, gw_ip, dev_ip, cmd = sys.argv[1:6]
    gw = mac_bytes(gw_mac)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((iface, 0))
    if cmd == 'hello':
        src, sport = mac_bytes(sys.argv[6]), int(sys.argv[7])
        hello = client_hello(os.urandom(32), PSK_SUITES)
        sock.send(udp4_frame(src, gw, dev_ip, gw_ip, sport, DTLS_PORT, hello))

        def match(f):
            if f[12:14] != b'\x08\x00' or f[23] != 17:
                return False
            l4 = 14 + (f[14] & 0x0f) * 4
            sp, dp = struct.unpack('!HH', f[l4:l4 + 4])
            return sp == DTLS_PORT and dp == sport
    elif cmd == 'arp':
        src = mac_bytes(sys.argv[6])
        sock.send(arp_request(src, dev_ip, gw_ip))

        def match(f):
            return f[12:14] == b'\x08\x06' and f[20:22] == b'\x00\x02' \
                and f[28:32] == socket.inet_aton(gw_ip)
    else:
        sys.exit(f'unknown command {cmd}')
    print(wait_answer(sock, match))


if __name__ == '__main__':
    main()
