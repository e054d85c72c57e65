#include "core/kube/kubectl_binary.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/kube/elf64.h"
#include "core/kube/kube.h"
#include "core/util/files.h"
#include "core/util/json.h"
#include "core/util/process.h"
#include "core/util/text.h"

namespace kp::core {
namespace fs = std::filesystem;
namespace {

constexpr std::size_t kScriptBytes = 4096;    // a shim or wrapper says what it runs up front
constexpr std::size_t kCacheBytes = 1 << 16;  // 16 entries need a few KiB
constexpr std::size_t kCacheEntries = 16;
constexpr int kMaxFollow = 4;  // wrappers of wrappers

std::string read_head(const std::string& path, std::size_t bytes) {
  std::ifstream file(path, std::ios::binary);
  std::string head(bytes, '\0');
  file.read(head.data(), static_cast<std::streamsize>(bytes));
  head.resize(static_cast<std::size_t>(std::max<std::streamsize>(file.gcount(), 0)));
  return head;
}

bool executable_file(const std::string& path) {
  std::error_code error;
#ifdef _WIN32
  // Windows has no execute bit: a regular file found with PATHEXT's extensions runs.
  return fs::is_regular_file(path, error);
#else
  return fs::is_regular_file(path, error) && ::access(path.c_str(), X_OK) == 0;
#endif
}

// "1.29.0" / "v1.29.0" -> "v1.29.0" when it reads as a version, else "".
std::string as_git_version(std::string_view text) {
  text = trim(text);
  const std::string version = text.starts_with('v') ? std::string(text) : "v" + std::string(text);
  return major_minor_text(version).empty() ? std::string() : version;
}

std::optional<std::string> env_of(const KubectlLookup& lookup, const std::string& name) {
  auto value = lookup.env ? lookup.env(name) : std::nullopt;
  return value && !value->empty() ? value : std::nullopt;
}

// mise's shims are links to mise itself; the versions it can run are its install directories.
void follow_mise(KubectlBinary& out, const KubectlLookup& lookup) {
  out.via = "mise shim";
  fs::path data;
  if (auto dir = env_of(lookup, "MISE_DATA_DIR")) {
    data = *dir;
  } else if (auto xdg = env_of(lookup, "XDG_DATA_HOME")) {
    data = fs::path(*xdg) / "mise";
  } else if (auto home = env_of(lookup, "HOME")) {
    data = fs::path(*home) / ".local" / "share" / "mise";
  } else {
    return;
  }
  std::error_code error;
  for (fs::directory_iterator it(data / "installs" / "kubectl", error), end; !error && it != end;
       it.increment(error)) {
    std::error_code isDir;
    if (it->is_directory(isDir) && !it->is_symlink(isDir)) {
      if (std::string version = as_git_version(it->path().filename().string()); !version.empty()) {
        out.candidates.push_back(version);
      }
    }
  }
  std::sort(out.candidates.begin(), out.candidates.end());
}

// An asdf shim names the versions it can run in "# asdf-plugin: kubectl 1.29.0" lines.
bool follow_asdf(KubectlBinary& out, std::string_view script) {
  constexpr std::string_view kMarker = "# asdf-plugin: kubectl ";
  bool shim = false;
  for (const std::string& line : split(script, '\n')) {
    if (line.starts_with(kMarker)) {
      shim = true;
      if (std::string version = as_git_version(std::string_view(line).substr(kMarker.size()));
          !version.empty()) {
        out.candidates.push_back(version);
      }
    }
  }
  if (shim) {
    out.via = "asdf shim";
  }
  return shim;
}

// A wrapper script's `exec /abs/path/kubectl... ` line: the binary it runs.
std::string exec_target(std::string_view script, const std::string& self) {
  for (const std::string& raw : split(script, '\n')) {
    std::string_view line = trim(raw);
    if (!line.starts_with("exec ")) {
      continue;
    }
    line = trim(line.substr(5));
    const char quote = !line.empty() && (line[0] == '"' || line[0] == '\'') ? line[0] : '\0';
    if (quote != '\0') {
      line.remove_prefix(1);
    }
    const std::size_t end = line.find_first_of(quote != '\0' ? std::string(1, quote) : " \t;");
    const std::string target(line.substr(0, end));
    if (target.starts_with('/') && fs::path(target).filename().string().starts_with("kubectl") &&
        target != self && executable_file(target)) {
      return target;
    }
  }
  return {};
}

// The versioned binaries a dispatcher runs: kubectl.<major>.<minor> beside it, or in clibin/.
std::map<std::string, std::string> dispatch_table(const fs::path& dispatcher) {
  std::map<std::string, std::string> table;
  for (const fs::path& dir : {dispatcher.parent_path(), dispatcher.parent_path() / "clibin"}) {
    std::error_code error;
    for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
      const std::string name = it->path().filename().string();
      if (name.starts_with("kubectl.") && !major_minor_text(name.substr(8)).empty() &&
          name.substr(8) == major_minor_text(name.substr(8)) &&
          executable_file(it->path().string())) {
        table.emplace(name.substr(8), it->path().string());
      }
    }
  }
  return table;
}

// kubectl_version_from_buildinfo on build info already read.
std::string version_in_buildinfo(const std::string& info) {
  for (const std::string key :
       {"k8s.io/client-go/pkg/version.gitVersion=", "k8s.io/component-base/version.gitVersion="}) {
    const auto at = info.find(key);
    if (at != std::string::npos) {
      const auto start = at + key.size();
      return info.substr(start, info.find_first_of(" '\"\n\t", start) - start);
    }
  }
  const std::string module = "\nmod\tk8s.io/kubernetes\t";
  const auto at = info.find(module);
  if (at != std::string::npos) {
    const auto start = at + module.size();
    const std::string version = info.substr(start, info.find_first_of("\t\n", start) - start);
    return version.starts_with("v") ? version : std::string();
  }
  return {};
}

void inspect_binary(KubectlBinary& out) {
  const std::string info = go_buildinfo(out.target);
  out.gitVersion = version_in_buildinfo(info);
  // The Cloud SDK's dispatcher is built from k8s.io/kubernetes/cmd/kubectl-sdk and says
  // "-dispatcher" in its version; the original is github.com/.../kubectl-dispatcher.
  const bool dispatcherBuild = info.find("/cmd/kubectl-sdk\n") != std::string::npos ||
                               info.find("kubectl-dispatcher") != std::string::npos ||
                               out.gitVersion.ends_with("-dispatcher");
  if (dispatcherBuild) {
    out.dispatcher = true;
    out.dispatches = dispatch_table(out.target);
    if (out.gitVersion.ends_with("-dispatcher")) {
      out.gitVersion.clear();  // the dispatcher's own default, learned by running it if needed
    }
  }
}

}  // namespace

