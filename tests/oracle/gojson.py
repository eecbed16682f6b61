"""Go's encoding/json decoding, as the Kubernetes apiserver runs it, over a typed schema.

This module is one half of the oracle (the other is `apiserver.py`). It reads JSON
text keeping what Go sees and Python's `json` would hide (raw number literals,
duplicate keys in order) and decodes it into values of Go types described by a small
schema, following the decoder the apiserver uses for a typed object:

* sigs.k8s.io/json `UnmarshalCaseSensitivePreserveInts` / `UnmarshalStrict`, a fork
  of Go's encoding/json (internal/golang/encoding/json/decode.go) with
  case-sensitive keys. Functions mirrored here: `Unmarshal`, `(*decodeState).value`,
  `indirect`, `array`, `object`, `literalStore`, `saveError`, `addErrorContext`.
* Go's stdlib encoding/json for the two places the apiserver still uses it:
  `SimpleMetaFactory.Interpret` (k8s.io/apimachinery/pkg/runtime/serializer/json/
  meta.go, case-insensitive keys) and the `UnmarshalJSON` methods of
  `intstr.IntOrString` (apimachinery/pkg/util/intstr/intstr.go) and `metav1.Time`
  (apimachinery/pkg/apis/meta/v1/time.go).

Written from reading the Go sources, not from the crate under test.

Value representation (Go -> Python):
  string kinds -> str, int kinds -> int, bool -> bool,
  struct -> dict (every field present, zero-valued when absent from the input),
  pointer -> None (nil) or Box, slice -> None (nil) or GoSlice (backing array + len,
  because Go reuses a slice's backing array when a duplicate key decodes into it again),
  map -> None (nil) or dict, intstr.IntOrString -> IntOrString, metav1.Time -> GoTime,
  *metav1.FieldsV1 -> Box(raw JSON value).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field


# --------------------------------------------------------------------------------------
# JSON text -> a tree that keeps what Go sees


class JNum:
    """A JSON number literal, kept as written (Go decodes numbers from their text)."""

    __slots__ = ("raw",)

    def __init__(self, raw: str):
        self.raw = raw

    def __repr__(self) -> str:
        return f"JNum({self.raw})"


class JObj:
    """A JSON object as its list of (key, value) pairs, in order, duplicates kept."""

    __slots__ = ("pairs",)

    def __init__(self, pairs):
        self.pairs = list(pairs)

    def __repr__(self) -> str:
        return f"JObj({self.pairs!r})"


class JSONSyntaxError(Exception):
    pass


def _reject_constant(name):
    # Go's scanner has no NaN / Infinity literals.
    raise JSONSyntaxError(f"invalid character in literal {name}")


def parse_json(text: str):
    """Parse JSON text the way Go's scanner accepts it (checkValid in scanner.go).

    Python's json module accepts the same grammar once NaN/Infinity are refused; its
    raw number text and ordered key pairs are kept."""
    try:
        return json.loads(
            text,
            object_pairs_hook=JObj,
            parse_int=JNum,
            parse_float=JNum,
            parse_constant=_reject_constant,
        )
    except json.JSONDecodeError as e:  # pragma: no cover - inputs are generated valid
        raise JSONSyntaxError(str(e)) from e


def dump_json(node) -> str:
    """Compact JSON text of a tree from parse_json (duplicates and raw numbers kept)."""
    if node is None:
        return "null"
    if node is True:
        return "true"
    if node is False:
        return "false"
    if isinstance(node, JNum):
        return node.raw
    if isinstance(node, str):
        return json.dumps(node, ensure_ascii=False)
    if isinstance(node, list):
        return "[" + ",".join(dump_json(x) for x in node) + "]"
    if isinstance(node, JObj):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + dump_json(v) for k, v in node.pairs) + "}"
    raise TypeError(f"not a JSON tree node: {node!r}")


def json_kind(node) -> str:
    """The word Go's UnmarshalTypeError uses for a JSON value ("number" etc.)."""
    if node is None:
        return "null"
    if isinstance(node, bool):
        return "bool"
    if isinstance(node, JNum):
        return "number"
    if isinstance(node, str):
        return "string"
    if isinstance(node, list):
        return "array"
    return "object"


# --------------------------------------------------------------------------------------
# Go types


