#!/usr/bin/env python3
"""Checks a darwin release binary by reading its Mach-O load commands (standard library only).

    check_macho.py --arch amd64|arm64 [--min-os X.Y] [--json] BINARY...

For each BINARY: a thin 64-bit little-endian Mach-O executable of the arch's CPU type
(x86_64 0x01000007, arm64 0x0100000c); every dylib it loads (LC_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB,
LC_REEXPORT_DYLIB, LC_LAZY_LOAD_DYLIB, LC_LOAD_UPWARD_DYLIB) under /usr/lib/ or /System/ (nothing
from Homebrew, /usr/local or @rpath) and no LC_RPATH; an LC_BUILD_VERSION for macOS whose minimum
is sensible (at least 10.13 on amd64 and 11.0 on arm64, the first macOS for Apple silicon; at
most 13.0, so current Macs are not excluded) and, with --min-os, exactly that one; on arm64 (which
macOS refuses to run unsigned) an LC_CODE_SIGNATURE, last in the file, whose SuperBlob holds a
CodeDirectory with the ad hoc flag, a SHA-256 hash of every page up to the signature that matches
the file (each one recomputed here) and special-slot hashes that match the blobs they name. A
signature on amd64 (not required there) is checked the same way.

Exit 0 when every binary passes, 1 when one does not (each problem printed), 2 on a usage
error. One line per binary on stdout: the arch, the minimum macOS, the dylibs and the signature.
As a library: check(path, arch, min_os=None) -> (problems: list[str], facts: dict).
"""
import argparse
import hashlib
import json
import struct
import sys

MH_MAGIC_64 = 0xFEEDFACF
MH_EXECUTE = 2
CPU_TYPES = {"amd64": 0x01000007, "arm64": 0x0100000C}
CPU_NAMES = {v: k for k, v in CPU_TYPES.items()}
# The oldest minimum macOS that makes sense per arch, and the newest we accept.
MIN_OS_FLOOR = {"amd64": (10, 13), "arm64": (11, 0)}
MIN_OS_CEILING = (13, 0)

LC_REQ_DYLD = 0x80000000
LC_SEGMENT_64 = 0x19
LC_CODE_SIGNATURE = 0x1D
LC_BUILD_VERSION = 0x32
LC_VERSION_MIN_MACOSX = 0x24
LC_RPATH = 0x1C | LC_REQ_DYLD
DYLIB_COMMANDS = {
    0xC: "LC_LOAD_DYLIB",
    0x18 | LC_REQ_DYLD: "LC_LOAD_WEAK_DYLIB",
    0x1F | LC_REQ_DYLD: "LC_REEXPORT_DYLIB",
    0x20: "LC_LAZY_LOAD_DYLIB",
    0x23 | LC_REQ_DYLD: "LC_LOAD_UPWARD_DYLIB",
}
PLATFORM_MACOS = 1
ALLOWED_DYLIB_PREFIXES = ("/usr/lib/", "/System/")

CSMAGIC_EMBEDDED_SIGNATURE = 0xFADE0CC0
CSMAGIC_CODEDIRECTORY = 0xFADE0C02
CSSLOT_CODEDIRECTORY = 0
CS_ADHOC = 0x2
CS_LINKER_SIGNED = 0x20000
CS_HASHTYPE_SHA256 = 2
HASHES = {1: ("sha1", 20), 2: ("sha256", 32), 3: ("sha256", 20), 4: ("sha384", 48)}


def version_text(v):
    return "%d.%d.%d" % (v >> 16, (v >> 8) & 0xFF, v & 0xFF)


def parse_version(text):
    parts = [int(p) for p in text.split(".")]
    while len(parts) < 3:
        parts.append(0)
    return (parts[0] << 16) | (parts[1] << 8) | parts[2]


