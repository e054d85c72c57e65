#include "certs/layout.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/util/text.h"

namespace kp::certs {
namespace {

constexpr std::string_view kCheckId = "cert.pki";
constexpr core::NameTable<Distro> kDistros[] = {{"kubeadm", Distro::kubeadm},
                                                {"k3s", Distro::k3s},
                                                {"rke2", Distro::rke2},
                                                {"microk8s", Distro::microk8s},
                                                {"openshift", Distro::openshift}};
constexpr std::string_view kPermissionsHint =
    "check the file's permissions (run as root on the node)";

std::string join_root(const std::string& root, const std::string& relative) {
  if (root.empty() || root == "/") {
    return "/" + relative;
  }
  return root.back() == '/' ? root + relative : root + "/" + relative;
}

// "pre*" matches what starts with "pre"; anything else matches itself.
bool matches_pattern(std::string_view pattern, std::string_view value) {
  if (pattern.ends_with('*')) {
    return value.starts_with(pattern.substr(0, pattern.size() - 1));
  }
  return value == pattern;
}

std::string replace_star(const std::string& text, const std::string& with) {
  const auto star = text.find('*');
  return star == std::string::npos ? text : text.substr(0, star) + with + text.substr(star + 1);
}

Layout layout_of(Distro distro) {
  switch (distro) {
    case Distro::k3s:
    case Distro::rke2:
      return k3s_layout(distro);
    case Distro::microk8s:
      return microk8s_layout();
    case Distro::openshift:
      return openshift_layout();
    case Distro::kubeadm:
      break;
  }
  return Layout{Distro::kubeadm, {"etc/kubernetes/pki"}, {}, {}};
}

// Whether one of the layout's marker directories is under `root`.
bool present(const Layout& layout, const PkiFiles& files, const std::string& root) {
  return std::any_of(layout.markers.begin(), layout.markers.end(), [&](const std::string& dir) {
    return files.isDirectory(join_root(root, dir));
  });
}

class LayoutChecker {
 public:
  LayoutChecker(const Layout& layout, const PkiFiles& files, const std::string& root,
                const CommonOptions& common)
      : layout_(layout),
        files_(files),
        root_(root),
        common_(common),
        now_(common.now_unix()),
        distro_(distro_name(layout.distro)) {}

  core::Report run() {
    core::Report report;
    report.tool = "certs";
    std::set<std::string> absentParts;
    for (const LayoutEntry& pattern : layout_.entries) {
      const LayoutPart* part = part_of(pattern);
      if (part != nullptr && !files_.isDirectory(on_disk(part->dir))) {
        if (absentParts.insert(part->dir).second) {
          core::Check check = base_check("/" + part->dir);
          check.status = core::CheckStatus::skip;
          check.message = "/" + part->dir + ": not present (" + part->absent + ")";
          report.checks.push_back(std::move(check));
        }
        continue;
      }
      for (core::Check& check : check_pattern(pattern)) {
        report.checks.push_back(std::move(check));
      }
    }
    return report;
  }

 private:
  std::string on_disk(const std::string& relative) const { return join_root(root_, relative); }

  const LayoutPart* part_of(const LayoutEntry& entry) const {
    for (const LayoutPart& part : layout_.parts) {
      if (entry.path.starts_with(part.dir + "/")) {
        return &part;
      }
    }
    return nullptr;
  }

  core::Check base_check(const std::string& source) const {
    core::Check check;
    check.id = std::string(kCheckId);
    check.layer = core::Layer::cert;
    check.details = {{"source", source}, {"distro", distro_}};
    return check;
  }

  // The entry itself, or one entry per file its '*' matches.
  std::vector<core::Check> check_pattern(const LayoutEntry& pattern) {
    const auto star = pattern.path.find('*');
    if (star == std::string::npos) {
      claimed_.insert(pattern.path);
      return check_entry(pattern);
    }
    const auto slash = pattern.path.rfind('/');
    const std::string dir = pattern.path.substr(0, slash);
    const std::string prefix = pattern.path.substr(slash + 1, star - slash - 1);
    const std::string suffix = pattern.path.substr(star + 1);
    std::vector<core::Check> checks;
    for (const std::string& file : files_.list(on_disk(dir))) {
      const std::string path = dir + "/" + file;
      if (file.size() < prefix.size() + suffix.size() || !file.starts_with(prefix) ||
          !file.ends_with(suffix) || claimed_.count(path) > 0) {
        continue;
      }
      claimed_.insert(path);
      const std::string stem =
          file.substr(prefix.size(), file.size() - prefix.size() - suffix.size());
      LayoutEntry entry = pattern;
      entry.path = path;
      entry.key = replace_star(pattern.key, stem);
      entry.name = replace_star(pattern.name, stem);
      for (core::Check& check : check_entry(entry)) {
        checks.push_back(std::move(check));
      }
    }
    if (checks.empty()) {
      core::Check check = base_check("/" + pattern.path);
      check.details["name"] = pattern.name;
      check.status = pattern.optional ? core::CheckStatus::skip : core::CheckStatus::fail;
      check.message = "/" + pattern.path + ": no such file" +
                      (pattern.optional ? std::string(" (optional)") : std::string());
      check.hint = pattern.optional ? std::string() : pattern.renew;
      checks.push_back(std::move(check));
    }
    return checks;
  }