@dataclass(eq=False)
class GoType:
    kind: str  # string int bool struct ptr slice map intstr time fieldsv1
    name: str  # reflect.Type.String(), for messages
    elem: "GoType | None" = None
    fields: list = field(default_factory=list)  # struct: [(json name, GoType)]
    bits: int = 64
    struct_name: str = ""  # reflect.Type.Name() of a struct (errorContext.Struct)

    def field_type(self, key: str):
        # sigs.k8s.io/json with CaseSensitive: only the exact json name matches
        # (decode.go object(): fields.byExactName; no byFoldedName lookup).
        for name, t in self.fields:
            if name == key:
                return t
        return None


def string_t(name="string"):
    return GoType("string", name)


def int_t(bits, name=None):
    return GoType("int", name or f"int{bits}", bits=bits)


BOOL = GoType("bool", "bool")


def ptr(t):
    return GoType("ptr", "*" + t.name, elem=t)


def slice_of(t):
    return GoType("slice", "[]" + t.name, elem=t)


def map_of(t):
    return GoType("map", "map[string]" + t.name, elem=t)


def struct(name, fields):
    short = name.split(".")[-1]
    return GoType("struct", name, fields=fields, struct_name=short)


INTSTR = GoType("intstr", "intstr.IntOrString")
TIME = GoType("time", "v1.Time")
FIELDSV1 = GoType("fieldsv1", "v1.FieldsV1")


class Box:
    """A non-nil Go pointer."""

    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v

    def __repr__(self) -> str:
        return f"&{self.v!r}"


class GoSlice:
    """A non-nil Go slice: a backing array (its length is the capacity) and a length."""

    __slots__ = ("backing", "len")

    def __init__(self, backing, length):
        self.backing = backing
        self.len = length

    def items(self):
        return self.backing[: self.len]

    def __repr__(self) -> str:
        return f"GoSlice({self.items()!r})"


class IntOrString:
    INT = 0
    STRING = 1

    __slots__ = ("type", "intval", "strval")

    def __init__(self, type_=0, intval=0, strval=""):
        self.type = type_
        self.intval = intval
        self.strval = strval

    def __repr__(self) -> str:
        return repr(self.intval) if self.type == self.INT else repr(self.strval)


class GoTime:
    __slots__ = ("t",)

    def __init__(self, t=None):
        self.t = t  # None = time.Time{} (zero)


def zero(t: GoType):
    if t.kind == "string":
        return ""
    if t.kind == "int":
        return 0
    if t.kind == "bool":
        return False
    if t.kind == "struct":
        return {name: zero(ft) for name, ft in t.fields}
    if t.kind in ("ptr", "slice", "map"):
        return None
    if t.kind == "intstr":
        return IntOrString()
    if t.kind == "time":
        return GoTime()
    if t.kind == "fieldsv1":
        return None
    raise TypeError(t.kind)


def items(v):
    """Elements of a decoded slice (nil -> [])."""
    return [] if v is None else v.items()


def deref(v):
    return None if v is None else v.v


# --------------------------------------------------------------------------------------
# Errors


@dataclass
class DecodeError:
    """A decoding failure as the apiserver reports it (not a field.Error).

    `path` is the precise path of the offending value in field.Path syntax
    (`spec.ingress[0].ports[0].port`, map keys as `[key]`); `go_field` is what Go's
    UnmarshalTypeError.Field holds (struct field names only, joined with '.'), empty
    when Go's message names no field."""

    path: str
    go_field: str
    message: str
    fatal: bool  # returned at once (custom UnmarshalJSON) rather than saved


class Abort(Exception):
    def __init__(self, err: DecodeError):
        super().__init__(err.message)
        self.err = err


def ute_message(value: str, type_name: str, struct_name: str | None, field_path: str) -> str:
    # encoding/json UnmarshalTypeError.Error()
    if struct_name or field_path:
        return f"json: cannot unmarshal {value} into Go struct field {struct_name or ''}.{field_path} of type {type_name}"
    return f"json: cannot unmarshal {value} into Go value of type {type_name}"


