#!/usr/bin/env python3
"""An independent oracle: does a Kubernetes 1.35 apiserver (default feature gates) accept
this NetworkPolicy, and if not, which errors does it report, in which order?

`check(text)` takes the JSON text of one NetworkPolicy, as a client would POST it to
/apis/networking.k8s.io/v1/namespaces/NS/networkpolicies (NS = metadata.namespace or
"default"), and follows the apiserver's create path:

 1. decoding (k8s.io/apimachinery/pkg/runtime/serializer/json/json.go Serializer.Decode):
    SimpleMetaFactory.Interpret finds apiVersion/kind with stdlib encoding/json
    (case-insensitive keys), the request's GroupVersionKind fills what is missing
    (gvkWithDefaults), the typed v1.NetworkPolicy is decoded with sigs.k8s.io/json
    (case-sensitive), see gojson.py. Unknown fields are dropped (the server's default
    fieldValidation is Warn: strict errors become warnings).
 2. defaulting (pkg/apis/networking/v1/defaults.go): protocol TCP on ports without
    one, policyTypes when empty. Then conversion to the internal type (lossless).
 3. the create handler and the generic store (apiserver/pkg/endpoints/handlers/
    create.go, registry/generic/registry/store.go, registry/rest/create.go BeforeCreate):
    namespace filled from the request, name generated from generateName, duplicate
    ownerReferences dropped, managedFields rebuilt by the field manager,
    creationTimestamp/uid overwritten, strategy.PrepareForCreate (pkg/registry/
    networking/networkpolicy/strategy.go: Generation = 1), then strategy.Validate =
    ValidateNetworkPolicy (pkg/apis/networking/validation/validation.go).
 4. storage (apiserver/pkg/storage/etcd3/store.go Create): a resourceVersion that
    parses as a non-zero uint64 is refused ("resourceVersion should not be set on
    objects to be created").

It never reads the crate under test. Usage: apiserver.py FILE|-  (prints the result).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field

try:  # run as a module of the package or as a script
    from . import gojson as gj
    from . import gonet
except ImportError:  # pragma: no cover
    import gojson as gj  # type: ignore
    import gonet  # type: ignore

# ======================================================================================
# The v1 types (k8s.io/api networking/v1/types.go and k8s.io/apimachinery
# pkg/apis/meta/v1/types.go at v0.35.0), as gojson schemas.

S = gj.string_t
TIME = gj.TIME

LABEL_SELECTOR_REQUIREMENT = gj.struct(
    "v1.LabelSelectorRequirement",
    [
        ("key", S()),
        ("operator", S("v1.LabelSelectorOperator")),
        ("values", gj.slice_of(S())),
    ],
)
LABEL_SELECTOR = gj.struct(
    "v1.LabelSelector",
    [
        ("matchLabels", gj.map_of(S())),
        ("matchExpressions", gj.slice_of(LABEL_SELECTOR_REQUIREMENT)),
    ],
)
OWNER_REFERENCE = gj.struct(
    "v1.OwnerReference",
    [
        ("apiVersion", S()),
        ("kind", S()),
        ("name", S()),
        ("uid", S("types.UID")),
        ("controller", gj.ptr(gj.BOOL)),
        ("blockOwnerDeletion", gj.ptr(gj.BOOL)),
    ],
)
MANAGED_FIELDS_ENTRY = gj.struct(
    "v1.ManagedFieldsEntry",
    [
        ("manager", S()),
        ("operation", S("v1.ManagedFieldsOperationType")),
        ("apiVersion", S()),
        ("time", gj.ptr(TIME)),
        ("fieldsType", S()),
        ("fieldsV1", gj.ptr(gj.FIELDSV1)),
        ("subresource", S()),
    ],
)
OBJECT_META = gj.struct(
    "v1.ObjectMeta",
    [
        ("name", S()),
        ("generateName", S()),
        ("namespace", S()),
        ("selfLink", S()),
        ("uid", S("types.UID")),
        ("resourceVersion", S()),
        ("generation", gj.int_t(64)),
        ("creationTimestamp", TIME),
        ("deletionTimestamp", gj.ptr(TIME)),
        ("deletionGracePeriodSeconds", gj.ptr(gj.int_t(64))),
        ("labels", gj.map_of(S())),
        ("annotations", gj.map_of(S())),
        ("ownerReferences", gj.slice_of(OWNER_REFERENCE)),
        ("finalizers", gj.slice_of(S())),
        ("managedFields", gj.slice_of(MANAGED_FIELDS_ENTRY)),
    ],
)
IP_BLOCK = gj.struct("v1.IPBlock", [("cidr", S()), ("except", gj.slice_of(S()))])
PEER = gj.struct(
    "v1.NetworkPolicyPeer",
    [
        ("podSelector", gj.ptr(LABEL_SELECTOR)),
        ("namespaceSelector", gj.ptr(LABEL_SELECTOR)),
        ("ipBlock", gj.ptr(IP_BLOCK)),
    ],
)
PORT = gj.struct(
    "v1.NetworkPolicyPort",
    [
        ("protocol", gj.ptr(S("v1.Protocol"))),
        ("port", gj.ptr(gj.INTSTR)),
        ("endPort", gj.ptr(gj.int_t(32))),
    ],
)
INGRESS_RULE = gj.struct(
    "v1.NetworkPolicyIngressRule", [("ports", gj.slice_of(PORT)), ("from", gj.slice_of(PEER))]
)
EGRESS_RULE = gj.struct(
    "v1.NetworkPolicyEgressRule", [("ports", gj.slice_of(PORT)), ("to", gj.slice_of(PEER))]
)
SPEC = gj.struct(
    "v1.NetworkPolicySpec",
    [
        ("podSelector", LABEL_SELECTOR),
        ("ingress", gj.slice_of(INGRESS_RULE)),
        ("egress", gj.slice_of(EGRESS_RULE)),
        ("policyTypes", gj.slice_of(S("v1.PolicyType"))),
    ],
)
# metav1.TypeMeta is embedded (json:",inline"): kind and apiVersion are promoted.
NETWORK_POLICY = gj.struct(
    "v1.NetworkPolicy",
    [
        ("kind", S()),
        ("apiVersion", S()),
        ("metadata", OBJECT_META),
        ("spec", SPEC),
    ],
)

# ======================================================================================
# Results


@dataclass
class Error:
    field: str  # field.Path String() ("" when the error names no field)
    type: str  # FieldValueInvalid ... as the Status cause reason, or a stage name
    message: str
    go_field: str | None = None  # decode errors: Go's UnmarshalTypeError.Field


@dataclass
class Result:
    accepted: bool
    stage: str | None  # None when accepted; "typemeta", "decode", "validation", "storage"
    errors: list[Error] = field(default_factory=list)
    namespace: str = ""
    name: str = ""

    @property
    def first_field(self) -> str | None:
        return self.errors[0].field if self.errors else None

    def to_json(self) -> dict:
        return {
            "accepted": self.accepted,
            "stage": self.stage,
            "policy": f"{self.namespace}/{self.name}",
            "errors": [
                {k: v for k, v in e.__dict__.items() if v is not None} for e in self.errors
            ],
        }


def refused(stage, errors, ns="", name=""):
    return Result(False, stage, errors, ns, name)


# field.Error constructors (apimachinery/pkg/util/validation/field/errors.go); values are
# rendered roughly as Go's %#v would, for reading only.
def _show(v):
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def required(path, detail=""):
    return Error(path, "FieldValueRequired", f"{path}: Required value" + (f": {detail}" if detail else ""))


def invalid(path, value, detail):
    return Error(path, "FieldValueInvalid", f"{path}: Invalid value: {_show(value)}: {detail}")


def not_supported(path, value, valid):
    quoted = ", ".join(json.dumps(v) for v in valid)
    return Error(path, "FieldValueNotSupported", f"{path}: Unsupported value: {_show(value)}: supported values: {quoted}")


def forbidden(path, detail):
    return Error(path, "FieldValueForbidden", f"{path}: Forbidden: {detail}")


def too_long(path, max_len):
    return Error(path, "FieldValueTooLong", f"{path}: Too long: may not be more than {max_len} bytes")


def blen(s: str) -> int:
    """len() of a Go string: its UTF-8 byte count."""
    return len(s.encode("utf-8", "surrogatepass"))


# ======================================================================================
# String format checks: k8s.io/apimachinery v0.35.0 pkg/util/validation/validation.go and
# pkg/api/validate/content/{dns,kube,errors}.go. Go's regexp `^...$` anchors at the ends
# of the text, hence re.fullmatch.

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE_FMT = "(" + LABEL_KEY_FMT + ")?"


def _regex_error(msg, fmt, *examples):
    # RegexError (validation.go / content/errors.go)
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    ex = " or ".join(f"'{e}'" for e in examples)
    return f"{msg} (e.g. {ex}, regex used for validation is '{fmt}')"


def _match(fmt, value):
    return re.fullmatch(fmt, value) is not None


def is_dns1123_subdomain(value, unit="characters"):
    """validation.IsDNS1123Subdomain (unit "characters") / content.IsDNS1123Subdomain ("bytes")."""
    errs = []
    if blen(value) > 253:
        errs.append(f"must be no more than 253 {unit}")
    if not _match(DNS1123_SUBDOMAIN_FMT, value):
        errs.append(
            _regex_error(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                "and must start and end with an alphanumeric character",
                DNS1123_SUBDOMAIN_FMT,
                "example.com",
            )
        )
    return errs


def is_dns1123_label(value):
    """validation.IsDNS1123Label."""
    errs = []
    if blen(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _match(DNS1123_LABEL_FMT, value):
        if _match(DNS1123_SUBDOMAIN_FMT, value):
            errs.append("must not contain dots")
        else:
            errs.append(
                _regex_error(
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                    "and must start and end with an alphanumeric character",
                    DNS1123_LABEL_FMT,
                    "my-name",
                    "123-abc",
                )
            )
    return errs


_LABEL_KEY_MSG = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"


def is_qualified_name(value):
    """content.IsLabelKey (= validation.IsQualifiedName)."""
    errs = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if len(prefix) == 0:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix, unit="bytes"))
    else:
        return [
            "a valid label key "
            + _regex_error(_LABEL_KEY_MSG, LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if len(name) == 0:
        errs.append("name part must be non-empty")
    elif blen(name) > 63:
        errs.append("name part must be no more than 63 bytes")
    if not _match(LABEL_KEY_FMT, name):
        errs.append("name part " + _regex_error(_LABEL_KEY_MSG, LABEL_KEY_FMT, "MyName", "my.name", "123-abc"))
    return errs


def is_valid_label_value(value):
    """content.IsLabelValue."""
    errs = []
    if blen(value) > 63:
        errs.append("must be no more than 63 bytes")
    if not _match(LABEL_VALUE_FMT, value):
        errs.append(
            _regex_error(
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                "and must start and end with an alphanumeric character",
                LABEL_VALUE_FMT,
                "MyValue",
                "my_value",
                "12345",
            )
        )
    return errs


def is_valid_port_num(port):
    """validation.IsValidPortNum."""
    return [] if 1 <= port <= 65535 else ["must be between 1 and 65535, inclusive"]


def is_valid_port_name(port):
    """validation.IsValidPortName."""
    errs = []
    if blen(port) > 15:
        errs.append("must be no more than 15 characters")
    if not _match("[-a-z0-9]+", port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if len(port) > 0 and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def mask_trailing_dash(name):
    """apimachinery pkg/api/validation/generic.go maskTrailingDash (drops TWO bytes)."""
    b = name.encode("utf-8", "surrogatepass")
    if len(b) > 1 and b.endswith(b"-"):
        return (b[:-2] + b"a").decode("utf-8", "replace")
    return name


def name_is_dns_subdomain(name, prefix):
    """generic.go NameIsDNSSubdomain (= networking ValidateNetworkPolicyName)."""
    if prefix:
        name = mask_trailing_dash(name)
    return is_dns1123_subdomain(name)


def name_is_dns_label(name, prefix):
    """generic.go NameIsDNSLabel (= ValidateNamespaceName)."""
    if prefix:
        name = mask_trailing_dash(name)
    return is_dns1123_label(name)


def go_to_lower(s: str) -> str:
    """strings.ToLower with Go's simple (one rune) mappings."""
    out = []
    for c in s:
        lo = c.lower()
        if len(lo) != 1:
            lo = "i" if c == "\u0130" else c
        out.append(lo)
    return "".join(out)