KubectlBinary inspect_kubectl(const std::string& path, const KubectlLookup& lookup) {
  KubectlBinary out;
  out.path = path;
  out.target = path;
  for (int hop = 0; hop < kMaxFollow; ++hop) {
    std::error_code error;
    const fs::path real = fs::canonical(out.target, error);
    const std::string name = error ? std::string() : real.filename().string();
    if (name == "snap") {
      // /snap/bin/kubectl -> /usr/bin/snap, which runs the snap's own binary.
      const std::string snapped = (fs::path(lookup.snapDir) / "kubectl/current/kubectl").string();
      if (!executable_file(snapped)) {
        return out;
      }
      out.via = "snap";
      out.target = snapped;
      continue;
    }
    if (name == "mise" || name == "rtx") {
      follow_mise(out, lookup);
      break;
    }
    if (!error) {
      out.target = real.string();
    }
    const std::string head = read_head(out.target, kScriptBytes);
    if (!head.starts_with("#!")) {
      inspect_binary(out);
      break;
    }
    if (follow_asdf(out, head)) {
      break;
    }
    const std::string next = exec_target(head, out.target);
    if (next.empty()) {
      break;  // a script that says nothing we can follow: only running it can tell
    }
    out.via = "wrapper script";
    out.target = next;
  }
  if (out.candidates.size() == 1) {
    out.gitVersion = out.candidates.front();
    out.candidates.clear();
  }
  return out;
}