def check_signature(data, dataoff, datasize, problems, facts):
    """The embedded signature at [dataoff, dataoff + datasize): its CodeDirectory, recomputed."""
    if dataoff + datasize > len(data) or datasize < 12:
        problems.append("LC_CODE_SIGNATURE points outside the file (offset %d, size %d, file %d)"
                        % (dataoff, datasize, len(data)))
        return
    if dataoff + datasize != len(data) and any(data[dataoff + datasize:]):
        problems.append("data after the code signature")
    magic, length, count = struct.unpack_from(">III", data, dataoff)
    if magic != CSMAGIC_EMBEDDED_SIGNATURE:
        problems.append("code signature: not an embedded signature SuperBlob (magic %#x)" % magic)
        return
    if length > datasize or 12 + 8 * count > length:
        problems.append("code signature: SuperBlob length %d or count %d out of bounds" % (length, count))
        return
    blobs = {}
    for i in range(count):
        slot, offset = struct.unpack_from(">II", data, dataoff + 12 + 8 * i)
        if offset + 8 > length:
            problems.append("code signature: blob %d at %d is outside the SuperBlob" % (slot, offset))
            return
        blob_magic, blob_length = struct.unpack_from(">II", data, dataoff + offset)
        if offset + blob_length > length:
            problems.append("code signature: blob %d (%d bytes at %d) is outside the SuperBlob"
                            % (slot, blob_length, offset))
            return
        blobs[slot] = (blob_magic, data[dataoff + offset:dataoff + offset + blob_length])
    if CSSLOT_CODEDIRECTORY not in blobs:
        problems.append("code signature: no CodeDirectory")
        return
    cd_magic, cd = blobs[CSSLOT_CODEDIRECTORY]
    if cd_magic != CSMAGIC_CODEDIRECTORY or len(cd) < 44:
        problems.append("code signature: slot 0 is not a CodeDirectory (magic %#x)" % cd_magic)
        return
    (_, _, version, flags, hash_offset, ident_offset, n_special, n_code, code_limit, hash_size,
     hash_type, _, page_shift) = struct.unpack_from(">IIIIIIIIIBBBB", cd, 0)
    ident = cd[ident_offset:cd.index(b"\0", ident_offset)].decode("utf-8", "replace") \
        if 0 < ident_offset < len(cd) and b"\0" in cd[ident_offset:] else ""
    facts["signature"] = {
        "identifier": ident,
        "version": "%#x" % version,
        "flags": "%#x" % flags,
        "adhoc": bool(flags & CS_ADHOC),
        "linker_signed": bool(flags & CS_LINKER_SIGNED),
        "hash": HASHES.get(hash_type, ("type %d" % hash_type,))[0],
        "page_size": 1 << page_shift if page_shift else 0,
        "code_slots": n_code,
        "special_slots": n_special,
        "code_limit": code_limit,
    }
    if version >= 0x20300 and len(cd) >= 64:
        code_limit64 = struct.unpack_from(">Q", cd, 56)[0]
        if code_limit64:
            code_limit = code_limit64
    if hash_type not in HASHES or HASHES[hash_type][1] != hash_size:
        problems.append("CodeDirectory: hash type %d with %d-byte hashes is not one macOS uses"
                        % (hash_type, hash_size))
        return
    if hash_type != CS_HASHTYPE_SHA256:
        problems.append("CodeDirectory: hash type %d, not SHA-256 (macOS on arm64 wants SHA-256)"
                        % hash_type)
    if code_limit != dataoff:
        problems.append("CodeDirectory: code limit %d is not where the signature starts (%d): "
                        "not every byte before it is covered" % (code_limit, dataoff))
    if page_shift == 0:
        problems.append("CodeDirectory: page size 0 (one hash of everything) is not a page hash")
        return
    page = 1 << page_shift
    expected_slots = (code_limit + page - 1) // page
    if n_code != expected_slots:
        problems.append("CodeDirectory: %d code slots for %d bytes in %d-byte pages (want %d)"
                        % (n_code, code_limit, page, expected_slots))
    if hash_offset + n_code * hash_size > len(cd) or hash_offset < n_special * hash_size:
        problems.append("CodeDirectory: hash slots outside the blob")
        return
    algorithm = HASHES[hash_type][0]
    bad = []
    for i in range(min(n_code, expected_slots)):
        chunk = data[i * page:min((i + 1) * page, code_limit)]
        digest = hashlib.new(algorithm, chunk).digest()[:hash_size]
        stored = cd[hash_offset + i * hash_size:hash_offset + (i + 1) * hash_size]
        if digest != stored:
            bad.append(i)
    if bad:
        shown = ", ".join("%d (offset %#x)" % (i, i * page) for i in bad[:5])
        problems.append("CodeDirectory: %d of %d page hashes do not match the file: page %s%s"
                        % (len(bad), n_code, shown, ", ..." if len(bad) > 5 else ""))
    facts["signature"]["pages_verified"] = min(n_code, expected_slots) - len(bad)
    # Special slots (requirements, entitlements...): slot -k is at hash_offset - k * hash_size;
    # a blob in the SuperBlob must match its slot, an empty slot must have no blob.
    for k in range(1, n_special + 1):
        stored = cd[hash_offset - k * hash_size:hash_offset - (k - 1) * hash_size]
        if k in blobs:
            digest = hashlib.new(algorithm, blobs[k][1]).digest()[:hash_size]
            if digest != stored:
                problems.append("CodeDirectory: special slot %d does not match its blob" % k)
        elif any(stored) and k in (2, 5, 7):
            problems.append("CodeDirectory: special slot %d has a hash but no blob" % k)
    if not flags & CS_ADHOC:
        facts["signature"]["note"] = "not ad hoc (a certificate-based signature?)"


