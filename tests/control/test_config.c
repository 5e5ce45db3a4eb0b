/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Config parser: a table of YAML inputs, each with the exact
 * `file:line:column: message` lines it must produce (every error, in
 * position order), plus checks of parsed values and defaults, the sample
 * config in deploy/, and that docs/config.md documents every key. Also the
 * parts on their own: a node tree built without YAML, the live set, and the
 * duration and size parsers and printers (tables of rows).
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include <stormgate/suite.h>

#include "sg_cfg_tree.h"
#include "sg_cfg_values.h"
#include "sg_config.h"

#define T "t.yaml"

/* A minimal valid port list, appended where a case is about something else. */
#define PORTS "ports:\n  - {name: dev0, role: device, devargs: net_null0}\n"
/* Two ports with addresses, for the address rules (ports[].gateway, backend.source_pool). */
#define PORTS2                                                                                     \
	"ports:\n  - {name: dev0, role: device, devargs: a, addresses: [198.18.0.1/24]}\n"         \
	"  - {name: app0, role: backend, devargs: b, addresses: [198.18.2.1/24]}\n"

struct err_case {
	const char *name;
	const char *yaml;
	/* Expected lines, exactly; a trailing '*' matches any rest of the line. */
	const char *expect[8];
};

static const struct err_case err_cases[] = {
	/* --- syntax --- */
	{ "syntax: unclosed flow sequence", "ports: [\n  {name: a\n", { "t.yaml:3:1: *" } },
	{ "syntax: bad indentation",
	  "log:\n  level: info\n level: debug\n" PORTS,
	  { "t.yaml:3:*" } },
	{ "syntax: unterminated quote", "control:\n  socket: \"/run/x\n" PORTS, { "t.yaml:2:*" } },
	{ "syntax: tab indentation", "log:\n\tlevel: info\n" PORTS, { "t.yaml:2:*" } },
	{ "second document",
	  PORTS "---\n" PORTS,
	  { "t.yaml:3:1: a second YAML document: a configuration is one document" } },
	{ "alias",
	  "eal: &a [-l, 0-1]\nlog: *a\n" PORTS,
	  { "t.yaml:2:6: YAML aliases are not supported" } },

	/* --- wrong type --- */
	{ "map expected",
	  "log: 5\n" PORTS,
	  { "t.yaml:1:6: 'log' must be a mapping, got a scalar" } },
	{ "list expected",
	  "ports: {name: a}\n",
	  { "t.yaml:1:8: 'ports' must be a list, got a mapping" } },
	{ "scalar expected",
	  "log:\n  level: [info]\n" PORTS,
	  { "t.yaml:2:10: 'log.level' must be a scalar, got a list" } },
	{ "string where integer",
	  "workers:\n  burst: '32'\n" PORTS,
	  { "t.yaml:2:10: 'workers.burst' must be an integer, got the string '32'" } },
	{ "not a number",
	  "workers:\n  burst: lots\n" PORTS,
	  { "t.yaml:2:10: 'workers.burst' must be an integer, got 'lots'" } },
	{ "bool",
	  "ports:\n  - {name: a, role: device, devargs: net_null0, promiscuous: yes}\n",
	  { "t.yaml:2:62: 'ports[0].promiscuous' must be true or false, got 'yes'" } },
	{ "enum",
	  "log:\n  target: journal\n" PORTS,
	  { "t.yaml:2:11: 'log.target' must be one of: stderr, syslog; got 'journal'" } },
	{ "level",
	  "log:\n  components: {ctl: loud}\n" PORTS,
	  { "t.yaml:2:21: 'log.components.ctl' must be one of: emerg, alert, crit, error, "
	    "warning, notice, info, debug; got 'loud'" } },
	{ "size",
	  "credentials:\n  map_size: 4X\n" PORTS,
	  { "t.yaml:2:13: 'credentials.map_size' must be a size in bytes (65536, 64K, 4G), got "
	    "'4X'" } },
	{ "duration",
	  "policy:\n  key_lifetime: 1w\n" PORTS,
	  { "t.yaml:2:17: 'policy.key_lifetime' must be a duration in seconds (90, 90s, 15m, 24h, "
	    "7d), got '1w'" } },
	{ "mode",
	  "control:\n  mode: 0680\n" PORTS,
	  { "t.yaml:2:9: 'control.mode' must be octal permission bits (0660), got '0680'" } },
	{ "prefix",
	  "ports:\n  - {name: a, role: device, devargs: x, addresses: [198.18.1.1]}\n",
	  { "t.yaml:2:53: 'ports[0].addresses[0]' must be an address with prefix length "
	    "(198.18.1.1/24, fd00:5347:1::1/64), got '198.18.1.1'" } },
	{ "endpoint",
	  "backend:\n  servers: ['fd00::1:5683']\n  trust_device_network: true\n" PORTS,
	  { "t.yaml:2:13: 'backend.servers[0]' must be ADDRESS:PORT (198.18.2.10:5683, "
	    "[fd00:5347:2::10]:5683), got 'fd00::1:5683'" } },
	{ "suite",
	  "policy:\n  suites: [TLS_RSA_WITH_NULL_MD5]\n" PORTS,
	  { "t.yaml:2:12: 'policy.suites[0]': unknown or unsupported cipher suite "
	    "'TLS_RSA_WITH_NULL_MD5' (see docs/config.md)" } },
	{ "name characters",
	  "ports:\n  - {name: 'dev 0', role: device, devargs: x}\n",
	  { "t.yaml:2:12: 'ports[0].name' must contain only letters, digits, '_', '-' and '.', "
	    "got 'dev 0'" } },
	{ "relative path",
	  "credentials:\n  db: creds\n" PORTS,
	  { "t.yaml:2:7: 'credentials.db' must be an absolute path, got 'creds'" } },
	{ "no value",
	  "control:\n  socket:\n" PORTS,
	  { "t.yaml:2:3: 'control.socket' has no value" } },

	/* --- out of range --- */
	{ "integer range",
	  "workers:\n  burst: 0\n" PORTS,
	  { "t.yaml:2:10: 'workers.burst' is 0, out of range 1..128" } },
	{ "negative",
	  "mbufs:\n  count: -1\n" PORTS,
	  { "t.yaml:2:10: 'mbufs.count' is -1, out of range 1023..16777215" } },
	{ "not a multiple",
	  "sessions:\n  replay_window: 100\n" PORTS,
	  { "t.yaml:2:18: 'sessions.replay_window' is 100, not a multiple of 64" } },
	{ "window too large",
	  "sessions:\n  replay_window: 8192\n" PORTS,
	  { "t.yaml:2:18: 'sessions.replay_window' is 8192, out of range 64..4096" } },
	{ "peer_move",
	  "sessions:\n  peer_move: always\n" PORTS,
	  { "t.yaml:2:14: 'sessions.peer_move' must be one of: verified, unverified; got "
	    "'always'" } },
	{ "CBC pool above capacity",
	  "sessions:\n  capacity: 2048\n  cbc_capacity: 4096\n" PORTS,
	  { "t.yaml:3:17: 'sessions.cbc_capacity' is 4096, more than 'sessions.capacity' "
	    "(2048)" } },
	{ "CID too short",
	  "sessions:\n  cid_length: 5\n" PORTS,
	  { "t.yaml:2:15: 'sessions.cid_length' is 5: 0 (no CIDs) or 8..16 (a CID carries a slot, "
	    "a nonce and a keyed check)" } },
	{ "size range",
	  "credentials:\n  map_size: 64K\n" PORTS,
	  { "t.yaml:2:13: 'credentials.map_size' is 64K, out of range 1048576..1099511627776 "
	    "bytes" } },
	{ "linger range",
	  "policy:\n  linger_entries: 100\n" PORTS,
	  { "t.yaml:2:19: 'policy.linger_entries' is 100, out of range 1024..16777216" } },
	{ "duration range",
	  "policy:\n  key_lifetime: 5s\n" PORTS,
	  { "t.yaml:2:17: 'policy.key_lifetime' is 5s, out of range 10..2592000 seconds" } },
	{ "mode range",
	  "control:\n  mode: 01777\n" PORTS,
	  { "t.yaml:2:9: 'control.mode' is 01777, out of range 0..0777" } },
	{ "udp port",
	  "ports:\n  - {name: a, role: device, devargs: x, udp_port: 70000}\n",
	  { "t.yaml:2:51: 'ports[0].udp_port' is 70000, out of range 1..65535" } },
	{ "prefix length",
	  "ports:\n  - {name: a, role: device, devargs: x, addresses: [fd00::1/129]}\n",
	  { "t.yaml:2:53: 'ports[0].addresses[0]': prefix length out of range in 'fd00::1/129'" } },
	{ "too long",
	  "control:\n  socket: /run/"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaa.sock\n" PORTS,
	  { "t.yaml:2:11: 'control.socket' is too long (118 bytes, at most 107)" } },
	{ "too many items",
	  "eal: "
	  "[a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u,v,w,x,y,z,a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,"
	  "r,s,t,u,v,w,x,y,z,a,b,c,d,e,f,g,h,i,j,k,l,m]\n" PORTS,
	  { "t.yaml:1:135: 'eal' has 65 items, at most 64" } },

	/* --- unknown keys --- */
	{ "unknown top-level key",
	  "colour: red\n" PORTS,
	  { "t.yaml:1:1: unknown key 'colour' (known here: eal, log, control, metrics, workers, "
	    "handshake, mbufs, ports, sessions, credentials, store, policy, backend, tls)" } },
	{ "unknown nested key",
	  "log:\n  levle: debug\n" PORTS,
	  { "t.yaml:2:3: unknown key 'log.levle' (known here: level, target, components, dpdk)" } },
	{ "unknown key in a list item",
	  "ports:\n  - {name: a, role: device, devargs: x, speed: 10}\n",
	  { "t.yaml:2:41: unknown key 'ports[0].speed' (known here: name, role, devargs, "
	    "rx_queues, "
	    "rx_desc, tx_desc, mtu, promiscuous, udp_port, addresses, gateway)" } },

	/* --- missing required --- */
	{ "empty file", "", { "t.yaml:1:1: missing required key 'ports'" } },
	{ "comments only", "# nothing here\n\n", { "t.yaml:1:1: missing required key 'ports'" } },
	{ "no ports", "log: {level: info}\n", { "t.yaml:1:1: missing required key 'ports'" } },
	{ "port without devargs and role",
	  "ports:\n  - name: a\n",
	  { "t.yaml:2:5: missing required key 'ports[0].role'",
	    "t.yaml:2:5: missing required key 'ports[0].devargs'" } },
	{ "empty port list", "ports: []\n", { "t.yaml:1:8: 'ports' must list at least one port" } },
	{ "not a mapping at all",
	  "- a\n- b\n",
	  { "t.yaml:1:1: the configuration must be a mapping of keys, got a list" } },

	/* --- duplicate keys --- */
	{ "duplicate top-level key",
	  PORTS "ports: []\n",
	  { "t.yaml:3:1: duplicate key 'ports' (first at line 1)" } },
	{ "duplicate nested key",
	  "log:\n  level: info\n  target: stderr\n  level: debug\n" PORTS,
	  { "t.yaml:4:3: duplicate key 'log.level' (first at line 2)" } },

	/* --- the session store (issue 15) --- */
	{ "store: commit_interval 0",
	  "store: {commit_interval: 0}\n" PORTS,
	  { "t.yaml:1:26: 'store.commit_interval' is 0, out of range 1..10000" } },
	{ "store: commit_interval with a unit",
	  "store: {commit_interval: 100ms}\n" PORTS,
	  { "t.yaml:1:26: 'store.commit_interval' must be an integer, got '100ms'" } },
	{ "store: queue_max under 1M",
	  "store: {queue_max: 4096}\n" PORTS,
	  { "t.yaml:1:20: 'store.queue_max' is 4096, out of range 1048576..68719476736 bytes" } },
	{ "store: relative path",
	  "store: {path: sessions}\n" PORTS,
	  { "t.yaml:1:15: 'store.path' must be an absolute path, got 'sessions'" } },
	{ "store: seq_step 0",
	  "store: {seq_step: 0}\n" PORTS,
	  { "t.yaml:1:19: 'store.seq_step' is 0, out of range*" } },
	{ "store: the credential store's directory",
	  "credentials: {db: /var/lib/sg/cred}\nstore: {path: /var/lib/sg/cred}\n" PORTS,
	  { "t.yaml:2:15: 'store.path' is '/var/lib/sg/cred', the credential store's "
	    "directory*" } },
	{ "store: key file is the store",
	  "store: {path: /var/lib/sg/s, key_file: /var/lib/sg/s}\n" PORTS,
	  { "t.yaml:1:40: 'store.key_file' is '/var/lib/sg/s', a store's directory*" } },
	{ "store: unknown key",
	  "store: {commit_max: 5}\n" PORTS,
	  { "t.yaml:1:9: unknown key 'store.commit_max'*" } },
	/* --- rules across keys --- */
	{ "duplicate port name and device",
	  "ports:\n  - {name: a, role: device, devargs: net_null0}\n"
	  "  - {name: a, role: backend, devargs: net_null0}\n",
	  { "t.yaml:3:12: 'ports[1].name': port name 'a' already used by ports[0]",
	    "t.yaml:3:39: 'ports[1].devargs': device 'net_null0' already used by ports[0]" } },
	{ "no device port",
	  "ports:\n  - {name: b, role: backend, devargs: x}\n",
	  { "t.yaml:2:3: 'ports' has no port with role 'device'" } },
	{ "count and lcores",
	  "workers:\n  count: 1\n  lcores: [1]\n" PORTS,
	  { "t.yaml:3:11: 'workers.lcores' and 'workers.count' are mutually exclusive" } },
	{ "lcore twice",
	  "workers:\n  lcores: [1, 2, 1]\n" PORTS,
	  { "t.yaml:2:18: 'workers.lcores[2]': lcore 1 listed twice" } },
	{ "backend port unknown",
	  "backend:\n  port: up0\n" PORTS,
	  { "t.yaml:2:9: 'backend.port': no port named 'up0'" } },
	/* metrics.listen: an address and TCP port, or off. */
	{ "metrics.listen without a port",
	  "metrics:\n  listen: 127.0.0.1\n" PORTS,
	  { "t.yaml:2:11: 'metrics.listen' must be ADDRESS:PORT (127.0.0.1:9464, \"[::1]:9464\"), "
	    "or off; got '127.0.0.1'" } },
	{ "metrics.listen port 0",
	  "metrics: {listen: '127.0.0.1:0'}\n" PORTS,
	  { "t.yaml:1:19: 'metrics.listen': TCP port out of range 1..65535 in '127.0.0.1:0'" } },
	{ "metrics.listen IPv6 without brackets",
	  "metrics: {listen: '::1:9464'}\n" PORTS,
	  { "t.yaml:1:19: 'metrics.listen' must be ADDRESS:PORT*" } },
	{ "metrics.listen a host name",
	  "metrics: {listen: 'localhost:9464'}\n" PORTS,
	  { "t.yaml:1:19: 'metrics.listen' must be ADDRESS:PORT*" } },
	{ "metrics.listen empty plain value",
	  "metrics:\n  listen:\n" PORTS,
	  { "t.yaml:2:3: 'metrics.listen' has no value" } },
	{ "metrics.listen a list",
	  "metrics: {listen: [127.0.0.1:9464]}\n" PORTS,
	  { "t.yaml:1:19: 'metrics.listen' must be a scalar, got a list" } },
	{ "metrics: unknown key",
	  "metrics: {port: 9464}\n" PORTS,
	  { "t.yaml:1:11: unknown key 'metrics.port' (known here: listen)" } },
	{ "metrics.listen twice",
	  "metrics:\n  listen: off\n  listen: 127.0.0.1:1\n" PORTS,
	  { "t.yaml:3:3: duplicate key 'metrics.listen' (first at line 2)" } },

	/* Issue 12 item 1: the servers' replies on the device port only when it is trusted. */
	{ "servers without a backend port",
	  "backend:\n  servers: [198.18.2.10:5683]\n" PORTS,
	  { "t.yaml:2:12: 'backend.servers': no port has role 'backend', so the device port "
	    "would take the servers' replies, which anyone on the device network can forge: add "
	    "a port with role 'backend' to reach them through, or set "
	    "'backend.trust_device_network: true' if only trusted hosts can send to the device "
	    "port" } },
	{ "servers without a backend port, trust said no",
	  "backend:\n  trust_device_network: false\n  mode: proxy\n  servers:\n"
	  "    - '[fd00:5347:2::10]:5683'\n" PORTS,
	  { "t.yaml:5:5: 'backend.servers': no port has role 'backend'*" } },
	{ "trust is a boolean",
	  "backend:\n  trust_device_network: yes\n" PORTS,
	  { "t.yaml:2:25: 'backend.trust_device_network' must be true or false, got 'yes'" } },
	{ "suite twice",
	  "policy:\n  suites: [TLS_PSK_WITH_AES_128_CCM_8, TLS_PSK_WITH_AES_128_CCM_8]\n" PORTS,
	  { "t.yaml:2:40: 'policy.suites[1]': 'TLS_PSK_WITH_AES_128_CCM_8' listed twice" } },

	/* --- addresses: ports[].gateway, backend.source_pool (issue 14) --- */
	{ "gateway off the port's subnets",
	  "ports:\n  - name: dev0\n    role: device\n    devargs: a\n"
	  "    addresses: [198.18.0.1/24, 'fd00:5347::1/112']\n"
	  "    gateway: [198.18.9.2, 'fd00:5347::2']\n",
	  { "t.yaml:6:15: 'ports[0].gateway[0]': 198.18.9.2 is on none of port 'dev0''s IPv4 "
	    "subnets (198.18.0.1/24, ...)" } },
	{ "gateway of a family the port has no address of",
	  "ports:\n  - {name: dev0, role: device, devargs: a, addresses: [198.18.0.1/24], "
	  "gateway: ['fd00::2']}\n",
	  { "t.yaml:2:82: 'ports[0].gateway[0]': fd00::2 is on none of port 'dev0''s IPv6 "
	    "subnets (it has none)" } },
	{ "gateway twice in a family, and the port's own address",
	  "ports:\n  - name: dev0\n    role: device\n    devargs: a\n"
	  "    addresses: [198.18.0.1/24]\n"
	  "    gateway: [198.18.0.1, 198.18.0.2]\n",
	  { "t.yaml:6:15: 'ports[0].gateway[0]': 198.18.0.1 is the port's own address",
	    "t.yaml:6:27: 'ports[0].gateway[1]': a second IPv4 gateway (one per family)" } },
	{ "gateway is an address, not a prefix",
	  "ports:\n  - {name: dev0, role: device, devargs: a, gateway: [198.18.0.2/24, x]}\n",
	  { "t.yaml:2:54: 'ports[0].gateway[0]' must be an IPv4 or IPv6 address (198.18.0.2, "
	    "fd00:5347::2), got '198.18.0.2/24'",
	    "t.yaml:2:69: 'ports[0].gateway[1]' must be an IPv4 or IPv6 address*" } },
	{ "gateways: at most two",
	  "ports:\n  - {name: dev0, role: device, devargs: a, addresses: [1.1.1.9/24], gateway: "
	  "[1.1.1.1, 1.1.1.2, 1.1.1.3]}\n",
	  { "t.yaml:2:88: 'ports[0].gateway[1]': a second IPv4 gateway (one per family)",
	    "t.yaml:2:97: 'ports[0].gateway' has 3 items, at most 2" } },
	{ "source pool: host bits, lengths, one per family",
	  "backend:\n  source_pool: [198.18.64.1/18, 'fd00:5347::/64']\n" PORTS2,
	  { "t.yaml:2:17: 'backend.source_pool[0]': host bits set: the prefix is 198.18.64.0/18",
	    "t.yaml:2:33: 'backend.source_pool[1]': prefix length 64: IPv6 pools are /96../128" } },
	{ "source pool: an IPv4 /7 and a second IPv4 prefix",
	  "backend:\n  source_pool: [10.0.0.0/7, 198.18.64.0/18]\n" PORTS2,
	  { "t.yaml:2:17: 'backend.source_pool[0]': prefix length 7: IPv4 pools are /8../32",
	    "t.yaml:2:29: 'backend.source_pool[1]': a second IPv4 prefix (one per family)" } },
	{ "source pool holding the server, a port's address, a gateway",
	  "backend:\n  servers: [198.18.64.9:5683]\n"
	  "  source_pool: [198.18.64.0/18, 'fd00:5347::/96']\n"
	  "ports:\n  - {name: dev0, role: device, devargs: a, addresses: ['fd00:5347::1/64'], "
	  "gateway: ['fd00:5347::2']}\n"
	  "  - {name: app0, role: backend, devargs: b, addresses: [198.18.2.1/24]}\n",
	  { "t.yaml:3:17: 'backend.source_pool[0]': holds 198.18.64.9, the server "
	    "backend.servers[0]: the pool's addresses must be the gateway's alone",
	    "t.yaml:3:33: 'backend.source_pool[1]': holds fd00:5347::2, the gateway "
	    "ports[0].gateway[0]: the pool's addresses must be the gateway's alone" } },
	{ "source pool holding a port's address",
	  "backend:\n  source_pool: [198.18.0.0/16]\n" PORTS2,
	  { "t.yaml:2:17: 'backend.source_pool[0]': holds 198.18.0.1, the address "
	    "ports[0].addresses[0]: the pool's addresses must be the gateway's alone" } },
	{ "source pool in proxy mode",
	  "backend:\n  mode: proxy\n  source_pool: [198.18.64.0/18]\n" PORTS2,
	  { "t.yaml:3:16: 'backend.source_pool' is for udp mode (backend.mode is 'proxy', which "
	    "sends from one address and port)" } },
	{ "source pool is prefixes",
	  "backend:\n  source_pool: [198.18.64.9]\n" PORTS2,
	  { "t.yaml:2:17: 'backend.source_pool[0]' must be an address with prefix length*" } },

	/* --- the handshake section (check_hs.c) --- */
	{ "handshake.threads range",
	  "handshake:\n  threads: 0\n" PORTS,
	  { "t.yaml:2:12: 'handshake.threads' is 0, out of range 1..64" } },
	{ "handshake.threads over the max",
	  "handshake:\n  threads: 65\n" PORTS,
	  { "t.yaml:2:12: 'handshake.threads' is 65, out of range 1..64" } },
	{ "handshake.burst range",
	  "handshake:\n  burst: 65\n" PORTS,
	  { "t.yaml:2:10: 'handshake.burst' is 65, out of range 1..64" } },
	{ "handshake.in_flight range",
	  "handshake:\n  in_flight: 4194305\n" PORTS,
	  { "t.yaml:2:14: 'handshake.in_flight' is 4194305, out of range 0..4194304" } },
	{ "handshake.in_flight below one per engine",
	  "handshake:\n  threads: 4\n  in_flight: 3\n" PORTS,
	  { "t.yaml:3:14: 'handshake.in_flight' is 3, less than one handshake per engine "
	    "('handshake.threads': 4)" } },
	{ "handshake.ecdhe_reuse: not a duration",
	  "handshake:\n  ecdhe_reuse: 1.5s\n" PORTS,
	  { "t.yaml:2:16: 'handshake.ecdhe_reuse' must be a duration in milliseconds (250, "
	    "250ms, 2s), got '1.5s'" } },
	{ "handshake.ecdhe_reuse over 10 s",
	  "handshake:\n  ecdhe_reuse: 11s\n" PORTS,
	  { "t.yaml:2:16: 'handshake.ecdhe_reuse' is 11s, out of range 0..10000 ms" } },
	{ "handshake.ecdhe_reuse_storm shorter than the calm window",
	  "handshake:\n  ecdhe_reuse: 2s\n  ecdhe_reuse_storm: 500ms\n" PORTS,
	  { "t.yaml:3:22: 'handshake.ecdhe_reuse_storm' (500 ms) is shorter than "
	    "'handshake.ecdhe_reuse' (2000 ms): a storm only lengthens the window (0: no change "
	    "under a storm)" } },
	{ "handshake.cpus: more than threads, twice, not online",
	  "handshake:\n  threads: 2\n  cpus: [0, 0, 1000]\n" PORTS,
	  { "t.yaml:3:13: 'handshake.cpus[1]': CPU 0 listed twice",
	    "t.yaml:3:16: 'handshake.cpus' lists 3 CPUs for 2 thread(s) ('handshake.threads'): at "
	    "most one per thread",
	    "t.yaml:3:16: 'handshake.cpus[2]': CPU 1000 is not online "
	    "(/sys/devices/system/cpu/online)" } },
	{ "handshake.cpus: out of range",
	  "handshake:\n  cpus: [1024]\n" PORTS,
	  { "t.yaml:2:10: 'handshake.cpus[0]' is 1024, out of range 0..1023" } },
	{ "handshake.cpus on a worker's CPU (eal -l: the main lcore is the lowest)",
	  "eal: [-l, 0-1]\nhandshake:\n  cpus: [1]\n" PORTS,
	  { "t.yaml:3:10: 'handshake.cpus[0]': CPU 1 runs a worker lcore (eal -l): a handshake "
	    "thread there would take the worker's polling time" } },
	{ "handshake.cpus on a worker's CPU (eal -c, workers.lcores)",
	  "eal: [-c, '0x3']\nworkers:\n  lcores: [1]\nhandshake:\n  cpus: [1]\n" PORTS,
	  { "t.yaml:5:10: 'handshake.cpus[0]': CPU 1 runs a worker lcore (eal -c): a handshake "
	    "thread there would take the worker's polling time" } },
	{ "handshake.cpus on a worker's CPU (--lcores=, --main-lcore)",
	  "eal: [--lcores=0-1, --main-lcore, '1']\nhandshake:\n  cpus: [0]\n" PORTS,
	  { "t.yaml:3:10: 'handshake.cpus[0]': CPU 0 runs a worker lcore (eal --lcores): a "
	    "handshake thread there would take the worker's polling time" } },
	{ "handshake: unknown key",
	  "handshake:\n  engines: 2\n" PORTS,
	  { "t.yaml:2:3: unknown key 'handshake.engines' (known here: threads, cpus, in_flight, "
	    "burst, ecdhe_reuse, ecdhe_reuse_storm)" } },

	/* --- tls: the rules between its keys (check_tls.c) --- */
	{ "tls.cert without tls.key",
	  "tls:\n  cert: /etc/sg/server.pem\n  ca: /etc/sg/ca.pem\n" PORTS,
	  { "t.yaml:2:3: 'tls.key': missing: the private key of 'tls.cert' or 'tls.rpk_key' is "
	    "required" } },
	{ "tls.key without a certificate",
	  "tls:\n  key: /etc/sg/server.key\n" PORTS,
	  { "t.yaml:2:8: 'tls.key': has no use without 'tls.cert' or 'tls.rpk_key' (set one: the "
	    "ECDHE-ECDSA suites need our certificate or raw public key)" } },
	{ "tls.ca without a certificate",
	  "tls:\n  ca: /etc/sg/ca.pem\n" PORTS,
	  { "t.yaml:2:7: 'tls.ca': has no use without 'tls.cert' or 'tls.rpk_key': client "
	    "certificates are asked for only in ECDHE-ECDSA handshakes" } },
	{ "tls.crl without tls.ca",
	  "tls:\n  cert: /c.pem\n  key: /k.pem\n  crl: /crl.pem\n" PORTS,
	  { "t.yaml:4:8: 'tls.crl': has no use without 'tls.ca': CRLs revoke certificates of "
	    "those CAs" } },
	{ "tls.client_auth require with no way to authenticate a client",
	  "tls:\n  cert: /c.pem\n  key: /k.pem\n  rpk: false\n" PORTS,
	  { "t.yaml:2:3: 'tls.client_auth': 'require' with neither 'tls.ca' nor 'tls.rpk: true': "
	    "no client could authenticate; set 'tls.ca', enable 'tls.rpk', or choose 'optional' "
	    "or 'none'" } },
	{ "tls.rpk false with only tls.rpk_key",
	  "tls:\n  rpk_key: /p.pem\n  key: /k.pem\n  rpk: false\n  client_auth: none\n" PORTS,
	  { "t.yaml:4:8: 'tls.rpk': false with only 'tls.rpk_key': a raw public key is all we "
	    "could offer" } },
	{ "tls.require_policy with client_auth none",
	  "tls:\n  cert: /c.pem\n  key: /k.pem\n  client_auth: none\n  require_policy: "
	  "true\n" PORTS,
	  { "t.yaml:5:19: 'tls.require_policy': has no use with 'tls.client_auth: none': no "
	    "client identity to look up" } },
	{ "tls: bad values",
	  "tls:\n  cert: rel.pem\n  client_auth: maybe\n  cert_identity: dn\n  sign_pool: 0\n"
	  "  verify_cache: 99999999\n  colour: 1\n" PORTS,
	  { "t.yaml:2:9: 'tls.cert' must be an absolute path, got 'rel.pem'",
	    "t.yaml:3:16: 'tls.client_auth' must be one of: require, optional, none; got 'maybe'",
	    "t.yaml:4:18: 'tls.cert_identity' must be one of: cn, san_uri; got 'dn'",
	    "t.yaml:5:14: 'tls.sign_pool' is 0, out of range 1..1048576",
	    "t.yaml:6:17: 'tls.verify_cache' is 99999999, out of range 1..16777216",
	    "t.yaml:7:3: unknown key 'tls.colour' (known here: cert, key, rpk_key, ca, crl, "
	    "client_auth, cert_identity, rpk, require_policy, sign_pool, verify_cache)" } },

	/* --- every error is reported, in position order --- */
	{ "many errors at once",
	  "log:\n  level: loud\n  bogus: 1\nworkers:\n  burst: 999\n"
	  "ports:\n  - {name: a, role: device}\n  - {name: b, role: x, devargs: y}\n",
	  { "t.yaml:2:10: 'log.level' must be one of: emerg, alert, crit, error, warning, notice, "
	    "info, debug; got 'loud'",
	    "t.yaml:3:3: unknown key 'log.bogus' (known here: level, target, components, dpdk)",
	    "t.yaml:5:10: 'workers.burst' is 999, out of range 1..128",
	    "t.yaml:7:5: missing required key 'ports[0].devargs'",
	    "t.yaml:8:21: 'ports[1].role' must be one of: device, backend; got 'x'" } },
};

