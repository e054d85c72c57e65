#include "certs/pki.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <map>
#include <optional>
#include <ostream>

#include "certs/layout.h"
#include "core/kube/kubeconfig.h"
#include "core/util/files.h"

namespace kp::certs {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kCheckId = "cert.pki";
constexpr std::string_view kCaHint =
    "CAs are not renewed by kubeadm certs renew: see 'Manual certificate renewal' / kubeadm "
    "certs generate-csr";
constexpr std::string_view kKubeletHint =
    "kubelet client certificates rotate on their own (rotateCertificates); check "
    "/var/lib/kubelet/pki/kubelet-client-current.pem";

// One certificate kubeadm writes under the PKI directory.
struct PkiCert {
  std::string_view name;   // path under --dir without .crt/.key
  std::string_view renew;  // `kubeadm certs renew` name; "" for a CA
  std::string_view ca;     // the CA that signs it; "" for a CA
  bool etcd;               // absent with external etcd
};

constexpr std::array<PkiCert, 10> kPkiCerts{{
    {"ca", "", "", false},
    {"apiserver", "apiserver", "ca", false},
    {"apiserver-kubelet-client", "apiserver-kubelet-client", "ca", false},
    {"apiserver-etcd-client", "apiserver-etcd-client", "etcd/ca", true},
    {"front-proxy-ca", "", "", false},
    {"front-proxy-client", "front-proxy-client", "front-proxy-ca", false},
    {"etcd/ca", "", "", true},
    {"etcd/server", "etcd-server", "etcd/ca", true},
    {"etcd/peer", "etcd-peer", "etcd/ca", true},
    {"etcd/healthcheck-client", "etcd-healthcheck-client", "etcd/ca", true},
}};

struct KubeconfigFile {
  std::string_view name;
  bool optional;
};

constexpr std::array<KubeconfigFile, 5> kKubeconfigFiles{{
    {"admin.conf", false},
    {"super-admin.conf", true},
    {"controller-manager.conf", false},
    {"scheduler.conf", false},
    {"kubelet.conf", false},
}};

// kubeadm's name for a certificate under the PKI directory, as `kubeadm certs
// check-expiration` prints it: "etcd/server" is "etcd-server", "etcd/ca" is "etcd-ca".
std::string kubeadm_name(std::string_view path) {
  std::string name(path);
  std::replace(name.begin(), name.end(), '/', '-');
  return name;
}

core::Check base_check(const std::string& source, std::string_view ca) {
  core::Check check;
  check.id = std::string(kCheckId);
  check.layer = core::Layer::cert;
  check.details = {{"source", source}};
  if (!ca.empty()) {
    check.details["ca"] = kubeadm_name(ca);
  }
  return check;
}

std::string renew_hint(std::string_view renew) {
  return renew.empty() ? std::string(kCaHint) : "kubeadm certs renew " + std::string(renew);
}

class PkiChecker {
 public:
  explicit PkiChecker(const PkiOptions& options)
      : options_(options), now_(options.common.now_unix()) {}

  core::Report run() {
    core::Report report;
    report.tool = "certs";
    const bool localEtcd = files().isDirectory((fs::path(options_.dir) / "etcd").string());
    for (const PkiCert& spec : kPkiCerts) {
      report.checks.push_back(check_pki_cert(spec, localEtcd));
    }
    report.checks.push_back(check_service_account_keys());
    for (const KubeconfigFile& file : kKubeconfigFiles) {
      for (core::Check& check : check_kubeconfig(file)) {
        report.checks.push_back(std::move(check));
      }
    }
    return report;
  }

 private:
  const PkiFiles& files() const { return options_.files; }

  std::string path_of(std::string_view name, std::string_view ext) const {
    return (fs::path(options_.dir) / (std::string(name) + std::string(ext))).string();
  }

  // The CA's certificate, or nullopt when it is missing or unreadable (its own check says so).
  std::optional<core::Certificate> ca_cert(std::string_view name) {
    const std::string key(name);
    if (auto it = cas_.find(key); it != cas_.end()) {
      return it->second;
    }
    return cas_[key] = detail::first_certificate(files(), path_of(name, ".crt"));
  }

