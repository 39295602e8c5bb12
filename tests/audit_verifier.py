#!/usr/bin/env python3
"""A second verifier of proof-of-play evidence exports, following
docs/audit-export.md, docs/proof-of-play.md, docs/canonical-json.md and
docs/bundle-format.md (Python standard library plus python3-cryptography).

    audit_verifier.py [--pub PEM] [--player-key ID=PEM ...] [--allow-unpinned]
                      [--head FILE ...] [--csv] EXPORT.tar
    audit_verifier.py --vectors DIR     # every line of DIR/expected.tsv

Prints "FAILED <code>: ..." lines on stderr, the recount (CSV with --csv) on
stdout; exit 0 when everything verifies, 1 otherwise.
"""
import base64
import hashlib
import json
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

GENESIS = "0" * 64
MAX_UTC_MS = 253402300800000
MAX_SEQ = 2**53 - 1


class Unreadable(Exception):
    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code


# ---- canonical JSON ---------------------------------------------------------

def _esc(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20:
            out.append("\\u%04x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def canonical(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return _esc(v)
    if isinstance(v, list):
        return "[" + ",".join(canonical(x) for x in v) + "]"
    items = sorted(v.items(), key=lambda kv: kv[0].encode("utf-8"))
    return "{" + ",".join(_esc(k) + ":" + canonical(x) for k, x in items) + "}"


def parse_canonical(data, what):
    """Parses bytes that must be canonical JSON; raises Unreadable."""
    def pairs(ps):
        d = {}
        for k, x in ps:
            if k in d:
                raise Unreadable("BadJson", what + ": duplicate key")
            d[k] = x
        return d

    def no_float(s):
        raise Unreadable("BadJson", what + ": not an integer")

    try:
        text = data.decode("utf-8")
        v = json.loads(text, object_pairs_hook=pairs, parse_float=no_float, parse_constant=no_float)
    except Unreadable:
        raise
    except (UnicodeDecodeError, ValueError) as e:
        raise Unreadable("BadJson", "%s: %s" % (what, e))

    def ints(x):
        if isinstance(x, bool) or x is None or isinstance(x, str):
            return
        if isinstance(x, int):
            if abs(x) > MAX_SEQ:
                raise Unreadable("BadJson", what + ": integer out of range")
        elif isinstance(x, list):
            for y in x:
                ints(y)
        else:
            for y in x.values():
                ints(y)
    ints(v)
    if canonical(v).encode("utf-8") != data:
        raise Unreadable("NotCanonical", what + ": not canonical")
    return v


# ---- strict tar -------------------------------------------------------------

def _octal(field, empty_ok=False):
    s = field.lstrip(b" ")
    digits = b""
    i = 0
    while i < len(s) and 0x30 <= s[i] <= 0x37:
        digits += s[i:i + 1]
        i += 1
    if not digits:
        if empty_ok and field.strip(b"\0") == b"":
            return 0
        return None
    if s[i:].strip(b" \0") != b"":
        return None
    return int(digits, 8)


def _safe_name(name):
    if not name or name.startswith("/") or len(name.encode()) > 255:
        return False
    if any(p in ("", ".", "..") for p in name.split("/")):
        return False
    return all(0x20 <= ord(c) != 0x7F and c != "\\" for c in name)


def _owner_ok(b):
    s = b.split(b"\0", 1)
    if len(s) == 2 and s[1].strip(b"\0") != b"":
        return False
    return all(0x20 <= c <= 0x7E for c in s[0])


def read_tar(data):
    """[(name, bytes)] in archive order; raises Unreadable."""
    out, pos = [], 0
    if not data:
        raise Unreadable("EmptyBundle", "the file is empty")
    while True:
        if pos + 512 > len(data):
            raise Unreadable("Truncated", "archive ends without an end-of-archive marker")
        h = data[pos:pos + 512]
        if h == b"\0" * 512:
            if data[pos + 512:pos + 1024] != b"\0" * 512:
                if pos + 1024 > len(data):
                    raise Unreadable("Truncated", "end marker cut short")
                raise Unreadable("BadTar", "a lone zero block")
            if data[pos + 1024:].strip(b"\0") != b"":
                raise Unreadable("BadTar", "data after the end marker")
            if not out:
                raise Unreadable("EmptyBundle", "no entries")
            return out
        chk = _octal(h[148:156])
        if chk is None or chk != sum(h[:148]) + 8 * 32 + sum(h[156:]):
            raise Unreadable("BadTar", "header checksum")
        posix = h[257:265] == b"ustar\x0000"
        if not posix and h[257:265] != b"ustar  \0":
            raise Unreadable("BadTar", "not ustar")
        name = h[0:100].split(b"\0", 1)[0].decode("utf-8", "replace")
        if posix and h[345:500].split(b"\0", 1)[0]:
            name = h[345:500].split(b"\0", 1)[0].decode("utf-8", "replace") + "/" + name
        if h[156:157] not in (b"0", b"\0"):
            raise Unreadable("BadEntryType", "not a regular file")
        if not _safe_name(name):
            raise Unreadable("BadPath", "unsafe name")
        if h[124] & 0x80:
            raise Unreadable("TooLarge", "base-256 size")
        size = _octal(h[124:136])
        fields = [_octal(h[136:148]), _octal(h[100:108]), _octal(h[108:116]), _octal(h[116:124]),
                  _octal(h[329:337], True), _octal(h[337:345], True)]
        if size is None or any(f is None for f in fields):
            raise Unreadable("BadTar", "malformed octal field")
        if h[157:257].strip(b"\0") != b"" or not _owner_ok(h[265:297]) or not _owner_ok(h[297:329]):
            raise Unreadable("BadTar", "link name, uname or gname")
        if posix and h[500:512].strip(b"\0") != b"":
            raise Unreadable("BadTar", "unused header bytes")
        pad = (512 - size % 512) % 512
        body = data[pos + 512:pos + 512 + size]
        if len(body) < size or pos + 512 + size + pad > len(data):
            raise Unreadable("Truncated", "entry cut short")
        if data[pos + 512 + size:pos + 512 + size + pad].strip(b"\0") != b"":
            raise Unreadable("BadTar", "non-zero padding")
        out.append((name, body))
        pos += 512 + size + pad


# ---- formats -------------------------------------------------------------------

def sha(b):
    return hashlib.sha256(b).hexdigest()


def is_hex(s):
    return isinstance(s, str) and len(s) == 64 and all(c in "0123456789abcdef" for c in s)


def is_id(s):
    return isinstance(s, str) and 1 <= len(s) <= 128 and all(c.isascii() and (c.isalnum() or c in "._:@-") for c in s)


def b64(s):
    raw = base64.b64decode(s, validate=True)
    if base64.b64encode(raw).decode() != s:
        raise ValueError("non-canonical base64")
    return raw


def utc(s):
    try:
        if len(s) != 20:
            raise ValueError
        d = datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        return int(d.timestamp()) * 1000
    except (ValueError, TypeError):
        raise Unreadable("BadManifest", "bad time " + repr(s))


RECORD_FIELDS = {"bundle_version": int, "campaign": str, "clock_skew_ms": int, "detail": str, "end_utc_ms": int,
                 "format": int, "frame_digest": str, "kind": str, "measured_ms": int, "media": str, "outcome": str,
                 "player": str, "playlist": str, "prev": str, "schedule": str, "scheduled_ms": int, "seq": int,
                 "source": str, "start_utc_ms": int}


FRAME_FIELDS = {"frames": int, "frames_late": int, "frames_dropped": int, "longest_freeze_ms": int}


def frames_degraded(r):
    """docs/proof-of-play.md, "Frames": a freeze of 500 ms or more, or more than
    5 % of the due frames (shown + dropped) late or dropped."""
    if r.get("format", 1) < 3:
        return False
    if r["longest_freeze_ms"] >= 500:
        return True
    return (r["frames_late"] + r["frames_dropped"]) * 100 > 5 * (r["frames"] + r["frames_dropped"])


def record_ok(r):
    if not isinstance(r, dict) or r.get("format") not in (1, 2, 3):
        return False
    fields = RECORD_FIELDS
    if r["format"] >= 2:
        fields = dict(fields, manifest=str)
    if r["format"] >= 3:
        fields = dict(fields, **FRAME_FIELDS)
    if set(r) != set(fields) or any(type(r[k]) is not t for k, t in fields.items()):
        return False
    if r["format"] >= 2 and r["manifest"] and not is_hex(r["manifest"]):
        return False
    if r["format"] >= 3:
        if not (0 <= r["frames"] <= MAX_SEQ and 0 <= r["frames_late"] <= r["frames"]
                and 0 <= r["frames_dropped"] <= MAX_SEQ and 0 <= r["longest_freeze_ms"] <= MAX_UTC_MS):
            return False
        if r["kind"] != "play" and (r["frames"] or r["frames_late"] or r["frames_dropped"] or r["longest_freeze_ms"]):
            return False
    opt = lambda s: s == "" or is_id(s)
    if not is_id(r["player"]) or not 1 <= r["seq"] <= MAX_SEQ or not is_hex(r["prev"]):
        return False
    if r["bundle_version"] < 0 or not (opt(r["playlist"]) and opt(r["schedule"]) and opt(r["campaign"])):
        return False
    if r["source"] not in ("", "entry", "takeover", "filler") or r["kind"] not in ("play", "screen_off", "clock_jump", "start"):
        return False
    if not (0 <= r["start_utc_ms"] < MAX_UTC_MS and 0 <= r["end_utc_ms"] < MAX_UTC_MS):
        return False
    if r["kind"] != "clock_jump" and r["end_utc_ms"] < r["start_utc_ms"]:
        return False
    if not (0 <= r["scheduled_ms"] <= MAX_UTC_MS and 0 <= r["measured_ms"] <= MAX_UTC_MS):
        return False
    if abs(r["clock_skew_ms"]) >= MAX_UTC_MS or (r["frame_digest"] and not is_hex(r["frame_digest"])):
        return False
    if len(r["detail"].encode()) > 512:
        return False
    if r["kind"] == "play":
        outcomes = ("completed", "interrupted", "failed") + (("degraded",) if r["format"] >= 3 else ())
        if not is_hex(r["media"]) or r["outcome"] not in outcomes:
            return False
        if r["outcome"] in ("completed", "degraded") and abs(r["measured_ms"] - r["scheduled_ms"]) > 500:
            return False
        # A play's frames decide between completed and degraded.
        if r["outcome"] == "completed" and frames_degraded(r):
            return False
        if r["outcome"] == "degraded" and not frames_degraded(r):
            return False
    elif r["media"] or r["outcome"]:
        return False
    return True


def _text_ok(s, limit):
    """A location text: empty, or at most `limit` bytes without control characters
    (C0, DEL, C1, and the bidirectional embedding, override and isolate controls)."""
    if len(s.encode("utf-8")) > limit:
        return False
    return not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or 0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069
                   for c in s)


def _zone_name_ok(z):
    parts = z.split("/")
    return 1 <= len(z.encode()) <= 128 and all(p and all(c.isascii() and (c.isalnum() or c in "_+-") for c in p)
                                                 for p in parts)


def manifest_place(m):
    """(target, location or None) of a manifest of docs/bundle-format.md; None when
    it is not one. Checks what locating a play needs: format, target, location."""
    if not isinstance(m, dict) or m.get("format") not in (1, 2, 3) or not is_id(m.get("target")):
        return None
    if m["format"] == 1:
        return None if "location" in m else (m["target"], None)
    loc = m.get("location")
    keys = {"id", "name", "venue_type", "district", "time_zone"}
    if not isinstance(loc, dict) or set(loc) != keys or any(not isinstance(loc[k], str) for k in keys):
        return None
    if not _text_ok(loc["id"], 128) or not all(_text_ok(loc[k], 255) for k in ("name", "venue_type", "district")):
        return None
    if not _zone_name_ok(loc["time_zone"]):
        return None
    return (m["target"], loc)


def checkpoint_ok(c):
    base = {"count", "created_utc_ms", "first_seq", "format", "key", "last_hash", "last_seq", "player", "sig", "type"}
    if not isinstance(c, dict) or c.get("format") not in (1, 2):
        return False
    if set(c) != (base | {"prev_checkpoint"} if c["format"] == 2 else base):
        return False
    if c["type"] != "checkpoint" or not is_id(c["player"]):
        return False
    ints = ("count", "created_utc_ms", "first_seq", "last_seq")
    if any(type(c[k]) is not int for k in ints):
        return False
    if not 1 <= c["first_seq"] <= c["last_seq"] <= MAX_SEQ or c["count"] != c["last_seq"] - c["first_seq"] + 1:
        return False
    if not is_hex(c["last_hash"]) or not is_hex(c["key"]) or not 0 <= c["created_utc_ms"] < MAX_UTC_MS:
        return False
    if c["format"] == 2 and not is_hex(c["prev_checkpoint"]):
        return False
    try:
        return len(b64(c["sig"])) == 64
    except (ValueError, TypeError):
        return False


def verify_sig(key, sig, msg):
    try:
        key.verify(sig, msg)
        return True
    except InvalidSignature:
        return False


def raw_key(key):
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key):
    return sha(raw_key(key))