def check(path, arch, min_os=None):
    """(problems, facts) for one binary; problems is empty when it passes."""
    problems = []
    facts = {"path": path}
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return ["cannot read: %s" % e], facts
    if len(data) < 32:
        return ["not a Mach-O file (%d bytes)" % len(data)], facts
    magic = struct.unpack_from("<I", data, 0)[0]
    if magic != MH_MAGIC_64:
        if struct.unpack_from(">I", data, 0)[0] in (0xCAFEBABE, 0xCAFEBABF):
            return ["a universal (fat) binary, not a thin %s one" % arch], facts
        return ["not a 64-bit little-endian Mach-O file (magic %#x)" % magic], facts
    _, cputype, _, filetype, ncmds, sizeofcmds, _, _ = struct.unpack_from("<IiiIIIII", data, 0)
    facts["cpu"] = CPU_NAMES.get(cputype, "%#x" % cputype)
    if cputype != CPU_TYPES[arch]:
        problems.append("CPU type %s (%#x), not %s (%#x)" % (facts["cpu"], cputype, arch, CPU_TYPES[arch]))
    if filetype != MH_EXECUTE:
        problems.append("file type %d, not an executable (MH_EXECUTE)" % filetype)
    if 32 + sizeofcmds > len(data):
        return problems + ["load commands run past the end of the file"], facts
    dylibs, rpaths, build, signature, segments = [], [], None, None, []
    offset = 32
    for _ in range(ncmds):
        if offset + 8 > 32 + sizeofcmds:
            problems.append("load commands run past sizeofcmds")
            break
        cmd, cmdsize = struct.unpack_from("<II", data, offset)
        if cmdsize < 8 or offset + cmdsize > 32 + sizeofcmds:
            problems.append("load command %#x has a bad size %d" % (cmd, cmdsize))
            break
        body = data[offset:offset + cmdsize]
        if cmd in DYLIB_COMMANDS or cmd == LC_RPATH:
            name_offset = struct.unpack_from("<I", body, 8)[0]
            name = body[name_offset:].split(b"\0", 1)[0].decode("utf-8", "replace")
            (rpaths if cmd == LC_RPATH else dylibs).append((DYLIB_COMMANDS.get(cmd, "LC_RPATH"), name))
        elif cmd == LC_BUILD_VERSION:
            platform, minos, sdk = struct.unpack_from("<III", body, 8)
            build = ("build", platform, minos, sdk)
        elif cmd == LC_VERSION_MIN_MACOSX and build is None:
            minos, sdk = struct.unpack_from("<II", body, 8)
            build = ("version_min", PLATFORM_MACOS, minos, sdk)
        elif cmd == LC_CODE_SIGNATURE:
            signature = struct.unpack_from("<II", body, 8)
        elif cmd == LC_SEGMENT_64:
            segname = body[8:24].split(b"\0", 1)[0].decode()
            fileoff, filesize = struct.unpack_from("<QQ", body, 40)
            segments.append((segname, fileoff, filesize))
        offset += cmdsize

    facts["dylibs"] = [name for _, name in dylibs]
    if not dylibs:
        problems.append("loads no dylib at all (libSystem is the only way to the kernel on macOS)")
    for kind, name in dylibs:
        if not name.startswith(ALLOWED_DYLIB_PREFIXES):
            problems.append("%s %s: only /usr/lib/ and /System/ exist on every Mac (a static "
                            "dependency leaked as a dynamic one)" % (kind, name))
    for _, name in rpaths:
        problems.append("LC_RPATH %s: a release binary searches no run path" % name)

    if build is None:
        problems.append("no LC_BUILD_VERSION (or LC_VERSION_MIN_MACOSX): the minimum macOS is unknown")
    else:
        _, platform, minos, sdk = build
        facts["min_os"] = version_text(minos)
        facts["sdk"] = version_text(sdk)
        if platform != PLATFORM_MACOS:
            problems.append("LC_BUILD_VERSION platform %d, not macOS (1)" % platform)
        floor = MIN_OS_FLOOR[arch]
        floor_v = (floor[0] << 16) | (floor[1] << 8)
        ceiling_v = (MIN_OS_CEILING[0] << 16) | (MIN_OS_CEILING[1] << 8)
        if minos < floor_v or minos > ceiling_v:
            problems.append("minimum macOS %s is not sensible for %s (between %d.%d and %d.%d)"
                            % (version_text(minos), arch, floor[0], floor[1], *MIN_OS_CEILING))
        if min_os is not None and minos != parse_version(min_os):
            problems.append("minimum macOS %s, not the %s it was built for"
                            % (version_text(minos), min_os))

    linkedit = [s for s in segments if s[0] == "__LINKEDIT"]
    if signature is None:
        facts["signature"] = None
        if arch == "arm64":
            problems.append("no LC_CODE_SIGNATURE: macOS on Apple silicon kills unsigned code "
                            "(an ad hoc signature is enough)")
    else:
        dataoff, datasize = signature
        if linkedit and dataoff + datasize > linkedit[0][1] + linkedit[0][2]:
            problems.append("the code signature is not inside __LINKEDIT")
        check_signature(data, dataoff, datasize, problems, facts)
        if arch == "arm64" and facts.get("signature") and not facts["signature"]["adhoc"]:
            problems.append("the CodeDirectory is not ad hoc (flags %s)" % facts["signature"]["flags"])
    return problems, facts


