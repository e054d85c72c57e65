// run_process() on Windows: CreateProcess with pipes, the program found on PATH with PATHEXT as
// Go's exec.LookPath does there, the command line quoted as Go's syscall.EscapeArg, and the child
// in a job object so a deadline kills the whole tree it started (process_posix.cpp: its own
// process group). The pipes are polled (PeekNamedPipe): anonymous pipes have no non-blocking mode.
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>
#include <windows.h>

#include "core/util/files.h"
#include "core/util/process.h"
#include "core/util/process_detail.h"
#include "core/util/text.h"

namespace kp::core {
namespace {

// An owned HANDLE.
class Handle {
 public:
  Handle() = default;
  explicit Handle(HANDLE h) : h_(h == INVALID_HANDLE_VALUE ? nullptr : h) {}
  ~Handle() { reset(); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& other) noexcept : h_(other.h_) { other.h_ = nullptr; }
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset(other.h_);
      other.h_ = nullptr;
    }
    return *this;
  }
  HANDLE get() const { return h_; }
  explicit operator bool() const { return h_ != nullptr; }
  void reset(HANDLE h = nullptr) {
    if (h_ != nullptr) {
      ::CloseHandle(h_);
    }
    h_ = h;
  }

 private:
  HANDLE h_ = nullptr;
};

std::string windows_error_text(DWORD code) {
  char* text = nullptr;
  const DWORD n = ::FormatMessageA(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
      nullptr, code, 0, reinterpret_cast<char*>(&text), 0, nullptr);
  std::string out = n > 0 && text != nullptr ? std::string(text, n) : std::string();
  ::LocalFree(text);
  while (!out.empty() &&
         (out.back() == '\n' || out.back() == '\r' || out.back() == ' ' || out.back() == '.')) {
    out.pop_back();
  }
  if (out.empty()) {
    out = "Windows error " + std::to_string(code);
  }
  if (out[0] >= 'A' && out[0] <= 'Z') {
    out[0] = static_cast<char>(out[0] - 'A' + 'a');
  }
  return out;
}

// The errno a Windows error stands for (SpawnFailure::errorNumber is an errno everywhere).
int errno_of(DWORD code) {
  switch (code) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
      return ENOENT;
    case ERROR_ACCESS_DENIED:
      return EACCES;
    case ERROR_BAD_EXE_FORMAT:
    case ERROR_EXE_MACHINE_TYPE_MISMATCH:
      return ENOEXEC;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
      return ENOMEM;
    default:
      return EINVAL;
  }
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ascii_lower(a) == ascii_lower(b);
}

// A regular file (not a directory): Go's chkStat on Windows.
bool is_file(const std::string& path) {
  const DWORD attributes = ::GetFileAttributesA(path.c_str());
  return attributes != INVALID_FILE_ATTRIBUTES && (attributes & FILE_ATTRIBUTE_DIRECTORY) == 0;
}

bool has_separator(std::string_view name) {
  return name.find_first_of("/\\:") != std::string_view::npos;
}

// PATHEXT's extensions, lower case; Go's default when it is unset.
std::vector<std::string> path_extensions() {
  std::vector<std::string> out;
  const char* value = std::getenv("PATHEXT");
  const std::string text = value != nullptr ? value : "";
  for (std::string_view e : split(text, ';')) {
    if (e.empty()) {
      continue;
    }
    std::string ext = ascii_lower(e);
    if (ext.front() != '.') {
      ext.insert(0, ".");
    }
    out.push_back(std::move(ext));
  }
  if (out.empty()) {
    out = {".com", ".exe", ".bat", ".cmd"};
  }
  return out;
}

// Go's findExecutable on Windows: the file itself when it already has an extension, then the
// file with each of PATHEXT's.
std::optional<std::string> find_with_extensions(const std::string& file,
                                                const std::vector<std::string>& extensions) {
  const auto slash = file.find_last_of("/\\");
  const auto dot = file.find_last_of('.');
  const bool hasExtension = dot != std::string::npos && (slash == std::string::npos || dot > slash);
  if (hasExtension && is_file(file)) {
    return file;
  }
  for (const std::string& ext : extensions) {
    if (is_file(file + ext)) {
      return file + ext;
    }
  }
  return std::nullopt;
}