namespace {

struct SectionSpan {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

// Go's build info section of an executable: ELF's .go.buildinfo (Linux), Mach-O's
// __DATA,__go_buildinfo (macOS: 64-bit, little-endian, thin).
std::optional<SectionSpan> buildinfo_section(
    std::ifstream& file, const std::function<std::string(std::uint64_t, std::size_t)>& read_at) {
  const std::string head = read_at(0, 32);
  if (head.size() == 32 && static_cast<unsigned char>(head[0]) == 0xcf &&
      head.compare(1, 3, "\xfa\xed\xfe") == 0) {
    const auto u32 = [](const std::string& bytes, std::size_t at) {
      std::uint32_t v = 0;
      std::memcpy(&v, bytes.data() + at, 4);  // little-endian, as every Mac this runs on
      return v;
    };
    const auto u64 = [](const std::string& bytes, std::size_t at) {
      std::uint64_t v = 0;
      std::memcpy(&v, bytes.data() + at, 8);
      return v;
    };
    const std::uint32_t ncmds = u32(head, 16);
    const std::uint32_t sizeofcmds = u32(head, 20);
    const std::string commands = read_at(32, std::min<std::uint32_t>(sizeofcmds, 1 << 20));
    std::size_t at = 0;
    for (std::uint32_t i = 0; i < ncmds && at + 8 <= commands.size(); ++i) {
      const std::uint32_t cmd = u32(commands, at);
      const std::uint32_t cmdsize = u32(commands, at + 4);
      if (cmdsize < 8 || at + cmdsize > commands.size()) {
        break;
      }
      constexpr std::uint32_t kSegment64 = 0x19;  // LC_SEGMENT_64: 72 bytes, then sections
      if (cmd == kSegment64 && cmdsize >= 72) {
        const std::uint32_t nsects = u32(commands, at + 64);
        for (std::uint32_t k = 0; k < nsects && 72 + (k + 1) * 80 <= cmdsize; ++k) {
          // section_64: sectname[16] (NUL-padded), segname[16], addr, size, offset, ...
          const std::size_t sect = at + 72 + k * 80;
          const std::string name(commands.data() + sect, 16);
          if (std::strcmp(name.c_str(), "__go_buildinfo") == 0) {
            return SectionSpan{u32(commands, sect + 48), u64(commands, sect + 40)};
          }
        }
      }
      at += cmdsize;
    }
    return std::nullopt;
  }
  Elf64_Ehdr header{};
  file.clear();
  file.seekg(0);
  if (!file.read(reinterpret_cast<char*>(&header), sizeof header) ||
      std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64 ||
      header.e_shentsize != sizeof(Elf64_Shdr) || header.e_shnum == 0 ||
      header.e_shstrndx >= header.e_shnum) {
    return std::nullopt;
  }
  std::vector<Elf64_Shdr> sections(header.e_shnum);
  file.seekg(static_cast<std::streamoff>(header.e_shoff));
  if (!file.read(reinterpret_cast<char*>(sections.data()),
                 static_cast<std::streamsize>(sections.size() * sizeof(Elf64_Shdr)))) {
    return std::nullopt;
  }
  const Elf64_Shdr& names = sections[header.e_shstrndx];
  const std::string strtab =
      read_at(names.sh_offset, std::min<std::uint64_t>(names.sh_size, 1 << 16));
  for (const Elf64_Shdr& section : sections) {
    if (section.sh_name < strtab.size() &&
        std::strcmp(strtab.c_str() + section.sh_name, ".go.buildinfo") == 0) {
      return SectionSpan{section.sh_offset, section.sh_size};
    }
  }
  return std::nullopt;
}

}  // namespace

std::string go_buildinfo(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return {};
  }
  auto read_at = [&file](std::uint64_t offset, std::size_t size) {
    std::string bytes(size, '\0');
    file.clear();
    file.seekg(static_cast<std::streamoff>(offset));
    file.read(bytes.data(), static_cast<std::streamsize>(size));
    bytes.resize(static_cast<std::size_t>(file.gcount()));
    return bytes;
  };
  if (const std::optional<SectionSpan> section = buildinfo_section(file, read_at)) {
    const std::string info =
        read_at(section->offset, std::min<std::uint64_t>(section->size, 1 << 20));
    // 14-byte magic "\xff Go buildinf:", pointer size, flags (2: inline strings), padding to 32.
    if (info.size() < 32 || info.compare(0, 14, "\xff Go buildinf:") != 0 || (info[15] & 2) == 0) {
      return {};
    }
    std::size_t at = 32;
    auto next_string = [&info, &at]() -> std::string {
      std::uint64_t length = 0;
      for (int shift = 0; at < info.size() && shift < 64; shift += 7) {
        const auto byte = static_cast<unsigned char>(info[at++]);
        length |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
        if ((byte & 0x80) == 0) {
          break;
        }
      }
      if (length > info.size() - at) {
        return {};
      }
      std::string out = info.substr(at, length);
      at += length;
      return out;
    };
    next_string();  // the Go version
    return next_string();
  }
  return {};
}

std::string kubectl_version_from_buildinfo(const std::string& path) {
  return version_in_buildinfo(go_buildinfo(path));
}

std::string major_minor_text(std::string_view version) {
  const auto parsed = major_minor(version);
  return parsed ? std::to_string(parsed->first) + "." + std::to_string(parsed->second)
                : std::string();
}

std::string user_cache_dir(const EnvLookup& env) {
#ifdef _WIN32
  // Go's os.UserCacheDir on Windows: %LocalAppData%.
  if (auto local = env_value(env, "LocalAppData"); local && !local->empty()) {
    return *local;
  }
  return {};
#endif
  if (auto xdg = env_value(env, "XDG_CACHE_HOME"); xdg && xdg->starts_with('/')) {
    return *xdg;  // relative values are ignored, as the XDG spec asks
  }
  if (auto home = env_value(env, "HOME"); home && !home->empty()) {
    return (fs::path(*home) / ".cache").string();
  }
  return {};
}