  void check_signed_by(core::Check& check, const core::Certificate& cert, std::string_view caName,
                       const std::string& hint) {
    if (const std::optional<core::Certificate> ca = ca_cert(caName)) {
      detail::check_signed_by(check, cert, {}, {*ca}, caName, path_of(caName, ".crt"), now_, hint);
    }
  }

  core::Check check_pki_cert(const PkiCert& spec, bool localEtcd) {
    const std::string crtPath = path_of(spec.name, ".crt");
    const std::string keyPath = path_of(spec.name, ".key");
    const std::string hint = renew_hint(spec.renew);
    core::Check check = base_check(crtPath, spec.ca);
    check.details["name"] = kubeadm_name(spec.name);
    if (!files().exists(crtPath)) {
      if (spec.etcd && !localEtcd) {
        check.status = core::CheckStatus::skip;
        check.message =
            crtPath + ": not found; " + options_.dir + " has no etcd folder (external etcd)";
        return check;
      }
      check.status = core::CheckStatus::fail;
      check.message = crtPath + ": missing (kubeadm always creates it)";
      check.hint = spec.renew.empty()
                       ? "restore it from a backup: a new CA means re-issuing every certificate "
                         "it signed (kubeadm init phase certs)"
                       : "kubeadm init phase certs " + std::string(spec.renew) +
                             " (or restore it from a backup)";
      return check;
    }
    core::Result<std::string> bytes = files().read(crtPath);
    if (!bytes) {
      check.status = core::CheckStatus::fail;
      check.message = bytes.error().message;
      check.hint = "check the file's permissions (run as root on the control-plane node)";
      return check;
    }
    core::Result<core::ParsedCertificates> parsed = core::parse_certificates(*bytes);
    if (!parsed) {
      check.status = core::CheckStatus::fail;
      check.message = crtPath + ": " + parsed.error().message;
      check.hint = "restore it from a backup or re-issue it: " + hint;
      return check;
    }
    const core::Certificate& cert = parsed->certs.front();
    nlohmann::ordered_json extra = check.details;
    check =
        check_certificate(cert, kCheckId, crtPath, now_, options_.common.warnWithinSeconds, hint);
    for (const auto& [key, value] : extra.items()) {
      check.details[key] = value;
    }
    // The key next to it. A CA without its key is kubeadm's "external CA" mode (EXTERNALLY
    // MANAGED yes).
    if (spec.renew.empty() && !files().exists(keyPath)) {
      check.details["externallyManaged"] = true;
    } else {
      detail::check_key_file(check, files(), cert, keyPath, hint);
    }
    if (!spec.ca.empty()) {
      check_signed_by(check, cert, spec.ca, hint);
    }
    return check;
  }

  core::Check check_service_account_keys() {
    const std::string keyPath = path_of("sa", ".key");
    const std::string pubPath = path_of("sa", ".pub");
    core::Check check = base_check(keyPath, "");
    check.details["name"] = "sa";
    const std::string hint =
        "restore sa.key and sa.pub from a backup (a new pair invalidates every service account "
        "token)";
    core::Result<std::string> keyBytes = files().read(keyPath);
    core::Result<std::string> pubBytes = files().read(pubPath);
    if (!keyBytes || !pubBytes) {
      check.status = core::CheckStatus::fail;
      check.message = !keyBytes ? keyBytes.error().message : pubBytes.error().message;
      check.hint = hint;
      return check;
    }
    core::Result<core::PrivateKey> key = files().parseKey(*keyBytes);
    if (!key) {
      check.status = core::CheckStatus::fail;
      check.message = keyPath + ": " + key.error().message;
      check.hint = hint;
      return check;
    }
    core::Result<core::PrivateKey> pub = core::parse_public_key(*pubBytes);
    if (!pub) {
      check.status = core::CheckStatus::fail;
      check.message = pubPath + ": " + pub.error().message;
      check.hint = hint;
      return check;
    }
    if (core::public_key_sha256(*key) != core::public_key_sha256(*pub)) {
      check.status = core::CheckStatus::fail;
      check.message = "sa.pub is not the public half of sa.key";
      check.hint = hint;
      return check;
    }
    const core::KeyInfo info = core::inspect_key(*key);
    check.details["keyType"] = info.keyType;
    check.details["keyBits"] = info.keyBits;
    check.status = core::CheckStatus::ok;
    check.message = "sa.pub is the public half of sa.key";
    return check;
  }