def parse_go_int(raw: str, bits: int):
    """strconv.ParseInt(s, 10, 64) followed by reflect OverflowInt(bits); None on failure."""
    # ParseInt: optional sign, decimal digits only (JSON numbers may carry '.', 'e').
    if not re.fullmatch(r"[+-]?[0-9]+", raw):
        return None
    n = int(raw)
    if not (-(1 << 63) <= n < (1 << 63)):
        return None
    if not (-(1 << (bits - 1)) <= n < (1 << (bits - 1))):
        return None
    return n


# --------------------------------------------------------------------------------------
# Go time.Parse(time.RFC3339, s) (time/format.go, format_rfc3339.go)


def _days_in(month: int, year: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _rfc3339_fast(s: bytes) -> bool:
    # time.parseRFC3339 (the fast path Parse tries first for the RFC3339 layout).
    ok = True

    def parse_uint(b: bytes, lo: int, hi: int) -> int:
        nonlocal ok
        x = 0
        for c in b:
            if c < 0x30 or c > 0x39:
                ok = False
                return lo
            x = x * 10 + c - 0x30
        if x < lo or x > hi:
            ok = False
            return lo
        return x

    if len(s) < len("2006-01-02T15:04:05"):
        return False
    year = parse_uint(s[0:4], 0, 9999)
    month = parse_uint(s[5:7], 1, 12)
    parse_uint(s[8:10], 1, _days_in(month, year))
    parse_uint(s[11:13], 0, 23)
    parse_uint(s[14:16], 0, 59)
    parse_uint(s[17:19], 0, 59)
    if not ok or not (s[4:5] == b"-" and s[7:8] == b"-" and s[10:11] == b"T" and s[13:14] == b":" and s[16:17] == b":"):
        return False
    s = s[19:]
    if len(s) >= 2 and s[0:1] == b"." and s[1:2].isdigit():
        n = 2
        while n < len(s) and s[n : n + 1].isdigit():
            n += 1
        s = s[n:]
    if len(s) != 1 or s != b"Z":
        if len(s) != len("-07:00"):
            return False
        parse_uint(s[1:3], 0, 23)
        parse_uint(s[4:6], 0, 59)
        if not ok or not (s[0:1] in (b"-", b"+") and s[3:4] == b":"):
            return False
    return True


def _rfc3339_general(s: bytes) -> bool:
    # time.Parse's general path for the layout "2006-01-02T15:04:05Z07:00", which Parse
    # falls back to when the fast path refuses. Differences that matter: the hour
    # (stdHour) may have one digit, a fractional second may follow a ',' as well as a
    # '.', and a numeric zone takes hour <= 24 and minute <= 60. Uncertain in details
    # (see README); mutations rarely reach it.
    def getnum(b: bytes, fixed: bool):
        if not b[0:1].isdigit():
            return None, b
        if not b[1:2].isdigit():
            if fixed:
                return None, b
            return b[0] - 0x30, b[1:]
        return (b[0] - 0x30) * 10 + b[1] - 0x30, b[2:]

    if len(s) < 4 or not s[0:4].isdigit():
        return False
    year, s = int(s[0:4]), s[4:]
    if s[0:1] != b"-":
        return False
    month, s = getnum(s[1:], True)
    if month is None or not 1 <= month <= 12 or s[0:1] != b"-":
        return False
    day, s = getnum(s[1:], True)
    if day is None or s[0:1] != b"T":
        return False
    hour, s = getnum(s[1:], False)
    if hour is None or not 0 <= hour < 24 or s[0:1] != b":":
        return False
    minute, s = getnum(s[1:], True)
    if minute is None or not 0 <= minute < 60 or s[0:1] != b":":
        return False
    sec, s = getnum(s[1:], True)
    if sec is None or not 0 <= sec < 60:
        return False
    if len(s) >= 2 and s[0:1] in (b".", b",") and s[1:2].isdigit():
        n = 2
        while n < len(s) and s[n : n + 1].isdigit():
            n += 1
        s = s[n:]
    if s[0:1] == b"Z":
        s = s[1:]
    else:
        if len(s) < 6 or s[3:4] != b":" or s[0:1] not in (b"+", b"-"):
            return False
        hr, rest = getnum(s[1:3], True)
        mm, rest2 = getnum(s[4:6], True)
        if hr is None or mm is None or hr > 24 or mm > 60:
            return False
        s = s[6:]
    if s:
        return False
    return 1 <= day <= _days_in(month, year)


def go_parse_rfc3339(value: str) -> bool:
    b = value.encode("utf-8", "surrogatepass")
    return _rfc3339_fast(b) or _rfc3339_general(b)


# --------------------------------------------------------------------------------------
# The typed decoder (sigs.k8s.io/json internal/golang/encoding/json/decode.go)


class TypedDecoder:
    def __init__(self):
        self.saved: DecodeError | None = None
        self.field_stack: list[str] = []  # errorContext.FieldStack
        self.struct_stack: list[str] = []  # errorContext.Struct per level
        self.path: list[str] = []  # precise path segments, for reporting

    # -- error context --------------------------------------------------------------
    def _path(self) -> str:
        s = ""
        for seg in self.path:
            if seg.startswith("["):
                s += seg
            else:
                s += ("." if s else "") + seg
        return s

    def _err(self, value: str, type_name: str, fatal: bool) -> DecodeError:
        go_field = ".".join(self.field_stack)
        struct_name = self.struct_stack[-1] if self.struct_stack else None
        return DecodeError(self._path(), go_field, ute_message(value, type_name, struct_name, go_field), fatal)

    def save(self, value: str, type_name: str):
        # saveError: only the first error is kept; decoding goes on.
        if self.saved is None:
            self.saved = self._err(value, type_name, False)

    # -- entry ----------------------------------------------------------------------
    def unmarshal(self, node, t: GoType, cur):
        """Returns (value, error). Mirrors (*decodeState).unmarshal: a fatal error from
        a custom UnmarshalJSON wins over an earlier saved error."""
        try:
            v = self.value(node, t, cur)
        except Abort as a:
            return None, a.err
        if self.saved is not None:
            return v, self.saved
        return v, None

    def value(self, node, t: GoType, cur):
        if isinstance(node, JObj):
            return self.object(node, t, cur)
        if isinstance(node, list):
            return self.array(node, t, cur)
        return self.literal(node, t, cur)

    # -- custom UnmarshalJSON methods --------------------------------------------------
    def custom(self, node, t: GoType, cur):
        if t.kind == "intstr":
            # intstr.IntOrString.UnmarshalJSON: a string if the text starts with '"',
            # else stdlib json.Unmarshal into the int32 IntVal; any error is returned
            # (and, being an *UnmarshalTypeError, gets the outer field context).
            v = cur if cur is not None else IntOrString()
            if isinstance(node, str):
                return IntOrString(IntOrString.STRING, v.intval, node)
            if node is None:
                return IntOrString(IntOrString.INT, v.intval, v.strval)
            if isinstance(node, JNum):
                n = parse_go_int(node.raw, 32)
                if n is None:
                    raise Abort(self._err("number " + node.raw, "int32", True))
                return IntOrString(IntOrString.INT, n, v.strval)
            raise Abort(self._err(json_kind(node), "int32", True))
        if t.kind == "time":
            # metav1.Time.UnmarshalJSON: null -> zero; else stdlib json.Unmarshal into a
            # string, then time.Parse(time.RFC3339, s); errors are returned at once.
            if node is None:
                return GoTime(None)
            if not isinstance(node, str):
                raise Abort(self._err(json_kind(node), "string", True))
            if not go_parse_rfc3339(node):
                # *time.ParseError: no field context in Go's message.
                raise Abort(
                    DecodeError(
                        self._path(),
                        "",
                        f'parsing time "{node}" as "2006-01-02T15:04:05Z07:00": cannot parse',
                        True,
                    )
                )
            return GoTime(node)
        if t.kind == "fieldsv1":
            # metav1.FieldsV1.UnmarshalJSON keeps any JSON value as raw bytes.
            return node
        raise TypeError(t.kind)

    # -- literalStore -----------------------------------------------------------------
    def literal(self, node, t: GoType, cur):
        if node is None:
            # indirect(v, decodingNull=true) stops at the first settable pointer;
            # literalStore then zeroes interface/pointer/map/slice and ignores null for
            # everything else (the previous value stays). A named non-pointer type with an
            # UnmarshalJSON method (metav1.Time) gets its method called with "null".
            if t.kind in ("ptr", "slice", "map"):
                return None
            if t.kind in ("intstr", "time", "fieldsv1"):
                return self.custom(node, t, cur)
            return cur
        if t.kind == "ptr":
            # indirect allocates a nil pointer and descends.
            inner = cur.v if cur is not None else zero(t.elem)
            return Box(self.literal(node, t.elem, inner))
        if t.kind in ("intstr", "time", "fieldsv1"):
            return self.custom(node, t, cur)
        if isinstance(node, bool):
            if t.kind == "bool":
                return node
            self.save("bool", t.name)
            return cur
        if isinstance(node, str):
            if t.kind == "string":
                return node
            self.save("string", t.name)
            return cur
        if isinstance(node, JNum):
            if t.kind == "int":
                n = parse_go_int(node.raw, t.bits)
                if n is None:
                    self.save("number " + node.raw, t.name)
                    return cur
                return n
            self.save("number", t.name)
            return cur
        raise TypeError(node)

    # -- object -------------------------------------------------------------------------
    def object(self, node: JObj, t: GoType, cur):
        if t.kind == "ptr":
            inner = cur.v if cur is not None else zero(t.elem)
            return Box(self.object(node, t.elem, inner))
        if t.kind in ("intstr", "time", "fieldsv1"):
            return self.custom(node, t, cur)
        if t.kind == "map":
            m = cur if cur is not None else {}
            for key, val in node.pairs:
                # mapElem is reset to the zero value for every key, then stored.
                self.path.append(f"[{key}]")
                m[key] = self.value(val, t.elem, zero(t.elem))
                self.path.pop()
            return m
        if t.kind == "struct":
            for key, val in node.pairs:
                ft = t.field_type(key)
                if ft is None:
                    # unknown field: skipped without looking at its value (a strict
                    # decoding error only in Strict mode; the default Warn mode drops it).
                    continue
                self.field_stack.append(key)
                self.struct_stack.append(t.struct_name)
                self.path.append(key)
                cur[key] = self.value(val, ft, cur[key])
                self.path.pop()
                self.struct_stack.pop()
                self.field_stack.pop()
            return cur
        self.save("object", t.name)
        return cur

    # -- array ---------------------------------------------------------------------------
    def array(self, node: list, t: GoType, cur):
        if t.kind == "ptr":
            inner = cur.v if cur is not None else zero(t.elem)
            return Box(self.array(node, t.elem, inner))
        if t.kind in ("intstr", "time", "fieldsv1"):
            return self.custom(node, t, cur)
        if t.kind != "slice":
            self.save("array", t.name)
            return cur
        s = cur if cur is not None else GoSlice([], 0)
        i = 0
        for elem in node:
            # Grow when i >= cap; SetLen(i+1) when i >= len; decode INTO the element
            # already there (an earlier duplicate key's element is reused, merged).
            if i >= len(s.backing):
                s.backing.append(zero(t.elem))
            if i >= s.len:
                s.len = i + 1
            self.path.append(f"[{i}]")
            s.backing[i] = self.value(elem, t.elem, s.backing[i])
            self.path.pop()
            i += 1
        if i < s.len:
            s.len = i
        if i == 0:
            return GoSlice([], 0)  # reflect.MakeSlice(t, 0, 0): empty, not nil
        return s


# --------------------------------------------------------------------------------------
# stdlib encoding/json key folding (encoding/json/fold.go, Go 1.21+): used only by
# SimpleMetaFactory.Interpret, which decodes apiVersion/kind case-insensitively.
# foldName upper-cases ASCII a-z and maps every other rune to the smallest rune of its
# unicode.SimpleFold orbit, so two keys match when each rune pair is in one simple
# case-fold orbit: the Kelvin sign folds with k, the long s with s, but the dotless i
# and the dotted capital I are orbits of their own.


def _fold_key(c: str) -> str:
    # A representative of c's simple case-fold orbit, from Unicode case folding
    # (status C and S): casefold() when it gives one character, else lower() when that
    # does (the S entries, e.g. U+1E9E -> U+00DF), else c itself.
    cf = c.casefold()
    if len(cf) == 1:
        return cf
    lo = c.lower()
    if len(lo) == 1:
        return lo
    return c


def go_fold(s: str) -> str:
    """A string that is equal for two keys exactly when Go's foldName gives equal results."""
    return "".join(_fold_key(c) for c in s)