def summary(arch, facts):
    sig = facts.get("signature")
    if sig:
        sig_text = "signed %s, %s, %d/%d pages of %d bytes verified, identifier %s" % (
            "ad hoc" + (" (linker)" if sig["linker_signed"] else "") if sig["adhoc"] else "not ad hoc",
            sig["hash"], sig.get("pages_verified", 0), sig["code_slots"], sig["page_size"],
            sig["identifier"])
    else:
        sig_text = "unsigned"
    return "%s: Mach-O %s, macOS >= %s (SDK %s), loads %s; %s" % (
        facts["path"], facts.get("cpu", "?"), facts.get("min_os", "?"), facts.get("sdk", "?"),
        ", ".join(facts.get("dylibs", [])) or "nothing", sig_text)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", required=True, choices=sorted(CPU_TYPES))
    parser.add_argument("--min-os", help="the exact minimum macOS expected (e.g. 11.0)")
    parser.add_argument("--json", action="store_true", help="one JSON object per binary")
    parser.add_argument("binaries", nargs="+")
    args = parser.parse_args(argv)
    failed = False
    for path in args.binaries:
        problems, facts = check(path, args.arch, args.min_os)
        if args.json:
            print(json.dumps(dict(facts, problems=problems), sort_keys=True))
        else:
            print(summary(args.arch, facts))
        for p in problems:
            print("check_macho: %s: %s" % (path, p), file=sys.stderr)
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