# ======================================================================================
# ObjectMeta validation


def validate_labels(labels, path):
    """apimachinery pkg/apis/meta/v1/validation/validation.go ValidateLabels.

    Go ranges over the map in random order; every error carries the same path."""
    errs = []
    for k, v in (labels or {}).items():
        errs += [invalid(path, k, m) for m in is_qualified_name(k)]
        errs += [invalid(path, v, m) for m in is_valid_label_value(v)]
    return errs


def validate_annotations(annotations, path):
    """apimachinery pkg/api/validation/objectmeta.go ValidateAnnotations."""
    errs = []
    for k in annotations or {}:
        errs += [invalid(path, k, m) for m in is_qualified_name(go_to_lower(k))]
    total = sum(blen(k) + blen(v) for k, v in (annotations or {}).items())
    if total > 256 * 1024:
        errs.append(too_long(path, 256 * 1024))
    return errs


def parse_group_version(gv):
    """apimachinery pkg/runtime/schema/group_version.go ParseGroupVersion: (group, version) or None."""
    if gv == "" or gv == "/":
        return ("", "")
    n = gv.count("/")
    if n == 0:
        return ("", gv)
    if n == 1:
        g, v = gv.split("/")
        return (g, v)
    return None


def validate_owner_references(refs, path):
    """objectmeta.go ValidateOwnerReferences / validateOwnerReference (paths have no index)."""
    errs = []
    first_controller = ""
    for ref in refs:
        gv = parse_group_version(ref["apiVersion"])  # schema.FromAPIVersionAndKind
        version = gv[1] if gv is not None else ""
        group = gv[0] if gv is not None else ""
        if len(version) == 0:
            errs.append(invalid(path + ".apiVersion", ref["apiVersion"], "version must not be empty"))
        if len(ref["kind"]) == 0:
            errs.append(invalid(path + ".kind", ref["kind"], "must not be empty"))
        if len(ref["name"]) == 0:
            errs.append(invalid(path + ".name", ref["name"], "must not be empty"))
        if len(ref["uid"]) == 0:
            errs.append(invalid(path + ".uid", ref["uid"], "must not be empty"))
        if (group, version, ref["kind"]) == ("", "v1", "Event"):  # BannedOwners
            errs.append(invalid(path, ref, "/v1, Kind=Event is disallowed from being an owner"))
        if gj.deref(ref["controller"]) is True:
            cur = ref["kind"] + "/" + ref["name"]
            if first_controller != "":
                errs.append(
                    invalid(
                        path,
                        "[...]",
                        'Only one reference can have Controller set to true. Found "true" in references for '
                        f"{first_controller} and {cur}",
                    )
                )
            else:
                first_controller = cur
    return errs