  // The certificates of the entry called `name`: the first of a certificate or authority, all
  // of a bundle; empty when missing or unreadable (its own check says so).
  const std::vector<core::Certificate>& ca_certs(const std::string& name) {
    if (auto it = cas_.find(name); it != cas_.end()) {
      return it->second;
    }
    std::vector<core::Certificate>& certs = cas_[name];
    for (const LayoutEntry& entry : layout_.entries) {
      if (entry.name != name || entry.path.find('*') != std::string::npos) {
        continue;
      }
      core::Result<std::string> bytes = files_.read(on_disk(entry.path));
      if (!bytes) {
        break;
      }
      core::Result<core::ParsedCertificates> parsed = core::parse_certificates(*bytes);
      if (parsed && !parsed->certs.empty()) {
        certs = entry.kind == EntryKind::bundle
                    ? parsed->certs
                    : std::vector<core::Certificate>{parsed->certs.front()};
      }
      break;
    }
    return certs;
  }

  std::string ca_path(const std::string& name) const {
    for (const LayoutEntry& entry : layout_.entries) {
      if (entry.name == name) {
        return "/" + entry.path;
      }
    }
    return name;
  }

  // The check of a file that is not there, or nullopt when it is.
  std::optional<core::Check> absent(const LayoutEntry& entry, const std::string& source) {
    if (files_.exists(on_disk(entry.path))) {
      return std::nullopt;
    }
    core::Check check = base_check(source);
    check.details["name"] = entry.name;
    if (entry.optional) {
      check.status = core::CheckStatus::skip;
      check.message = source + ": not found (optional)";
      return check;
    }
    check.status = core::CheckStatus::fail;
    check.message = source + ": missing (" + std::string(distro_) + " creates it)";
    check.hint = entry.kind == EntryKind::authority || entry.kind == EntryKind::bundle
                     ? "restore it from a backup: a new CA means re-issuing every certificate "
                       "it signed (" +
                           entry.renew + ")"
                     : entry.renew + " (or restore it from a backup)";
    return check;
  }

  // The file's bytes, or the check saying why they cannot be had.
  core::Result<std::string, core::Check> read(const LayoutEntry& entry, const std::string& source) {
    core::Result<std::string> bytes = files_.read(on_disk(entry.path));
    if (bytes) {
      return std::move(*bytes);
    }
    core::Check check = base_check(source);
    check.details["name"] = entry.name;
    check.status = core::CheckStatus::fail;
    check.message = bytes.error().message;
    check.hint = std::string(kPermissionsHint);
    return check;
  }

  std::vector<core::Check> check_entry(const LayoutEntry& entry) {
    const std::string source = "/" + entry.path;
    if (std::optional<core::Check> missing = absent(entry, source)) {
      return {*missing};
    }
    core::Result<std::string, core::Check> bytes = read(entry, source);
    if (!bytes) {
      return {bytes.error()};
    }
    if (entry.kind == EntryKind::kubeconfig) {
      return check_kubeconfig(entry, source, *bytes);
    }
    if (entry.kind == EntryKind::serviceKey) {
      return {check_service_key(entry, source, *bytes)};
    }
    core::Result<core::ParsedCertificates> parsed = core::parse_certificates(*bytes);
    if (!parsed) {
      core::Check check = base_check(source);
      check.details["name"] = entry.name;
      check.status = core::CheckStatus::fail;
      check.message = source + ": " + parsed.error().message;
      check.hint = "restore it from a backup or re-issue it: " + entry.renew;
      return {check};
    }
    if (entry.kind == EntryKind::bundle) {
      std::vector<core::Check> checks;
      const std::size_t count = parsed->certs.size();
      for (std::size_t i = 0; i < count; ++i) {
        const std::string member = count > 1 ? source + "#" + std::to_string(i) : source;
        checks.push_back(described(check_certificate(parsed->certs[i], kCheckId, member, now_,
                                                     common_.warnWithinSeconds, entry.renew),
                                   entry));
      }
      return checks;
    }
    const core::Certificate& cert = parsed->certs.front();
    core::Check check = described(
        check_certificate(cert, kCheckId, source, now_, warn_within(cert, entry), entry.renew),
        entry);
    check_identity(check, cert, entry);
    if (!entry.key.empty()) {
      detail::check_key_file(check, files_, cert, on_disk(entry.key), entry.renew);
    }
    if (!entry.ca.empty()) {
      const std::vector<core::Certificate>& cas = ca_certs(entry.ca);
      if (!cas.empty()) {
        const std::vector<core::Certificate> rest(parsed->certs.begin() + 1, parsed->certs.end());
        detail::check_signed_by(check, cert, rest, cas, entry.ca, ca_path(entry.ca), now_,
                                entry.renew);
      }
    }
    return {check};
  }