  std::vector<core::Check> check_kubeconfig(const KubeconfigFile& file) {
    const std::string path = (fs::path(options_.kubeconfigDir) / file.name).string();
    const std::string name(file.name);
    const bool kubelet = name == "kubelet.conf";
    const std::string hint = kubelet ? std::string(kKubeletHint) : "kubeadm certs renew " + name;
    core::Check missing = base_check(name, "ca");
    if (!files().exists(path)) {
      if (file.optional) {
        missing.status = core::CheckStatus::skip;
        missing.message = path + ": not found (optional)";
      } else {
        missing.status = core::CheckStatus::fail;
        missing.message = path + ": missing (kubeadm always creates it)";
        missing.hint = "kubeadm init phase kubeconfig " +
                       name.substr(0, name.size() - std::string_view(".conf").size());
      }
      return {missing};
    }
    core::Result<std::string> bytes = files().read(path);
    if (!bytes) {
      missing.status = core::CheckStatus::fail;
      missing.message = bytes.error().message;
      missing.hint = "check the file's permissions (run as root on the control-plane node)";
      return {missing};
    }
    core::Result<core::Kubeconfig> config = core::parse_kubeconfig(*bytes, path);
    if (!config) {
      missing.status = core::CheckStatus::fail;
      missing.message = config.error().message;
      missing.hint = "restore it from a backup, or: " + hint;
      return {missing};
    }
    const std::optional<core::Certificate> ca = ca_cert("ca");
    detail::KubeconfigSpec spec{
        path,
        name,
        "ca",
        ca ? std::vector<core::Certificate>{*ca} : std::vector<core::Certificate>{},
        path_of("ca", ".crt"),
        hint,
        {}};
    std::vector<core::Check> checks =
        detail::check_kubeconfig_users(files(), *config, spec, kCheckId, options_.common);
    if (checks.empty()) {
      missing.status = core::CheckStatus::fail;
      missing.message = path + ": no user with a client certificate";
      missing.hint = "restore it from a backup, or: " + hint;
      checks.push_back(missing);
    }
    return checks;
  }

  const PkiOptions& options_;
  std::int64_t now_;
  std::map<std::string, std::optional<core::Certificate>> cas_;
};

}  // namespace