// Go's syscall.EscapeArg: one argument as CommandLineToArgvW reads it back.
std::string escape_argument(const std::string& s) {
  if (s.empty()) {
    return "\"\"";
  }
  const bool needsBackslash = s.find_first_of("\"\\") != std::string::npos;
  const bool hasSpace = s.find_first_of(" \t") != std::string::npos;
  if (!needsBackslash && !hasSpace) {
    return s;
  }
  if (!needsBackslash) {
    return "\"" + s + "\"";
  }
  std::string out;
  if (hasSpace) {
    out += '"';
  }
  std::size_t slashes = 0;
  for (char c : s) {
    if (c == '\\') {
      ++slashes;
    } else if (c == '"') {
      out.append(slashes + 1, '\\');
      slashes = 0;
    } else {
      slashes = 0;
    }
    out += c;
  }
  if (hasSpace) {
    out.append(slashes, '\\');
    out += '"';
  }
  return out;
}

std::string command_line(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& arg : argv) {
    if (!out.empty()) {
      out += ' ';
    }
    out += escape_argument(arg);
  }
  return out;
}

// The child's environment block: ours, less `unset`, with `overrides` over them. Names compare
// without case, as Windows (and Go's dedupEnv there) does.
std::string environment_block(const std::vector<std::pair<std::string, std::string>>& overrides,
                              const std::vector<std::string>& unset) {
  std::vector<std::pair<std::string, std::string>> wanted;
  for (const auto& [name, value] : overrides) {
    const auto same = std::find_if(wanted.begin(), wanted.end(), [&](const auto& w) {
      return equal_ignoring_case(w.first, name);
    });
    if (same != wanted.end()) {
      same->second = value;
    } else {
      wanted.emplace_back(name, value);
    }
  }
  std::string block;
  for (char** entry = _environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    // Entries such as "=C:=C:\dir" (a drive's current directory) start with '='.
    const std::string_view name = text.substr(0, text.find('=', 1));
    const auto matches = [&](std::string_view other) { return equal_ignoring_case(other, name); };
    if (std::none_of(wanted.begin(), wanted.end(),
                     [&](const auto& w) { return matches(w.first); }) &&
        std::none_of(unset.begin(), unset.end(), matches)) {
      block.append(text);
      block += '\0';
    }
  }
  for (const auto& [name, value] : wanted) {
    block += name + "=" + value;
    block += '\0';
  }
  block += '\0';
  return block;
}