static int line_matches(const char *got, const char *want)
{
	size_t n = strlen(want);

	if (n > 0 && want[n - 1] == '*')
		return strncmp(got, want, n - 1) == 0 && strlen(got) > n - 1;
	return strcmp(got, want) == 0;
}

static void test_error_table(void **state)
{
	unsigned failed = 0;

	(void)state;
	for (size_t c = 0; c < sizeof(err_cases) / sizeof(err_cases[0]); c++) {
		const struct err_case *tc = &err_cases[c];
		struct sg_config *cfg = malloc(sizeof(*cfg));
		struct sg_cfg_errors errs;
		unsigned want = 0;

		assert_non_null(cfg);
		while (want < 8 && tc->expect[want] != NULL)
			want++;
		int rc = sg_config_parse(cfg, T, tc->yaml, strlen(tc->yaml), &errs);
		int ok = rc == -EINVAL && errs.count == want && errs.n_lines == want;
		for (unsigned i = 0; ok && i < want; i++)
			ok = line_matches(errs.lines[i], tc->expect[i]);
		if (!ok) {
			print_message("case '%s': rc %d, %u error(s):\n", tc->name, rc, errs.count);
			for (unsigned i = 0; i < errs.n_lines; i++)
				print_message("  got:  %s\n", errs.lines[i]);
			for (unsigned i = 0; i < want; i++)
				print_message("  want: %s\n", tc->expect[i]);
		}
		sg_cfg_errors_free(&errs);
		free(cfg);
		failed += !ok;
	}
	assert_int_equal(failed, 0);
}

