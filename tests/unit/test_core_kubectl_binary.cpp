// The kubectl on PATH, inspected without running it: Go build info, shims, wrappers,
// dispatchers, and the cache of the version for a binary that says nothing.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "core/kube/elf64.h"
#include "core/kube/kubectl_binary.h"
#include "support_scratch.h"

using namespace kp::core;
using kp::testsupport::ScratchDir;
namespace fs = std::filesystem;

namespace {

// Go's build info holding the Go version and `modinfo`, laid out as Go >= 1.18 writes it
// (inline varint strings).
std::string go_buildinfo_bytes(const std::string& modinfo) {
  auto varint = [](std::string text) {
    std::string out;
    std::size_t n = text.size();
    do {
      out += static_cast<char>((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
      n >>= 7;
    } while (n != 0);
    return out + text;
  };
  std::string info = std::string("\xff Go buildinf:", 14) + '\x08' + '\x02';
  info.resize(32, '\0');
  return info + varint("go1.24.4") + varint(modinfo);
}

// A minimal thin 64-bit Mach-O executable (arm64, as kubectl on a Mac) whose one segment,
// __DATA, holds one section, __go_buildinfo.
std::string go_macho(const std::string& modinfo) {
  const std::string info = go_buildinfo_bytes(modinfo);
  std::string out;
  auto u32 = [&out](std::uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); };
  auto u64 = [&out](std::uint64_t v) { out.append(reinterpret_cast<const char*>(&v), 8); };
  auto name = [&out](const std::string& text) {
    out += text + std::string(16 - text.size(), '\0');
  };
  const std::uint32_t commandsSize = 72 + 80;  // LC_SEGMENT_64 and one section_64
  const std::uint32_t infoAt = 32 + commandsSize;
  for (std::uint32_t v : {0xfeedfacfU, 0x0100000cU, 0U, 2U, 1U, commandsSize, 0U, 0U}) {
    u32(v);  // mach_header_64: magic, arm64, subtype, MH_EXECUTE, ncmds, sizeofcmds, flags
  }
  u32(0x19);  // LC_SEGMENT_64
  u32(commandsSize);
  name("__DATA");
  for (std::uint64_t v : {std::uint64_t{0x100000000}, std::uint64_t{info.size()},
                          std::uint64_t{infoAt}, std::uint64_t{info.size()}}) {
    u64(v);  // vmaddr, vmsize, fileoff, filesize
  }
  for (std::uint32_t v : {3U, 3U, 1U, 0U}) {
    u32(v);  // maxprot, initprot, nsects, flags
  }
  name("__go_buildinfo");
  name("__DATA");
  u64(0x100000000);  // addr
  u64(info.size());
  for (std::uint32_t v : {infoAt, 4U, 0U, 0U, 0U, 0U, 0U, 0U}) {
    u32(v);  // offset, align, reloff, nreloc, flags, reserved1-3
  }
  return out + info;
}

// A minimal 64-bit ELF file whose only sections are .shstrtab and a .go.buildinfo.
std::string go_elf(const std::string& modinfo) {
  const std::string info = go_buildinfo_bytes(modinfo);
  const std::string names = std::string("\0.shstrtab\0.go.buildinfo\0", 25);

  Elf64_Ehdr header{};
  std::memcpy(header.e_ident, ELFMAG, SELFMAG);
  header.e_ident[EI_CLASS] = ELFCLASS64;
  header.e_ident[EI_DATA] = ELFDATA2LSB;
  header.e_ident[EI_VERSION] = EV_CURRENT;
  header.e_type = ET_EXEC;
  header.e_machine = EM_X86_64;
  header.e_version = EV_CURRENT;
  header.e_ehsize = sizeof(Elf64_Ehdr);
  header.e_shentsize = sizeof(Elf64_Shdr);
  header.e_shnum = 3;
  header.e_shstrndx = 1;
  const std::size_t namesAt = sizeof(Elf64_Ehdr);
  const std::size_t infoAt = namesAt + names.size();
  header.e_shoff = infoAt + info.size();
  Elf64_Shdr sections[3]{};
  sections[1].sh_name = 1;
  sections[1].sh_type = SHT_STRTAB;
  sections[1].sh_offset = namesAt;
  sections[1].sh_size = names.size();
  sections[2].sh_name = 11;
  sections[2].sh_type = SHT_PROGBITS;
  sections[2].sh_offset = infoAt;
  sections[2].sh_size = info.size();
  return std::string(reinterpret_cast<const char*>(&header), sizeof header) + names + info +
         std::string(reinterpret_cast<const char*>(sections), sizeof sections);
}

const std::string kReleaseInfo =
    "path\tk8s.io/kubernetes/cmd/kubectl\nmod\tk8s.io/kubernetes\t(devel)\t\n"
    "build\t-ldflags=\"-X 'k8s.io/client-go/pkg/version.gitVersion=v1.33.4' "
    "-X 'k8s.io/client-go/pkg/version.gitMajor=1'\"\n";
const std::string kDispatcherInfo =
    "path\tk8s.io/kubernetes/cmd/kubectl-sdk\nmod\tk8s.io/kubernetes\t(devel)\t\n";

KubectlBinary inspect(const std::string& path, std::map<std::string, std::string> env = {},
                      std::string snapDir = "/nonexistent") {
  KubectlLookup lookup;
  lookup.env = [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  lookup.snapDir = std::move(snapDir);
  return inspect_kubectl(path, lookup);
}

}  // namespace

TEST_CASE("kubectl's version comes from its Go build info", "[kube][kubectl]") {
  ScratchDir dir;
  const std::string release = dir.write("bin/kubectl", go_elf(kReleaseInfo), true);
  CHECK(kubectl_version_from_buildinfo(release) == "v1.33.4");
  const KubectlBinary k = inspect(release);
  CHECK(k.gitVersion == "v1.33.4");
  CHECK(k.via.empty());
  CHECK_FALSE(k.dispatcher);

  // A `go build` of k8s.io/kubernetes: the main module's version.
  const std::string built = dir.write(
      "built", go_elf("path\tk8s.io/kubernetes/cmd/kubectl\nmod\tk8s.io/kubernetes\tv1.34.1\t\n"),
      true);
  CHECK(kubectl_version_from_buildinfo(built) == "v1.34.1");
  // Not ELF, truncated, or no version in it: nothing, no crash.
  CHECK(kubectl_version_from_buildinfo(dir.write("text", "hello")).empty());
  CHECK(
      kubectl_version_from_buildinfo(dir.write("cut", go_elf(kReleaseInfo).substr(0, 80))).empty());
  CHECK(kubectl_version_from_buildinfo(
            dir.write("devel", go_elf("mod\tk8s.io/kubernetes\t(devel)\t\n")))
            .empty());
  CHECK(kubectl_version_from_buildinfo(dir.at("missing")).empty());
}

TEST_CASE("a Mach-O kubectl's version comes from its __go_buildinfo section", "[kube][kubectl]") {
  ScratchDir dir;
  const std::string mac = dir.write("bin/kubectl", go_macho(kReleaseInfo), true);
  CHECK(go_buildinfo(mac) == kReleaseInfo);
  CHECK(kubectl_version_from_buildinfo(mac) == "v1.33.4");
  CHECK(inspect(mac).gitVersion == "v1.33.4");
  // Truncated inside the section, or load commands that claim more than the file has.
  CHECK(kubectl_version_from_buildinfo(dir.write("cut", go_macho(kReleaseInfo).substr(0, 200)))
            .empty());
  std::string lying = go_macho(kReleaseInfo);
  lying[16] = '\x40';  // ncmds 64 with one command's bytes
  CHECK(kubectl_version_from_buildinfo(dir.write("lying", lying)) == "v1.33.4");
  lying[20] = '\x7f';  // sizeofcmds shorter than its one command
  CHECK(kubectl_version_from_buildinfo(dir.write("short", lying)).empty());
}

TEST_CASE("a symlinked kubectl is followed to the binary", "[kube][kubectl]") {
  ScratchDir dir;
  const std::string real = dir.write("opt/kubectl-1.33", go_elf(kReleaseInfo), true);
  fs::create_directories(dir.path() / "bin");
  fs::create_symlink(real, dir.path() / "bin/kubectl");
  const KubectlBinary k = inspect(dir.at("bin/kubectl"));
  CHECK(k.path == dir.at("bin/kubectl"));
  CHECK(k.target == fs::canonical(real).string());
  CHECK(k.gitVersion == "v1.33.4");
}

TEST_CASE("the Cloud SDK's dispatcher is recognised with the kubectls it runs", "[kube][kubectl]") {
  ScratchDir dir;
  const std::string dispatcher = dir.write("sdk/bin/kubectl", go_elf(kDispatcherInfo), true);
  dir.write("sdk/bin/kubectl.1.32", "x", true);
  dir.write("sdk/bin/kubectl.1.33", "x", true);
  dir.write("sdk/bin/kubectl.1.33.bak", "x", true);  // not a versioned binary
  dir.write("sdk/bin/kubectl.1.34", "x", false);     // not executable
  dir.write("sdk/bin/clibin/kubectl.1.30", "x", true);
  const KubectlBinary k = inspect(dispatcher);
  CHECK(k.dispatcher);
  CHECK(k.gitVersion.empty());  // its own default is learned by running it, if ever needed
  CHECK(k.dispatches ==
        std::map<std::string, std::string>{{"1.30", dir.at("sdk/bin/clibin/kubectl.1.30")},
                                           {"1.32", dir.at("sdk/bin/kubectl.1.32")},
                                           {"1.33", dir.at("sdk/bin/kubectl.1.33")}});
  // A plain kubectl beside versioned files is not a dispatcher.
  const std::string plain = dir.write("plain/kubectl", go_elf(kReleaseInfo), true);
  dir.write("plain/kubectl.1.30", "x", true);
  CHECK_FALSE(inspect(plain).dispatcher);
}

TEST_CASE("asdf and mise shims name the versions they run", "[kube][kubectl]") {
  ScratchDir dir;
  const std::string one = dir.write("asdf/shims/kubectl",
                                    "#!/usr/bin/env bash\n# asdf-plugin: kubectl 1.29.3\n"
                                    "exec /home/u/.asdf/bin/asdf exec \"kubectl\" \"$@\"\n",
                                    true);
  KubectlBinary k = inspect(one);
  CHECK(k.via == "asdf shim");
  CHECK(k.gitVersion == "v1.29.3");
  CHECK(k.candidates.empty());

  const std::string two = dir.write("asdf2/kubectl",
                                    "#!/usr/bin/env bash\n# asdf-plugin: kubectl 1.27.1\n"
                                    "# asdf-plugin: kubectl 1.31.0\nexec asdf exec kubectl\n",
                                    true);
  k = inspect(two);
  CHECK(k.gitVersion.empty());
  CHECK(k.candidates == std::vector<std::string>{"v1.27.1", "v1.31.0"});

  // mise: a link to mise itself; the versions are its install directories.
  const std::string mise = dir.write("mise/bin/mise", "ELF-ish", true);
  fs::create_directories(dir.path() / "mise/shims");
  fs::create_symlink(mise, dir.path() / "mise/shims/kubectl");
  fs::create_directories(dir.path() / "data/installs/kubectl/1.30.2");
  k = inspect(dir.at("mise/shims/kubectl"), {{"MISE_DATA_DIR", dir.at("data")}});
  CHECK(k.via == "mise shim");
  CHECK(k.gitVersion == "v1.30.2");
  fs::create_directories(dir.path() / "data/installs/kubectl/1.33.0");
  fs::create_directories(dir.path() / "data/installs/kubectl/latest");  // not a version
  k = inspect(dir.at("mise/shims/kubectl"), {{"MISE_DATA_DIR", dir.at("data")}});
  CHECK(k.candidates == std::vector<std::string>{"v1.30.2", "v1.33.0"});
  // Without its data directory, nothing is known.
  k = inspect(dir.at("mise/shims/kubectl"));
  CHECK(k.gitVersion.empty());
  CHECK(k.candidates.empty());
}

TEST_CASE("wrapper scripts and snap are followed to the binary they run", "[kube][kubectl]") {
  ScratchDir dir;
  const std::string real = dir.write("real/kubectl", go_elf(kReleaseInfo), true);
  const std::string wrapper = dir.write(
      "bin/kubectl", "#!/bin/sh\nexport KUBECACHEDIR=/tmp/x\nexec \"" + real + "\" \"$@\"\n", true);
  KubectlBinary k = inspect(wrapper);
  CHECK(k.via == "wrapper script");
  CHECK(k.target == real);
  CHECK(k.gitVersion == "v1.33.4");

  // A wrapper of a wrapper.
  const std::string outer =
      dir.write("outer/kubectl", "#!/bin/sh\nexec " + wrapper + " \"$@\"\n", true);
  CHECK(inspect(outer).gitVersion == "v1.33.4");

  // A script that runs something it does not name by absolute path: only running it tells.
  const std::string opaque =
      dir.write("opaque/kubectl", "#!/bin/sh\nexec kubectl.real \"$@\"\n", true);
  k = inspect(opaque);
  CHECK(k.target == opaque);
  CHECK(k.gitVersion.empty());
  // A script that execs itself is not followed forever.
  const std::string self = dir.write("self/kubectl", "", true);
  dir.write("self/kubectl", "#!/bin/sh\nexec " + self + " \"$@\"\n", true);
  CHECK(inspect(self).gitVersion.empty());

  // snap: /snap/bin/kubectl -> /usr/bin/snap; the binary is the snap's own.
  const std::string snap = dir.write("usr/bin/snap", "snapd", true);
  fs::create_directories(dir.path() / "snap/bin");
  fs::create_symlink(snap, dir.path() / "snap/bin/kubectl");
  dir.write("snap/kubectl/current/kubectl", go_elf(kReleaseInfo), true);
  k = inspect(dir.at("snap/bin/kubectl"), {}, dir.at("snap"));
  CHECK(k.via == "snap");
  CHECK(k.target == dir.at("snap/kubectl/current/kubectl"));
  CHECK(k.gitVersion == "v1.33.4");
}

TEST_CASE("a kubectl run for its version is run once per binary", "[kube][kubectl]") {
  ScratchDir dir;
  const std::string kubectl = dir.write("bin/kubectl", "#!/bin/sh\n", true);
  const std::string cache = dir.at("cache/kplugins/kubectl-version.json");
  int runs = 0;
  auto run = [&runs](const std::string&) {
    ++runs;
    return std::string("v1.32.4-dispatcher");
  };
  CHECK(cached_kubectl_version(kubectl, cache, run) == "v1.32.4-dispatcher");
  CHECK(cached_kubectl_version(kubectl, cache, run) == "v1.32.4-dispatcher");
  CHECK(runs == 1);
  REQUIRE(fs::exists(cache));

  // Another binary has its own entry; the first stays cached.
  const std::string other = dir.write("other/kubectl", "#!/bin/sh\n", true);
  cached_kubectl_version(other, cache, run);
  CHECK(runs == 2);
  cached_kubectl_version(kubectl, cache, run);
  CHECK(runs == 2);

  // An upgrade (new contents, size and mtime) is run again.
  dir.write("bin/kubectl", "#!/bin/sh\n# upgraded\n", true);
  cached_kubectl_version(kubectl, cache, run);
  CHECK(runs == 3);
  // A kubectl that gave no version is not run on every diagnosis either.
  int silentRuns = 0;
  const std::string silent = dir.write("silent/kubectl", "#!/bin/sh\n", true);
  auto none = [&silentRuns](const std::string&) {
    ++silentRuns;
    return std::string();
  };
  CHECK(cached_kubectl_version(silent, cache, none).empty());
  CHECK(cached_kubectl_version(silent, cache, none).empty());
  CHECK(silentRuns == 1);

  // A damaged cache is no cache: run again, and written anew.
  dir.write("cache/kplugins/kubectl-version.json", "{\"kubectl\": [{\"path\": 7}, 3, null");
  CHECK(cached_kubectl_version(kubectl, cache, run) == "v1.32.4-dispatcher");
  CHECK(runs == 4);
  cached_kubectl_version(kubectl, cache, run);
  CHECK(runs == 4);
  // No cache directory to write to: the answer still comes back.
  const std::string blocked = dir.write("file-not-dir", "x") + "/kubectl-version.json";
  CHECK(cached_kubectl_version(kubectl, blocked, run) == "v1.32.4-dispatcher");
  CHECK(cached_kubectl_version(kubectl, "", run) == "v1.32.4-dispatcher");
}

TEST_CASE("the user's cache directory follows XDG", "[kube][kubectl]") {
  auto env = [](std::map<std::string, std::string> values) {
    return [values](const std::string& name) -> std::optional<std::string> {
      auto it = values.find(name);
      return it == values.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
  };
  CHECK(user_cache_dir(env({{"XDG_CACHE_HOME", "/x/cache"}, {"HOME", "/home/u"}})) == "/x/cache");
  CHECK(user_cache_dir(env({{"XDG_CACHE_HOME", "relative"}, {"HOME", "/home/u"}})) ==
        "/home/u/.cache");
  CHECK(user_cache_dir(env({{"HOME", "/home/u"}})) == "/home/u/.cache");
  CHECK(user_cache_dir(env({})).empty());
  CHECK(major_minor_text("v1.33.2-gke.1") == "1.33");
  CHECK(major_minor_text("1.30+") == "1.30");
  CHECK(major_minor_text("latest").empty());
}

TEST_CASE("a kubectl run for its version is given no kubeconfig", "[kube][kubectl]") {
  // The Cloud SDK's dispatcher asks the current context's server which kubectl to run, with the
  // user's credentials, even for `version --client`: the run must find no server to ask.
  ScratchDir dir;
  const std::string kubectl = dir.write(
      "bin/kubectl",
      "#!/bin/sh\n"
      "if [ \"$KUBECONFIG\" = /dev/null ]; then v=v1.33.1; else v=\"leaked-$KUBECONFIG\"; fi\n"
      "printf '{\"clientVersion\": {\"gitVersion\": \"%s\"}}\\n' \"$v\"\n",
      true);
  const char* before = std::getenv("KUBECONFIG");
  const std::string saved = before != nullptr ? before : "";
  ::setenv("KUBECONFIG", dir.at("user-kubeconfig").c_str(), 1);
  const std::string version = kp::core::kubectl_version_by_running(kubectl);
  if (before != nullptr) {
    ::setenv("KUBECONFIG", saved.c_str(), 1);
  } else {
    ::unsetenv("KUBECONFIG");
  }
  CHECK(version == "v1.33.1");
}