// A pipe whose write end the child inherits; the read end stays ours.
bool make_pipe(Handle& read, Handle& write) {
  SECURITY_ATTRIBUTES inherit{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
  HANDLE r = nullptr;
  HANDLE w = nullptr;
  if (!::CreatePipe(&r, &w, &inherit, 64 * 1024)) {
    return false;
  }
  read.reset(r);
  write.reset(w);
  ::SetHandleInformation(read.get(), HANDLE_FLAG_INHERIT, 0);
  return true;
}

// An inheritable copy of one of our standard handles (for a child that shares our terminal).
Handle inheritable_copy(DWORD which) {
  HANDLE ours = ::GetStdHandle(which);
  HANDLE copy = nullptr;
  if (ours == nullptr || ours == INVALID_HANDLE_VALUE ||
      !::DuplicateHandle(::GetCurrentProcess(), ours, ::GetCurrentProcess(), &copy, 0, TRUE,
                         DUPLICATE_SAME_ACCESS)) {
    return Handle();
  }
  return Handle(copy);
}

// Reads what the pipe holds without blocking, at most 64 KiB a call; closes it at end of file
// (the child and everything that inherited the write end have exited) or on an error.
void drain(Handle& pipe, std::string& into) {
  char buffer[16 * 1024];
  for (int reads = 0; reads < 4; ++reads) {
    DWORD available = 0;
    if (!::PeekNamedPipe(pipe.get(), nullptr, 0, nullptr, &available, nullptr)) {
      pipe.reset();
      return;
    }
    if (available == 0) {
      return;
    }
    DWORD got = 0;
    if (!::ReadFile(pipe.get(), buffer, std::min<DWORD>(available, sizeof buffer), &got, nullptr)) {
      pipe.reset();
      return;
    }
    into.append(buffer, got);
  }
}

// A started child and its output pipes; the destructor kills one still running (with its job:
// everything it started), so no path leaves an orphan behind.
class Child final : public detail::RunningChild {
 public:
  Child(Handle process, Handle job, Handle out, Handle err)
      : process_(std::move(process)),
        job_(std::move(job)),
        out_(std::move(out)),
        err_(std::move(err)) {}
  ~Child() override { kill(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool exited() override { return ::WaitForSingleObject(process_.get(), 0) == WAIT_OBJECT_0; }
  bool out_open() const override { return static_cast<bool>(out_); }
  bool err_open() const override { return static_cast<bool>(err_); }
  void read_out(std::string& into) override { drain(out_, into); }
  void read_err(std::string& into) override { drain(err_, into); }

  // Anonymous pipes cannot be waited on: with a pipe open, slices of 5 ms; waking at once when
  // the child exits.
  bool wait(int ms) override {
    const DWORD slice = static_cast<DWORD>(out_ || err_ ? std::min(ms, 5) : ms);
    if (exited()) {
      ::Sleep(slice);
    } else {
      ::WaitForSingleObject(process_.get(), slice);
    }
    return true;
  }

  // Kills one still running (its job too) and waits for it. One that exited is left alone
  // with whatever it started: a credential helper may leave a caching agent behind on purpose.
  void kill() override {
    if (exited()) {
      return;
    }
    killed_ = true;
    if (!job_ || !::TerminateJobObject(job_.get(), 1)) {
      ::TerminateProcess(process_.get(), 1);
    }
    ::WaitForSingleObject(process_.get(), INFINITE);
  }

  int exit_code() const override {
    DWORD code = 0;
    if (killed_ || !::GetExitCodeProcess(process_.get(), &code) || code == STILL_ACTIVE) {
      return -1;
    }
    return static_cast<int>(code);
  }

 private:
  Handle process_;
  Handle job_;
  Handle out_;
  Handle err_;
  bool killed_ = false;
};

}  // namespace

std::string process_search_path() {
  const char* path = std::getenv("PATH");
  return path != nullptr ? path : "";
}

std::optional<std::string> find_executable(std::string_view name, std::string_view searchPath,
                                           const std::vector<std::string>& extraDirs) {
  if (name.empty()) {
    return std::nullopt;
  }
  const std::vector<std::string> extensions = path_extensions();
  if (has_separator(name)) {
    return find_with_extensions(std::string(name), extensions);
  }
  std::vector<std::string> dirs = split_path_list(searchPath);
  dirs.insert(dirs.end(), extraDirs.begin(), extraDirs.end());
  for (const std::string& dir : dirs) {
    // Go skips empty entries on Windows (as PowerShell does) and, since Go 1.19, never finds
    // a program in the current directory by its bare name.
    if (dir.empty()) {
      continue;
    }
    const char last = dir.back();
    const std::string file = dir + (last == '\\' || last == '/' ? "" : "\\") + std::string(name);
    if (auto found = find_with_extensions(file, extensions)) {
      return found;
    }
  }
  return std::nullopt;
}

Result<ProcessResult, SpawnFailure> run_process(const ProcessSpec& spec) {
  SpawnFailure failure;
  if (spec.argv.empty()) {
    failure.message = "no command";
    return failure;
  }
  const std::string& name = spec.argv.front();
  std::optional<std::string> found = find_executable(
      name, spec.searchPath ? *spec.searchPath : process_search_path(), spec.extraSearchDirs);
  if (!found) {
    failure.notFound = true;
    failure.executable = name;
    if (has_separator(name)) {
      failure.errorNumber = ENOENT;
      failure.message = name + ": " + describe_errno(ENOENT);
    } else {
      failure.message = name + ": executable file not found in %PATH%";
    }
    return failure;
  }
  const std::string executable = std::move(*found);
  failure.executable = executable;
  const bool capture = spec.io == ProcessSpec::Io::capture;

  const auto fail_with = [&](const std::string& step, DWORD code) {
    failure.errorNumber = errno_of(code);
    failure.notFound = failure.errorNumber == ENOENT;
    failure.message = step + ": " + windows_error_text(code);
    return failure;
  };

  Handle outRead, outWrite, errRead, errWrite, in, out, err;
  if (capture) {
    if (!make_pipe(outRead, outWrite) || !make_pipe(errRead, errWrite)) {
      return fail_with("pipe", ::GetLastError());
    }
    if (spec.inheritStdin) {
      in = inheritable_copy(STD_INPUT_HANDLE);
    } else {
      SECURITY_ATTRIBUTES inherit{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
      in = Handle(::CreateFileA("NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, &inherit,
                                OPEN_EXISTING, 0, nullptr));
    }
  } else {
    in = inheritable_copy(STD_INPUT_HANDLE);
    out = inheritable_copy(STD_OUTPUT_HANDLE);
    err = inheritable_copy(STD_ERROR_HANDLE);
  }
  HANDLE stdHandles[3] = {in.get(), capture ? outWrite.get() : out.get(),
                          capture ? errWrite.get() : err.get()};

  // Only these handles reach the child: a pipe another thread is creating at the same moment
  // must not be inherited, or its reader would wait for this child's exit to see end of file.
  std::vector<HANDLE> inherited;
  for (HANDLE h : stdHandles) {
    if (h != nullptr && std::find(inherited.begin(), inherited.end(), h) == inherited.end()) {
      inherited.push_back(h);
    }
  }
  SIZE_T size = 0;
  ::InitializeProcThreadAttributeList(nullptr, 1, 0, &size);
  std::vector<char> attributeStorage(size);
  auto* attributes = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(attributeStorage.data());
  if (!::InitializeProcThreadAttributeList(attributes, 1, 0, &size)) {
    return fail_with("InitializeProcThreadAttributeList", ::GetLastError());
  }
  struct AttributeListOwner {
    LPPROC_THREAD_ATTRIBUTE_LIST list;
    ~AttributeListOwner() { ::DeleteProcThreadAttributeList(list); }
  } attributeOwner{attributes};
  if (!inherited.empty() && !::UpdateProcThreadAttribute(
                                attributes, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherited.data(),
                                inherited.size() * sizeof(HANDLE), nullptr, nullptr)) {
    return fail_with("UpdateProcThreadAttribute", ::GetLastError());
  }

  STARTUPINFOEXA startup{};
  startup.StartupInfo.cb = sizeof startup;
  startup.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  startup.StartupInfo.hStdInput = stdHandles[0];
  startup.StartupInfo.hStdOutput = stdHandles[1];
  startup.StartupInfo.hStdError = stdHandles[2];
  startup.lpAttributeList = attributes;

  std::string cmd = command_line(spec.argv);
  std::string env = environment_block(spec.env, spec.unset);
  // A new process group ignores our console's Ctrl-C, as a POSIX child in its own process group
  // does not get the terminal's SIGINT; suspended until it is in its job.
  DWORD flags = EXTENDED_STARTUPINFO_PRESENT | CREATE_SUSPENDED;
  if (spec.ownProcessGroup) {
    flags |= CREATE_NEW_PROCESS_GROUP;
  }
  PROCESS_INFORMATION info{};
  if (!::CreateProcessA(executable.c_str(), cmd.data(), nullptr, nullptr,
                        inherited.empty() ? FALSE : TRUE, flags, env.data(), nullptr,
                        &startup.StartupInfo, &info)) {
    return fail_with(executable, ::GetLastError());
  }
  Handle process(info.hProcess);
  Handle thread(info.hThread);
  outWrite.reset();  // the child holds the write ends now: EOF when it (and its children) exit
  errWrite.reset();
  in.reset();
  out.reset();
  err.reset();

  // The job: a kill on the deadline takes what the child started too. Without one (a job
  // cannot be made) only the child itself is killed.
  Handle job;
  if (spec.ownProcessGroup) {
    job.reset(::CreateJobObjectA(nullptr, nullptr));
    if (job && !::AssignProcessToJobObject(job.get(), process.get())) {
      job.reset();
    }
  }
  ::ResumeThread(thread.get());
  Child child(std::move(process), std::move(job), std::move(outRead), std::move(errRead));
  return detail::supervise(spec, child);
}

}  // namespace kp::core