static struct sg_config *parse_ok(const char *yaml)
{
	struct sg_config *cfg = malloc(sizeof(*cfg));
	struct sg_cfg_errors errs;

	assert_non_null(cfg);
	int rc = sg_config_parse(cfg, T, yaml, strlen(yaml), &errs);
	for (unsigned i = 0; i < errs.n_lines; i++)
		print_message("unexpected: %s\n", errs.lines[i]);
	assert_int_equal(rc, 0);
	assert_int_equal(errs.count, 0);
	sg_cfg_errors_free(&errs);
	return cfg;
}

static void test_defaults(void **state)
{
	struct sg_config *cfg = parse_ok(PORTS);

	(void)state;
	assert_int_equal(cfg->n_eal, 0);
	assert_int_equal(cfg->log.level, 7 /* info */);
	assert_int_equal(cfg->log.target, SG_LOG_TARGET_STDERR);
	assert_int_equal(cfg->log.components[SG_LOG_CTL], 0);
	assert_int_equal(cfg->log.dpdk, 6 /* notice */);
	assert_string_equal(cfg->control.socket, "/run/stormgate/control.sock");
	assert_string_equal(cfg->control.group, "");
	assert_int_equal(cfg->control.mode, 0660);
	assert_int_equal(cfg->control.max_clients, 64);
	assert_int_equal(cfg->control.max_request, 65536);
	assert_int_equal(cfg->control.client_timeout, 60);
	assert_int_equal(cfg->workers.count, 0);
	assert_int_equal(cfg->workers.burst, 32);
	assert_int_equal(cfg->mbufs.count, 8191);
	assert_int_equal(cfg->mbufs.cache, 256);
	assert_int_equal(cfg->n_ports, 1);
	assert_string_equal(cfg->ports[0].name, "dev0");
	assert_int_equal(cfg->ports[0].role, SG_PORT_DEVICE);
	assert_string_equal(cfg->ports[0].devargs, "net_null0");
	assert_int_equal(cfg->ports[0].rx_desc, 1024);
	assert_int_equal(cfg->ports[0].udp_port, 5684);
	assert_int_equal(cfg->ports[0].n_addresses, 0);
	assert_int_equal(cfg->sessions.capacity, 1000000);
	assert_int_equal(cfg->sessions.replay_window, 128);
	assert_int_equal(cfg->sessions.cid_length, 0);
	assert_int_equal(cfg->sessions.peer_move, SG_PEER_MOVE_VERIFIED);
	assert_int_equal(cfg->control.max_output, 16u << 20);
	assert_string_equal(cfg->credentials.db, "/var/lib/stormgate/credentials");
	assert_int_equal(cfg->credentials.map_size, (uint64_t)4 << 30);
	assert_int_equal(cfg->policy.key_lifetime, 86400);
	assert_int_equal(cfg->policy.cookie_mode, SG_COOKIE_ALWAYS);
	assert_int_equal(cfg->policy.linger_entries, 65536);
	/*
	 * The default order (docs/config.md): ECDHE-PSK, then PSK, then
	 * ECDHE-ECDSA (negotiated only with a tls: section); in each kind CCM_8
	 * last of the AEADs, after every 16-byte-tag suite (RFC 9147 §4.5.3: 2^7
	 * forged records exhaust a CCM_8 key); the CBC-SHA256 suites (LwM2M
	 * servers must offer them) last of all. The engine's own default is the
	 * same table (the registry's ranked rows, suite.h): the daemon and the
	 * engine cannot disagree.
	 */
	{
		static const uint16_t want[] = { 0xD005, 0xD001, 0xCCAC, 0xD003, 0xC0A4, 0x00A8,
			                         0x00A9, 0xCCAB, 0xC0A8, 0xC0AC, 0xC02B, 0xC02C,
			                         0xCCA9, 0xC0AE, 0xC023, 0x00AE };

		assert_int_equal(cfg->policy.n_suites, SG_ARRAY_SIZE(want));
		assert_int_equal(SG_SUITES_RANKED, SG_ARRAY_SIZE(want));
		for (unsigned i = 0; i < SG_ARRAY_SIZE(want); i++) {
			assert_int_equal(cfg->policy.suites[i], want[i]);
			assert_int_equal(sg_suites[i].id, want[i]);
			assert_string_equal(sg_suite_name(want[i]), sg_suites[i].name);
		}
	}
	assert_int_equal(cfg->backend.mode, SG_BACKEND_UDP);
	assert_false(cfg->backend.trust_device_network);
	assert_int_equal(sg_config_backend_port(cfg), -1);
	free(cfg);
}