def validate_finalizers(finalizers, path):
    """objectmeta.go ValidateFinalizers (per-name errors carry no index)."""
    errs = []
    for f in finalizers:
        errs += [invalid(path, f, m) for m in is_qualified_name(f)]
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        errs.append(invalid(path, finalizers, "finalizer orphan and foregroundDeletion cannot be both set"))
    return errs


def _is_print(c: str) -> bool:
    # unicode.IsPrint: letters, marks, numbers, punctuation, symbols and ASCII space.
    import unicodedata

    if c == " ":
        return True
    cat = unicodedata.category(c)
    return cat[0] in "LMNPS"


def validate_managed_fields(entries, path):
    """apimachinery pkg/apis/meta/v1/validation/validation.go ValidateManagedFields."""
    errs = []
    for i, e in enumerate(entries):
        p = f"{path}[{i}]"
        if e["operation"] not in ("Apply", "Update"):
            errs.append(invalid(p + ".operation", e["operation"], "must be `Apply` or `Update`"))
        if len(e["fieldsType"]) > 0 and e["fieldsType"] != "FieldsV1":
            errs.append(invalid(p + ".fieldsType", e["fieldsType"], "must be `FieldsV1`"))
        if blen(e["manager"]) > 128:
            errs.append(too_long(p + ".manager", 128))
        for j, c in enumerate(e["manager"]):
            if not _is_print(c):
                errs.append(invalid(p + ".manager", e["manager"], f"invalid character {c!r} (at position {j})"))
        if blen(e["subresource"]) > 256:
            errs.append(too_long(p + ".subresource", 256))
    return errs


