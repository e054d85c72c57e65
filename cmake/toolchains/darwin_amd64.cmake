# darwin/amd64 (Intel Macs, macOS 11 or newer) cross build with zig's clang: the compiler
# wrappers and the target's libraries come from scripts/platform/darwin.sh.
set(KP_DARWIN_ARCH amd64)
set(KP_DARWIN_TRIPLE x86_64-macos)
include(${CMAKE_CURRENT_LIST_DIR}/darwin_common.cmake)