  std::int64_t warn_within(const core::Certificate& cert, const LayoutEntry& entry) const {
    if (!entry.rotated) {
      return common_.warnWithinSeconds;
    }
    const core::CertInfo info = core::inspect(cert);
    return std::min(common_.warnWithinSeconds, (info.notAfterUnix - info.notBeforeUnix) * 2 / 5);
  }

  core::Check described(core::Check check, const LayoutEntry& entry) const {
    check.details["name"] = entry.name;
    if (!entry.ca.empty()) {
      check.details["ca"] = entry.ca;
    }
    check.details["distro"] = distro_;
    return check;
  }

  // The subject and issuer the distribution gives this file: another one in its place (a copy
  // from elsewhere, a swapped pair) fails.
  void check_identity(core::Check& check, const core::Certificate& cert,
                      const LayoutEntry& entry) const {
    const core::CertInfo info = core::inspect(cert);
    const std::string fix = "this is not the certificate " + std::string(distro_) +
                            " keeps here: restore it from a backup, or " + entry.renew;
    if (!entry.cn.empty() && !matches_pattern(entry.cn, info.commonName)) {
      add_problem(check,
                  "subject CN is \"" + info.commonName + "\", not \"" + entry.cn + "\" as " +
                      std::string(distro_) + " makes " + entry.name,
                  fix);
    }
    if (!entry.org.empty() && std::find(info.organizations.begin(), info.organizations.end(),
                                        entry.org) == info.organizations.end()) {
      add_problem(check,
                  "subject O is \"" + core::join(info.organizations, ",") + "\", not \"" +
                      entry.org + "\" as " + std::string(distro_) + " makes " + entry.name,
                  fix);
    }
    if (!entry.issuer.empty()) {
      const std::string issuer = common_name_of(info.issuer);
      if (!matches_pattern(entry.issuer, issuer)) {
        add_problem(check,
                    "issued by \"" + issuer + "\", not by " + std::string(distro_) + "'s \"" +
                        entry.issuer + "\"",
                    "re-issue it from " + entry.issuer + ": " + entry.renew);
      }
    }
  }

  std::vector<core::Check> check_kubeconfig(const LayoutEntry& entry, const std::string& source,
                                            const std::string& bytes) {
    core::Check failure = base_check(source);
    failure.details["name"] = entry.name;
    core::Result<core::Kubeconfig> config = core::parse_kubeconfig(bytes, source);
    if (!config) {
      failure.status = core::CheckStatus::fail;
      failure.message = config.error().message;
      failure.hint = "restore it from a backup, or: " + entry.renew;
      return {failure};
    }
    detail::KubeconfigSpec spec{source,
                                source,
                                entry.ca,
                                ca_certs(entry.ca),
                                ca_path(entry.ca),
                                entry.renew,
                                [this](const std::string& path) {
                                  return path.starts_with("/") ? on_disk(path.substr(1)) : path;
                                }};
    std::vector<core::Check> checks =
        detail::check_kubeconfig_users(files_, *config, spec, kCheckId, common_);
    for (core::Check& check : checks) {
      check.details["name"] = entry.name + check.details.value("source", "").substr(source.size());
      check.details["distro"] = distro_;
    }
    if (checks.empty()) {
      failure.status = entry.optional ? core::CheckStatus::skip : core::CheckStatus::fail;
      failure.message = source + ": no user with a client certificate";
      failure.hint =
          entry.optional ? std::string() : "restore it from a backup, or: " + entry.renew;
      checks.push_back(failure);
    }
    return checks;
  }

