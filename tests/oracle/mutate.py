#!/usr/bin/env python3
"""Seeded generator of mutated NetworkPolicy objects (JSON text).

Each object starts from one of a few well-formed base policies, gets a unique
metadata.name, and then one to three mutations: nulls and wrong JSON types at any
position, boundary numbers, odd CIDRs, label/name edge cases, selector operator/value
combinations, policyTypes values, duplicate keys, unknown and case-variant keys,
apiVersion/kind variants, typed metadata with wrong types or odd values, peer and port
shapes. Object i depends only on (seed, i), so `--limit` takes a stable prefix.

Usage: mutate.py [--seed S] [--limit N] [--jsonl]   (prints one object per line)
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import re
import sys
from dataclasses import dataclass

try:
    from .gojson import JNum, JObj, dump_json
except ImportError:  # pragma: no cover
    from gojson import JNum, JObj, dump_json  # type: ignore


def tree(v):
    """Python literal -> JSON tree (dict -> JObj, int/float -> JNum)."""
    if isinstance(v, dict):
        return JObj([(k, tree(x)) for k, x in v.items()])
    if isinstance(v, list):
        return [tree(x) for x in v]
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return JNum(repr(v))
    if isinstance(v, (JNum, JObj)):
        return v
    raise TypeError(v)


# ======================================================================================
# Base objects

BASES = [
    # The documentation's test-network-policy.
    {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "test-network-policy", "namespace": "x"},
        "spec": {
            "podSelector": {"matchLabels": {"role": "db"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {
                    "from": [
                        {"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}},
                        {"namespaceSelector": {"matchLabels": {"project": "myproject"}}},
                        {"podSelector": {"matchLabels": {"role": "frontend"}}},
                    ],
                    "ports": [{"protocol": "TCP", "port": 6379}],
                }
            ],
            "egress": [
                {"to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}], "ports": [{"protocol": "TCP", "port": 5978}]}
            ],
        },
    },
    # Expressions, named ports, ranges, IPv6, labels and annotations.
    {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": "mixed",
            "namespace": "y",
            "labels": {"app.kubernetes.io/name": "shop", "tier": "backend"},
            "annotations": {"example.com/owner": "team-a", "note": "free text, any characters: /?"},
        },
        "spec": {
            "podSelector": {
                "matchExpressions": [
                    {"key": "app", "operator": "In", "values": ["api", "web"]},
                    {"key": "env", "operator": "NotIn", "values": ["dev"]},
                    {"key": "example.com/canary", "operator": "DoesNotExist"},
                ]
            },
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "Exists"}]},
                            "podSelector": {"matchLabels": {"role": "client"}},
                        },
                        {"ipBlock": {"cidr": "2001:db8::/32", "except": ["2001:db8:1::/48", "2001:db8:2::/48"]}},
                    ],
                    "ports": [
                        {"port": "http"},
                        {"protocol": "UDP", "port": 5000, "endPort": 5100},
                        {"protocol": "SCTP"},
                    ],
                },
                {"from": [{"podSelector": {}}]},
            ],
            "egress": [{"to": [{"namespaceSelector": {}}], "ports": [{"protocol": "UDP", "port": 53}]}],
            "policyTypes": ["Ingress", "Egress"],
        },
    },
    # Deny-all with typed metadata, the way `kubectl get -o json` prints an object.
    {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": "deny-all",
            "namespace": "z",
            "uid": "4b1c0d7e-5a9f-4e1a-9d6b-2f1e3c4b5a6d",
            "generation": 3,
            "creationTimestamp": "2024-05-06T07:08:09Z",
            "finalizers": ["example.com/keep"],
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "owner",
                    "uid": "0f9e8d7c-6b5a-4c3d-2e1f-0a9b8c7d6e5f",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
            "managedFields": [
                {
                    "manager": "kubectl-client-side-apply",
                    "operation": "Update",
                    "apiVersion": "networking.k8s.io/v1",
                    "time": "2024-05-06T07:08:09Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:spec": {"f:podSelector": {}, "f:policyTypes": {}}},
                }
            ],
        },
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    },
    # Allow-all ingress, egress without policyTypes, no apiVersion/kind, no namespace.
    {
        "metadata": {"name": "allow-all"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "web"}},
            "ingress": [{}],
            "egress": [{"ports": [{"port": 443}, {"port": 8080, "endPort": 8090, "protocol": "TCP"}]}],
        },
    },
]

# ======================================================================================
# Edge values

LONG63 = "a" * 63
LONG64 = "a" * 64
WRONG_TYPES = [[], ["x"], {}, {"a": "b"}, "", "s", 0, 5, JNum("1.5"), True, False]
NUMBERS = [
    JNum("0"), JNum("1"), JNum("80"), JNum("65535"), JNum("65536"), JNum("-1"), JNum("2147483647"),
    JNum("2147483648"), JNum("-2147483648"), JNum("-2147483649"), JNum("9223372036854775807"),
    JNum("9223372036854775808"), JNum("1.0"), JNum("1e3"), JNum("1E2"), JNum("-0"), JNum("0.5"),
    JNum("80.0"), JNum("8e1"), "80", "http", "", None, True,
]
CIDRS = [
    "10.0.0.0/8", "10.0.0.1/8", "010.0.0.0/8", "10.000.0.0/8", "10.0.0.0/08", "10.0.0.0/008", "10.0.0.0/33",
    "10.0.0.0/32", "10.0.0.0/0", "0.0.0.0/0", "10.0.0.0", "10.0.0/8", "10.0.0.0.0/8", "256.0.0.0/8",
    "10.0.0.0/-1", "10.0.0.0/ 8", " 10.0.0.0/8", "10.0.0.0/8 ", "::/0", "::1/128", "::1/129", "fe80::1%eth0/64",
    "fe80::/10", "2001:db8::/32", "2001:DB8::/32", "2001:0db8::/32", "2001:00db8::/32", "::ffff:10.0.0.0/104",
    "::ffff:10.0.0.0/96", "::ffff:010.0.0.0/104", "1.2.3.4/32", "::ffff:1.2.3.4/128", "1:2:3:4:5:6:7:8/64",
    "1:2:3:4:5:6:7:8:9/64", "1::2::3/64", ":::/64", "::1.2.3.4/96", "1:2:3:4:5:6:1.2.3.4/96",
    "1:2:3:4:5:6:7:1.2.3.4/96", "1::1.2.3.4/96", "1/8", "10/8", "", "/8", "10.0.0.0//8", "10.0.0.0/8/8",
    "10.0.0.0/+8", "\uff11\uff10.0.0.0/8", "0x0a.0.0.0/8", "10.0.0.0000000000000000000000/8",
    "10.0.0.1234567890/8", "1:2:3:4:5:6:7::/64", "::1:2:3:4:5:6:7/64", "1:2:3:4:5:6:7:8::/64", "0::0/0",
    "10.0.0.0/8\n", "a::b:c/64", "2001:db8::/032",
]
# Relative to the cidrs of the bases (172.17.0.0/16, 2001:db8::/32, 10.0.0.0/24).
EXCEPTS = [
    "172.17.1.0/24", "172.17.0.0/16", "172.0.0.0/8", "172.18.0.0/24", "172.17.1.1/24", "172.17.1.0/32",
    "::ffff:172.17.1.0/120", "172.17.0.0/17", "172.17.255.255/32", "0172.17.1.0/24", "2001:db8:1::/48",
    "2001:db8::/32", "2001:db8::/31", "2001:db9::/48", "2001:db8:1::1/48", "::ffff:10.0.0.0/120", "10.0.0.128/25",
    "10.0.0.0/24", "10.0.0.0/23", "10.0.0.1/32", "10.0.0.0/25",
]
LABEL_KEYS = [
    "", "a", "A", LONG63, LONG64, "a.b", "a_b", "a-b", "-a", "a-", ".a", "a.", "_a", "a b", "\u00e4", "1",
    "example.com/a", "Example.com/a", "example.com/", "/a", "a/b/c", "a" * 253 + "/x", "a" * 254 + "/x",
    "example.com/" + LONG63, "example.com/" + LONG64, "ex_ample.com/a", "-example.com/a", "kubernetes.io/metadata.name",
    "\u212a", "a\u212a", "A.B/c", "a..b/c",
]
LABEL_VALUES = [
    "", "a", "A", LONG63, LONG64, "a.b", "a_b", "a-b", "-a", "a-", ".a", "_a", "a b", "\u00e4", "1", "a/b", "a:b",
    "01", "true", "a" * 62 + "-", "a\n",
]
NAMES = [
    "a", "a" * 253, "a" * 254, "a.b", "a..b", "A", "a_b", "-a", "a-", "1", "a.b-c", "", "a/b", ".", "..", "a%b",
    "\u00e4", LONG63, LONG64, "a." + "b" * 63, "a" * 63 + "." + "b" * 63, " a", "a ", "xn--bcher-kva",
]
NAMESPACES = ["default", "x", LONG63, LONG64, "a.b", "A", "-a", "a-", "", "kube-system", "1a", "a_b", None]
GENERATE_NAMES = ["gen-", "gen", "Gen-", "a-", "-", "--", "a" * 60 + "-", "a" * 300, "a.b-", "a..", "x" * 57 + "-"]
OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist", "in", "", "Gt", "exists", "NOTIN", " In", None, 5]
VALUES_SETS = [
    "ABSENT", None, [], ["a"], ["a", "b"], [""], ["bad value!"], [LONG64], [LONG63], ["a", "a"], [None], [5], "a",
]
POLICY_TYPES = [
    [], ["Ingress"], ["Egress"], ["Ingress", "Egress"], ["Egress", "Ingress"], ["Ingress", "Ingress"], ["ingress"],
    [""], ["Ingress", "Egress", "Ingress"], ["Other"], None, ["Ingress", None], ["Egress", "Egress", "Egress"],
    "Ingress", [5],
]
PORT_NAMES = [
    "http", "HTTP", "a-b", "a--b", "-ab", "ab-", "123", "a" * 15, "a" * 16, "", "80", "h_t", "a1", "1a", "web-80",
    "dns-tcp", "\u00e4b", " a", "a b",
]
PROTOCOLS = ["TCP", "UDP", "SCTP", "tcp", "udp", "", "ICMP", "Tcp", "ALL", None, 6]
TIMESTAMPS = [
    "2024-01-02T03:04:05Z", "2024-01-02T03:04:05.123+02:00", "2024-01-02T03:04:05.123456789Z",
    "2024-01-02T3:04:05Z", "2024-02-30T00:00:00Z", "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z",
    "2024-01-02 03:04:05Z", "", "yesterday", "2024-01-02T03:04:05,5Z", "2024-01-02t03:04:05z",
    "2024-01-02T03:04:05", "2024-01-02T03:04:05+24:00", "2024-01-02T03:04:05+23:59", "2024-01-02T24:00:00Z",
    "0000-01-01T00:00:00Z", "2024-1-02T03:04:05Z", "2024-01-02T03:04:60Z", "2024-01-02T03:04:05-00:00",
    JNum("5"), None, {}, [], True,
]
OWNER_REFS = [
    [],
    [{"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "u1"}],
    [{"apiVersion": "v1", "kind": "ConfigMap", "name": "c"}],
    [{"apiVersion": "", "kind": "ConfigMap", "name": "c", "uid": "u1"}],
    [{"apiVersion": "a/b/c", "kind": "ConfigMap", "name": "c", "uid": "u1"}],
    [{"apiVersion": "apps/", "kind": "Deployment", "name": "d", "uid": "u1"}],
    [{"apiVersion": "v1", "kind": "", "name": "c", "uid": "u1"}],
    [{"apiVersion": "v1", "kind": "ConfigMap", "name": "", "uid": "u1"}],
    [{"apiVersion": "v1", "kind": "Event", "name": "e", "uid": "u1"}],
    [{"apiVersion": "events.k8s.io/v1", "kind": "Event", "name": "e", "uid": "u1"}],
    [
        {"apiVersion": "v1", "kind": "A", "name": "a", "uid": "u1", "controller": True},
        {"apiVersion": "v1", "kind": "B", "name": "b", "uid": "u2", "controller": True},
    ],
    [
        {"apiVersion": "v1", "kind": "A", "name": "a", "uid": "u1", "controller": True},
        {"apiVersion": "v1", "kind": "A", "name": "a", "uid": "u1", "controller": True},
    ],
    [
        {"apiVersion": "v1", "kind": "A", "name": "a", "uid": "u1", "controller": True},
        {"apiVersion": "v1", "kind": "A", "name": "a2", "uid": "u1", "controller": True},
    ],
    [{"apiVersion": "v1", "kind": "A", "name": "a", "uid": "u1", "controller": "true"}],
    [{"apiVersion": "v1", "kind": "A", "name": "a", "uid": 5}],
    [{}],
    [None],
    {"apiVersion": "v1"},
]
FINALIZERS = [
    [], ["kubernetes"], ["orphan"], ["foregroundDeletion"], ["orphan", "foregroundDeletion"], ["example.com/f"],
    ["custom"], ["a/b/c"], [""], ["Bad Name/x"], ["example.com/Bad_Name"], [JNum("5")], None, "x", [None],
    ["example.com/" + LONG64], ["kubernetes.io/pv-protection"],
]
MANAGED_FIELDS = [
    [],
    [{"manager": "m", "operation": "Update", "apiVersion": "networking.k8s.io/v1", "fieldsType": "FieldsV1", "fieldsV1": {}}],
    [{"manager": "m", "operation": "Foo", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {}}],
    [{"manager": "m" * 129, "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {}}],
    [{"manager": "m", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV2", "fieldsV1": {}}],
    [{"manager": "m", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": [1]}],
    [{"manager": "m", "operation": "Update", "apiVersion": "v1", "time": "not a time"}],
    [{"manager": "m", "operation": "Update", "apiVersion": "v1", "time": JNum("5")}],
    [{"manager": "m", "operation": "Update", "subresource": "s" * 257}],
    [{"manager": JNum("5")}],
    [{"fieldsV1": "anything goes"}],
    [None],
    {},
    "x",
]
API_VERSIONS = [
    "networking.k8s.io/v1", "networking.k8s.io/", "/", "", "v1", "networking.k8s.io/v1beta1", "extensions/v1beta1",
    "networking.k8s.io/v1/", "NETWORKING.K8S.IO/V1", "networking.k8s.io/V1", "networking.k8s.io", "/v1", None,
    "ABSENT", JNum("1"), True, {}, [],
]
KINDS = ["NetworkPolicy", "", "networkpolicy", "NetworkPolicyList", "Pod", "Ingress", "NetworkPolicy ", None, "ABSENT", JNum("1"), []]
TYPEMETA_KEYS = ["Kind", "KIND", "APIVersion", "apiversion", "ApiVersion", "\u212aind", "kınd", "api_version"]
UNKNOWN_KEYS = ["foo", "status", "x-extra", "Spec", "Metadata", "NAME", "PodSelector", "podselector", "CIDR",
                "Port", "Ingress", "endport", "matchlabels", "Except", "policytypes", "$ref", ""]

MAP_PARENTS = {"labels", "annotations", "matchLabels", "fieldsV1"}


# ======================================================================================
# Tree positions


@dataclass
class Pos:
    path: str  # field.Path syntax with indices
    abstract: str  # indices as [], map keys as *
    parent: object  # JObj or list (None for the root)
    key: object  # pair index in JObj.pairs, or list index
    node: object


def _join(path, key):
    return f"{path}.{key}" if path else key


def positions(root):
    """Every value position in the tree (the root included)."""
    out = [Pos("", "", None, None, root)]

    def walk(node, path, abstract, in_map):
        if isinstance(node, JObj):
            for i, (k, v) in enumerate(node.pairs):
                p = _join(path, k) if not in_map else f"{path}[{k}]"
                a = _join(abstract, "*" if in_map else k)
                out.append(Pos(p, a, node, i, v))
                walk(v, p, a, (k in MAP_PARENTS) and not in_map)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                p = f"{path}[{i}]"
                a = f"{abstract}[]"
                out.append(Pos(p, a, node, i, v))
                walk(v, p, a, False)

    walk(root, "", "", False)
    return out


def set_at(pos: Pos, value):
    if isinstance(pos.parent, JObj):
        k, _ = pos.parent.pairs[pos.key]
        pos.parent.pairs[pos.key] = (k, value)
    else:
        pos.parent[pos.key] = value


def get_key(obj: JObj, key):
    for k, v in obj.pairs:
        if k == key:
            return v
    return None


def put_key(obj: JObj, key, value):
    for i, (k, _) in enumerate(obj.pairs):
        if k == key:
            obj.pairs[i] = (key, value)
            return
    obj.pairs.append((key, value))


def del_key(obj: JObj, key):
    obj.pairs = [(k, v) for k, v in obj.pairs if k != key]


def ensure_obj(parent: JObj, key):
    v = get_key(parent, key)
    if not isinstance(v, JObj):
        v = JObj([])
        put_key(parent, key, v)
    return v


# ======================================================================================
# Mutations: each takes (rng, doc) and returns (doc, description) or None if it does not
# apply to this document. `doc` may be replaced (the root).


def m_null(rng, doc):
    ps = positions(doc)
    p = rng.choice(ps)
    if p.parent is None:
        return None, ("null", "", "")
    set_at(p, None)
    return doc, ("null", p.abstract, p.path)


def m_wrong_type(rng, doc):
    ps = [p for p in positions(doc) if p.parent is not None]
    p = rng.choice(ps)
    v = copy.deepcopy(tree(rng.choice(WRONG_TYPES)))
    set_at(p, v)
    return doc, ("type", p.abstract, f"{p.path}={dump_json(v)}")


def _pick(rng, doc, pred):
    ps = [p for p in positions(doc) if p.parent is not None and pred(p)]
    return rng.choice(ps) if ps else None


def _leaf(name):
    return lambda p: p.abstract.split(".")[-1].split("[")[0] == name and isinstance(p.parent, JObj)


def m_number(rng, doc):
    p = _pick(rng, doc, lambda p: re.search(r"(port|endPort|generation|deletionGracePeriodSeconds)$", p.abstract))
    if p is None:
        return None
    v = copy.deepcopy(tree(rng.choice(NUMBERS)))
    set_at(p, v)
    return doc, ("number", p.abstract, f"{p.path}={dump_json(v)}")


def _add_port(rng, doc):
    spec = ensure_obj(doc, "spec") if isinstance(doc, JObj) else None
    if spec is None:
        return None
    rules = get_key(spec, "ingress")
    if not isinstance(rules, list) or not rules or not isinstance(rules[0], JObj):
        rules = [JObj([])]
        put_key(spec, "ingress", rules)
    ports = get_key(rules[0], "ports")
    if not isinstance(ports, list):
        ports = []
        put_key(rules[0], "ports", ports)
    port = JObj([])
    ports.append(port)
    return port


def m_port_shape(rng, doc):
    """Port/endPort/protocol combinations in a fresh port entry."""
    port = _add_port(rng, doc)
    if port is None:
        return None
    choice = rng.randrange(6)
    if choice == 0:
        put_key(port, "port", tree(rng.choice(PORT_NAMES)))
    elif choice == 1:
        put_key(port, "protocol", tree(rng.choice(PROTOCOLS)))
        if rng.random() < 0.5:
            put_key(port, "port", JNum("80"))
    elif choice == 2:
        put_key(port, "port", tree(rng.choice([JNum("80"), JNum("1"), JNum("65535"), "http", JNum("0")])))
        put_key(port, "endPort", tree(rng.choice([JNum("79"), JNum("80"), JNum("81"), JNum("65535"), JNum("65536"), JNum("0"), JNum("-1")])))
    elif choice == 3:
        put_key(port, "endPort", JNum(str(rng.choice([80, 0, 65536]))))
    elif choice == 4:
        put_key(port, "port", tree(rng.choice(NUMBERS)))
        if rng.random() < 0.5:
            put_key(port, "endPort", tree(rng.choice(NUMBERS)))
    else:
        pass  # an empty port {}: every port of TCP
    return doc, ("port-shape", "spec.ingress[].ports[]", dump_json(port))


def m_cidr(rng, doc):
    p = _pick(rng, doc, lambda p: re.search(r"ipBlock\.(cidr|except\[\])$", p.abstract))
    if p is None:
        return None
    v = rng.choice(EXCEPTS if (p.abstract.endswith("except[]") and rng.random() < 0.5) else CIDRS)
    set_at(p, v)
    return doc, ("cidr", p.abstract, f"{p.path}={json.dumps(v)}")


def m_peer_shape(rng, doc):
    if not isinstance(doc, JObj):
        return None
    spec = ensure_obj(doc, "spec")
    direction, peers_key = rng.choice([("ingress", "from"), ("egress", "to")])
    rules = get_key(spec, direction)
    if not isinstance(rules, list) or not rules or not isinstance(rules[0], JObj):
        rules = [JObj([])]
        put_key(spec, direction, rules)
    peers = get_key(rules[0], peers_key)
    if not isinstance(peers, list):
        peers = []
        put_key(rules[0], peers_key, peers)
    shapes = [
        {},
        {"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}},
        {"ipBlock": {"cidr": "10.0.0.0/8"}, "namespaceSelector": {}},
        {"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}, "namespaceSelector": {}},
        {"podSelector": {}, "namespaceSelector": {}},
        {"ipBlock": {}},
        {"ipBlock": {"cidr": ""}},
        {"ipBlock": {"cidr": "", "except": ["bad"]}},
        {"ipBlock": {"except": ["10.0.0.0/24"]}},
        {"ipBlock": {"cidr": "10.0.0.0/8", "except": []}},
        {"ipBlock": {"cidr": "10.0.0.0/8", "except": None}},
        {"ipBlock": {"cidr": "bad", "except": ["also bad"]}},
        {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["bad", "11.0.0.0/8", "10.1.0.0/16"]}},
        {"podSelector": None, "ipBlock": None},
        {"podSelector": None, "namespaceSelector": {}},
        {"ipBlock": None, "namespaceSelector": {"matchLabels": {"a": "b"}}},
        {"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {"matchLabels": {"bad key!": "v"}}},
    ]
    shape = tree(copy.deepcopy(rng.choice(shapes)))
    peers.append(shape)
    return doc, ("peer-shape", f"spec.{direction}[].{peers_key}[]", dump_json(shape))


def _label_maps(doc):
    out = []
    for p in positions(doc):
        if isinstance(p.node, JObj) and re.search(r"(labels|annotations|matchLabels)$", p.abstract):
            out.append(p)
    return out


def m_label(rng, doc):
    maps = _label_maps(doc)
    if not isinstance(doc, JObj):
        return None
    if not maps or rng.random() < 0.2:
        meta = ensure_obj(doc, "metadata")
        target = rng.choice(["labels", "annotations"])
        m = get_key(meta, target)
        if not isinstance(m, JObj):
            m = JObj([])
            put_key(meta, target, m)
        abstract = f"metadata.{target}"
    else:
        p = rng.choice(maps)
        m, abstract = p.node, p.abstract
    if rng.random() < 0.5:
        k = rng.choice(LABEL_KEYS)
        m.pairs.append((k, "v"))
        return doc, ("label-key", abstract, json.dumps(k))
    v = rng.choice(LABEL_VALUES)
    m.pairs.append(("k" + str(rng.randrange(100)), v))
    return doc, ("label-value", abstract, json.dumps(v))


def m_expression(rng, doc):
    sels = [p for p in positions(doc) if isinstance(p.node, JObj) and re.search(r"(podSelector|namespaceSelector)$", p.abstract)]
    if not sels:
        return None
    p = rng.choice(sels)
    exprs = get_key(p.node, "matchExpressions")
    if not isinstance(exprs, list):
        exprs = []
        put_key(p.node, "matchExpressions", exprs)
    e = JObj([])
    r = rng.random()
    key = rng.choice(LABEL_KEYS) if r < 0.3 else "app"
    if key is not None:
        e.pairs.append(("key", key))
    op = rng.choice(OPERATORS)
    e.pairs.append(("operator", tree(op)))
    vals = rng.choice(VALUES_SETS)
    if vals != "ABSENT":
        e.pairs.append(("values", tree(copy.deepcopy(vals))))
    if rng.random() < 0.1:
        e = JObj([(k, v) for k, v in e.pairs if k != "key"])
    exprs.append(e)
    return doc, ("expression", p.abstract + ".matchExpressions[]", dump_json(e))


def m_policy_types(rng, doc):
    if not isinstance(doc, JObj):
        return None
    spec = ensure_obj(doc, "spec")
    v = tree(copy.deepcopy(rng.choice(POLICY_TYPES)))
    if rng.random() < 0.1:
        del_key(spec, "policyTypes")
        return doc, ("policyTypes", "spec.policyTypes", "removed")
    put_key(spec, "policyTypes", v)
    return doc, ("policyTypes", "spec.policyTypes", dump_json(v))


def m_name(rng, doc):
    if not isinstance(doc, JObj):
        return None
    meta = ensure_obj(doc, "metadata")
    which = rng.randrange(4)
    if which == 0:
        v = rng.choice(NAMES)
        put_key(meta, "name", v)
        return doc, ("name", "metadata.name", json.dumps(v))
    if which == 1:
        v = rng.choice(NAMESPACES)
        if v is None:
            del_key(meta, "namespace")
        else:
            put_key(meta, "namespace", v)
        return doc, ("namespace", "metadata.namespace", json.dumps(v))
    v = rng.choice(GENERATE_NAMES)
    put_key(meta, "generateName", v)
    if which == 2:
        del_key(meta, "name")
        return doc, ("generateName", "metadata.generateName", json.dumps(v) + " without name")
    return doc, ("generateName", "metadata.generateName", json.dumps(v) + " with name")


def m_typemeta(rng, doc):
    if not isinstance(doc, JObj):
        return None
    r = rng.random()
    if r < 0.4:
        v = rng.choice(API_VERSIONS)
        if v == "ABSENT":
            del_key(doc, "apiVersion")
        else:
            put_key(doc, "apiVersion", tree(copy.deepcopy(v)))
        return doc, ("typemeta", "apiVersion", json.dumps(v) if not isinstance(v, (JNum, JObj)) else dump_json(tree(v)))
    if r < 0.75:
        v = rng.choice(KINDS)
        if v == "ABSENT":
            del_key(doc, "kind")
        else:
            put_key(doc, "kind", tree(copy.deepcopy(v)))
        return doc, ("typemeta", "kind", dump_json(tree(v)) if v != "ABSENT" else "ABSENT")
    k = rng.choice(TYPEMETA_KEYS)
    v = rng.choice(["Pod", "NetworkPolicy", "v1", "networking.k8s.io/v1", None, JNum("1"), "x/y/z"])
    pair = (k, tree(v))
    if rng.random() < 0.5:
        doc.pairs.insert(0, pair)
    else:
        doc.pairs.append(pair)
    return doc, ("typemeta-key", k, dump_json(tree(v)))


def m_meta(rng, doc):
    if not isinstance(doc, JObj):
        return None
    meta = ensure_obj(doc, "metadata")
    fields = {
        "generation": [JNum("1"), JNum("-1"), "1", JNum("1.5"), True, None, JNum("9223372036854775808"), JNum("0")],
        "uid": [JNum("5"), "x", None, {}, ""],
        "selfLink": [JNum("5"), "/apis/x", None],
        "resourceVersion": ["", "0", "5", "abc", "00", JNum("5"), "-1", "18446744073709551616", "+5", None],
        "creationTimestamp": TIMESTAMPS,
        "deletionTimestamp": TIMESTAMPS,
        "deletionGracePeriodSeconds": [JNum("30"), JNum("-1"), "30", JNum("1.5"), None, JNum("0")],
        "finalizers": FINALIZERS,
        "ownerReferences": OWNER_REFS,
        "managedFields": MANAGED_FIELDS,
        "labels": [None, {}, [], "x", {"a": None}, {"a": JNum("1")}, {"a": True}, {"a": {}}],
        "annotations": [None, {}, [], "x", {"a": None}, {"a": JNum("1")}, {"A/B": "v"}, {"Example.COM/Key": "v"}, {"\u212a": "v"}],
    }
    f = rng.choice(sorted(fields))
    v = tree(copy.deepcopy(rng.choice(fields[f])))
    put_key(meta, f, v)
    return doc, ("meta", f"metadata.{f}", dump_json(v))


def m_huge_annotations(rng, doc):
    if not isinstance(doc, JObj):
        return None
    meta = ensure_obj(doc, "metadata")
    size = rng.choice([256 * 1024 - 2, 256 * 1024 - 1, 256 * 1024, 256 * 1024 + 1])
    # key "k" plus a value: total = 1 + len(value)
    put_key(meta, "annotations", JObj([("k", "v" * (size - 1))]))
    return doc, ("annotations-size", "metadata.annotations", f"total {size} bytes")


def _objects(doc):
    return [p for p in positions(doc) if isinstance(p.node, JObj)]


def m_duplicate_key(rng, doc):
    objs = [p for p in _objects(doc) if p.node.pairs]
    if not objs:
        return None
    p = rng.choice(objs)
    i = rng.randrange(len(p.node.pairs))
    k, v = p.node.pairs[i]
    r = rng.random()
    if r < 0.3:
        nv = None
    elif r < 0.6:
        nv = copy.deepcopy(tree(rng.choice(WRONG_TYPES)))
    else:
        # a variant of the same shape: another mutation applied to a copy of the value
        nv = copy.deepcopy(v)
        if isinstance(nv, JObj) and nv.pairs:
            j = rng.randrange(len(nv.pairs))
            kk, _ = nv.pairs[j]
            nv.pairs[j] = (kk, copy.deepcopy(tree(rng.choice(WRONG_TYPES + [None]))))
        elif isinstance(nv, list) and nv:
            nv = nv[:1] if len(nv) > 1 else []
    before = rng.random() < 0.3
    p.node.pairs.insert(i if before else i + 1, (k, nv))
    where = _join(p.abstract, k) if p.abstract else k
    return doc, ("dupkey", where, f"{'first' if before else 'then'} {dump_json(nv)[:80]}")


def m_unknown(rng, doc):
    objs = _objects(doc)
    p = rng.choice(objs)
    if rng.random() < 0.5 and p.node.pairs:
        # rename a key to a case variant (an unknown field to a case-sensitive decoder)
        i = rng.randrange(len(p.node.pairs))
        k, v = p.node.pairs[i]
        variants = [k.upper(), k.lower(), k[:1].upper() + k[1:], k + " ", "_" + k]
        nk = rng.choice([x for x in variants if x != k] or [k + "x"])
        p.node.pairs[i] = (nk, v)
        return doc, ("rename", _join(p.abstract, k) if p.abstract else k, json.dumps(nk))
    k = rng.choice(UNKNOWN_KEYS)
    v = copy.deepcopy(tree(rng.choice(WRONG_TYPES)))
    p.node.pairs.insert(rng.randrange(len(p.node.pairs) + 1), (k, v))
    return doc, ("unknown", p.abstract or "(root)", json.dumps(k))


def m_remove(rng, doc):
    objs = [p for p in _objects(doc) if p.node.pairs]
    if not objs:
        return None
    p = rng.choice(objs)
    i = rng.randrange(len(p.node.pairs))
    k, _ = p.node.pairs.pop(i)
    return doc, ("remove", _join(p.abstract, k) if p.abstract else k, "")


def m_empty(rng, doc):
    ps = [p for p in positions(doc) if p.parent is not None and isinstance(p.node, (list, JObj))]
    if not ps:
        return None
    p = rng.choice(ps)
    v = [] if isinstance(p.node, list) else JObj([])
    set_at(p, v)
    return doc, ("empty", p.abstract, dump_json(v))


def m_toplevel(rng, doc):
    v = copy.deepcopy(tree(rng.choice([[], JNum("5"), "x", None, {}, True, [{}]])))
    return v, ("toplevel", "", dump_json(v))


MUTATIONS = [
    (m_null, 14),
    (m_wrong_type, 14),
    (m_number, 8),
    (m_port_shape, 6),
    (m_cidr, 10),
    (m_peer_shape, 5),
    (m_label, 8),
    (m_expression, 6),
    (m_policy_types, 4),
    (m_name, 6),
    (m_typemeta, 5),
    (m_meta, 8),
    (m_duplicate_key, 8),
    (m_unknown, 6),
    (m_remove, 5),
    (m_empty, 4),
    (m_toplevel, 0.2),
    (m_huge_annotations, 0.05),
]


@dataclass
class Mutant:
    index: int
    base: str
    mutations: list  # [(op, abstract path, detail)]
    text: str

    @property
    def klass(self) -> str:
        if len(self.mutations) == 1:
            op, where, _ = self.mutations[0]
            return f"{op} @ {where}" if where else op
        return "multi: " + " + ".join(m[0] for m in self.mutations)


def mutant(seed, index) -> Mutant:
    rng = random.Random(f"netpol-oracle:{seed}:{index}")
    b = rng.randrange(len(BASES))
    doc = tree(copy.deepcopy(BASES[b]))
    meta = get_key(doc, "metadata")
    base_name = get_key(meta, "name")
    put_key(meta, "name", f"{base_name}-{index}")
    n = rng.choices([1, 2, 3], weights=[80, 15, 5])[0]
    done = []
    funcs, weights = zip(*MUTATIONS)
    attempts = 0
    while len(done) < n and attempts < 20:
        attempts += 1
        f = rng.choices(funcs, weights=weights)[0]
        if not isinstance(doc, JObj) and f is not m_toplevel:
            break
        snapshot = copy.deepcopy(doc)
        r = f(rng, doc)
        if r is None:
            doc = snapshot
            continue
        doc, desc = r
        done.append(desc)
    return Mutant(index, str(base_name), done, dump_json(doc))


def generate(seed, limit):
    return [mutant(seed, i) for i in range(limit)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--jsonl", action="store_true", help="print {index, class, mutations, text} per line")
    a = ap.parse_args(argv)
    for m in generate(a.seed, a.limit):
        if a.jsonl:
            print(json.dumps({"index": m.index, "class": m.klass, "mutations": m.mutations, "text": m.text}, ensure_ascii=False))
        else:
            print(m.text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