namespace detail {

std::optional<core::Certificate> first_certificate(const PkiFiles& files, const std::string& path) {
  core::Result<std::string> bytes = files.read(path);
  if (!bytes) {
    return std::nullopt;
  }
  core::Result<core::ParsedCertificates> parsed = core::parse_certificates(*bytes);
  if (!parsed || parsed->certs.empty()) {
    return std::nullopt;
  }
  return parsed->certs.front();
}

void check_key_file(core::Check& check, const PkiFiles& files, const core::Certificate& cert,
                    const std::string& keyPath, const std::string& hint) {
  core::Result<std::string> keyBytes = files.read(keyPath);
  if (!keyBytes) {
    add_problem(check, "cannot read its key: " + keyBytes.error().message,
                "restore " + keyPath + " from a backup, or re-issue both: " + hint);
  } else if (core::Result<core::PrivateKey> key = files.parseKey(*keyBytes); !key) {
    add_problem(check, keyPath + ": " + key.error().message,
                "restore " + keyPath + " from a backup, or re-issue both: " + hint);
  } else if (!core::key_matches(cert, *key)) {
    add_problem(check, "does not match its key " + keyPath,
                "the .crt and .key come from different pairs: restore the pair from a backup "
                "or re-issue both: " +
                    hint);
  }
}

void check_signed_by(core::Check& check, const core::Certificate& cert,
                     const std::vector<core::Certificate>& intermediates,
                     const std::vector<core::Certificate>& cas, std::string_view caName,
                     const std::string& caPath, std::int64_t now, const std::string& hint) {
  const bool issued = std::any_of(cas.begin(), cas.end(), [&cert](const core::Certificate& ca) {
    return core::issued_by(cert, ca);
  });
  if (!issued) {
    add_problem(check, "not signed by " + std::string(caName) + " (" + caPath + ")",
                "re-issue it from " + std::string(caName) + ": " + hint);
    return;
  }
  const core::VerifyOutcome outcome = core::verify_chain(cert, intermediates, cas, now, "");
  for (const core::VerifyProblem& problem : outcome.problems) {
    if (problem.failure != core::VerifyFailure::expired &&
        problem.failure != core::VerifyFailure::notYetValid) {
      add_problem(check, "does not verify against " + std::string(caName) + ": " + problem.reason,
                  "re-issue it from " + std::string(caName) + ": " + hint);
      return;
    }
  }
}

std::vector<core::Check> check_kubeconfig_users(const PkiFiles& files,
                                                const core::Kubeconfig& config,
                                                const KubeconfigSpec& spec, std::string_view id,
                                                const CommonOptions& common) {
  const std::int64_t now = common.now_unix();
  const auto resolve = [&spec](const std::string& path) {
    return spec.resolve ? spec.resolve(path) : path;
  };
  std::vector<core::Check> checks;
  for (const auto& [userName, user] : config.users) {
    const std::string source =
        config.users.size() == 1 ? spec.name : spec.name + "/user/" + userName;
    core::Check check;
    check.id = std::string(id);
    check.layer = core::Layer::cert;
    check.details = {{"source", source}, {"ca", spec.caName}};
    std::string certPem = user.clientCertificateData;
    std::string keyPem = user.clientKeyData;
    if (certPem.empty() && !user.clientCertificate.empty()) {
      core::Result<std::string> read = files.read(resolve(user.clientCertificate));
      if (!read) {
        check.status = core::CheckStatus::fail;
        check.message =
            spec.path + ": users[" + userName + "] client-certificate: " + read.error().message;
        check.hint = spec.hint;
        checks.push_back(check);
        continue;
      }
      certPem = *read;
    }
    if (keyPem.empty() && !user.clientKey.empty()) {
      if (core::Result<std::string> read = files.read(resolve(user.clientKey)); read) {
        keyPem = *read;
      }
    }
    if (certPem.empty()) {
      continue;  // a token or exec user: no certificate to check
    }
    core::Result<core::ParsedCertificates> parsed = core::parse_certificates(certPem);
    if (!parsed) {
      check.status = core::CheckStatus::fail;
      check.message = spec.path + ": client certificate: " + parsed.error().message;
      check.hint = spec.hint;
      checks.push_back(check);
      continue;
    }
    const core::Certificate& cert = parsed->certs.front();
    check = check_certificate(cert, id, source, now, common.warnWithinSeconds, spec.hint);
    check.details["ca"] = spec.caName;
    check.details["name"] = source;
    if (!keyPem.empty()) {
      core::Result<core::PrivateKey> key = files.parseKey(keyPem);
      if (!key) {
        add_problem(check, "client key: " + key.error().message, spec.hint);
      } else if (!core::key_matches(cert, *key)) {
        add_problem(check, "does not match its key (client-key-data)", spec.hint);
      }
    }
    if (!spec.cas.empty()) {
      const std::vector<core::Certificate> rest(parsed->certs.begin() + 1, parsed->certs.end());
      detail::check_signed_by(check, cert, rest, spec.cas, spec.caName, spec.caPath, now,
                              spec.hint);
    }
    checks.push_back(check);
  }
  return checks;
}

}  // namespace detail

