#!/usr/bin/env python3
"""Proves scripts/platform/check_macho.py rejects what it must, on broken copies of a good
darwin/arm64 binary (a real one from scripts/platform/darwin.sh):

    check_macho_selftest.py ARM64-BINARY

The binary itself must pass; then each copy must fail with the problem it was broken for: a
Homebrew dylib instead of libSystem, one byte changed in a page (the page's hash must be the
one reported), a wrong CPU type, the code signature's load command gone, a minimum macOS of
16.0, an LC_BUILD_VERSION for iOS, and a file that is not Mach-O at all. Exit 1 on the first
copy the checker accepts or rejects for another reason.
"""
import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "scripts", "platform"))
import check_macho  # noqa: E402


def load_commands(data):
    ncmds = struct.unpack_from("<I", data, 16)[0]
    offset = 32
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", data, offset)
        yield offset, cmd, size
        offset += size


def command(data, wanted):
    for offset, cmd, size in load_commands(data):
        if cmd == wanted:
            return offset, size
    raise SystemExit("selftest: the binary has no load command %#x" % wanted)


def homebrew_dylib(data):
    offset, size = command(data, 0xC)  # LC_LOAD_DYLIB
    name_offset = struct.unpack_from("<I", data, offset + 8)[0]
    name = b"/opt/homebrew/lib/libz.1.dylib"
    assert name_offset + len(name) < size, "no room for the name"
    data[offset + name_offset:offset + size] = name + b"\0" * (size - name_offset - len(name))
    return "LC_LOAD_DYLIB /opt/homebrew/lib/libz.1.dylib"


def corrupt_page(data):
    sig_offset, _ = command(data, 0x1D)
    dataoff = struct.unpack_from("<I", data, sig_offset + 8)[0]
    page = 16384
    target = (dataoff // page) // 2  # a page in the middle of the code
    data[target * page + 100] ^= 0xFF
    return "page %d (offset %#x)" % (target, target * page)


def wrong_cpu(data):
    struct.pack_into("<i", data, 4, 0x01000007)
    return "CPU type amd64 (0x1000007), not arm64"


def unsigned(data):
    offset, _ = command(data, 0x1D)
    struct.pack_into("<I", data, offset, 0x7FFF)  # an unknown command: no LC_CODE_SIGNATURE
    return "no LC_CODE_SIGNATURE"


def minimum_16(data):
    offset, _ = command(data, 0x32)
    struct.pack_into("<I", data, offset + 12, 16 << 16)
    return "minimum macOS 16.0.0 is not sensible"


def ios(data):
    offset, _ = command(data, 0x32)
    struct.pack_into("<I", data, offset + 8, 2)  # PLATFORM_IOS
    return "platform 2, not macOS"


def not_macho(data):
    data[:] = b"\x7fELF" + bytes(60)
    return "not a 64-bit little-endian Mach-O file"


CASES = [homebrew_dylib, corrupt_page, wrong_cpu, unsigned, minimum_16, ios, not_macho]


def main(path):
    problems, facts = check_macho.check(path, "arm64")
    if problems:
        print("selftest: the good binary fails: %s" % "; ".join(problems))
        return 1
    print("selftest: %s passes: %s" % (path, check_macho.summary("arm64", facts)))
    original = open(path, "rb").read()
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            data = bytearray(original)
            expected = case(data)
            copy = os.path.join(tmp, case.__name__)
            with open(copy, "wb") as f:
                f.write(data)
            problems, _ = check_macho.check(copy, "arm64")
            if not any(expected in p for p in problems):
                print("selftest: %s: FAILED: expected a problem with %r, got %r"
                      % (case.__name__, expected, problems))
                failed += 1
            else:
                print("selftest: %s: rejected (%s)" % (case.__name__, "; ".join(problems)))
    print("selftest: %d of %d broken copies rejected for the right reason"
          % (len(CASES) - failed, len(CASES)))
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: check_macho_selftest.py ARM64-BINARY")
    sys.exit(main(sys.argv[1]))
