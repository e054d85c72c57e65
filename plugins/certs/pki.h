// `kubectl certs pki`: a kubeadm PKI directory (/etc/kubernetes/pki) and the client
// certificates embedded in the kubeconfig files next to it (/etc/kubernetes/*.conf), as
// `kubeadm certs check-expiration` sees them, plus key pairing and who signed what. The other
// distributions' layouts (k3s, RKE2, MicroK8s, OpenShift) and the detection are in layout.h.
#pragma once

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "certs/certcheck.h"
#include "core/kube/kubeconfig.h"
#include "core/net/x509.h"

namespace kp::certs {

// Where the PKI's bytes come from: this machine's disk, or what a node's debug pod printed
// (node.h), where only the public half of each key left the node.
struct PkiFiles {
  std::function<bool(const std::string& path)> exists;
  std::function<bool(const std::string& path)> isDirectory;
  std::function<core::Result<std::string>(const std::string& path)> read;
  // A .key file's (or client-key-data's) bytes as a key to compare public halves with.
  std::function<core::Result<core::PrivateKey>(const std::string& pem)> parseKey;
  // The names of the files directly in `dir` (no subdirectories), sorted; empty when none.
  std::function<std::vector<std::string>(const std::string& dir)> list;

  static PkiFiles local();
};

struct PkiOptions {
  CommonOptions common;
  std::string dir = "/etc/kubernetes/pki";
  std::string kubeconfigDir = "/etc/kubernetes";
  PkiFiles files = PkiFiles::local();
};

core::Report check_pki(const PkiOptions& options);
int run_pki(const PkiOptions& options, std::ostream& out, std::ostream& err);

// The subcommand entry point from the command table.
int pki_command(const core::Invocation& invocation);

// The steps every on-disk layout shares (kubeadm's here, the others in layout.cpp).
namespace detail {

// The first certificate of `path`, or nullopt when it is missing or unreadable (the file's own
// check says so).
std::optional<core::Certificate> first_certificate(const PkiFiles& files, const std::string& path);

// Makes `check` fail when the key at `keyPath` cannot be read or is not the pair of `cert`.
void check_key_file(core::Check& check, const PkiFiles& files, const core::Certificate& cert,
                    const std::string& keyPath, const std::string& hint);

// Makes `check` fail unless `cert` (with `intermediates`, the rest of its file) was issued by
// one of `cas` (`caName`, read from `caPath`) and verifies against them; time is left to the
// expiry check.
void check_signed_by(core::Check& check, const core::Certificate& cert,
                     const std::vector<core::Certificate>& intermediates,
                     const std::vector<core::Certificate>& cas, std::string_view caName,
                     const std::string& caPath, std::int64_t now, const std::string& hint);

// What a kubeconfig's users with client certificates are signed by, and how to renew them.
struct KubeconfigSpec {
  std::string path;                    // where it was read, for messages
  std::string name;                    // details.source (and .name) of a single user's check
  std::string caName;                  // details.ca
  std::vector<core::Certificate> cas;  // the CA (or bundle) that signs them; empty: not checked
  std::string caPath;
  std::string hint;  // the fix for expiry and for a broken user
  // Maps a client-certificate/client-key path inside the file to where it is read ("" = as is).
  std::function<std::string(const std::string&)> resolve;
};

// One check (id `id`) per user of `config` with a client certificate (embedded or a file):
// expiry, key pairing, signed by `spec.ca`. Empty when no user has a client certificate.
std::vector<core::Check> check_kubeconfig_users(const PkiFiles& files,
                                                const core::Kubeconfig& config,
                                                const KubeconfigSpec& spec, std::string_view id,
                                                const CommonOptions& common);

}  // namespace detail

}  // namespace kp::certs
