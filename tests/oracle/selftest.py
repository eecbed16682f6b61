#!/usr/bin/env python3
"""Self-checks of the oracle: cases whose outcome follows directly from the Go code
cited in apiserver.py / gojson.py / gonet.py (each case says which rule it pins down),
and the determinism of mutate.py. Run: python3 tests/oracle/selftest.py
"""

from __future__ import annotations

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from oracle import apiserver, gonet, mutate  # noqa: E402


def np(spec="{}", meta='{"name":"p","namespace":"x"}', extra=""):
    return '{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":%s,"spec":%s%s}' % (meta, spec, extra)


def port(p):
    return np('{"ingress":[{"ports":[%s]}]}' % p)


def peer(p, direction="ingress", key="from"):
    return np('{"%s":[{"%s":[%s]}]}' % (direction, key, p))


class Oracle(unittest.TestCase):
    def accepts(self, text):
        r = apiserver.check(text)
        self.assertTrue(r.accepted, f"refused: {[e.__dict__ for e in r.errors]}")

    def refuses(self, text, field, stage=None):
        r = apiserver.check(text)
        self.assertFalse(r.accepted, "accepted")
        self.assertEqual(r.errors[0].field, field, [e.__dict__ for e in r.errors])
        if stage:
            self.assertEqual(r.stage, stage)

    # -- decoding ------------------------------------------------------------------------
    def test_struct_field_never_takes_an_array(self):
        self.refuses(np('{"podSelector":[]}'), "spec.podSelector", "decode")

    def test_null_is_the_zero_value_for_a_fresh_field(self):
        self.accepts(np("null"))
        self.accepts(np('{"ingress":[null],"egress":[{"ports":[null]}]}'))
        self.accepts(np('{"podSelector":{"matchLabels":{"a":null}}}'))

    def test_null_leaves_an_earlier_duplicate_as_it_was(self):
        # literalStore ignores null for strings and structs: the first "name" stays.
        self.accepts(np("{}", '{"name":"p","name":null}'))
        self.accepts(np("{}").replace('"spec":{}', '"metadata":null,"spec":{}'))

    def test_duplicate_objects_merge(self):
        # the second "ports" decodes into the element the first one left: protocol UDP stays,
        # port becomes 0 and is refused.
        self.refuses(
            np('{"ingress":[{"ports":[{"protocol":"UDP","port":80}]}],"ingress":[{"ports":[{"port":0}]}]}'),
            "spec.ingress[0].ports[0].port",
            "validation",
        )
        # merged, not replaced: the first spec's bad policyType is still there.
        self.refuses(np('{"policyTypes":["x"]}', extra=',"spec":{"ingress":[]}'), "spec.policyTypes[0]")

    def test_integers(self):
        self.refuses(port('{"port":1.0}'), "spec.ingress[0].ports[0].port", "decode")
        self.refuses(port('{"port":1e3}'), "spec.ingress[0].ports[0].port", "decode")
        self.refuses(port('{"port":2147483648}'), "spec.ingress[0].ports[0].port", "decode")
        self.refuses(port('{"port":-0}'), "spec.ingress[0].ports[0].port", "validation")
        self.refuses(port('{"port":80,"endPort":80.0}'), "spec.ingress[0].ports[0].endPort", "decode")
        self.refuses(port('{"port":"80"}'), "spec.ingress[0].ports[0].port", "validation")

    def test_custom_unmarshaler_error_wins_over_an_earlier_saved_one(self):
        # (*decodeState).unmarshal: an UnmarshalJSON error aborts; a type mismatch is saved.
        self.refuses(
            np('{"podSelector":{"matchLabels":{"a":1}},"ingress":[{"ports":[{"port":true}]}]}'),
            "spec.ingress[0].ports[0].port",
            "decode",
        )
        self.refuses(
            np('{"podSelector":{"matchLabels":{"a":1}},"ingress":[{"ports":[{"endPort":true}]}]}'),
            "spec.podSelector.matchLabels[a]",
            "decode",
        )

    def test_time(self):
        self.accepts(np("{}", '{"name":"p","creationTimestamp":"2024-01-02T03:04:05.5+01:00"}'))
        self.accepts(np("{}", '{"name":"p","creationTimestamp":null}'))
        self.refuses(np("{}", '{"name":"p","creationTimestamp":""}'), "metadata.creationTimestamp", "decode")
        self.refuses(np("{}", '{"name":"p","deletionTimestamp":"2024-02-30T00:00:00Z"}'), "metadata.deletionTimestamp")

    def test_unknown_and_case_variant_keys_are_dropped(self):
        self.accepts(np('{"PodSelector":[],"foo":1}'))
        self.refuses(np("{}", '{"Name":"p"}'), "metadata.name", "validation")

    def test_typemeta(self):
        self.accepts('{"metadata":{"name":"p"},"spec":{}}')
        self.accepts('{"apiVersion":"networking.k8s.io/","metadata":{"name":"p"},"spec":{}}')
        self.accepts('{"apiVersion":"/","metadata":{"name":"p"},"spec":{}}')
        self.refuses('{"apiVersion":"v1","metadata":{"name":"p"},"spec":{}}', "apiVersion", "typemeta")
        self.refuses('{"kind":"Pod","metadata":{"name":"p"},"spec":{}}', "kind", "typemeta")
        # Interpret uses stdlib encoding/json: keys match case-insensitively.
        self.refuses('{"KIND":"Pod","metadata":{"name":"p"},"spec":{}}', "kind", "typemeta")
        self.refuses('{"apiVersion":1,"metadata":{"name":"p"},"spec":{}}', "apiVersion", "typemeta")
        # foldName: the Kelvin sign is in k's fold orbit, the dotless i is not in i's.
        self.refuses('{"\u212aind":"Pod","metadata":{"name":"p"},"spec":{}}', "kind", "typemeta")
        self.accepts('{"k\u0131nd":"Pod","metadata":{"name":"p"},"spec":{}}')
        # every matching key assigns in order; the first type mismatch is kept.
        self.accepts('{"apiversion":"v1","apiVersion":"networking.k8s.io/v1","metadata":{"name":"p"},"spec":{}}')
        self.refuses('{"apiVersion":"networking.k8s.io/v1","apiversion":"v1","metadata":{"name":"p"},"spec":{}}',
                     "apiVersion", "typemeta")
        self.refuses('{"apiVersion":true,"apiVersion":"networking.k8s.io/v1","metadata":{"name":"p"},"spec":{}}',
                     "apiVersion", "typemeta")

    # -- create path -------------------------------------------------------------------------
    def test_generation_is_overwritten(self):
        self.accepts(np("{}", '{"name":"p","generation":-1}'))

    def test_generate_name(self):
        self.accepts(np("{}", '{"generateName":"p-"}'))
        self.accepts(np("{}", '{"name":"p","generateName":"--"}'))  # maskTrailingDash("--") = "a"
        self.refuses(np("{}", '{"generateName":"Pq-"}'), "metadata.generateName")
        self.refuses(np("{}", '{"generateName":"P-"}'), "metadata.name")  # "P-" masks to "a"

    def test_namespace_defaults(self):
        self.accepts(np("{}", '{"name":"p"}'))
        self.refuses(np("{}", '{"name":"p","namespace":"' + "a" * 64 + '"}'), "metadata.namespace")

    def test_resource_version(self):
        self.accepts(np("{}", '{"name":"p","resourceVersion":"0"}'))
        self.accepts(np("{}", '{"name":"p","resourceVersion":"abc"}'))
        self.refuses(np("{}", '{"name":"p","resourceVersion":"5"}'), "metadata.resourceVersion", "storage")

    # -- validation -----------------------------------------------------------------------------
    def test_ports(self):
        self.accepts(port('{"port":"http"}'))
        self.accepts(port('{"port":80,"endPort":80}'))
        self.refuses(port('{"port":80,"endPort":79}'), "spec.ingress[0].ports[0].endPort")
        self.refuses(port('{"port":"http","endPort":80}'), "spec.ingress[0].ports[0].endPort")
        self.refuses(port('{"endPort":80}'), "spec.ingress[0].ports[0].endPort")
        self.refuses(port('{"protocol":"tcp"}'), "spec.ingress[0].ports[0].protocol")
        self.refuses(port('{"protocol":""}'), "spec.ingress[0].ports[0].protocol")
        self.accepts(port('{"protocol":null}'))

    def test_peers(self):
        self.refuses(peer("{}"), "spec.ingress[0].from[0]")
        self.refuses(peer('{"ipBlock":{"cidr":"10.0.0.0/8"},"podSelector":{}}'), "spec.ingress[0].from[0]")
        self.accepts(peer('{"podSelector":{},"namespaceSelector":{}}'))
        self.refuses(peer('{"ipBlock":{}}', "egress", "to"), "spec.egress[0].to[0].ipBlock.cidr")

    def test_cidrs(self):
        # StrictIPCIDRValidation is off in 1.35: host bits and leading zeros are accepted.
        self.accepts(peer('{"ipBlock":{"cidr":"10.0.0.1/8"}}'))
        self.accepts(peer('{"ipBlock":{"cidr":"010.0.0.0/8"}}'))
        self.accepts(peer('{"ipBlock":{"cidr":"10.0.0.0/008"}}'))
        self.accepts(peer('{"ipBlock":{"cidr":"2001:00db8::/32"}}'))  # Go 1.16 xtoi: up to 0xFFFF
        self.refuses(peer('{"ipBlock":{"cidr":"10.0.0.0/33"}}'), "spec.ingress[0].from[0].ipBlock.cidr")
        self.refuses(peer('{"ipBlock":{"cidr":"fe80::1%eth0/64"}}'), "spec.ingress[0].from[0].ipBlock.cidr")
        self.refuses(peer('{"ipBlock":{"cidr":"10.0.0.0/8 "}}'), "spec.ingress[0].from[0].ipBlock.cidr")
        # except: a strict subset, by net.IPNet.Contains and the mask lengths as written.
        self.accepts(peer('{"ipBlock":{"cidr":"10.0.0.0/8","except":["::ffff:10.1.0.0/112"]}}'))
        self.refuses(
            peer('{"ipBlock":{"cidr":"::ffff:10.0.0.0/104","except":["10.1.0.0/16"]}}'),
            "spec.ingress[0].from[0].ipBlock.except[0]",
        )
        self.refuses(
            peer('{"ipBlock":{"cidr":"10.0.0.0/8","except":["10.0.0.0/8"]}}'), "spec.ingress[0].from[0].ipBlock.except[0]"
        )

    def test_selectors(self):
        self.refuses(np('{"podSelector":{"matchExpressions":[{"key":"a","operator":"In"}]}}'),
                     "spec.podSelector.matchExpressions[0].values")
        self.refuses(np('{"podSelector":{"matchExpressions":[{"key":"a","operator":"Exists","values":["b"]}]}}'),
                     "spec.podSelector.matchExpressions[0].values")
        self.refuses(np('{"podSelector":{"matchExpressions":[{"key":"a","operator":"in","values":["b"]}]}}'),
                     "spec.podSelector.matchExpressions[0].operator")
        self.refuses(np('{"podSelector":{"matchExpressions":[{"key":"a","operator":"In","values":["b c"]}]}}'),
                     "spec.podSelector.matchExpressions[0].values[0]")
        self.refuses(np('{"podSelector":{"matchLabels":{"a/b/c":"d"}}}'), "spec.podSelector.matchLabels")

    def test_policy_types(self):
        self.accepts(np('{"policyTypes":["Ingress","Ingress"]}'))
        self.refuses(np('{"policyTypes":["Ingress","Egress","Ingress"]}'), "spec.policyTypes")
        self.refuses(np('{"policyTypes":["ingress"]}'), "spec.policyTypes[0]")

    def test_metadata(self):
        self.refuses(np("{}", '{"name":"p","finalizers":["custom"]}'), "metadata.finalizers[0]")
        self.accepts(np("{}", '{"name":"p","finalizers":["kubernetes","example.com/x"]}'))
        self.refuses(np("{}", '{"name":"p","ownerReferences":[{"apiVersion":"v1","kind":"A","name":"a"}]}'),
                     "metadata.ownerReferences.uid")
        two = '{"apiVersion":"v1","kind":"A","name":"a","uid":"u","controller":true}'
        self.accepts(np("{}", '{"name":"p","ownerReferences":[%s,%s]}' % (two, two)))  # deduplicated
        self.accepts(np("{}", '{"name":"p","annotations":{"A/B":"c"}}'))  # keys are lower-cased first
        self.refuses(np("{}", '{"name":"p","annotations":{"a b/c":"d"}}'), "metadata.annotations")
        self.accepts(np("{}", '{"name":"p","annotations":{"Example.COM/Key":"c"}}'))
        self.refuses(np("{}", '{"name":"' + "a" * 254 + '"}'), "metadata.name")
        self.accepts(np("{}", '{"name":"' + "a" * 253 + '"}'))


class Net(unittest.TestCase):
    def test_parse(self):
        self.assertIsNotNone(gonet.parse_cidr_sloppy("::1.2.3.4/96"))
        self.assertIsNone(gonet.parse_cidr_sloppy("1:2:3:4:5:6:7:1.2.3.4/96"))
        self.assertIsNone(gonet.parse_cidr_sloppy("1:2:3:4:5:6:7:8::/64"))
        self.assertIsNotNone(gonet.parse_cidr_sloppy("1:2:3:4:5:6:7::/64"))
        self.assertEqual(gonet.parse_cidr_sloppy("10.0.0.1/8")[1].ip, bytes([10, 0, 0, 0]))


class Mutate(unittest.TestCase):
    def test_deterministic(self):
        a = [m.text for m in mutate.generate(7, 50)]
        b = [m.text for m in mutate.generate(7, 50)]
        self.assertEqual(a, b)
        self.assertNotEqual(a, [m.text for m in mutate.generate(8, 50)])

    def test_prefix_stable(self):
        self.assertEqual([m.text for m in mutate.generate(3, 10)], [m.text for m in mutate.generate(3, 30)][:10])


if __name__ == "__main__":
    unittest.main()
