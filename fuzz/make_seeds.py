#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/seeds/<target>/ from the crate's test data and the
shared conformance cases. Deterministic: run it again after the inputs change.

    python3 fuzz/make_seeds.py [PATH_TO_SHARED_CONFORMANCE]
"""
import hashlib
import json
import random
import re
import shutil
import sys
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
CRATE = FUZZ.parent
SHARED = Path(sys.argv[1]) if len(sys.argv) > 1 else CRATE.parent / "shared" / "conformance"


def reset(target):
    d = FUZZ / "seeds" / target
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    return d


def write(d, data):
    if isinstance(data, str):
        data = data.encode()
    name = hashlib.sha1(data).hexdigest()[:16]
    (d / name).write_bytes(data)


def scenario_files():
    dirs = [CRATE / "tests" / "scenarios", SHARED / "cases"]
    return sorted(p for d in dirs if d.is_dir() for p in d.glob("*.json"))


def netconf_files():
    dirs = [CRATE / "tests" / "data" / "netconf", SHARED / "netconf"]
    return sorted(p for d in dirs if d.is_dir() for p in d.glob("*.json"))


def policy_json():
    d = reset("policy_json")
    selectors = []
    policies = []
    for f in scenario_files():
        for p in json.loads(f.read_text()).get("policies", []):
            policies.append(p)
            write(d, json.dumps(p, indent=1))
            spec = p.get("spec", {}) if isinstance(p, dict) else {}
            if isinstance(spec, dict):
                selectors.append(spec.get("podSelector"))
    if policies:
        write(d, json.dumps({"apiVersion": "networking.k8s.io/v1",
                             "kind": "NetworkPolicyList", "items": policies[:6]}))
    return selectors


def selector_text():
    d = reset("selector_text")
    texts = set()
    src = (CRATE / "tests" / "selector_text.rs").read_text()
    for m in re.finditer(r'parse\("((?:[^"\\]|\\.)*)"\)', src):
        try:
            texts.add(json.loads('"' + m.group(1) + '"'))
        except ValueError:
            pass  # a Rust escape JSON does not share (\u{..}); the literal is skipped
    texts.update([
        "app=web,env in (a,b),!legacy",
        "tier in (web, api), env != prod,!legacy,app = shop",
        "example.com/name-x_y.z==v.1",
        "a notin (b,c),d,!e,f!=g",
        "kubernetes.io/metadata.name in (default,kube-system)",
    ])
    for t in sorted(texts):
        write(d, t)


def calico_selector():
    d = reset("calico_selector")
    texts = set()
    for f in scenario_files():
        v = json.loads(f.read_text())
        if not isinstance(v, dict):
            continue
        for case in v.get("calicoSelectors", []):
            if isinstance(case, dict) and isinstance(case.get("selector"), str):
                texts.add(case["selector"])
        for bad in v.get("calicoBadSelectors", []):
            if isinstance(bad, dict):
                bad = bad.get("selector")
            if isinstance(bad, str):
                texts.add(bad)
    texts.update([
        "",
        "all()",
        "!global()",
        "has( a ) && !has(b)",
        "a in {'x', \"y\",} || a notin {}",
        "k startswith 'p' && k endswith\"s\" && k contains 'x'",
        "!(!(a == 'b' || c != 'd') && (e in {'f'}))",
        "contains contains 'contains'",
        "((((a == '\"'))))",
        "a == \"it's\" && b != '\"'",
    ])
    for t in sorted(texts):
        write(d, t)


def netconf():
    d = reset("netconf")
    for f in netconf_files():
        for case in json.loads(f.read_text()):
            if isinstance(case, dict) and isinstance(case.get("netConf"), str):
                write(d, case["netConf"])


def cnp(spec, name="p", **top):
    doc = {"apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
           "metadata": {"name": name}, "spec": spec}
    doc.update(top)
    return doc


def cnp_json():
    """Hand-written ClusterNetworkPolicies: one of every peer and port form, a mixed
    List, and one breaking each validation rule."""
    d = reset("cnp_json")
    subject = {"namespaces": {"matchLabels": {"team": "a"}}}
    full = {
        "tier": "Admin", "priority": 10,
        "subject": {"pods": {"namespaceSelector": {}, "podSelector": {"matchExpressions": [
            {"key": "app", "operator": "In", "values": ["web", "db"]}]}}},
        "ingress": [
            {"name": "mon", "action": "Accept", "from": [{"namespaces": {}}, {"pods": {"podSelector": {}}}],
             "protocols": [{"tcp": {"destinationPort": {"number": 9090}}}, {"destinationNamedPort": "metrics"}]},
            {"action": "Pass", "from": [{"namespaces": {"matchLabels": {"x": "y"}}}]}],
        "egress": [
            {"action": "Accept", "to": [{"domainNames": ["*.example.com", "example.com."]}],
             "protocols": [{"udp": {"destinationPort": {"range": {"start": 53, "end": 54}}}},
                           {"sctp": {"destinationPort": {"number": 9}}}]},
            {"action": "Deny", "to": [{"networks": ["0.0.0.0/0", "::/0", "10.1.2.3/8"]}, {"nodes": {}}]}],
    }
    docs = [
        cnp(full, status={"conditions": [{"type": "Ready", "status": "True"}]}),
        {"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": "np", "namespace": "a"}, "spec": {"podSelector": {}, "ingress": []}},
            cnp({"tier": "Baseline", "priority": 1000, "subject": subject})]},
        {"kind": "ClusterNetworkPolicyList", "items": [{"metadata": {"name": "a"}, "spec": {}}]},
        cnp({}),
        cnp({"tier": "admin", "priority": 1001, "subject": {}}),
        cnp({"tier": "Admin", "priority": -1, "subject": {"namespaces": {}, "pods": {}}}),
        cnp({"tier": "Admin", "priority": 1, "subject": subject,
             "egress": [{"action": "Allow", "name": "x" * 101, "to": []}]}),
        cnp({"tier": "Admin", "priority": 1, "subject": subject,
             "egress": [{"action": "Deny", "to": [{"networks": ["010.0.0.0/8", "10.0.0.0/08",
                 "::ffff:1.2.3.4/104", "10.0.0.0/8", "10.0.0.0/8", "1111:2222:3333:4444:5555:6666:7777:8888/1280"]}]}]}),
        cnp({"tier": "Admin", "priority": 1, "subject": subject,
             "egress": [{"action": "Deny", "to": [{"domainNames": ["localhost", "a.*.io", "a.io", "a.io"]}]}]}),
        cnp({"tier": "Admin", "priority": 1, "subject": subject,
             "egress": [{"action": "Accept", "to": [{"networks": ["10.0.0.0/8"]}],
                         "protocols": [{"destinationNamedPort": "http"},
                                       {"tcp": {"destinationPort": {"range": {"start": 9, "end": 9}}}}]}]}),
        cnp({"tier": "Baseline", "priority": 0, "subject": subject,
             "ingress": [{"action": "Deny", "from": [{}], "protocols": [{}, {"udp": {}},
                 {"tcp": {"destinationPort": {"number": 0, "range": {"start": 1}}}}]}]}),
        cnp({"tier": "Baseline", "priority": 0, "subject": {"namespaces": {"matchExpressions": [
            {"key": "a", "operator": "Like", "values": ["x"]}]}}}),
        cnp({"tier": "Baseline", "priority": 0, "subject": subject,
             "egress": [{"action": "Deny", "to": [{"namespaces": {}}] * 26}] * 2}),
    ]
    for doc in docs:
        write(d, json.dumps(doc, indent=1))


def calico(kind, spec, name="p", namespace=None, group="projectcalico.org/v3", **top):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    doc = {"apiVersion": group, "kind": kind, "metadata": meta, "spec": spec}
    doc.update(top)
    return doc


def calico_json():
    """Hand-written Calico objects of every kind in both API groups: every field, mixed
    lists, and one breaking each validation rule."""
    d = reset("calico_json")
    v1 = "crd.projectcalico.org/v1"
    rule = {"action": "Allow", "protocol": "TCP", "ipVersion": 4,
            "source": {"nets": ["10.0.0.0/8"], "notNets": ["10.1.0.0/16"],
                       "selector": "app == 'web'", "notSelector": "has(legacy)",
                       "namespaceSelector": "team in {'a', 'b'}", "ports": [1024, "2000:3000", "http"],
                       "serviceAccounts": {"names": ["api", "web"], "selector": "role == 'x'"}},
            "destination": {"ports": [80, "metrics"], "notPorts": ["8080:8081"], "notSelector": "x == 'y'"},
            "metadata": {"annotations": {"owner": "team-a"}}}
    full_np = {"tier": "default", "order": 100, "selector": "app == 'db'",
               "serviceAccountSelector": "team == 'a'", "types": ["Ingress", "Egress"],
               "ingress": [rule, {"action": "Deny", "protocol": "ICMP", "icmp": {"type": 8, "code": 0},
                                  "notICMP": {"type": 3}},
                           {"action": "Allow", "protocol": 6, "http": {"methods": ["GET"], "paths": [{"prefix": "/api"}]}},
                           {"action": "Allow", "source": {"services": {"name": "svc", "namespace": "a"}}}],
               "egress": [{"action": "Pass", "notProtocol": "UDPLite", "destination": {"nets": ["fd00::/8"]}, "ipVersion": 6},
                          {"action": "Log"},
                          {"action": "Allow", "destination": {"services": {"name": "dns", "namespace": "kube-system"}}}],
               "performanceHints": ["AssumeNeededOnEveryNode"]}
    full_gnp = dict(full_np, namespaceSelector="all()", doNotTrack=False, preDNAT=False, applyOnForward=True,
                    ingress=[rule, {"action": "Allow", "source": {"namespaceSelector": "global()"}}])
    docs = [
        calico("NetworkPolicy", full_np, namespace="shop"),
        calico("NetworkPolicy", full_np, namespace="shop", group=v1),
        calico("GlobalNetworkPolicy", full_gnp),
        calico("GlobalNetworkPolicy", full_gnp, group=v1),
        calico("NetworkSet", {"nets": ["198.51.100.0/24", "10.0.0.1", "fd00::1/64"]}, namespace="shop",
               metadata_labels=None),
        calico("GlobalNetworkSet", {"nets": ["203.0.113.7"]}, group=v1),
        calico("Tier", {"order": 100, "defaultAction": "Pass"}, name="security",
               status={"conditions": [{"type": "Ready", "status": "True"}]}),
        calico("Tier", {}, name="default", group=v1),
        {"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": "np", "namespace": "a"}, "spec": {"podSelector": {}}},
            calico("NetworkPolicy", {"selector": "all()"}, namespace="a"),
            calico("GlobalNetworkSet", {"nets": ["10.0.0.0/8"]}),
            calico("Tier", {"order": 5}, name="t", group=v1)]},
        {"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicyList",
         "items": [{"metadata": {"name": "a", "namespace": "b"}, "spec": {"types": []}}]},
        {"apiVersion": v1, "kind": "NetworkPolicyList",
         "items": [{"metadata": {"name": "a", "namespace": "b"}, "spec": {"types": []}}]},
        calico("NetworkPolicy", {"selector": "a = 'b'", "types": ["ingress", "Ingress", "Ingress"],
                                 "tier": "Bad_Tier",
                                 "ingress": [{"action": "Drop", "protocol": "tcp", "ipVersion": 5,
                                              "destination": {"ports": [0, "99999", "5:1", "BAD NAME", 70000],
                                                              "nets": ["10.0.0.1/8", "10.0.0.1", "fd00::/8", "bogus"],
                                                              "notNets": ["0.0.0.0/0", "::/0"],
                                                              "namespaceSelector": "global() && has(a)",
                                                              "selector": "x == 'global('"}}]},
               name="a.b.c", namespace="shop"),
        calico("NetworkPolicy", {"ingress": [{"action": "Allow", "destination": {"ports": [80]}},
                                             {"action": "Allow", "protocol": "ICMP", "ipVersion": 6,
                                              "icmp": {"code": 3}, "destination": {"ports": ["http"]}},
                                             {"action": "Deny", "http": {"methods": ["GET", "GET"],
                                                                         "paths": [{"exact": "x", "prefix": "/y"}]},
                                              "destination": {"services": {"name": ""}, "ports": [1]}}],
                                 "egress": [{"action": "Allow", "http": {}, "source": {"services": {"name": "s"}}}]},
               namespace="shop"),
        calico("GlobalNetworkPolicy", {"preDNAT": True, "doNotTrack": True, "egress": [{"action": "Deny"}],
                                       "namespaceSelector": "global()"}, name="knp.default.x"),
        calico("NetworkSet", {"nets": ["10.0.0.0/33", "x", "10.0.0.0/8", "10.0.0.0/8"]}, namespace="a",
               group=v1),
        calico("Tier", {"order": 5, "defaultAction": "Allow"}, name="kube-admin"),
        calico("Tier", {"defaultAction": "Log"}, name="has.dot"),
        calico("NetworkPolicy", {"order": "1"}, namespace="a"),
        calico("NetworkPolicy", {"ingress": [{"action": "Allow", "protocol": 256, "destination": {"ports": [1.5]}}]},
               namespace="a"),
    ]
    for doc in docs:
        labels = doc.pop("metadata_labels", "absent")
        if labels is None:
            doc["metadata"]["labels"] = {"role": "partner"}
        write(d, json.dumps(doc, indent=1))


def random_bytes(target, sizes):
    d = reset(target)
    rng = random.Random(target)
    for n in sizes:
        write(d, bytes(rng.randrange(256) for _ in range(n)))


if __name__ == "__main__":
    policy_json()
    selector_text()
    netconf()
    calico_selector()
    cnp_json()
    calico_json()
    random_bytes("differential", [16, 48, 96, 160, 256, 384, 512, 768])
    random_bytes("prefix_map", [8, 32, 96, 256, 512, 1024])
    random_bytes("live", [24, 64, 128, 256, 384, 512, 768, 1024])
    for t in sorted((FUZZ / "seeds").iterdir()):
        print(t.name, len(list(t.iterdir())))
