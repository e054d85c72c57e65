# darwin/arm64 (Apple silicon, macOS 11 or newer) cross build with zig's clang: the compiler
# wrappers and the target's libraries come from scripts/platform/darwin.sh.
set(KP_DARWIN_ARCH arm64)
set(KP_DARWIN_TRIPLE aarch64-macos)
include(${CMAKE_CURRENT_LIST_DIR}/darwin_common.cmake)