# ---- verification ------------------------------------------------------------------

def verify(data, controller_key=None, pins=None, allow_unpinned=False, heads=(), zones=None):
    """Returns (failures [(player, code, msg)], counts {(loc, date, media): [c, i, f, ms]}, players)."""
    entries = read_tar(data)
    names = [n for n, _ in entries]
    contents = {}
    for n, b in entries:
        ok = n in ("export.json", "export.sig", "keys.json", "media.json", "audit.jsonl")
        parts = n.split("/")
        ok = ok or (len(parts) == 3 and parts[0] == "players" and is_id(parts[1])
                    and parts[2] in ("records.jsonl", "checkpoints.jsonl", "manifests.jsonl"))
        if not ok:
            raise Unreadable("ExtraEntry", n)
        if n in contents:
            raise Unreadable("DuplicateEntry", n)
        contents[n] = b
    if "export.json" not in contents:
        raise Unreadable("BadManifest", "no export.json")
    m = parse_canonical(contents["export.json"], "export.json")
    fmt = m.get("format") if isinstance(m, dict) else None
    if type(fmt) is not int or not 1 <= fmt <= 4:
        raise Unreadable("UnsupportedFormat" if type(fmt) is int else "BadManifest", "format")
    want = {"format", "kind", "export_id", "created_at", "from", "to", "signer", "files"} | ({"audit_head"} if fmt >= 2 else set())
    if set(m) != want or m["kind"] != "microscape-proof-of-play-export":
        raise Unreadable("BadManifest", "export.json fields")
    created, frm, to = utc(m["created_at"]), utc(m["from"]), utc(m["to"])
    fails = []
    fail = lambda p, c, msg="": fails.append((p, c, msg))
    if controller_key is not None:
        if key_id(controller_key) != m["signer"]:
            fail("", "export_signer")
        elif not verify_sig(controller_key, contents.get("export.sig", b""), contents["export.json"]):
            fail("", "export_signature")
    listed = set()
    for f in m["files"]:
        listed.add(f["name"])
        if f["name"] not in contents:
            fail("", "missing_file", f["name"])
        elif len(contents[f["name"]]) != f["size"] or sha(contents[f["name"]]) != f["sha256"]:
            fail("", "file_hash", f["name"])
    for n in contents:
        if n not in listed and n not in ("export.json", "export.sig"):
            fail("", "unlisted_file", n)
    if "keys.json" not in contents:
        raise Unreadable("BadManifest", "no keys.json")
    keys = parse_canonical(contents["keys.json"], "keys.json")
    players = keys["players"]
    seen = set()
    for p in players:
        for k in ("player_id", "public_key", "key_id", "enrolled_at", "enrolled_by", "location_id", "location_name",
                  "venue_type", "district", "time_zone"):
            if not isinstance(p.get(k), str):
                raise Unreadable("BadManifest", "keys.json field " + k)
        p["enrolled_ms"] = utc(p["enrolled_at"])
        if p["player_id"] in seen:
            raise Unreadable("DuplicateEntry", "keys.json")
        seen.add(p["player_id"])
    media = parse_canonical(contents["media.json"], "media.json")["media"] if "media.json" in contents else []
    if to <= frm:
        fail("", "bad_period")
    recalls = {}  # player id -> [(recalled media sha256, the manifest without it)] ("Recalls")
    if fmt >= 2:
        head = m["audit_head"]
        last_seq, last_hash = 0, GENESIS
        for line in contents.get("audit.jsonl", b"").split(b"\n")[:-1]:
            row = parse_canonical(line, "audit row")
            if row.get("entity") == "recall" and row.get("action") == "create" and isinstance(row.get("after"), str):
                try:
                    after = json.loads(row["after"])
                except ValueError:
                    after = None
                if (not isinstance(after, dict) or not is_hex(after.get("mediaSha256"))
                        or not isinstance(after.get("recalledAt"), str)):
                    fail("", "bad_recall")
                else:
                    for x in after.get("screens") or []:
                        if isinstance(x, dict) and isinstance(x.get("playerId"), str):
                            recalls.setdefault(x["playerId"], []).append(
                                (after["mediaSha256"], x.get("manifestSha256") or ""))
            body = {k: v for k, v in row.items() if k != "hash"}
            if sha(canonical(body).encode()) != row["hash"]:
                fail("", "audit_hash")
            if row["seq"] <= last_seq:
                fail("", "audit_out_of_order")
                continue
            if row["seq"] > last_seq + 1:
                fail("", "audit_gap")
            elif row["prev"] != last_hash:
                fail("", "audit_broken_link")
            last_seq, last_hash = row["seq"], row["hash"]
        if (last_seq, last_hash) != (head["seq"], head["hash"]):
            fail("", "audit_head")

    # Evidence, by player.
    evidence, manifests, listed = {}, {}, {}  # listed: manifest sha256 -> the media it lists
    for n in names:
        parts = n.split("/")
        if parts[0] == "players":
            lines = contents[n].split(b"\n")
            if contents[n] and not contents[n].endswith(b"\n"):
                fail("", "truncated_file", n)
            if parts[2] == "manifests.jsonl":
                # {sha256: (target, location or None)} of the lines that are manifests
                places = manifests.setdefault(parts[1], {})
                for line in (lines[:-1] if contents[n].endswith(b"\n") else lines):
                    try:
                        doc = parse_canonical(line, n) if len(line) <= 4 << 20 else None
                        place = manifest_place(doc)
                    except Unreadable:
                        place = None
                    if place is None:
                        fail("", "bad_manifest", n)
                    else:
                        places[sha(line)] = place
                        # A derived file (format 3) lists its approved original too.
                        listed[sha(line)] = {e.get("sha256") for e in doc.get("media", []) if isinstance(e, dict)} | {
                            e["derived_from"].get("sha256") for e in doc.get("media", [])
                            if isinstance(e, dict) and isinstance(e.get("derived_from"), dict)}
                continue
            ev = evidence.setdefault(parts[1], {})
            kind = "records" if parts[2] == "records.jsonl" else "checkpoints"
            items = []
            for line in (lines[:-1] if contents[n].endswith(b"\n") else lines):
                try:
                    v = parse_canonical(line, n) if len(line) <= 4096 else None
                except Unreadable:
                    v = None
                good = v is not None and (record_ok(v) if kind == "records" else checkpoint_ok(v))
                if not good:
                    fail("", "bad_record" if kind == "records" else "bad_checkpoint", n)
                    continue
                items.append((v, line))
            ev[kind] = items
    ids = {p["player_id"] for p in players}
    for pid in evidence:
        if pid not in ids:
            fail(pid, "unknown_player")
    pins = pins or {}
    for p in players:
        pid = p["player_id"]
        ev = evidence.get(pid)
        if pins and pid not in pins and not allow_unpinned:
            fail(pid, "unpinned_player")
        if ev is not None and len(ev) == 1:
            fail(pid, "missing_evidence")
        elif ev is None and (fmt >= 3 or pid in pins):
            fail(pid, "missing_evidence")
    for pid in pins:
        if pid not in ids:
            fail(pid, "pinned_player_missing")
    for h in heads:
        if h["player"] not in ids:
            fail(h["player"], "head_unknown_player")

    counts, names = {}, {}
    for p in players:
        pid = p["player_id"]
        try:
            raw = b64(p["public_key"])
            key = Ed25519PublicKey.from_public_bytes(raw)
        except (ValueError, TypeError):
            fail(pid, "bad_key")
            continue
        if sha(raw) != p["key_id"]:
            fail(pid, "key_id")
        if pid in pins and pins[pid] != sha(raw):
            fail(pid, "key_not_pinned")
        ev = evidence.get(pid)
        by_seq = {}
        if ev is not None:
            by_seq = verify_chain(pid, ev.get("records", []), ev.get("checkpoints", []), key, fail)
            for r, _ in ev.get("records", []):
                if r["player"] == pid and r["kind"] == "play" and r["start_utc_ms"] < p["enrolled_ms"] - 86400000:
                    fail(pid, "before_enrolment")
                    break
        for h in heads:
            if h["player"] != pid:
                continue
            signed = canonical({k: v for k, v in h.items() if k != "sig"}).encode()
            if h["key"] != sha(raw) or not verify_sig(key, b64(h["sig"]), signed):
                fail(pid, "head_signature")
                continue
            if h["seq"] == 0:
                continue
            got = by_seq.get(h["seq"])
            if got is None:
                fail(pid, "head_after_export" if h["created_utc_ms"] >= created + 1000 else "head_not_reached")
            elif got != h["hash"]:
                fail(pid, "head_mismatch")
        if ev is None:
            continue
        locate(p, ev.get("records", []), manifests.get(pid, {}), frm, to, counts, names, fail)
        # A recall's manifest without the media: in the export, the screen's own, and without it.
        own = {h for h, (target, _) in manifests.get(pid, {}).items() if target == pid}
        for media_sha, manifest_sha in recalls.get(pid, []):
            if manifest_sha and (manifest_sha not in own or media_sha in listed.get(manifest_sha, ())):
                fail(pid, "recall_manifest")
    return fails, counts, {loc: name for loc, (_, name) in names.items()}, media


