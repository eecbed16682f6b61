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
    random_bytes("differential", [16, 48, 96, 160, 256, 384, 512, 768])
    random_bytes("prefix_map", [8, 32, 96, 256, 512, 1024])
    for t in sorted((FUZZ / "seeds").iterdir()):
        print(t.name, len(list(t.iterdir())))