STANDARD_FINALIZERS = {"kubernetes", "orphan", "foregroundDeletion"}


def validate_object_meta(meta):
    """pkg/apis/core/validation ValidateObjectMeta(meta, requiresNamespace=true,
    ValidateNetworkPolicyName, "metadata") = apimachinery ValidateObjectMeta
    (objectmeta.go ValidateObjectMetaAccessor + validateObjectMetaAccessorWithOptsCommon)
    followed by validateKubeFinalizerName for each finalizer."""
    errs = []
    p = "metadata"
    if len(meta["generateName"]) != 0:
        errs += [invalid(p + ".generateName", meta["generateName"], m) for m in name_is_dns_subdomain(meta["generateName"], True)]
    if len(meta["name"]) == 0:
        errs.append(required(p + ".name", "name or generateName is required"))
    else:
        errs += [invalid(p + ".name", meta["name"], m) for m in name_is_dns_subdomain(meta["name"], False)]
    # requiresNamespace
    if len(meta["namespace"]) == 0:
        errs.append(required(p + ".namespace"))
    else:
        errs += [invalid(p + ".namespace", meta["namespace"], m) for m in name_is_dns_label(meta["namespace"], False)]
    if meta["generation"] < 0:
        errs.append(invalid(p + ".generation", meta["generation"], "must be greater than or equal to 0"))
    errs += validate_labels(meta["labels"], p + ".labels")
    errs += validate_annotations(meta["annotations"], p + ".annotations")
    errs += validate_owner_references(gj.items(meta["ownerReferences"]), p + ".ownerReferences")
    errs += validate_finalizers(gj.items(meta["finalizers"]), p + ".finalizers")
    errs += validate_managed_fields(gj.items(meta["managedFields"]), p + ".managedFields")
    for i, f in enumerate(gj.items(meta["finalizers"])):
        # pkg/apis/core/validation validateKubeFinalizerName
        if len(f.split("/")) == 1 and f not in STANDARD_FINALIZERS:
            errs.append(invalid(f"{p}.finalizers[{i}]", f, "name is neither a standard finalizer name nor is it fully qualified"))
    return errs


