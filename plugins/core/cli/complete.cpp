#include "core/cli/complete.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <ostream>
#include <set>
#include <streambuf>
#include <utility>

#include "core/kube/apiclient.h"
#include "core/kube/kube.h"

namespace kp::core {
namespace {

// The deadline for asking the API server while the user waits at the prompt.
constexpr std::chrono::milliseconds kApiDeadline{2000};

CompletionRequest* g_request = nullptr;
std::function<CompletionSources()> g_sources_override;

// A stream buffer that drops everything: help and errors printed by the commands while they are
// being completed must not end up among the candidates (kubectl shows the plugin's stderr).
class NullBuffer : public std::streambuf {
 protected:
  int overflow(int c) override { return traits_type::not_eof(c); }
  std::streamsize xsputn(const char*, std::streamsize count) override { return count; }
};

// Restores std::cout and std::cerr on every exit path.
class SilencedStreams {
 public:
  SilencedStreams() : out_(std::cout.rdbuf(&null_)), err_(std::cerr.rdbuf(&null_)) {}
  ~SilencedStreams() {
    std::cout.rdbuf(out_);
    std::cerr.rdbuf(err_);
  }
  SilencedStreams(const SilencedStreams&) = delete;
  SilencedStreams& operator=(const SilencedStreams&) = delete;

