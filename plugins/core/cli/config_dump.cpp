#include "core/cli/config_dump.h"

#include "core/cli/command.h"
#include "core/net/proxy.h"

namespace kp::core {

bool is_config_entry(std::string_view arg) {
  return arg == "__config";
}

namespace {

std::string ca_source(const ClientConfig& c) {
  if (!c.caFile.empty()) {
    return "file:" + c.caFile;
  }
  return c.caPem.empty() ? "system" : "data";
}

// Where the credential in effect comes from: a file's path, or "data"/"inline"; never its value.
nlohmann::json credential(const ClientConfig& c) {
  nlohmann::json out = nlohmann::json::object();
  if (!c.clientCertPem.empty()) {
    out["clientCertificate"] =
        c.clientCertificateFile.empty() ? "data" : "file:" + c.clientCertificateFile;
    out["clientKey"] = c.clientKeyFile.empty() ? "data" : "file:" + c.clientKeyFile;
  }
  if (!c.token.empty()) {
    out["token"] = c.tokenFilePath.empty() ? "inline" : "file:" + c.tokenFilePath;
  }
  if (!c.username.empty() || !c.password.empty()) {
    out["username"] = c.username;  // a user name, not a secret; the password is never shown
  }
  return out;
}

}  // namespace

nlohmann::json client_config_json(const ClientConfig& c, const EnvLookup& env) {
  nlohmann::json out;
  out["context"] = c.contextName;
  out["cluster"] = c.clusterName;
  out["user"] = c.userName;
  out["namespace"] = c.namespaceName;
  out["server"] = c.server;
  out["tlsServerName"] = c.tlsServerName;
  out["insecure"] = c.insecure;
  out["caSource"] = ca_source(c);
  const ProxyChoice proxy = choose_proxy(c.server, c.proxyUrl, env);
  out["proxy"] = proxy.used ? nlohmann::json{{"url", proxy.url}, {"source", proxy.source}}
                            : nlohmann::json(nullptr);
  out["authMethod"] = c.authMethod;
  out["credential"] = credential(c);
  nlohmann::json extra = nlohmann::json::object();
  for (const auto& [key, values] : c.impersonateUserExtra) {
    extra[key] = values;
  }
  out["impersonate"] = {{"user", c.impersonate},
                        {"uid", c.impersonateUid},
                        {"groups", c.impersonateGroups},
                        {"extra", extra}};
  if (c.exec) {
    std::vector<std::string> envNames;
    for (const auto& [name, value] : c.exec->env) {
      envNames.push_back(name);  // values may be secrets
    }
    out["exec"] = {{"command", c.exec->command},
                   {"args", c.exec->args},
                   {"envNames", envNames},
                   {"apiVersion", c.exec->apiVersion},
                   {"interactiveMode", c.exec->interactiveMode},
                   {"provideClusterInfo", c.exec->provideClusterInfo}};
  } else {
    out["exec"] = nullptr;
  }
  out["inCluster"] = c.inCluster;
  out["sourceFiles"] = c.sourceFiles;
  out["warnings"] = c.warnings;
  return out;
}

int config_command(std::string_view tool, const std::vector<std::string>& args, std::ostream& out,
                   std::ostream& err) {
  const Invocation invocation{.program = "kubectl-" + std::string(tool),
                              .tool = std::string(tool),
                              .command = "__config",
                              .summary = "",
                              .args = args,
                              .out = out,
                              .err = err};
  Command command(invocation, ": print the resolved client configuration as JSON.", "[flags]");
  CommonFlags common;
  common.output = "";
  common.failOn = false;
  if (std::optional<int> done = command.parse(common)) {
    return *done;
  }
  Result<ClientConfig> config = command.client_config();
  if (!config) {
    return command.fail(config.error().message);
  }
  out << client_config_json(*config, process_env()).dump(2) << '\n';
  return 0;
}

}  // namespace kp::core