def zone_of(name):
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def locate(p, records, places, frm, to, counts, names, fail):
    """Counts the player's plays in [frm, to), each at the location and in the
    zone of the manifest its record names (keys.json's when it names none, or a
    format 1 manifest); the rules of "Where each play was" in docs/audit-export.md."""
    pid = p["player_id"]
    own = {"id": p["location_id"], "name": p["location_name"], "venue_type": p["venue_type"],
           "district": p["district"], "time_zone": p["time_zone"]}
    if any(target != pid for target, _ in places.values()):
        fail(pid, "manifest_player")
    mine = {h: loc for h, (target, loc) in places.items() if target == pid}
    missing, last = 0, (0, "")
    unknown = set() if zone_of(p["time_zone"]) else {p["time_zone"]}
    for r, _ in records:
        named = r.get("manifest", "")
        if named and r["seq"] >= last[0]:
            last = (r["seq"], named)
        if r["kind"] != "play" or not frm <= r["start_utc_ms"] < to:
            continue
        where = own
        if named:
            if named not in mine:
                missing += 1
            elif mine[named] is not None:
                where = mine[named]
        zone = zone_of(where["time_zone"])
        if zone is None:
            unknown.add(where["time_zone"])
            continue
        date = datetime.fromtimestamp(r["start_utc_ms"] // 1000, zone).strftime("%Y-%m-%d")
        row = counts.setdefault((where["id"], date, r["media"]), [0, 0, 0, 0, 0])
        i = ("completed", "degraded", "interrupted", "failed").index(r["outcome"])
        row[i] += 1
        if i < 3:
            row[4] += r["measured_ms"]
        first = ((r["player"].encode(), r["seq"]), where["name"])
        if where["id"] not in names or first[0] < names[where["id"]][0]:
            names[where["id"]] = first
    if missing:
        fail(pid, "manifest_missing", "%d counted plays" % missing)
    if last[1]:
        if last[1] not in mine:
            fail(pid, "manifest_missing", "the last record naming one")
        elif mine[last[1]] is not None and mine[last[1]] != own:
            fail(pid, "location_mismatch")
    for z in sorted(unknown):
        fail(pid, "unknown_zone", z)


def verify_chain(pid, records, checkpoints, key, fail):
    """The chain and checkpoint rules of docs/proof-of-play.md; returns {seq: hash}."""
    by_seq, max_seen = {}, 0
    for r, line in records:
        if r["player"] != pid:
            fail(pid, "wrong_player")
            continue
        h = sha(line)
        if r["seq"] in by_seq:
            fail(pid, "duplicate" if by_seq[r["seq"]][0] == h else "conflict")
            continue
        if r["seq"] < max_seen:
            fail(pid, "out_of_order")
        max_seen = max(max_seen, r["seq"])
        by_seq[r["seq"]] = (h, r)
    prev = None
    for seq in sorted(by_seq):
        h, r = by_seq[seq]
        if prev is None:
            if seq != 1:
                fail(pid, "gap")
            elif r["prev"] != GENESIS:
                fail(pid, "bad_genesis")
        elif seq != prev[0] + 1:
            fail(pid, "gap")
        elif r["prev"] != prev[1]:
            fail(pid, "broken_link")
        prev = (seq, h)
    covered, last = 0, None  # last: (last_seq, format, checkpoint-hash)
    for c, line in checkpoints:
        if c["player"] != pid:
            fail(pid, "wrong_player")
            continue
        signed = canonical({k: v for k, v in c.items() if k != "sig"}).encode()
        if c["key"] != key_id(key) or not verify_sig(key, b64(c["sig"]), signed):
            fail(pid, "checkpoint_signature")
            continue
        first, lst, f2 = c["first_seq"], c["last_seq"], c["format"] == 2
        skip = False
        if last is None:
            if first > 1:
                fail(pid, "checkpoint_gap")
            elif f2 and c["prev_checkpoint"] != GENESIS:
                fail(pid, "checkpoint_broken_link")
        elif lst == last[0]:
            fail(pid, "checkpoint_duplicate")
            skip = True
        elif lst < last[0]:
            fail(pid, "checkpoint_order")
            skip = True
        else:
            if first > last[0] + 1:
                fail(pid, "checkpoint_gap")
            elif f2 and last[1] == 2 and first <= last[0]:
                fail(pid, "checkpoint_overlap")
            if f2 and not (c["prev_checkpoint"] == last[2] or (last[1] == 1 and c["prev_checkpoint"] == GENESIS)):
                fail(pid, "checkpoint_broken_link")
            elif not f2 and last[1] == 2:
                fail(pid, "checkpoint_broken_link")
        if not skip:
            last = (lst, c["format"], sha(line))
        if lst not in by_seq:
            fail(pid, "checkpoint_missing")
            continue
        if by_seq[lst][0] != c["last_hash"]:
            fail(pid, "checkpoint_mismatch")
            continue
        covered = max(covered, lst)
    if by_seq and max(by_seq) > covered:
        fail(pid, "unsigned")
    return {s: h for s, (h, _) in by_seq.items()}


def csv_field(s):
    if s and s[0] in "=+-@\t\r":
        s = "'" + s
    if any(c in s for c in ',"\r\n'):
        s = '"' + s.replace('"', '""') + '"'
    return s


def csv_text(counts, loc, media, ok):
    names = {}
    for x in media:
        names.setdefault(x["sha256"], x["name"])
    out = ["\ufefflocation_id,location,date,media_sha256,media,completed,degraded,interrupted,failed,on_screen_seconds,"
           "status"]
    for key in sorted(counts, key=lambda k: tuple(x.encode() for x in k)):
        c = counts[key]
        out.append(",".join([csv_field(key[0]), csv_field(loc.get(key[0], "")), key[1], key[2],
                             csv_field(names.get(key[2], "")), str(c[0]), str(c[1]), str(c[2]), str(c[3]),
                             str(c[4] // 1000),
                             "VERIFIED" if ok else "UNVERIFIED"]))
    return "\r\n".join(out) + "\r\n"


def load_key(path):
    return load_pem_public_key(open(path, "rb").read())


def read_heads(path):
    return [parse_canonical(l, "head") for l in open(path, "rb").read().split(b"\n") if l]


def run_vectors(d):
    rows = open(d + "/expected.tsv", encoding="utf-8").read().splitlines()
    assert rows[0] == "file\tpinned\theads\texpected"
    ctl = load_key(d + "/controller.pub.pem")
    import os
    pins = {f[:-len(".pub.pem")]: key_id(load_key(d + "/keys/" + f)) for f in os.listdir(d + "/keys")}
    bad = 0
    for row in rows[1:]:
        f, pinned, heads, expected = row.split("\t")
        data = open(d + "/" + f, "rb").read()
        try:
            fails, counts, players, media = verify(data, ctl, pins if pinned == "yes" else None, False,
                                                   read_heads(d + "/" + heads) if heads != "-" else [])
            codes = [c for _, c, _ in fails]
        except Unreadable as e:
            codes, counts = [e.code], None
        if expected == "VERIFIED":
            good = not codes
            csv = d + "/" + f[:-4] + ".csv"
            if good and os.path.exists(csv):
                good = csv_text(counts, players, media, True).encode("utf-8") == open(csv, "rb").read()
        else:
            good = expected in codes
        if not good:
            bad += 1
            print("DISAGREE %s: expected %s, got %s" % (f, expected, " ".join(codes) or "VERIFIED"))
    print("%d vectors, %d disagreements" % (len(rows) - 1, bad))
    return 1 if bad else 0


def main(argv):
    if len(argv) == 2 and argv[0] == "--vectors":
        return run_vectors(argv[1])
    ctl, pins, allow, heads, csv, path = None, {}, False, [], False, None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--pub":
            ctl = load_key(argv[i + 1]); i += 1
        elif a == "--player-key":
            pid, pem = argv[i + 1].split("=", 1); pins[pid] = key_id(load_key(pem)); i += 1
        elif a == "--head":
            heads += read_heads(argv[i + 1]); i += 1
        elif a == "--allow-unpinned":
            allow = True
        elif a == "--csv":
            csv = True
        else:
            path = a
        i += 1
    if path is None:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        fails, counts, players, media = verify(open(path, "rb").read(), ctl, pins, allow, heads)
    except Unreadable as e:
        print("%s: %s" % (e.code, e), file=sys.stderr)
        return 1
    for p, c, msg in fails:
        print("FAILED %s%s: %s" % ("player %s: " % p if p else "", c, msg), file=sys.stderr)
    text = csv_text(counts, players, media, not fails)
    sys.stdout.buffer.write(text.encode("utf-8"))
    return 0 if not fails else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