# ======================================================================================
# NetworkPolicy validation: pkg/apis/networking/validation/validation.go


def validate_label_selector(sel, path):
    """apimachinery pkg/apis/meta/v1/validation ValidateLabelSelector with the options
    NetworkPolicy passes on create (ValidationOptionsForNetworking(np, nil):
    AllowInvalidLabelValueInSelector=false; AllowUnknownOperatorInRequirement=false)."""
    errs = []
    if sel is None:
        return errs
    errs += validate_labels(sel["matchLabels"], path + ".matchLabels")
    for i, expr in enumerate(gj.items(sel["matchExpressions"])):
        p = f"{path}.matchExpressions[{i}]"
        values = gj.items(expr["values"])
        op = expr["operator"]
        if op in ("In", "NotIn"):
            if len(values) == 0:
                errs.append(required(p + ".values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if len(values) > 0:
                errs.append(forbidden(p + ".values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            errs.append(invalid(p + ".operator", op, "not a valid selector operator"))
        errs += [invalid(p + ".key", expr["key"], m) for m in is_qualified_name(expr["key"])]
        for j, v in enumerate(values):
            errs += [invalid(f"{p}.values[{j}]", v, m) for m in is_valid_label_value(v)]
    return errs


def validate_port(port, path):
    """ValidateNetworkPolicyPort."""
    errs = []
    proto = gj.deref(port["protocol"])
    if proto is not None and proto not in ("TCP", "UDP", "SCTP"):
        errs.append(not_supported(path + ".protocol", proto, ["TCP", "UDP", "SCTP"]))
    p = gj.deref(port["port"])
    end = gj.deref(port["endPort"])
    if p is not None:
        if p.type == gj.IntOrString.INT:
            errs += [invalid(path + ".port", p.intval, m) for m in is_valid_port_num(p.intval)]
            if end is not None:
                if end < p.intval:
                    errs.append(invalid(path + ".endPort", end, "must be greater than or equal to `port`"))
                errs += [invalid(path + ".endPort", end, m) for m in is_valid_port_num(end)]
        else:
            if end is not None:
                errs.append(invalid(path + ".endPort", end, "may not be specified when `port` is non-numeric"))
            errs += [invalid(path + ".port", p.strval, m) for m in is_valid_port_name(p.strval)]
    elif end is not None:
        errs.append(invalid(path + ".endPort", end, "may not be specified when `port` is not specified"))
    return errs


def is_valid_cidr_for_legacy_field(path, value):
    """pkg/apis/core/validation IsValidCIDRForLegacyField -> apimachinery
    pkg/util/validation/ip.go IsValidCIDRForLegacyField(fldPath, value,
    strictValidation=StrictIPCIDRValidation gate, validOldCIDRs=nil on create).

    StrictIPCIDRValidation is alpha and off by default in 1.35 (pkg/features/
    kube_features.go: {1.33, Default: false, Alpha} and no later entry), so only
    netutils.ParseCIDRSloppy's verdict counts; leading zeros, host bits and IPv4-mapped
    IPv6 are only warnings (GetWarningsForCIDR)."""
    if gonet.parse_cidr_sloppy(value) is None:
        return [invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]
    return []


def validate_ip_block(ipb, path):
    """ValidateIPBlock."""
    errs = []
    if ipb["cidr"] == "":
        errs.append(required(path + ".cidr"))
        return errs
    errs += is_valid_cidr_for_legacy_field(path + ".cidr", ipb["cidr"])
    parsed = gonet.parse_cidr_sloppy(ipb["cidr"])
    if parsed is None:
        return errs
    cidr_net = parsed[1]
    for i, exc in enumerate(gj.items(ipb["except"])):
        p = f"{path}.except[{i}]"
        errs += is_valid_cidr_for_legacy_field(p, exc)
        pe = gonet.parse_cidr_sloppy(exc)
        if pe is None:
            continue
        except_net = pe[1]
        cidr_len, _ = cidr_net.size()
        except_len, _ = except_net.size()
        if not cidr_net.contains(except_net.ip) or cidr_len >= except_len:
            errs.append(invalid(p, exc, "must be a strict subset of `cidr`"))
    return errs


def validate_peer(peer, path):
    """ValidateNetworkPolicyPeer."""
    errs = []
    n = 0
    if peer["podSelector"] is not None:
        n += 1
        errs += validate_label_selector(peer["podSelector"].v, path + ".podSelector")
    if peer["namespaceSelector"] is not None:
        n += 1
        errs += validate_label_selector(peer["namespaceSelector"].v, path + ".namespaceSelector")
    if peer["ipBlock"] is not None:
        n += 1
        errs += validate_ip_block(peer["ipBlock"].v, path + ".ipBlock")
    if n == 0:
        errs.append(required(path, "must specify a peer"))
    elif n > 1 and peer["ipBlock"] is not None:
        errs.append(forbidden(path, "may not specify both ipBlock and another peer"))
    return errs


def validate_spec(spec):
    """ValidateNetworkPolicySpec."""
    errs = validate_label_selector(spec["podSelector"], "spec.podSelector")
    for i, rule in enumerate(gj.items(spec["ingress"])):
        for j, port in enumerate(gj.items(rule["ports"])):
            errs += validate_port(port, f"spec.ingress[{i}].ports[{j}]")
        for j, peer in enumerate(gj.items(rule["from"])):
            errs += validate_peer(peer, f"spec.ingress[{i}].from[{j}]")
    for i, rule in enumerate(gj.items(spec["egress"])):
        for j, port in enumerate(gj.items(rule["ports"])):
            errs += validate_port(port, f"spec.egress[{i}].ports[{j}]")
        for j, peer in enumerate(gj.items(rule["to"])):
            errs += validate_peer(peer, f"spec.egress[{i}].to[{j}]")
    types = gj.items(spec["policyTypes"])
    if len(types) > 2:
        errs.append(invalid("spec.policyTypes", types, "may not specify more than two policyTypes"))
        return errs
    for i, t in enumerate(types):
        if t not in ("Ingress", "Egress"):
            errs.append(not_supported(f"spec.policyTypes[{i}]", t, ["Ingress", "Egress"]))
    return errs


def validate_network_policy(np):
    """ValidateNetworkPolicy: object meta first, then the spec."""
    return validate_object_meta(np["metadata"]) + validate_spec(np["spec"])


# ======================================================================================
# Decoding steps before the typed decode


def interpret(doc):
    """SimpleMetaFactory.Interpret: stdlib json.Unmarshal of the whole body into
    struct{APIVersion string `json:"apiVersion"`; Kind string `json:"kind"`}.

    Stdlib encoding/json matches keys exactly first, then case-insensitively (Go's
    foldName), assigns every matching key in order (the last one wins; a null leaves the
    value as it was), and saves the first type mismatch while going on.
    Returns ((apiVersion, kind), None) or (None, Error)."""
    if doc is None:
        return ("", ""), None
    if not isinstance(doc, gj.JObj):
        kind = gj.json_kind(doc)
        return None, Error(
            "",
            "DecodeError",
            "couldn't get version/kind; json parse error: json: cannot unmarshal "
            f'{kind} into Go value of type struct {{ APIVersion string "json:\\"apiVersion,omitempty\\""; '
            'Kind string "json:\\"kind,omitempty\\"" }',
        )
    api, kind = "", ""
    first = None
    fold_api, fold_kind = gj.go_fold("apiVersion"), gj.go_fold("kind")
    for k, v in doc.pairs:
        if k == "apiVersion":
            target = "apiVersion"
        elif k == "kind":
            target = "kind"
        else:
            fk = gj.go_fold(k)
            target = "apiVersion" if fk == fold_api else "kind" if fk == fold_kind else None
        if target is None:
            continue
        if v is None:
            continue
        if isinstance(v, str):
            if target == "apiVersion":
                api = v
            else:
                kind = v
            continue
        if first is None:
            first = Error(
                target,
                "DecodeError",
                "couldn't get version/kind; json parse error: "
                + gj.ute_message(gj.json_kind(v), "string", "", target),
                go_field=target,
            )
    if first is not None:
        return None, first
    return (api, kind), None


REQUEST_GVK = ("networking.k8s.io", "v1", "NetworkPolicy")


def check_gvk(api, kind):
    """Interpret's ParseGroupVersion, gvkWithDefaults (json.go) with the request's
    networking.k8s.io/v1 NetworkPolicy, then: only that kind in that version decodes
    into a NetworkPolicy the endpoint accepts. Any other registered kind either fails to
    convert into the internal NetworkPolicy or fails the handler's
    AcceptsGroupVersion check; an unregistered one fails runtime.UseOrCreateObject.
    Returns None or an Error."""
    gv = parse_group_version(api)
    if gv is None:
        return Error("apiVersion", "DecodeError", f"unexpected GroupVersion string: {api}")
    group, version = gv
    if kind == "":
        kind = REQUEST_GVK[2]
    if version == "" and group == "":
        group, version = REQUEST_GVK[0], REQUEST_GVK[1]
    if version == "" and group == REQUEST_GVK[0]:
        version = REQUEST_GVK[1]
    if version == "":
        return Error("apiVersion", "DecodeError", "Object 'apiVersion' is missing")
    # The apiserver reports these as a BadRequest without a field path; the oracle names
    # "apiVersion" when the group/version differs and "kind" otherwise (a convention).
    gvs = f"{group}/{version}" if group else version
    if (group, version) != REQUEST_GVK[:2]:
        if (group, version, kind) == ("extensions", "v1beta1", "NetworkPolicy"):
            # still registered (k8s.io/api keeps the type): decodes, then the handler's
            # AcceptsGroupVersion check refuses it.
            msg = f"the API version in the data ({gvs}) does not match the expected API version (networking.k8s.io/v1)"
        else:
            msg = f'no kind "{kind}" is registered for version "{gvs}" in scheme "pkg/api/legacyscheme/scheme.go:30"'
        return Error("apiVersion", "DecodeError", msg)
    if kind != REQUEST_GVK[2]:
        return Error("kind", "DecodeError", f'no kind "{kind}" is registered for version "networking.k8s.io/v1" (or not convertible to NetworkPolicy)')
    return None


# ======================================================================================
# Create-path steps between decoding and validation


def apply_defaults(np):
    """pkg/apis/networking/v1/defaults.go (run by the versioning decoder before conversion)."""
    spec = np["spec"]
    for rules, _ in ((spec["ingress"], "from"), (spec["egress"], "to")):
        for rule in gj.items(rules):
            for port in gj.items(rule["ports"]):
                if port["protocol"] is None:  # SetDefaults_NetworkPolicyPort
                    port["protocol"] = gj.Box("TCP")
    if len(gj.items(spec["policyTypes"])) == 0:  # SetDefaults_NetworkPolicy
        types = ["Ingress"]
        if len(gj.items(spec["egress"])) != 0:
            types.append("Egress")
        spec["policyTypes"] = gj.GoSlice(types, len(types))


GENERATED_SUFFIX = "bcdfg"  # SimpleNameGenerator: 5 chars of "bcdfghjklmnpqrstvwxz2456789"


def generate_name(base):
    """apiserver/pkg/storage/names/generate.go simpleNameGenerator.GenerateName: the
    base cut to 58 bytes (63 - 5) and 5 random lower-case alphanumerics appended. The
    random part never changes the validity of the result, so a fixed one stands in."""
    b = base.encode("utf-8", "surrogatepass")
    if len(b) > 58:
        b = b[:58]
    return b.decode("utf-8", "replace") + GENERATED_SUFFIX


def dedup_owner_references(meta):
    """apiserver/pkg/endpoints/handlers/rest.go dedupOwnerReferences: a reference equal
    in every field to an earlier one with the same uid is dropped (with a warning)."""
    refs = gj.items(meta["ownerReferences"])
    if not refs:
        return
    result = []
    seen = set()

    def key(r):
        return (
            r["apiVersion"],
            r["kind"],
            r["name"],
            r["uid"],
            gj.deref(r["controller"]),
            gj.deref(r["blockOwnerDeletion"]),
        )

    for r in refs:
        if r["uid"] not in seen:
            result.append(r)
            seen.add(r["uid"])
            continue
        if any(key(x) == key(r) for x in result):
            continue
        result.append(r)
    meta["ownerReferences"] = gj.GoSlice(result, len(result))


def field_manager(meta):
    """apimachinery pkg/util/managedfields/internal/fieldmanager.go FieldManager.Update
    via UpdateNoErrors in the create handler. The managed fields a client sends are kept
    only when DecodeManagedFields accepts every entry (operation Apply or Update,
    apiVersion set, fieldsType FieldsV1, a fieldsV1 field set); otherwise the field
    manager starts from the (empty) live object and writes its own entry. Either way the
    manager adds a well-formed entry for the request. Approximation (see README): a
    fieldsV1 counts as a field set when it is a JSON object."""
    entries = gj.items(meta["managedFields"])
    ok = True
    for e in entries:
        if e["operation"] not in ("Apply", "Update"):
            ok = False
        elif len(e["apiVersion"]) < 1:
            ok = False
        elif e["fieldsType"] != "FieldsV1":
            ok = False
        elif e["fieldsV1"] is None or not isinstance(e["fieldsV1"].v, gj.JObj):
            ok = False
    if not ok:
        meta["managedFields"] = None


def parse_uint64(s):
    if not re.fullmatch(r"[0-9]+", s):
        return None
    n = int(s)
    return n if n < (1 << 64) else None


# ======================================================================================
# The whole create path


def check(text: str) -> Result:
    try:
        doc = gj.parse_json(text)
    except gj.JSONSyntaxError as e:
        return refused("decode", [Error("", "DecodeError", str(e))])

    # 1a. apiVersion / kind (Interpret, gvkWithDefaults)
    tm, err = interpret(doc)
    if err is not None:
        return refused("typemeta", [err])
    err = check_gvk(*tm)
    if err is not None:
        return refused("typemeta", [err])

    # 1b. the typed decode (sigs.k8s.io/json, case-sensitive, unknown fields dropped)
    dec = gj.TypedDecoder()
    # Unmarshal(data, obj) decodes through the (unsettable) *NetworkPolicy into the
    # struct: a top-level null leaves the struct as it is.
    np, derr = dec.unmarshal(doc, NETWORK_POLICY, gj.zero(NETWORK_POLICY))
    if derr is not None:
        return refused("decode", [Error(derr.path, "DecodeError", derr.message, go_field=derr.go_field)])

    # 2. defaulting
    apply_defaults(np)

    meta = np["metadata"]
    # 3. handler and store: the request namespace (the object's, or "default") fills an
    # empty metadata.namespace (rest.EnsureObjectNamespaceMatchesRequestNamespace).
    if meta["namespace"] == "":
        meta["namespace"] = "default"
    ns = meta["namespace"]
    dedup_owner_references(meta)
    field_manager(meta)
    # store.Create: rest.FillObjectMetaSystemFields (creationTimestamp, uid), then the
    # name generated from generateName.
    if len(meta["generateName"]) > 0 and len(meta["name"]) == 0:
        meta["name"] = generate_name(meta["generateName"])
    # strategy.PrepareForCreate
    meta["generation"] = 1
    # strategy.Validate
    errs = validate_network_policy(np)
    if errs:
        return refused("validation", errs, ns, meta["name"])
    # rest.BeforeCreate then runs ValidateObjectMetaAccessor with path-segment name
    # checks; a valid DNS subdomain name always passes them.
    # 4. storage
    rv = parse_uint64(meta["resourceVersion"]) if meta["resourceVersion"] else None
    if rv:
        return refused(
            "storage",
            [Error("metadata.resourceVersion", "StorageError", "resourceVersion should not be set on objects to be created")],
            ns,
            meta["name"],
        )
    return Result(True, None, [], ns, meta["name"])


def main(argv):
    if len(argv) != 2:
        print("usage: apiserver.py FILE|-   (one NetworkPolicy JSON text)", file=sys.stderr)
        return 2
    text = sys.stdin.read() if argv[1] == "-" else open(argv[1], encoding="utf-8").read()
    r = check(text)
    print(json.dumps(r.to_json(), indent=2, ensure_ascii=False))
    return 0 if r.accepted else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