std::optional<FileIdentity> file_identity(const std::string& path) {
#ifdef _WIN32
  // No inode or nanosecond mtime from the C runtime: size and mtime (seconds) identify it.
  struct _stat64 st {};
  if (::_stat64(path.c_str(), &st) != 0) {
    return std::nullopt;
  }
  return FileIdentity{static_cast<std::uint64_t>(st.st_size),
                      static_cast<std::int64_t>(st.st_mtime) * 1000000000, 0,
                      static_cast<std::uint64_t>(st.st_dev)};
#else
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return std::nullopt;
  }
#ifdef __APPLE__
  const timespec& mtime = st.st_mtimespec;  // macOS's name for POSIX's st_mtim
#else
  const timespec& mtime = st.st_mtim;
#endif
  return FileIdentity{static_cast<std::uint64_t>(st.st_size),
                      static_cast<std::int64_t>(mtime.tv_sec) * 1000000000 + mtime.tv_nsec,
                      static_cast<std::uint64_t>(st.st_ino), static_cast<std::uint64_t>(st.st_dev)};
#endif
}

std::string cached_kubectl_version(const std::string& binary, const std::string& cacheFile,
                                   const std::function<std::string(const std::string&)>& run) {
  const std::optional<FileIdentity> identity = file_identity(binary);
  if (!identity || cacheFile.empty()) {
    return run(binary);
  }
  auto entry_identity = [](const nlohmann::json& entry) {
    auto number = [&entry](const char* key) -> std::uint64_t {
      const nlohmann::json& value = json_member(entry, key);
      return value.is_number_unsigned() ? value.get<std::uint64_t>() : 0;
    };
    const nlohmann::json& mtime = json_member(entry, "mtimeNs");
    return FileIdentity{number("size"), mtime.is_number_integer() ? mtime.get<std::int64_t>() : -1,
                        number("inode"), number("device")};
  };
  nlohmann::json entries = nlohmann::json::array();
  if (auto text = read_file(cacheFile, kCacheBytes)) {
    const nlohmann::json doc = nlohmann::json::parse(*text, nullptr, false);
    const nlohmann::json& listed = json_member(doc, "kubectl");
    if (listed.is_array()) {
      for (const nlohmann::json& entry : listed) {
        if (!entry.is_object() || !json_member(entry, "path").is_string() ||
            !json_member(entry, "gitVersion").is_string()) {
          continue;
        }
        if (json_string(entry, "path") == binary) {
          if (entry_identity(entry) == *identity) {
            return json_string(entry, "gitVersion");
          }
          continue;  // changed since: run it again, below
        }
        if (entries.size() + 1 < kCacheEntries) {
          entries.push_back(entry);
        }
      }
    }
  }
  const std::string version = run(binary);
  entries.insert(entries.begin(), nlohmann::json{{"path", binary},
                                                 {"size", identity->size},
                                                 {"mtimeNs", identity->mtimeNs},
                                                 {"inode", identity->inode},
                                                 {"device", identity->device},
                                                 {"gitVersion", version}});
  // Written whole to a temporary file and renamed: concurrent runs never read half a file.
  std::error_code error;
  fs::create_directories(fs::path(cacheFile).parent_path(), error);
  const std::string temporary = cacheFile + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << nlohmann::json{{"kubectl", entries}}.dump(1) << '\n';
    if (!out.flush()) {
      fs::remove(temporary, error);
      return version;
    }
  }
  fs::rename(temporary, cacheFile, error);
  if (error) {
    fs::remove(temporary, error);
  }
  return version;
}

std::string kubectl_version_by_running(const std::string& kubectl) {
  ProcessSpec spec;
  spec.argv = {kubectl, "version", "--client", "-o", "json"};
  // No kubeconfig for it: a version dispatcher (the Cloud SDK's) asks the current context's
  // server which kubectl to run, with the user's credentials, even for --client; a run that
  // only wants a version must reach no server (found by the differential harness: a recording
  // server saw GET /version with Basic credentials).
  spec.env = {{"KUBECONFIG", "/dev/null"}};
  spec.timeout = std::chrono::seconds(5);  // a kubectl that hangs costs this, once
  const Result<ProcessResult, SpawnFailure> ran = run_process(spec);
  if (!ran || ran->timedOut) {
    return {};
  }
  const nlohmann::json doc = nlohmann::json::parse(ran->out, nullptr, false);
  return json_string(json_member(doc, "clientVersion"), "gitVersion");
}

}  // namespace kp::core