/*
 * The handshake section: good values as parsed (a table), the defaults, and
 * the auto in-flight total: max(4 x cookie_threshold, 2 s x handshake_rate,
 * 16384 x threads), at most 1,048,576 (docs/config.md, "handshake").
 */
static void test_handshake(void **state)
{
	static const struct {
		const char *yaml; /* the handshake: and policy: sections, before PORTS */
		uint32_t threads, n_cpus, cpu0, in_flight, burst, reuse_ms, storm_ms;
		uint32_t effective; /* sg_cfg_handshake_in_flight() */
	} rows[] = {
		/* defaults: one engine; 4 x 1000 < 16384 */
		{ "", 1, 0, 0, 0, 32, 0, 0, 16384 },
		{ "handshake:\n", 1, 0, 0, 0, 32, 0, 0, 16384 },
		{ "handshake: {threads: 2}\n", 2, 0, 0, 0, 32, 0, 0, 32768 },
		{ "handshake: {threads: 64}\n", 64, 0, 0, 0, 32, 0, 0, 1048576 },
		/* the cookie threshold wins: 4 x 10000 */
		{ "handshake: {threads: 2}\npolicy: {cookie_threshold: 10000}\n", 2, 0, 0, 0, 32, 0,
		  0, 40000 },
		/* the rate wins: 2 s x 50000/s */
		{ "handshake: {threads: 4}\npolicy: {handshake_rate: 50000}\n", 4, 0, 0, 0, 32, 0,
		  0, 100000 },
		/* capped at 1,048,576 */
		{ "policy: {handshake_rate: 10000000}\n", 1, 0, 0, 0, 32, 0, 0, 1048576 },
		{ "policy: {cookie_threshold: 10000000}\n", 1, 0, 0, 0, 32, 0, 0, 1048576 },
		/* threshold 0 (cookies always, by load): the engines' share */
		{ "policy: {cookie_threshold: 0}\n", 1, 0, 0, 0, 32, 0, 0, 16384 },
		/* set: taken as is, also above the auto cap (a warning, test_handshake_warning) */
		{ "handshake: {threads: 2, in_flight: 100000}\n", 2, 0, 0, 100000, 32, 0, 0,
		  100000 },
		{ "handshake: {in_flight: 4194304}\n", 1, 0, 0, 4194304, 32, 0, 0, 4194304 },
		{ "handshake: {threads: 4, in_flight: 4}\n", 4, 0, 0, 4, 32, 0, 0, 4 },
		{ "handshake: {cpus: [0], burst: 1}\n", 1, 1, 0, 0, 1, 0, 0, 16384 },
		{ "handshake: {burst: 64}\n", 1, 0, 0, 0, 64, 0, 0, 16384 },
		/* durations in ms: bare numbers are ms */
		{ "handshake: {ecdhe_reuse: 250}\n", 1, 0, 0, 0, 32, 250, 0, 16384 },
		{ "handshake: {ecdhe_reuse: 250ms, ecdhe_reuse_storm: 2s}\n", 1, 0, 0, 0, 32, 250,
		  2000, 16384 },
		{ "handshake: {ecdhe_reuse_storm: 10s}\n", 1, 0, 0, 0, 32, 0, 10000, 16384 },
		{ "handshake: {ecdhe_reuse: 1s, ecdhe_reuse_storm: 1000}\n", 1, 0, 0, 0, 32, 1000,
		  1000, 16384 },
		/* a CPU the workers do not use: the main lcore's (-l: the lowest) */
		{ "eal: [-l, 0-1]\nhandshake: {cpus: [0]}\n", 1, 1, 0, 0, 32, 0, 0, 16384 },
		/* the workers' CPUs are not known with --lcores groups: not checked */
		{ "eal: ['--lcores=0@1,1@1']\nhandshake: {cpus: [1]}\n", 1, 1, 1, 0, 32, 0, 0,
		  16384 },
	};

	(void)state;
	for (size_t i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		char yaml[512];
		struct sg_config *cfg;

		snprintf(yaml, sizeof(yaml), "%s%s", rows[i].yaml, PORTS);
		print_message("# row %zu\n", i);
		cfg = parse_ok(yaml);
		assert_int_equal(cfg->handshake.threads, rows[i].threads);
		assert_int_equal(cfg->handshake.n_cpus, rows[i].n_cpus);
		if (rows[i].n_cpus > 0)
			assert_int_equal(cfg->handshake.cpus[0], rows[i].cpu0);
		assert_int_equal(cfg->handshake.in_flight, rows[i].in_flight);
		assert_int_equal(cfg->handshake.burst, rows[i].burst);
		assert_int_equal(cfg->handshake.ecdhe_reuse_ms, rows[i].reuse_ms);
		assert_int_equal(cfg->handshake.ecdhe_reuse_storm_ms, rows[i].storm_ms);
		assert_int_equal(sg_cfg_handshake_in_flight(cfg), rows[i].effective);
		free(cfg);
	}
}

/* in_flight above the auto cap parses, with a warning at its position saying what it costs. */
/* The tls section: what each file sets, its defaults, and when it counts as on. */
static void test_tls(void **state)
{
	static const struct {
		const char *yaml; /* the tls: section, before PORTS */
		bool enabled;
		const char *cert, *rpk_key, *ca;
		uint32_t client_auth, cert_identity;
		bool rpk, require_policy;
		uint32_t sign_pool, verify_cache;
	} rows[] = {
		/* no section: off, defaults */
		{ "", false, "", "", "", SG_TLS_CLIENT_AUTH_REQUIRE, SG_TLS_CERT_ID_CN, true, false,
		  1024, 4096 },
		/* an empty section: off as well */
		{ "tls:\n", false, "", "", "", SG_TLS_CLIENT_AUTH_REQUIRE, SG_TLS_CERT_ID_CN, true,
		  false, 1024, 4096 },
		/* a certificate: on; raw public keys stay accepted by default */
		{ "tls: {cert: /c.pem, key: /k.pem, ca: /ca.pem}\n", true, "/c.pem", "", "/ca.pem",
		  SG_TLS_CLIENT_AUTH_REQUIRE, SG_TLS_CERT_ID_CN, true, false, 1024, 4096 },
		/* a raw public key only, LwM2M style: client keys from the store */
		{ "tls: {rpk_key: /p.pem, key: /k.pem}\n", true, "", "/p.pem", "",
		  SG_TLS_CLIENT_AUTH_REQUIRE, SG_TLS_CERT_ID_CN, true, false, 1024, 4096 },
		{ "tls: {cert: /c.pem, key: /k.pem, client_auth: optional, cert_identity: san_uri,"
		  " require_policy: true, sign_pool: 1, verify_cache: 16777216, rpk: false,"
		  " ca: /ca.pem, crl: /crl.pem}\n",
		  true, "/c.pem", "", "/ca.pem", SG_TLS_CLIENT_AUTH_OPTIONAL,
		  SG_TLS_CERT_ID_SAN_URI, false, true, 1, 16777216 },
		{ "tls: {cert: /c.pem, key: /k.pem, client_auth: none, rpk: false}\n", true,
		  "/c.pem", "", "", SG_TLS_CLIENT_AUTH_NONE, SG_TLS_CERT_ID_CN, false, false, 1024,
		  4096 },
	};
	struct sg_config *cfg = malloc(sizeof(*cfg));

	(void)state;
	assert_non_null(cfg);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char yaml[512];
		struct sg_cfg_errors errs;

		snprintf(yaml, sizeof(yaml), "%s%s", rows[i].yaml, PORTS);
		print_message("# row %zu\n", i);
		assert_int_equal(sg_config_parse(cfg, T, yaml, strlen(yaml), &errs), 0);
		assert_int_equal(errs.count, 0);
		sg_cfg_errors_free(&errs);
		assert_int_equal(sg_config_tls_enabled(cfg), rows[i].enabled);
		assert_string_equal(cfg->tls.cert, rows[i].cert);
		assert_string_equal(cfg->tls.rpk_key, rows[i].rpk_key);
		assert_string_equal(cfg->tls.ca, rows[i].ca);
		assert_int_equal(cfg->tls.client_auth, rows[i].client_auth);
		assert_int_equal(cfg->tls.cert_identity, rows[i].cert_identity);
		assert_int_equal(cfg->tls.rpk, rows[i].rpk);
		assert_int_equal(cfg->tls.require_policy, rows[i].require_policy);
		assert_int_equal(cfg->tls.sign_pool, rows[i].sign_pool);
		assert_int_equal(cfg->tls.verify_cache, rows[i].verify_cache);
	}
	assert_string_equal(sg_tls_client_auth_name(SG_TLS_CLIENT_AUTH_OPTIONAL), "optional");
	assert_string_equal(sg_tls_cert_identity_name(SG_TLS_CERT_ID_SAN_URI), "san_uri");
	assert_string_equal(sg_tls_client_auth_name(SG_TLS_CLIENT_AUTH_MAX), "?");
	free(cfg);
}

/*
 * The sample's commented tls example, uncommented (the "#tls:" line and the
 * "#  " lines after it), parses and passes the tls rules: what an operator
 * gets by removing the '#'.
 */
static void test_sample_tls(void **state)
{
	const char *root = getenv("SG_SOURCE_ROOT");
	char path[4096], line[512], yaml[4096] = "";
	struct sg_config *cfg = malloc(sizeof(*cfg));
	struct sg_cfg_errors errs;
	bool in = false;
	FILE *f;

	(void)state;
	assert_non_null(root);
	assert_non_null(cfg);
	snprintf(path, sizeof(path), "%s/deploy/stormgate.yaml", root);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strcmp(line, "#tls:\n") == 0)
			in = true;
		else if (in && strncmp(line, "#  ", 3) != 0)
			break;
		if (in)
			strncat(yaml, line + 1, sizeof(yaml) - strlen(yaml) - 1);
	}
	fclose(f);
	assert_true(in);
	strncat(yaml, PORTS, sizeof(yaml) - strlen(yaml) - 1);
	assert_int_equal(sg_config_parse(cfg, T, yaml, strlen(yaml), &errs), 0);
	assert_int_equal(errs.count, 0);
	sg_cfg_errors_free(&errs);
	assert_true(sg_config_tls_enabled(cfg));
	assert_int_equal(cfg->tls.cert_identity, SG_TLS_CERT_ID_SAN_URI);
	assert_string_equal(cfg->tls.crl, "/etc/stormgate/tls/device-ca.crl.pem");
	free(cfg);
}

static void test_handshake_warning(void **state)
{
	static const char yaml[] = "handshake:\n  in_flight: 2000000\n" PORTS;
	static const char small[] = "handshake:\n  in_flight: 1048576\n" PORTS;
	struct sg_config *cfg = malloc(sizeof(*cfg));
	struct sg_cfg_errors errs;

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(sg_config_parse(cfg, T, yaml, strlen(yaml), &errs), 0);
	assert_int_equal(errs.count, 0);
	assert_int_equal(errs.n_warnings, 1);
	assert_string_equal(errs.warnings[0],
	                    "t.yaml:2:14: warning: 'handshake.in_flight' is 2000000: about 3906 MB "
	                    "of handshake slots (2048 bytes each), reserved at start-up");
	assert_int_equal(cfg->handshake.in_flight, 2000000);
	sg_cfg_errors_free(&errs);
	assert_int_equal(sg_config_parse(cfg, T, small, strlen(small), &errs), 0);
	assert_int_equal(errs.n_warnings, 0);
	sg_cfg_errors_free(&errs);
	/* A file with errors still says its warnings. */
	static const char bad[] = "handshake:\n  in_flight: 2000000\n  burst: 0\n" PORTS;
	assert_int_equal(sg_config_parse(cfg, T, bad, strlen(bad), &errs), -EINVAL);
	assert_int_equal(errs.count, 1);
	assert_int_equal(errs.n_warnings, 1);
	sg_cfg_errors_free(&errs);
	free(cfg);
}

