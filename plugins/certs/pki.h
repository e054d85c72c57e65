// `kubectl certs pki`: a kubeadm PKI directory (/etc/kubernetes/pki) and the client
// certificates embedded in the kubeconfig files next to it (/etc/kubernetes/*.conf), as
// `kubeadm certs check-expiration` sees them, plus key pairing and who signed what.
#pragma once

#include <functional>
#include <iosfwd>
#include <string>

#include "certs/certcheck.h"
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

}  // namespace kp::certs