  core::Check check_service_key(const LayoutEntry& entry, const std::string& source,
                                const std::string& bytes) const {
    core::Check check = base_check(source);
    check.details["name"] = entry.name;
    core::Result<core::PrivateKey> key = files_.parseKey(bytes);
    if (!key) {
      check.status = core::CheckStatus::fail;
      check.message = source + ": " + key.error().message;
      check.hint =
          "restore it from a backup (a new key invalidates every service account "
          "token): " +
          entry.renew;
      return check;
    }
    const core::KeyInfo info = core::inspect_key(*key);
    check.details["keyType"] = info.keyType;
    check.details["keyBits"] = info.keyBits;
    check.status = core::CheckStatus::ok;
    check.message = "the service-account signing key (" + info.keyType + " " +
                    std::to_string(info.keyBits) + " bits)";
    return check;
  }

  const Layout& layout_;
  const PkiFiles& files_;
  std::string root_;
  const CommonOptions& common_;
  std::int64_t now_;
  std::string_view distro_;
  std::set<std::string> claimed_;
  std::map<std::string, std::vector<core::Certificate>> cas_;
};

void tag(core::Report& report, Distro distro) {
  for (core::Check& check : report.checks) {
    if (check.details.is_null()) {
      check.details = nlohmann::ordered_json::object();
    }
    check.details["distro"] = distro_name(distro);
  }
}

}  // namespace

std::string_view distro_name(Distro distro) {
  return core::name_of(kDistros, distro, "kubeadm");
}

core::Result<std::optional<Distro>> parse_distro(std::string_view text) {
  if (text == "auto") {
    return std::optional<Distro>();
  }
  if (std::optional<Distro> distro = core::value_named(kDistros, text)) {
    return distro;
  }
  return core::Error{"--distro: unknown distribution \"" + std::string(text) +
                     "\": use auto, kubeadm, k3s, rke2, microk8s or openshift"};
}

std::vector<Distro> detect_distros(const PkiFiles& files, const std::string& root) {
  std::vector<Distro> found;
  for (const auto& [name, distro] : kDistros) {
    if (present(layout_of(distro), files, root)) {
      found.push_back(distro);
    }
  }
  return found;
}

core::Report check_layout(const Layout& layout, const PkiFiles& files, const std::string& root,
                          const CommonOptions& common) {
  return LayoutChecker(layout, files, root, common).run();
}

core::Result<core::Report> check_root(const RootOptions& options) {
  std::vector<Distro> distros;
  if (options.distro && *options.distro != Distro::kubeadm) {
    const Layout layout = layout_of(*options.distro);
    if (!present(layout, options.files, options.root)) {
      return core::Error{"no " + std::string(distro_name(*options.distro)) + " files under " +
                         options.root + ": looked for " + core::join(layout.markers, ", ")};
    }
  }
  if (options.distro) {
    distros.push_back(*options.distro);
  } else if (options.kubeadmDir || options.kubeadmKubeconfigDir) {
    distros.push_back(Distro::kubeadm);
  } else {
    distros = detect_distros(options.files, options.root);
  }
  if (distros.empty()) {
    std::vector<std::string> looked;
    for (const auto& [name, distro] : kDistros) {
      looked.push_back(std::string(name) + " (" + core::join(layout_of(distro).markers, ", ") +
                       ")");
    }
    return core::Error{"no Kubernetes certificate layout under " + options.root + ": looked for " +
                       core::join(looked, "; ") +
                       " (run this on a node, or use --root, --distro or --dir)"};
  }
  core::Report report;
  report.tool = "certs";
  for (Distro distro : distros) {
    core::Report part;
    if (distro == Distro::kubeadm) {
      PkiOptions kubeadm;
      kubeadm.common = options.common;
      kubeadm.files = options.files;
      kubeadm.dir = options.kubeadmDir.value_or(join_root(options.root, "etc/kubernetes/pki"));
      kubeadm.kubeconfigDir =
          options.kubeadmKubeconfigDir.value_or(join_root(options.root, "etc/kubernetes"));
      part = check_pki(kubeadm);
    } else {
      part = check_layout(layout_of(distro), options.files, options.root, options.common);
    }
    tag(part, distro);
    for (core::Check& check : part.checks) {
      report.checks.push_back(std::move(check));
    }
  }
  return report;
}

std::string distro_header(const core::Report& report) {
  std::vector<std::string> names;
  for (const core::Check& check : report.checks) {
    if (!check.details.is_object() || !check.details.contains("distro") ||
        !check.details["distro"].is_string()) {
      continue;
    }
    const std::string name = check.details["distro"].get<std::string>();
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(name);
    }
  }
  if (names.empty()) {
    return {};
  }
  return (names.size() == 1 ? "distribution: " : "distributions: ") + core::join(names, ", ");
}

}  // namespace kp::certs