/*
 * Which port the backend servers are reached through, and when the device
 * port may be it (issue 12 item 1): named, else the first backend-role port;
 * the device port only with trust_device_network (or without servers, when
 * nothing is forwarded and no reply is taken).
 */
static void test_backend_port(void **state)
{
	static const struct {
		const char *yaml;
		int port; /* sg_config_backend_port() */
		bool trust;
	} rows[] = {
		{ "backend: {servers: [198.18.2.10:5683]}\n"
		  "ports:\n  - {name: dev0, role: device, devargs: a}\n"
		  "  - {name: app0, role: backend, devargs: b}\n",
		  1, false },
		{ "backend: {servers: [198.18.2.10:5683]}\n"
		  "ports:\n  - {name: app0, role: backend, devargs: b}\n"
		  "  - {name: dev0, role: device, devargs: a}\n"
		  "  - {name: app1, role: backend, devargs: c}\n",
		  0, false },
		{ "backend: {port: app1, servers: [198.18.2.10:5683]}\n"
		  "ports:\n  - {name: app0, role: backend, devargs: b}\n"
		  "  - {name: dev0, role: device, devargs: a}\n"
		  "  - {name: app1, role: backend, devargs: c}\n",
		  2, false },
		{ "backend: {trust_device_network: true, servers: [198.18.2.10:5683]}\n" PORTS, -1,
		  true },
		{ "backend: {mode: proxy, trust_device_network: true, servers: "
		  "['[fd00::2]:5683']}\n" PORTS,
		  -1, true },
		{ "backend: {mode: udp}\n" PORTS, -1, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sg_config *cfg = parse_ok(rows[i].yaml);

		if (sg_config_backend_port(cfg) != rows[i].port ||
		    cfg->backend.trust_device_network != rows[i].trust)
			fail_msg("row %zu: port %d trust %d, want %d %d", i,
			         sg_config_backend_port(cfg), cfg->backend.trust_device_network,
			         rows[i].port, rows[i].trust);
		free(cfg);
	}
}

/* ports[].gateway and backend.source_pool as parsed, and the backend capacity they give. */
static void test_backend_capacity(void **state)
{
	static const struct {
		const char *yaml;
		int rc; /* sg_config_backend_capacity() */
		uint64_t addrs, sessions;
	} rows[] = {
		/* the backend port's own addresses of the server's family: 2 x 40000 */
		{ "backend: {servers: [198.18.2.10:5683]}\n"
		  "ports:\n  - {name: dev0, role: device, devargs: a, addresses: [198.18.0.1/24]}\n"
		  "  - {name: app0, role: backend, devargs: b, addresses: [198.18.2.1/24, "
		  "198.18.3.1/24, 'fd00::1/64']}\n",
		  0, 2, 80000 },
		/* an IPv4 /18 pool with every port: 10M sessions and more */
		{ "backend: {servers: [198.18.2.10:5683], source_port_first: 1024, "
		  "source_port_count: 64512, source_pool: [198.18.64.0/18]}\n" PORTS2,
		  0, 16384, 16384ull * 64512 },
		/* an IPv6 /96 pool: 2^32 addresses; the IPv4 prefix is not the server's family */
		{ "backend: {servers: ['[fd00:5347::2:2]:5683'], source_port_count: 16, "
		  "source_pool: [198.18.64.0/18, 'fd00:5347::3:0:0/96']}\n" PORTS2,
		  0, 1ull << 32, 16ull << 32 },
		/* a pool of the other family only: the port's addresses of the server's (none) */
		{ "backend: {servers: ['[fd00:5347::2:2]:5683'], source_pool: "
		  "[198.18.64.0/18]}\n" PORTS2,
		  0, 0, 0 },
		/* one port, trusted: the device port's addresses */
		{ "backend: {trust_device_network: true, servers: [198.18.0.10:5683], "
		  "source_pool: [198.18.128.0/32]}\n"
		  "ports:\n  - {name: dev0, role: device, devargs: a, addresses: "
		  "[198.18.0.1/24]}\n",
		  0, 1, 40000 },
		{ "backend: {mode: proxy, servers: [198.18.2.10:5683]}\n" PORTS2, -ENOTSUP, 0, 0 },
		{ "backend: {mode: udp}\n" PORTS2, -ENOENT, 0, 0 },
	};
	static const char gw_yaml[] =
	        "ports:\n  - {name: dev0, role: device, devargs: a, addresses: [198.18.0.1/24, "
	        "'fd00:5347::1/112'], gateway: ['fd00:5347::2', 198.18.0.2]}\n";
	struct sg_config *cfg;
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t addrs = 0, sessions = 0;
		int rc;

		cfg = parse_ok(rows[i].yaml);
		rc = sg_config_backend_capacity(cfg, &addrs, &sessions);
		if (rc != rows[i].rc ||
		    (rc == 0 && (addrs != rows[i].addrs || sessions != rows[i].sessions)))
			fail_msg("row %zu: rc %d, %" PRIu64 " address(es), %" PRIu64
			         " sessions; want %d, %" PRIu64 ", %" PRIu64,
			         i, rc, addrs, sessions, rows[i].rc, rows[i].addrs,
			         rows[i].sessions);
		free(cfg);
	}
	cfg = parse_ok(rows[2].yaml);
	assert_int_equal(cfg->backend.n_source_pool, 2);
	assert_string_equal(sg_cfg_prefix_str(&cfg->backend.source_pool[1], buf, sizeof(buf)),
	                    "fd00:5347::3:0:0/96");
	free(cfg);
	cfg = parse_ok(gw_yaml);
	assert_int_equal(cfg->ports[0].n_gateways, 2);
	assert_int_equal(cfg->ports[0].gateway[0].family, AF_INET6);
	assert_string_equal(sg_cfg_prefix_str(&cfg->ports[0].gateway[0], buf, sizeof(buf)),
	                    "fd00:5347::2/128");
	assert_string_equal(sg_cfg_prefix_str(&cfg->ports[0].gateway[1], buf, sizeof(buf)),
	                    "198.18.0.2/32");
	free(cfg);
}

/*
 * metrics.listen: the default (loopback, a start-up that goes on when it is
 * taken), an address given (IPv4, IPv6 in brackets), off ("" or off), and
 * which of them are loopback (the daemon warns for the others).
 */