PkiFiles PkiFiles::local() {
  PkiFiles files;
  files.exists = [](const std::string& path) {
    std::error_code ec;
    return fs::exists(path, ec);
  };
  files.isDirectory = [](const std::string& path) {
    std::error_code ec;
    return fs::is_directory(path, ec);
  };
  files.read = [](const std::string& path) { return core::read_file(path); };
  files.parseKey = [](const std::string& pem) { return core::parse_private_key(pem); };
  files.list = [](const std::string& dir) {
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code typeError;
      if (it->is_regular_file(typeError)) {
        names.push_back(it->path().filename().string());
      }
    }
    std::sort(names.begin(), names.end());
    return names;
  };
  return files;
}

core::Report check_pki(const PkiOptions& options) {
  return PkiChecker(options).run();
}

int run_pki(const PkiOptions& options, std::ostream& out, std::ostream& /*err*/) {
  return finish(out, check_pki(options), options.common);
}

int pki_command(const core::Invocation& invocation) {
  namespace fs = std::filesystem;
  cxxopts::Options cli = core::command_options(
      invocation,
      ": the certificates of the Kubernetes distribution found under --root (kubeadm and kind, "
      "k3s, RKE2, MicroK8s, OpenShift 4): each one's CA, key pairing, expiry and subject, the "
      "service-account key, and the client certificates in the kubeconfig files, with that "
      "distribution's renewal command.",
      "[flags]");
  cli.add_options("")  //
      ("root", "The root filesystem to look for the distributions' files under",
       cxxopts::value<std::string>()->default_value("/"), "DIR")  //
      ("distro", "The distribution: auto, kubeadm, k3s, rke2, microk8s or openshift",
       cxxopts::value<std::string>()->default_value("auto"), "NAME")  //
      ("dir", "The kubeadm PKI directory",
       cxxopts::value<std::string>()->default_value("/etc/kubernetes/pki"), "DIR")  //
      ("kubeconfig-dir", "Where kubeadm's kubeconfig files are (admin.conf, ...)",
       cxxopts::value<std::string>()->default_value("/etc/kubernetes"), "DIR");
  core::Result<ParsedCommand, int> command = parse_command(invocation, cli, false);
  if (!command) {
    return command.error();
  }
  const cxxopts::ParseResult& parsed = command->parsed;
  RootOptions options;
  options.common = command->common;
  options.root = parsed["root"].as<std::string>();
  core::Result<std::optional<Distro>> distro = parse_distro(parsed["distro"].as<std::string>());
  if (!distro) {
    return core::print_error(invocation.err, invocation.tool, distro.error().message);
  }
  options.distro = *distro;
  const bool kubeadmDirs = parsed.count("dir") > 0 || parsed.count("kubeconfig-dir") > 0;
  if (kubeadmDirs && options.distro && *options.distro != Distro::kubeadm) {
    return core::print_error(invocation.err, invocation.tool,
                             "--dir and --kubeconfig-dir are kubeadm's: use --root with --distro " +
                                 std::string(distro_name(*options.distro)));
  }
  if (parsed.count("dir") > 0) {
    options.kubeadmDir = parsed["dir"].as<std::string>();
  }
  if (parsed.count("kubeconfig-dir") > 0) {
    options.kubeadmKubeconfigDir = parsed["kubeconfig-dir"].as<std::string>();
  }
  std::error_code ec;
  if (options.kubeadmDir && !fs::is_directory(*options.kubeadmDir, ec)) {
    return core::print_error(invocation.err, invocation.tool,
                             "--dir: " + *options.kubeadmDir +
                                 ": no such directory (run this on a control-plane node, or "
                                 "use --dir)");
  }
  if (!fs::is_directory(options.root, ec)) {
    return core::print_error(invocation.err, invocation.tool,
                             "--root: " + options.root + ": no such directory");
  }
  core::Result<core::Report> report = check_root(options);
  if (!report) {
    return core::print_error(invocation.err, invocation.tool, report.error().message);
  }
  return finish(invocation.out, *report, options.common);
}

}  // namespace kp::certs