 private:
  NullBuffer null_;
  std::streambuf* out_;
  std::streambuf* err_;
};

// Sets the process's completion request for the lifetime of the object.
class ActiveRequest {
 public:
  explicit ActiveRequest(CompletionRequest& request) { g_request = &request; }
  ~ActiveRequest() { g_request = nullptr; }
  ActiveRequest(const ActiveRequest&) = delete;
  ActiveRequest& operator=(const ActiveRequest&) = delete;
};

using OptionDetails = cxxopts::HelpOptionDetails;

std::vector<OptionDetails> all_options(const cxxopts::Options& options) {
  std::vector<OptionDetails> out;
  for (const std::string& group : options.groups()) {
    const auto& details = options.group_help(group).options;
    out.insert(out.end(), details.begin(), details.end());
  }
  return out;
}

// The option's first long name, or its short name: the key cxxopts results use.
std::string key_of(const OptionDetails& option) {
  return option.l.empty() ? option.s : option.l.front();
}

const OptionDetails* find_long(const std::vector<OptionDetails>& options, std::string_view name) {
  const auto found = std::find_if(options.begin(), options.end(), [&](const OptionDetails& o) {
    return std::find(o.l.begin(), o.l.end(), name) != o.l.end();
  });
  return found == options.end() ? nullptr : &*found;
}

const OptionDetails* find_short(const std::vector<OptionDetails>& options, std::string_view name) {
  const auto found = std::find_if(options.begin(), options.end(),
                                  [&](const OptionDetails& o) { return o.s == name; });
  return found == options.end() ? nullptr : &*found;
}

// What the arguments before the word say: which flags were given, and whether the last one is
// still waiting for its value (then the word is that value).
struct Scan {
  std::set<std::string> given;
  const OptionDetails* pendingValue = nullptr;
};

Scan scan_args(const std::vector<OptionDetails>& options, const std::vector<std::string>& args) {
  Scan scan;
  bool positionalOnly = false;
  for (const std::string& arg : args) {
    if (scan.pendingValue != nullptr) {
      scan.pendingValue = nullptr;
      continue;
    }
    if (positionalOnly || arg.size() < 2 || arg[0] != '-') {
      continue;
    }
    if (arg == "--") {
      positionalOnly = true;
      continue;
    }
    const bool isLong = arg[1] == '-';
    const std::string_view body = std::string_view(arg).substr(isLong ? 2 : 1);
    const bool inlineValue = isLong ? body.find('=') != std::string_view::npos : body.size() > 1;
    const OptionDetails* option = isLong ? find_long(options, body.substr(0, body.find('=')))
                                         : find_short(options, body.substr(0, 1));
    if (option == nullptr) {
      continue;
    }
    scan.given.insert(key_of(*option));
    if (!inlineValue && !option->is_boolean) {
      scan.pendingValue = option;
    }
  }
  return scan;
}

// The kubectl flags typed so far, for the kubeconfig and the API server they select. Anything
// that does not parse counts as not typed: completion never fails on a half-typed line.
KubeFlags kube_flags_so_far(cxxopts::Options& options, std::vector<std::string> args,
                            const Scan& scan) {
  if (scan.pendingValue != nullptr && !args.empty()) {
    args.pop_back();  // the flag whose value is being completed
  }
  try {
    const ArgvView argv(options.program(), args);
    Result<KubeFlags> flags = KubeFlags::read_from(options.parse(argv.argc(), argv.argv()));
    if (flags) {
      return std::move(flags).value();
    }
  } catch (const std::exception&) {
    // A flag the command does not know, or a malformed value: use the environment's defaults.
  }
  return KubeFlags{};
}

bool is_lower_word(std::string_view word) {
  return !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

std::string trim(std::string_view text) {
  const auto begin = text.find_first_not_of(' ');
  if (begin == std::string_view::npos) {
    return {};
  }
  return std::string(text.substr(begin, text.find_last_not_of(' ') - begin + 1));
}

Completion names_completion(const std::vector<std::string>& names, std::string_view prefix) {
  Completion completion;
  for (const std::string& name : names) {
    if (name.starts_with(prefix)) {
      completion.candidates.push_back({name, ""});
    }
  }
  return completion;
}

template <typename Map>
std::vector<std::string> keys_of(const Map& map) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : map) {
    keys.push_back(key);
  }
  return keys;
}

Completion complete_value(const OptionDetails& option, std::string_view prefix,
                          const std::function<KubeFlags()>& typedFlags,
                          const CompletionSources& sources) {
  const std::string name = key_of(option);
  if (name == "context" || name == "cluster" || name == "user") {
    Result<Kubeconfig> config = sources.kubeconfig(typedFlags().loading_rules());
    if (!config) {
      return {};
    }
    return names_completion(name == "context"   ? keys_of(config->contexts)
                            : name == "cluster" ? keys_of(config->clusters)
                                                : keys_of(config->users),
                            prefix);
  }
  if (name == "namespace" || name == "node") {
    const KubeFlags flags = typedFlags();
    Result<std::vector<std::string>> names = sources.apiNames(
        flags.loading_rules(), flags.overrides, name == "node" ? "nodes" : "namespaces");
    return names ? names_completion(*names, prefix) : Completion{};
  }
  if (const std::vector<std::string> values = enum_values(option.desc); !values.empty()) {
    return names_completion(values, prefix);
  }
  if (option.arg_help == "PATH" || option.arg_help == "FILE") {
    return {{}, kDirectiveDefault};
  }
  if (option.arg_help == "DIR") {
    return {{}, kDirectiveFilterDirs};
  }
  return {};
}

Completion complete_flag_names(const std::vector<OptionDetails>& options, const Scan& scan,
                               std::string_view word) {
  Completion completion;
  for (const OptionDetails& option : options) {
    // Like cobra: a flag given once is not offered again unless it repeats (a list).
    if (scan.given.contains(key_of(option)) && !option.is_container) {
      continue;
    }
    for (const std::string& name : option.l) {
      if (("--" + name).starts_with(word)) {
        completion.candidates.push_back({"--" + name, option.desc});
      }
    }
    if (!option.s.empty() && ("-" + option.s).starts_with(word)) {
      completion.candidates.push_back({"-" + option.s, option.desc});
    }
  }
  return completion;
}

Result<std::vector<std::string>> api_names(const LoadingRules& rules,
                                           const ConfigOverrides& overrides,
                                           std::string_view resource) {
  Result<ApiClient> client = connect(rules, overrides, kApiDeadline);
  if (!client) {
    return client.error();
  }
  std::vector<std::string> names;
  Result<std::size_t, ApiError> listed = client->list_pages(
      "/api/v1/" + std::string(resource), 500, [&names](const nlohmann::json& page) {
        const nlohmann::json& items = json_member(page, "items");
        if (!items.is_array()) {
          return false;
        }
        for (const nlohmann::json& item : items) {
          std::string name = json_string(json_member(item, "metadata"), "name");
          if (!name.empty()) {
            names.push_back(std::move(name));
          }
        }
        return true;
      });
  if (!listed) {
    return Error{listed.error().message};
  }
  return names;
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// The scripts ask the binary they complete (the first word typed) for the candidates: the same
// `__complete` entry point kubectl's shims use. @BIN@ is kubectl-<tool>, @FN@ a shell-safe name.
constexpr std::string_view kBashScript =
    R"SH(# bash completion for @BIN@, printed by `@BIN@ completion bash`.
# Load it with: source <(@BIN@ completion bash)
__@FN@_complete() {
  local cur words cword
  if declare -F _init_completion >/dev/null 2>&1; then
    _init_completion -n =: || return
  else
    cur=${COMP_WORDS[COMP_CWORD]}
    words=("${COMP_WORDS[@]}")
    cword=$COMP_CWORD
  fi
  local out
  out=$("${words[0]}" __completeNoDesc "${words[@]:1:cword-1}" "$cur" 2>/dev/null) || return 0
  local directive=${out##*:}
  out=${out%:*}
  [[ $directive =~ ^[0-9]+$ ]] || directive=0
  COMPREPLY=()
  (( directive & 1 )) && return 0
  # --flag=value: the answer holds bare values; readline replaces the part after the '='.
  [[ $cur == -*=* ]] && cur=${cur#*=}
  (( directive & 2 )) && compopt -o nospace 2>/dev/null
  local IFS=$'\n'
  if (( directive & 16 )); then
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -d -- "$cur"))
    return 0
  fi
  local line
  while IFS= read -r line; do
    [[ -n $line && $line == "$cur"* ]] && COMPREPLY+=("$line")
  done <<<"$out"
  if (( ${#COMPREPLY[@]} == 0 )) && ! (( directive & 4 )); then
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
  return 0
}
complete -F __@FN@_complete @BIN@
)SH";

constexpr std::string_view kZshScript = R"SH(#compdef @BIN@
# zsh completion for @BIN@, printed by `@BIN@ completion zsh`.
# Load it after compinit with: source <(@BIN@ completion zsh)
__@FN@_complete() {
  local cur=${words[CURRENT]} out directive line value
  local -a lines matches
  out=$(${words[1]} __complete "${(@)words[2,CURRENT-1]}" "$cur" 2>/dev/null) || return 1
  lines=("${(@f)out}")
  directive=${lines[-1]#:}
  [[ $directive == <-> ]] || directive=0
  lines=("${(@)lines[1,-2]}")
  (( directive & 1 )) && return 1
  # --flag=value: the answer holds bare values; complete the part after the '='.
  if [[ $cur == -*=* ]]; then
    compset -P '*='
    cur=${cur#*=}
  fi
  if (( directive & 16 )); then
    _path_files -/
    return
  fi
  for line in "${lines[@]}"; do
    [[ -z $line ]] && continue
    value=${line%%$'\t'*}
    [[ $value == ${cur}* ]] || continue
    if [[ $line == *$'\t'* ]]; then
      matches+=("${value//:/\\:}:${line#*$'\t'}")
    else
      matches+=("${value//:/\\:}")
    fi
  done
  if (( ${#matches} )); then
    if (( directive & 2 )); then
      _describe -t values completion matches -S ''
    else
      _describe -t values completion matches
    fi
  elif ! (( directive & 4 )); then
    _files
  fi
}
compdef __@FN@_complete @BIN@
)SH";

constexpr std::string_view kFishScript =
    R"SH(# fish completion for @BIN@, printed by `@BIN@ completion fish`.
# Load it with: @BIN@ completion fish | source
function __@FN@_complete
    set -l args (commandline -opc)
    set -l cur (commandline -ct)
    set -l out ($args[1] __complete $args[2..-1] "$cur" 2>/dev/null)
    or return
    set -l directive (string replace -r -- '^:' '' $out[-1])
    string match -qr -- '^[0-9]+$' "$directive"; or set directive 0
    set -e out[-1]
    test (math "bitand($directive, 1)") -eq 0; or return
#-- flag = value : the answer holds bare values; fish wants the whole token.
    set -l prefix (string match -r -- '^-[^=]*=' "$cur")
    set -l value (string replace -r -- '^-[^=]*=' '' "$cur")
    if test (math "bitand($directive, 16)") -ne 0
        __fish_complete_directories "$value" | string replace -r -- '^' "$prefix"
        return
    end
    set -l shown 0
    for line in $out
        test -n "$line";
or continue string match - q-- "$value*"(string split - m1 \t-- $line)[1];
or continue
        printf '%s%s\n' "$prefix" "$line"
        set shown 1
    end
    if test $shown -eq 0; and test (math "bitand($directive, 4)") -eq 0
        __fish_complete_path "$value" | string replace -r -- '^' "$prefix"
    end
end
complete -c @BIN@ -f -a '(__@FN@_complete)'
)SH";

}  // namespace

void write_completion(std::ostream& out, const Completion& completion, bool descriptions) {
  for (const Completion::Candidate& candidate : completion.candidates) {
    // One line each: a newline in a value or description would start a new candidate.
    std::string line = candidate.value.substr(0, candidate.value.find('\n'));
    if (descriptions && !candidate.description.empty()) {
      line += '\t' + candidate.description.substr(0, candidate.description.find('\n'));
    }
    out << line << '\n';
  }
  out << ':' << completion.directive << '\n';
}

CompletionSources CompletionSources::system() {
  CompletionSources sources;
  sources.kubeconfig = [](const LoadingRules& rules) { return load_kubeconfig(rules); };
  sources.apiNames = api_names;
  return sources;
}

std::vector<std::string> enum_values(std::string_view description) {
  const auto colon = description.rfind(": ");
  if (colon == std::string_view::npos) {
    return {};
  }
  std::string list(description.substr(colon + 2));
  list = replace_all(list, ", or ", ", ");
  list = replace_all(list, " or ", ", ");
  std::vector<std::string> values;
  for (std::size_t start = 0; start <= list.size();) {
    const auto comma = list.find(',', start);
    const std::string value = trim(std::string_view(list).substr(
        start, comma == std::string::npos ? std::string::npos : comma - start));
    if (!is_lower_word(value)) {
      return {};
    }
    values.push_back(value);
    if (comma == std::string::npos) {
      break;
    }
    start = comma + 1;
  }
  return values.size() >= 2 ? values : std::vector<std::string>();
}

Completion complete_command(cxxopts::Options& options, const std::vector<std::string>& args,
                            std::string_view word, Positionals positionals,
                            const CompletionSources& sources) {
  const std::vector<OptionDetails> details = all_options(options);
  const Scan scan = scan_args(details, args);
  const auto typedFlags = [&] { return kube_flags_so_far(options, args, scan); };
  if (scan.pendingValue != nullptr) {
    return complete_value(*scan.pendingValue, word, typedFlags, sources);
  }
  if (word.starts_with("--") && word.find('=') != std::string_view::npos) {
    const auto equals = word.find('=');
    const OptionDetails* option = find_long(details, word.substr(2, equals - 2));
    if (option == nullptr || option->is_boolean) {
      return {};
    }
    // Bare values, as cobra answers: the shell scripts put the "--flag=" back.
    return complete_value(*option, word.substr(equals + 1), typedFlags, sources);
  }
  if (word.starts_with('-')) {
    return complete_flag_names(details, scan, word);
  }
  if (positionals == Positionals::nodes) {
    const KubeFlags flags = typedFlags();
    Result<std::vector<std::string>> names =
        sources.apiNames(flags.loading_rules(), flags.overrides, "nodes");
    return names ? names_completion(*names, word) : Completion{};
  }
  return {{}, positionals == Positionals::files ? kDirectiveDefault : kDirectiveNoFileComp};
}

Completion complete_subcommands(std::span<const Subcommand> table, std::string_view word) {
  Completion completion;
  if (word.starts_with('-')) {
    for (const auto& [flag, about] :
         {std::pair<std::string, std::string>{"--help", "Show this help"},
          {"--version", "Print the version"}}) {
      if (flag.starts_with(word)) {
        completion.candidates.push_back({flag, about});
      }
    }
    return completion;
  }
  for (const Subcommand& command : table) {
    if (command.name.starts_with(word)) {
      completion.candidates.push_back({std::string(command.name), std::string(command.summary)});
    }
  }
  return completion;
}

CompletionRequest* completion_request() {
  return g_request;
}

std::optional<cxxopts::ParseResult> parse_or_complete(cxxopts::Options& options, int argc,
                                                      const char* const* argv,
                                                      Positionals positionals) {
  CompletionRequest* request = completion_request();
  if (request == nullptr) {
    return options.parse(argc, argv);
  }
  const std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
  request->answer = complete_command(options, args, request->word, positionals, request->sources);
  return std::nullopt;
}

bool is_completion_entry(std::string_view arg) {
  return arg == "__complete" || arg == "__completeNoDesc";
}

void set_completion_sources_override(std::function<CompletionSources()> make) {
  g_sources_override = std::move(make);
}

int run_completion(int argc, char** argv, const std::function<int(int, char**)>& body) {
  CompletionRequest request;
  request.descriptions = argc < 2 || std::string_view(argv[1]) != "__completeNoDesc";
  request.word = argc > 2 ? argv[argc - 1] : "";
  request.sources = g_sources_override ? g_sources_override() : CompletionSources::system();
  // {program, ARGS...}: what the command would have been run with, without the word.
  std::vector<char*> args{argc > 0 ? argv[0] : nullptr};
  for (int i = 2; i < argc - 1; ++i) {
    args.push_back(argv[i]);
  }
  Completion answer;  // a command that does not complete: nothing, and no file names
  // `completion SHELL` is handled by run_main, before any plugin code.
  if (args.size() >= 2 && std::string_view(args[1]) == "completion") {
    if (args.size() == 2) {
      answer = names_completion({"bash", "fish", "zsh"}, request.word);
    }
  } else {
    const int count = static_cast<int>(args.size());
    args.push_back(nullptr);
    std::string failure;
    {
      const SilencedStreams silenced;
      const ActiveRequest active(request);
      try {
        body(count, args.data());
        if (request.answer) {
          answer = std::move(*request.answer);
        }
      } catch (const std::exception& e) {
        answer = {{}, kDirectiveError};
        failure = e.what();
      } catch (...) {
        answer = {{}, kDirectiveError};
        failure = "unknown exception";
      }
    }
    if (!failure.empty()) {
      // The shells drop the helper's stderr (like cobra's "Completion ended with directive").
      std::cerr << "completion failed: " << failure << '\n';
    }
  }
  write_completion(std::cout, answer, request.descriptions);
  return 0;
}

int completion_command(std::string_view tool, const std::vector<std::string>& args,
                       std::ostream& out, std::ostream& err) {
  const std::string usage = "kubectl-" + std::string(tool) + " completion bash|zsh|fish";
  if (wants_help(args)) {
    out << "Print a shell completion script for kubectl-" << tool
        << " run directly (kubectl itself uses kubectl_complete-" << tool << ").\n\nUsage:\n  "
        << usage << "\n\nLoad it with:\n  bash: source <(kubectl-" << tool
        << " completion bash)\n  zsh:  source <(kubectl-" << tool
        << " completion zsh)    (after compinit)\n  fish: kubectl-" << tool
        << " completion fish | source\n";
    return 0;
  }
  if (args.size() != 1) {
    return print_error(err, tool, "give one shell: " + usage);
  }
  const std::string script = completion_script(tool, args[0]);
  if (script.empty()) {
    return print_error(err, tool,
                       "unsupported shell \"" + args[0] + "\": choose bash, zsh or fish");
  }
  out << script;
  return 0;
}

std::string completion_script(std::string_view tool, std::string_view shell) {
  std::string_view script;
  if (shell == "bash") {
    script = kBashScript;
  } else if (shell == "zsh") {
    script = kZshScript;
  } else if (shell == "fish") {
    script = kFishScript;
  } else {
    return {};
  }
  const std::string bin = "kubectl-" + std::string(tool);
  std::string fn = bin;
  std::replace(fn.begin(), fn.end(), '-', '_');
  return replace_all(replace_all(std::string(script), "@BIN@", bin), "@FN@", fn);
}

}  // namespace kp::core