static void test_metrics_listen(void **state)
{
	static const struct {
		const char *yaml;
		uint32_t state;
		const char *addr; /* as printed; NULL when off */
		int loopback;
	} rows[] = {
		{ PORTS, SG_CFG_LISTEN_DEFAULT, "127.0.0.1:9464", 1 },
		{ "metrics:\n" PORTS, SG_CFG_LISTEN_DEFAULT, "127.0.0.1:9464", 1 },
		{ "metrics: {listen: 127.0.0.1:9464}\n" PORTS, SG_CFG_LISTEN_SET, "127.0.0.1:9464",
		  1 },
		{ "metrics: {listen: 127.9.9.9:1}\n" PORTS, SG_CFG_LISTEN_SET, "127.9.9.9:1", 1 },
		{ "metrics: {listen: '[::1]:9464'}\n" PORTS, SG_CFG_LISTEN_SET, "[::1]:9464", 1 },
		{ "metrics: {listen: 198.18.0.1:65535}\n" PORTS, SG_CFG_LISTEN_SET,
		  "198.18.0.1:65535", 0 },
		{ "metrics: {listen: 0.0.0.0:9464}\n" PORTS, SG_CFG_LISTEN_SET, "0.0.0.0:9464", 0 },
		{ "metrics: {listen: '[fd00:5347::1]:9464'}\n" PORTS, SG_CFG_LISTEN_SET,
		  "[fd00:5347::1]:9464", 0 },
		{ "metrics: {listen: '[::]:9464'}\n" PORTS, SG_CFG_LISTEN_SET, "[::]:9464", 0 },
		{ "metrics: {listen: off}\n" PORTS, SG_CFG_LISTEN_OFF, NULL, 0 },
		{ "metrics: {listen: ''}\n" PORTS, SG_CFG_LISTEN_OFF, NULL, 0 },
		{ "metrics:\n  listen: \"\"\n" PORTS, SG_CFG_LISTEN_OFF, NULL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < SG_ARRAY_SIZE(rows); i++) {
		struct sg_config *cfg = parse_ok(rows[i].yaml);
		const struct sg_cfg_listen *l = &cfg->metrics.listen;
		char buf[64] = "";

		if (l->state != SG_CFG_LISTEN_OFF)
			sg_cfg_endpoint_str(&l->addr, buf, sizeof(buf));
		if (l->state != rows[i].state ||
		    strcmp(buf, rows[i].addr ? rows[i].addr : "") != 0 ||
		    (rows[i].addr && sg_cfg_endpoint_loopback(&l->addr) != rows[i].loopback))
			fail_msg("row %zu: state %u '%s' loopback %d; want %u '%s' %d", i, l->state,
			         buf, sg_cfg_endpoint_loopback(&l->addr), rows[i].state,
			         rows[i].addr ? rows[i].addr : "", rows[i].loopback);
		free(cfg);
	}
}

static void test_values(void **state)
{
	static const char yaml[] =
	        "eal: [-l, 0-1, --no-pci, '--file-prefix=sg x']\n"
	        "log:\n  level: debug\n  target: syslog\n  components: {ctl: warning, dp: error}\n"
	        "  dpdk: error\n"
	        "control:\n  socket: /tmp/x.sock\n  group: sgadm\n  mode: 0640\n"
	        "  max_request: 4K\n  client_timeout: 2m\n  max_output: 64M\n"
	        "workers:\n  lcores: [1, 3]\n  burst: 64\n  idle_sleep_us: 50\n"
	        "mbufs: {count: 0x3fff, cache: 128}\n"
	        "ports:\n"
	        "  - name: dev0\n    role: device\n    devargs: net_af_packet0,iface=sg-h\n"
	        "    addresses: [198.18.1.1/24, 'fd00:5347:1::1/64']\n    promiscuous: true\n"
	        "    mtu: 1400\n"
	        "  - {name: app0, role: backend, devargs: '0000:01:00.0', rx_queues: 2}\n"
	        "sessions: {capacity: 10000000, replay_window: 256, cid_length: 8, idle_timeout: "
	        "1h, peer_move: unverified}\n"
	        "credentials: {db: /var/tmp/c, map_size: 16GiB}\n"
	        "policy:\n  key_lifetime: 7d\n  key_lifetime_jitter: 0\n  cookie_mode: always\n"
	        "  suites: [TLS_PSK_WITH_AES_128_CCM_8, TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256]\n"
	        "  handshake_rate: 5000\n  auth_failure_limit: 16\n"
	        "backend:\n  mode: proxy\n  port: app0\n"
	        "  servers: [198.18.2.10:5683, '[fd00:5347:2::10]:5683']\n";
	struct sg_config *cfg = parse_ok(yaml);
	char buf[64];

	(void)state;
	assert_int_equal(cfg->n_eal, 4);
	assert_string_equal(cfg->eal[3], "--file-prefix=sg x");
	assert_int_equal(cfg->log.level, 8);
	assert_int_equal(cfg->log.target, SG_LOG_TARGET_SYSLOG);
	assert_int_equal(cfg->log.components[SG_LOG_CTL], 5);
	assert_int_equal(cfg->log.components[SG_LOG_DP], 4);
	assert_int_equal(cfg->log.components[SG_LOG_MAIN], 0);
	assert_int_equal(cfg->log.dpdk, 4);
	assert_string_equal(cfg->control.group, "sgadm");
	assert_int_equal(cfg->control.mode, 0640);
	assert_int_equal(cfg->control.max_request, 4096);
	assert_int_equal(cfg->control.client_timeout, 120);
	assert_int_equal(cfg->control.max_output, 64u << 20);
	assert_int_equal(cfg->workers.n_lcores, 2);
	assert_int_equal(cfg->workers.lcores[1], 3);
	assert_int_equal(cfg->workers.burst, 64);
	assert_int_equal(cfg->mbufs.count, 16383);
	assert_int_equal(cfg->n_ports, 2);
	assert_int_equal(cfg->ports[0].n_addresses, 2);
	assert_string_equal(sg_cfg_prefix_str(&cfg->ports[0].addresses[0], buf, sizeof(buf)),
	                    "198.18.1.1/24");
	assert_string_equal(sg_cfg_prefix_str(&cfg->ports[0].addresses[1], buf, sizeof(buf)),
	                    "fd00:5347:1::1/64");
	assert_true(cfg->ports[0].promiscuous);
	assert_int_equal(cfg->ports[0].mtu, 1400);
	assert_int_equal(cfg->ports[1].role, SG_PORT_BACKEND);
	assert_int_equal(cfg->ports[1].rx_queues, 2);
	assert_int_equal(cfg->ports[1].rx_desc, 1024); /* defaults apply per list item */
	assert_int_equal(cfg->sessions.capacity, 10000000);
	/* sessions.cbc_capacity not given: a sixteenth of the sessions may be CBC (issue 17) */
	assert_true(cfg->sessions.cbc_capacity == SG_CFG_CBC_CAPACITY_AUTO);
	assert_int_equal(sg_cfg_sessions_cbc_capacity(cfg), 625000);
	cfg->sessions.cbc_capacity = 0;
	assert_int_equal(sg_cfg_sessions_cbc_capacity(cfg), 0);
	cfg->sessions.cbc_capacity = 20000000; /* refused by the check; clamped if used */
	assert_int_equal(sg_cfg_sessions_cbc_capacity(cfg), 10000000);
	assert_int_equal(cfg->sessions.idle_timeout, 3600);
	assert_int_equal(cfg->sessions.peer_move, SG_PEER_MOVE_UNVERIFIED);
	assert_string_equal(sg_peer_move_name(cfg->sessions.peer_move), "unverified");
	assert_int_equal(cfg->credentials.map_size, (uint64_t)16 << 30);
	assert_int_equal(cfg->policy.key_lifetime, 7 * 86400);
	assert_int_equal(cfg->policy.cookie_mode, SG_COOKIE_ALWAYS);
	assert_int_equal(cfg->policy.n_suites, 2);
	assert_int_equal(cfg->policy.suites[0], 0xC0A8);
	assert_int_equal(cfg->policy.suites[1], 0xD001);
	assert_int_equal(cfg->policy.auth_failure_limit, 16);
	assert_int_equal(cfg->backend.mode, SG_BACKEND_PROXY);
	assert_int_equal(sg_config_backend_port(cfg), 1);
	assert_int_equal(cfg->backend.n_servers, 2);
	assert_string_equal(sg_cfg_endpoint_str(&cfg->backend.servers[0], buf, sizeof(buf)),
	                    "198.18.2.10:5683");
	assert_string_equal(sg_cfg_endpoint_str(&cfg->backend.servers[1], buf, sizeof(buf)),
	                    "[fd00:5347:2::10]:5683");
	free(cfg);
}

/* Empty values of maps and lists mean "defaults", not an error. */
static void test_empty_sections(void **state)
{
	struct sg_config *cfg = parse_ok("eal:\nlog:\ncontrol: {}\n" PORTS);

	(void)state;
	assert_int_equal(cfg->n_eal, 0);
	assert_int_equal(cfg->log.level, 7);
	free(cfg);
}

/* A failed parse leaves the caller's config untouched. */
static void test_failure_keeps_config(void **state)
{
	struct sg_config *cfg = parse_ok(PORTS "workers: {burst: 7}\n");
	struct sg_cfg_errors errs;
	static const char bad[] = "workers: {burst: 8}\nbogus: 1\n" PORTS;

	(void)state;
	assert_int_equal(sg_config_parse(cfg, T, bad, strlen(bad), &errs), -EINVAL);
	assert_int_equal(errs.count, 1);
	assert_int_equal(cfg->workers.burst, 7);
	sg_cfg_errors_free(&errs);
	free(cfg);
}

/* One key at run time (`policy set`): the file's rules, all or nothing. */
static const struct {
	const char *path, *value;
	int rc;
	const char *msg; /* substring of the error */
} set_cases[] = {
	{ "policy.key_lifetime", "12h", 0, NULL },
	{ "policy.key_lifetime", "43200", 0, NULL },
	{ "policy.key_lifetime", "5", -EINVAL, "out of range 10..2592000 seconds" },
	{ "policy.key_lifetime", "soon", -EINVAL, "must be a duration" },
	{ "policy.key_lifetime", "", -EINVAL, "has no value" },
	{ "policy.key_lifetime", "[1, 2]", -EINVAL, "must be a scalar" },
	{ "policy.key_lifetime", "{a: 1}", -EINVAL, "must be a scalar" },
	{ "policy.key_lifetime", "1h\n---\n2h", -EINVAL, "second YAML document" },
	{ "policy.cookie_mode", "always", 0, NULL },
	{ "policy.cookie_mode", "sometimes", -EINVAL, "under_load, always, never" },
	{ "policy.cookie_threshold", "'5'", -EINVAL, "must be an integer" },
	{ "policy.handshake_rate", "20000000", -EINVAL, "out of range" },
	{ "policy.handshake_rate", "2500", 0, NULL },
	{ "policy.suites", "[TLS_PSK_WITH_AES_128_CCM_8, TLS_PSK_WITH_AES_128_GCM_SHA256]", 0,
	  NULL },
	{ "policy.suites", "[]", -EINVAL, "at least one cipher suite" },
	{ "policy.suites", "[TLS_PSK_WITH_AES_128_CCM_8, TLS_PSK_WITH_AES_128_CCM_8]", -EINVAL,
	  "listed twice" },
	{ "policy.suites", "[TLS_RSA_WITH_NULL_MD5]", -EINVAL, "unsupported cipher suite" },
	{ "policy.suites", "TLS_PSK_WITH_AES_128_CCM_8", -EINVAL, "must be a list" },
	{ "policy", "{}", -ENOENT, "no configuration key" },
	{ "policy.nope", "1", -ENOENT, "no configuration key 'policy.nope'" },
	{ "ports.name", "x", -ENOENT, "no configuration key" },
	{ "control.max_output", "2M", 0, NULL },
	{ "log.components.ctl", "debug", 0, NULL },
	{ "", "1", -ENOENT, "no configuration key" },
	{ "policy..x", "1", -ENOENT, "no configuration key" },
};

static void test_set_key(void **state)
{
	struct sg_config *cfg = parse_ok(PORTS), *before = malloc(sizeof(*before));
	char msg[256];

	(void)state;
	assert_non_null(before);
	for (size_t i = 0; i < sizeof(set_cases) / sizeof(set_cases[0]); i++) {
		int rc;

		*before = *cfg;
		rc = sg_config_set(cfg, set_cases[i].path, set_cases[i].value, msg, sizeof(msg));
		if (rc != set_cases[i].rc ||
		    (set_cases[i].msg != NULL && strstr(msg, set_cases[i].msg) == NULL)) {
			print_message("case %zu %s=%s: rc %d msg '%s'\n", i, set_cases[i].path,
			              set_cases[i].value, rc, msg);
			fail();
		}
		if (rc != 0)
			assert_memory_equal(cfg, before, sizeof(*cfg)); /* nothing changed */
	}
	assert_int_equal(cfg->policy.key_lifetime, 43200);
	assert_int_equal(cfg->policy.cookie_mode, SG_COOKIE_ALWAYS);
	assert_int_equal(cfg->policy.handshake_rate, 2500);
	assert_int_equal(cfg->policy.n_suites, 2);
	assert_int_equal(cfg->policy.suites[1], 0x00A8);
	assert_int_equal(cfg->control.max_output, 2u << 20);
	assert_int_equal(cfg->log.components[SG_LOG_CTL], 8);
	free(before);
	free(cfg);
}

/* The store's defaults: on, beside the credential store; explicit paths win. */
static void test_store_keys(void **state)
{
	struct sg_config *cfg = parse_ok(PORTS "credentials: {db: /srv/sg/creds}\n");
	char path[SG_CFG_STR_MAX], key[SG_CFG_STR_MAX];

	(void)state;
	assert_true(cfg->store.enabled);
	assert_int_equal(cfg->store.commit_interval, 100);
	assert_int_equal(cfg->store.seq_step, 1024);
	assert_int_equal(cfg->store.seq_interval, 60);
	assert_int_equal(cfg->store.seq_margin, 65536);
	assert_false(cfg->store.replay_strict);
	assert_int_equal(cfg->store.map_size, UINT64_C(4) << 30);
	assert_int_equal(cfg->store.queue_max, UINT64_C(256) << 20);
	assert_int_equal(sg_config_store_paths(cfg, path, sizeof(path), key, sizeof(key)), 0);
	assert_string_equal(path, "/srv/sg/sessions");
	assert_string_equal(key, "/srv/sg/store.key");
	assert_int_equal(sg_config_store_paths(cfg, path, 8, key, sizeof(key)), -ENAMETOOLONG);
	free(cfg);
	cfg = parse_ok(PORTS "store: {enabled: false, path: /a/s, key_file: /b/k, seq_interval: "
	                     "0, commit_interval: 2500, replay_strict: true, queue_max: 64M}\n");
	assert_false(cfg->store.enabled);
	assert_true(cfg->store.replay_strict);
	assert_int_equal(cfg->store.seq_interval, 0);
	assert_int_equal(cfg->store.commit_interval, 2500);
	assert_int_equal(cfg->store.queue_max, UINT64_C(64) << 20);
	assert_int_equal(sg_config_store_paths(cfg, path, sizeof(path), key, sizeof(key)), 0);
	assert_string_equal(path, "/a/s");
	assert_string_equal(key, "/b/k");
	free(cfg);
}

/* Stored live overrides over the file: every line checked, all or nothing. */
static const struct {
	const char *text;
	int rc;          /* lines applied, or -EINVAL */
	const char *msg; /* substring of the error */
} override_cases[] = {
	{ "", 0, NULL },
	{ "\n\n", 0, NULL },
	{ "cookie_mode=never\n", 1, NULL },
	{ "handshake_rate=2500\nkey_lifetime=12h", 2, NULL },
	{ "suites=[TLS_PSK_WITH_AES_128_CCM_8]\n\nrekey_grace=10s\n", 2, NULL },
	{ "cookie_mode=never\nhandshake_rate=-1\n", -EINVAL, "line 2: 'policy.handshake_rate'" },
	{ "replay_window=128\n", -EINVAL, "line 1: 'replay_window' is not a live policy key" },
	{ "sessions.capacity=5\n", -EINVAL, "not a live policy key" },
	{ "linger_entries=4096\n", -EINVAL, "not a live policy key" },
	{ "cookie_mode\n", -EINVAL, "line 1: 'cookie_mode' is not key=value" },
	{ "=never\n", -EINVAL, "is not key=value" },
	{ "cookie_mode=\n", -EINVAL, "line 1: 'policy.cookie_mode' has no value" },
	{ "cookie_mode=sometimes\n", -EINVAL, "under_load, always, never" },
};

static void test_apply_overrides(void **state)
{
	struct sg_config *cfg = parse_ok(PORTS), *before = malloc(sizeof(*before));
	char msg[256], nul[] = "cookie_mode=never\0x";
	char *longer = malloc(2048);

	(void)state;
	assert_non_null(before);
	assert_non_null(longer);
	for (size_t i = 0; i < sizeof(override_cases) / sizeof(override_cases[0]); i++) {
		const char *t = override_cases[i].text;
		int rc;

		*before = *cfg;
		rc = sg_config_apply_overrides(cfg, t, strlen(t), msg, sizeof(msg));
		if (rc != override_cases[i].rc ||
		    (override_cases[i].msg != NULL && strstr(msg, override_cases[i].msg) == NULL)) {
			print_message("case %zu '%s': rc %d msg '%s'\n", i, t, rc, msg);
			fail();
		}
		if (rc < 0)
			assert_memory_equal(cfg, before, sizeof(*cfg));
	}
	assert_int_equal(cfg->policy.cookie_mode, SG_COOKIE_NEVER);
	assert_int_equal(cfg->policy.handshake_rate, 2500);
	assert_int_equal(cfg->policy.key_lifetime, 43200);
	assert_int_equal(cfg->policy.n_suites, 1);
	assert_int_equal(cfg->policy.rekey_grace, 10);
	/* Not text, and a line longer than any override. */
	assert_int_equal(sg_config_apply_overrides(cfg, nul, sizeof(nul) - 1, msg, sizeof(msg)),
	                 -EINVAL);
	assert_non_null(strstr(msg, "not text"));
	memset(longer, 'a', 2047);
	longer[2047] = '\0';
	assert_int_equal(sg_config_apply_overrides(cfg, longer, 2047, msg, sizeof(msg)), -EINVAL);
	free(longer);
	free(before);
	free(cfg);
}

static void test_load_errors(void **state)
{
	struct sg_config *cfg = malloc(sizeof(*cfg));
	struct sg_cfg_errors errs;

	(void)state;
	assert_int_equal(sg_config_load(cfg, "/nonexistent/stormgate.yaml", &errs), -EINVAL);
	assert_int_equal(errs.n_lines, 1);
	assert_string_equal(errs.lines[0],
	                    "/nonexistent/stormgate.yaml: cannot open: No such file or directory");
	sg_cfg_errors_free(&errs);
	assert_int_equal(sg_config_load(cfg, "/", &errs), -EINVAL);
	assert_string_equal(errs.lines[0], "/: not a regular file");
	sg_cfg_errors_free(&errs);
	free(cfg);
}

/*
 * The CBC-SHA256 suites by name (issue 17): offered by default, last (LwM2M
 * 1.0/1.1 clients that speak only CBC connect out of the box), and
 * policy.suites may list them alone or leave them out.
 */
static void test_suites_cbc(void **state)
{
	static const struct {
		const char *suites; /* policy.suites, or NULL: the default */
		unsigned n;         /* suites in the list */
		unsigned cbc;       /* of them CBC-SHA256 */
		uint16_t first;     /* the first one */
	} rows[] = {
		{ NULL, SG_SUITES_RANKED, 2, 0xD005 },
		{ "[TLS_PSK_WITH_AES_128_CBC_SHA256]", 1, 1, 0x00AE },
		{ "[TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, TLS_PSK_WITH_AES_128_CBC_SHA256]", 2,
		  2, 0xC023 },
		/* removed: the AEAD suites only */
		{ "[TLS_PSK_WITH_AES_128_CCM, TLS_PSK_WITH_AES_128_CCM_8]", 2, 0, 0xC0A4 },
	};

	(void)state;
	assert_string_equal(sg_suite_name(SG_TLS_PSK_WITH_AES_128_CBC_SHA256),
	                    "TLS_PSK_WITH_AES_128_CBC_SHA256");
	assert_string_equal(sg_suite_name(SG_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256),
	                    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256");
	for (unsigned r = 0; r < SG_ARRAY_SIZE(rows); r++) {
		char yaml[512];
		struct sg_config *cfg;
		unsigned cbc = 0;

		snprintf(yaml, sizeof(yaml), "%s%s%s%s", PORTS, rows[r].suites ? "policy:\n" : "",
		         rows[r].suites ? "  suites: " : "", rows[r].suites ? rows[r].suites : "");
		cfg = parse_ok(yaml);
		print_message("# %s: %u suites\n", rows[r].suites ? rows[r].suites : "default",
		              cfg->policy.n_suites);
		assert_int_equal(cfg->policy.n_suites, rows[r].n);
		assert_int_equal(cfg->policy.suites[0], rows[r].first);
		for (unsigned i = 0; i < cfg->policy.n_suites; i++)
			cbc += sg_aead_wide(sg_suite_find(cfg->policy.suites[i])->aead) ? 1 : 0;
		assert_int_equal(cbc, rows[r].cbc);
		/* CBC comes after every AEAD suite in the default order. */
		if (rows[r].suites == NULL)
			for (unsigned i = 0; i < cfg->policy.n_suites; i++)
				assert_int_equal(
				        sg_aead_wide(sg_suite_find(cfg->policy.suites[i])->aead),
				        i >= cfg->policy.n_suites - 2);
		free(cfg);
	}
}

/* The sample shipped in deploy/ is valid. */
static void test_sample_config(void **state)
{
	const char *root = getenv("SG_SOURCE_ROOT");
	char path[4096];
	struct sg_config *cfg = malloc(sizeof(*cfg));
	struct sg_cfg_errors errs;

	(void)state;
	assert_non_null(root);
	snprintf(path, sizeof(path), "%s/deploy/stormgate.yaml", root);
	int rc = sg_config_load(cfg, path, &errs);
	for (unsigned i = 0; i < errs.n_lines; i++)
		print_message("%s\n", errs.lines[i]);
	assert_int_equal(rc, 0);
	assert_true(cfg->n_ports >= 1);
	/* Its suite list shows the default order, all of it. */
	assert_int_equal(cfg->policy.n_suites, SG_SUITES_RANKED);
	for (unsigned i = 0; i < SG_SUITES_RANKED; i++)
		assert_int_equal(cfg->policy.suites[i], sg_suites[i].id);
	/* The sample's servers are reached through a backend port, not the device network. */
	assert_true(cfg->backend.n_servers > 0);
	assert_true(sg_config_backend_port(cfg) >= 0);
	assert_int_equal(cfg->ports[sg_config_backend_port(cfg)].role, SG_PORT_BACKEND);
	assert_false(cfg->backend.trust_device_network);
	sg_cfg_errors_free(&errs);
	free(cfg);
}

struct doc_check {
	char *text;
	unsigned missing;
	unsigned keys;
};

static void check_key_documented(const char *path, void *arg)
{
	struct doc_check *dc = arg;
	char needle[160];

	snprintf(needle, sizeof(needle), "`%s`", path);
	dc->keys++;
	if (strstr(dc->text, needle) == NULL) {
		print_message("docs/config.md does not document %s\n", needle);
		dc->missing++;
	}
}

/* Every key of the schema appears, as `dotted.path`, in docs/config.md. */
static void test_keys_documented(void **state)
{
	const char *root = getenv("SG_SOURCE_ROOT");
	struct doc_check dc = { 0 };
	char path[4096];
	FILE *f;
	long n;

	(void)state;
	assert_non_null(root);
	snprintf(path, sizeof(path), "%s/docs/config.md", root);
	f = fopen(path, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	dc.text = calloc(1, (size_t)n + 1);
	assert_non_null(dc.text);
	assert_int_equal(fread(dc.text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	sg_config_keys(check_key_documented, &dc);
	free(dc.text);
	assert_true(dc.keys > 50);
	assert_int_equal(dc.missing, 0);
}

/* ---- a tree built without YAML ---- */

static struct sg_cfg_node *tnode(enum sg_cfg_node_type type, int line, int col)
{
	struct sg_cfg_node *n = sg_cfg_node_new(type, line, col);

	assert_non_null(n);
	return n;
}

static struct sg_cfg_node *tscalar(const char *text, bool plain, int line, int col)
{
	struct sg_cfg_node *n = sg_cfg_scalar_new(text, strlen(text), plain, line, col);

	assert_non_null(n);
	return n;
}

/* key: value into mapping m, the key at line:col. */
static void tput(struct sg_cfg_node *m, const char *key, int line, int col, struct sg_cfg_node *v)
{
	assert_int_equal(sg_cfg_node_add(m, tscalar(key, true, line, col)), 0);
	assert_int_equal(sg_cfg_node_add(m, v), 0);
}

/*
 * What a JSON front end would build for
 *   {"ports": [{"name": "dev0", "role": "device", "devargs": "net_null0"}],
 *    "workers": {"burst": 64}, "policy": {"key_lifetime": "12h"}}
 * (one key per line, from line 2): strings are quoted scalars, numbers plain.
 */
static struct sg_cfg_node *json_like_tree(struct sg_cfg_node **burst)
{
	struct sg_cfg_node *root = tnode(SG_CFG_MAP, 1, 1);
	struct sg_cfg_node *ports = tnode(SG_CFG_SEQ, 2, 12), *port = tnode(SG_CFG_MAP, 3, 5);
	struct sg_cfg_node *workers = tnode(SG_CFG_MAP, 7, 14), *policy = tnode(SG_CFG_MAP, 9, 13);

	tput(port, "name", 3, 6, tscalar("dev0", false, 3, 14));
	tput(port, "role", 4, 6, tscalar("device", false, 4, 14));
	tput(port, "devargs", 5, 6, tscalar("net_null0", false, 5, 17));
	assert_int_equal(sg_cfg_node_add(ports, port), 0);
	tput(root, "ports", 2, 3, ports);
	*burst = tscalar("64", true, 8, 14);
	tput(workers, "burst", 8, 5, *burst);
	tput(root, "workers", 7, 3, workers);
	tput(policy, "key_lifetime", 10, 5, tscalar("12h", false, 10, 21));
	tput(root, "policy", 9, 3, policy);
	return root;
}

/* A later format (or a test) feeds the tree: the same schema, defaults, rules and errors. */
static void test_tree(void **state)
{
	static const char yaml[] = PORTS "workers: {burst: 64}\npolicy: {key_lifetime: 12h}\n";
	struct sg_config *cfg = malloc(sizeof(*cfg)), *want = parse_ok(yaml);
	struct sg_cfg_node *burst, *root = json_like_tree(&burst);
	struct sg_cfg_errors errs;

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(sg_config_parse_tree(cfg, "t.json", root, &errs), 0);
	assert_int_equal(errs.count, 0);
	sg_cfg_errors_free(&errs);
	assert_int_equal(cfg->workers.burst, 64);
	assert_int_equal(cfg->policy.key_lifetime, 12 * 3600);
	assert_memory_equal(cfg, want, sizeof(*cfg)); /* the same config as from YAML */

	/* A quoted number is a string, as in YAML; the error points into the tree. */
	burst->plain = false;
	assert_int_equal(sg_config_parse_tree(cfg, "t.json", root, &errs), -EINVAL);
	assert_int_equal(errs.n_lines, 1);
	assert_string_equal(errs.lines[0],
	                    "t.json:8:14: 'workers.burst' must be an integer, got the string '64'");
	assert_memory_equal(cfg, want, sizeof(*cfg)); /* untouched */
	sg_cfg_errors_free(&errs);

	assert_int_equal(sg_config_parse_tree(cfg, "t.json", NULL, &errs), -EINVAL);
	assert_string_equal(errs.lines[0], "t.json:1:1: missing required key 'ports'");
	sg_cfg_errors_free(&errs);

	/* Only mappings and sequences have kids. */
	errno = 0;
	assert_null(sg_cfg_node_new(SG_CFG_SCALAR, 1, 1));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(sg_cfg_node_add(burst, root), -EINVAL);
	assert_int_equal(sg_cfg_node_add(root, NULL), -EINVAL);
	sg_cfg_node_free(root);
	free(want);
	free(cfg);
}

/* ---- the live set ---- */

struct live_list {
	const char *keys[32];
	unsigned n;
};

static void live_key(const char *path, void *arg)
{
	struct live_list *l = arg;

	assert_true(l->n < SG_ARRAY_SIZE(l->keys));
	l->keys[l->n++] = path;
}

/*
 * The live set is the policy keys docs/config.md says `policy set` changes,
 * each a key of the schema; every other key is start-up only, and a path
 * that names no single value is no key.
 */
static void test_live_set(void **state)
{
	static const struct {
		const char *path;
		int live;
	} rows[] = {
		{ "policy.cookie_mode", 1 },
		{ "policy.suites", 1 },
		{ "policy.auth_failure_limit", 0 },
		{ "control.socket", 0 },
		{ "sessions.idle_timeout", 0 },
		{ "log.components.ctl", 0 },
		{ "workers.lcores", 0 },
		{ "policy.nope", -ENOENT },
		{ "policy", -ENOENT },
		{ "ports", -ENOENT },
		{ "ports.name", -ENOENT },
		{ "", -ENOENT },
	};
	struct live_list got = { .n = 0 };

	(void)state;
	/* The names themselves: test_live_set_documented() against docs/config.md. */
	sg_config_live_keys(live_key, &got);
	assert_int_equal(got.n, 11);
	for (unsigned i = 0; i < got.n; i++) {
		assert_int_equal(strncmp(got.keys[i], "policy.", 7), 0);
		assert_int_equal(sg_config_key_live(got.keys[i]), 1);
	}
	for (size_t i = 0; i < SG_ARRAY_SIZE(rows); i++)
		if (sg_config_key_live(rows[i].path) != rows[i].live)
			fail_msg("%s: %d, want %d", rows[i].path, sg_config_key_live(rows[i].path),
			         rows[i].live);
}

/* docs/config.md's policy paragraph names the live set, all of it and no more. */
static void test_live_set_documented(void **state)
{
	const char *root = getenv("SG_SOURCE_ROOT");
	static const char start[] = "`stormctl policy set KEY=VALUE...` changes";
	struct live_list got = { .n = 0 };
	char path[4096], text[2048];
	unsigned named = 0;
	FILE *f;

	(void)state;
	assert_non_null(root);
	snprintf(path, sizeof(path), "%s/docs/config.md", root);
	f = fopen(path, "r");
	assert_non_null(f);
	text[0] = '\0';
	while (fgets(text, sizeof(text), f) != NULL && strncmp(text, start, strlen(start)) != 0)
		;
	/* The paragraph up to "on the running daemon": its lines joined. */
	for (size_t off = strlen(text); off < sizeof(text) - 1 && !strstr(text, "running daemon");
	     off = strlen(text))
		if (fgets(text + off, (int)(sizeof(text) - off), f) == NULL)
			break;
	fclose(f);
	assert_non_null(strstr(text, "running daemon"));
	*strstr(text, "running daemon") = '\0';
	for (const char *p = strchr(text + strlen(start), '`'); p != NULL; p = strchr(p + 1, '`'))
		named++;
	sg_config_live_keys(live_key, &got);
	assert_int_equal(named, 2 * got.n);
	for (unsigned i = 0; i < got.n; i++) {
		char needle[64];

		snprintf(needle, sizeof(needle), "`%s`", got.keys[i] + strlen("policy."));
		if (strstr(text, needle) == NULL)
			fail_msg("docs/config.md does not name %s as live", needle);
	}
}

/* ---- durations, sizes and plain numbers ---- */

typedef int (*parse_fn)(const char *s, uint64_t *out);
typedef char *(*print_fn)(uint64_t v, char *buf, size_t len);

/* Text in, what the parser says: rc and, for 0, the value. */
static const struct {
	parse_fn parse;
	const char *text;
	int rc;
	uint64_t value;
} parse_rows[] = {
	{ sg_duration_parse, "90", 0, 90 },
	{ sg_duration_parse, "90s", 0, 90 },
	{ sg_duration_parse, "15m", 0, 900 },
	{ sg_duration_parse, "24h", 0, 86400 },
	{ sg_duration_parse, "7d", 0, 604800 },
	{ sg_duration_parse, "0", 0, 0 },
	{ sg_duration_parse, "007s", 0, 7 },
	{ sg_duration_parse, "106751991167300d", 0, UINT64_C(106751991167300) * 86400 },
	{ sg_duration_parse, "106751991167301d", -ERANGE, 0 },
	{ sg_duration_parse, "99999999999999999999", -ERANGE, 0 },
	{ sg_duration_parse, "", -EINVAL, 0 },
	{ sg_duration_parse, "s", -EINVAL, 0 },
	{ sg_duration_parse, "1w", -EINVAL, 0 },
	{ sg_duration_parse, "500ms", -EINVAL, 0 }, /* whole seconds only */
	{ sg_duration_parse, "-5", -EINVAL, 0 },
	{ sg_duration_parse, "+5", -EINVAL, 0 },
	{ sg_duration_parse, "0x10", -EINVAL, 0 },
	{ sg_duration_parse, "5 s", -EINVAL, 0 },
	{ sg_duration_parse, "1.5h", -EINVAL, 0 },
	{ sg_duration_parse, "1H", -EINVAL, 0 },
	{ sg_duration_ms_parse, "250", 0, 250 },
	{ sg_duration_ms_parse, "250ms", 0, 250 },
	{ sg_duration_ms_parse, "2s", 0, 2000 },
	{ sg_duration_ms_parse, "1m", 0, 60000 },
	{ sg_duration_ms_parse, "1h", 0, 3600000 },
	{ sg_duration_ms_parse, "1d", 0, 86400000 },
	{ sg_duration_ms_parse, "0ms", 0, 0 },
	{ sg_duration_ms_parse, "0", 0, 0 },
	{ sg_duration_ms_parse, "9223372036854775807ms", 0, INT64_MAX },
	{ sg_duration_ms_parse, "9223372036854776s", -ERANGE, 0 },
	{ sg_duration_ms_parse, "", -EINVAL, 0 },
	{ sg_duration_ms_parse, "ms", -EINVAL, 0 },
	{ sg_duration_ms_parse, "1.5s", -EINVAL, 0 },
	{ sg_duration_ms_parse, "250 ms", -EINVAL, 0 },
	{ sg_duration_ms_parse, "250us", -EINVAL, 0 },
	{ sg_duration_ms_parse, "250MS", -EINVAL, 0 },
	{ sg_duration_ms_parse, "-1", -EINVAL, 0 },
	{ sg_size_parse, "65536", 0, 65536 },
	{ sg_size_parse, "64K", 0, 65536 },
	{ sg_size_parse, "64k", 0, 65536 },
	{ sg_size_parse, "64KiB", 0, 65536 },
	{ sg_size_parse, "64KB", 0, 65536 },
	{ sg_size_parse, "512M", 0, UINT64_C(512) << 20 },
	{ sg_size_parse, "16GiB", 0, UINT64_C(16) << 30 },
	{ sg_size_parse, "1T", 0, UINT64_C(1) << 40 },
	{ sg_size_parse, "1B", 0, 1 },
	{ sg_size_parse, "0", 0, 0 },
	{ sg_size_parse, "8388607T", 0, UINT64_C(8388607) << 40 },
	{ sg_size_parse, "8388608T", -ERANGE, 0 },
	{ sg_size_parse, "99999999999999999999", -ERANGE, 0 },
	{ sg_size_parse, "", -EINVAL, 0 },
	{ sg_size_parse, "B", -EINVAL, 0 },
	{ sg_size_parse, "K", -EINVAL, 0 },
	{ sg_size_parse, "4X", -EINVAL, 0 },
	{ sg_size_parse, "4P", -EINVAL, 0 },
	{ sg_size_parse, "4Ki", -EINVAL, 0 },
	{ sg_size_parse, "4KiBs", -EINVAL, 0 },
	{ sg_size_parse, "-4K", -EINVAL, 0 },
	{ sg_size_parse, "1.5G", -EINVAL, 0 },
	{ sg_size_parse, "64 ", -EINVAL, 0 }, /* was 64 << 50 */
	{ sg_size_parse, "64 B", -EINVAL, 0 },
	{ sg_uint_parse, "1024", 0, 1024 },
	{ sg_uint_parse, "0", 0, 0 },
	{ sg_uint_parse, "007", 0, 7 },
	{ sg_uint_parse, "9223372036854775807", 0, INT64_MAX },
	{ sg_uint_parse, "9223372036854775808", -ERANGE, 0 },
	{ sg_uint_parse, "99999999999999999999", -ERANGE, 0 },
	{ sg_uint_parse, "", -EINVAL, 0 },
	{ sg_uint_parse, "-5", -EINVAL, 0 },
	{ sg_uint_parse, "+5", -EINVAL, 0 },
	{ sg_uint_parse, " 5", -EINVAL, 0 },
	{ sg_uint_parse, "5 ", -EINVAL, 0 },
	{ sg_uint_parse, "5s", -EINVAL, 0 },
	{ sg_uint_parse, "0x10", -EINVAL, 0 },
};

/* A value out, the text the printer makes of it. */
static const struct {
	print_fn print;
	uint64_t value;
	const char *text;
} print_rows[] = {
	{ sg_duration_str, 0, "0s" },
	{ sg_duration_str, 1, "1s" },
	{ sg_duration_str, 59, "59s" },
	{ sg_duration_str, 60, "1m" },
	{ sg_duration_str, 90, "90s" },
	{ sg_duration_str, 900, "15m" },
	{ sg_duration_str, 3600, "1h" },
	{ sg_duration_str, 43200, "12h" },
	{ sg_duration_str, 86400, "1d" },
	{ sg_duration_str, 90000, "25h" },
	{ sg_duration_str, 604800, "7d" },
	{ sg_duration_str, 86401, "86401s" },
	{ sg_duration_str, UINT64_MAX, "18446744073709551615s" },
	{ sg_duration_ms_str, 0, "0ms" },
	{ sg_duration_ms_str, 1, "1ms" },
	{ sg_duration_ms_str, 250, "250ms" },
	{ sg_duration_ms_str, 1000, "1s" },
	{ sg_duration_ms_str, 1500, "1500ms" },
	{ sg_duration_ms_str, 120000, "2m" },
	{ sg_duration_ms_str, 86400000, "1d" },
	{ sg_size_str, 0, "0" },
	{ sg_size_str, 1000, "1000" },
	{ sg_size_str, 1024, "1K" },
	{ sg_size_str, 1536, "1536" },
	{ sg_size_str, 65536, "64K" },
	{ sg_size_str, UINT64_C(16) << 20, "16M" },
	{ sg_size_str, UINT64_C(4) << 30, "4G" },
	{ sg_size_str, UINT64_C(1) << 40, "1T" },
	{ sg_size_str, UINT64_C(3) << 50, "3072T" },
	{ sg_size_str, UINT64_MAX, "18446744073709551615" },
};

/* Every value below 2^56 the printer writes, the parser reads back as itself. */
static void round_trip(parse_fn parse, print_fn print, uint64_t unit)
{
	char buf[SG_DURATION_STR_MAX > SG_SIZE_STR_MAX ? SG_DURATION_STR_MAX : SG_SIZE_STR_MAX];
	uint64_t v;

	for (uint64_t x = 1; x < (UINT64_C(1) << 56); x = x * 3 + (x & 7)) {
		assert_int_equal(parse(print(x * unit, buf, sizeof(buf)), &v), 0);
		assert_int_equal(v, x * unit);
	}
}

static void test_durations_sizes(void **state)
{
	char buf[SG_DURATION_STR_MAX > SG_SIZE_STR_MAX ? SG_DURATION_STR_MAX : SG_SIZE_STR_MAX];

	(void)state;
	for (size_t i = 0; i < SG_ARRAY_SIZE(parse_rows); i++) {
		uint64_t v = 0;
		int rc = parse_rows[i].parse(parse_rows[i].text, &v);

		if (rc != parse_rows[i].rc || (rc == 0 && v != parse_rows[i].value))
			fail_msg("row %zu '%s': rc %d value %" PRIu64 ", want %d %" PRIu64, i,
			         parse_rows[i].text, rc, v, parse_rows[i].rc, parse_rows[i].value);
	}
	for (size_t i = 0; i < SG_ARRAY_SIZE(print_rows); i++)
		assert_string_equal(print_rows[i].print(print_rows[i].value, buf, sizeof(buf)),
		                    print_rows[i].text);
	round_trip(sg_duration_parse, sg_duration_str, 1);
	round_trip(sg_duration_parse, sg_duration_str, 60);
	round_trip(sg_duration_ms_parse, sg_duration_ms_str, 1);
	round_trip(sg_size_parse, sg_size_str, 1);
	round_trip(sg_size_parse, sg_size_str, 64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_table),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_handshake_warning),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_sample_tls),
		cmocka_unit_test(test_backend_port),
		cmocka_unit_test(test_backend_capacity),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_metrics_listen),
		cmocka_unit_test(test_empty_sections),
		cmocka_unit_test(test_failure_keeps_config),
		cmocka_unit_test(test_set_key),
		cmocka_unit_test(test_store_keys),
		cmocka_unit_test(test_apply_overrides),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_sample_config),
		cmocka_unit_test(test_suites_cbc),
		cmocka_unit_test(test_keys_documented),
		cmocka_unit_test(test_tree),
		cmocka_unit_test(test_live_set),
		cmocka_unit_test(test_live_set_documented),
		cmocka_unit_test(test_durations_sizes),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
