// The on-disk certificate layouts of the Kubernetes distributions `kubectl certs pki` and
// `certs node` know: kubeadm (kind nodes included; pki.cpp checks it), k3s and RKE2
// (layout_k3s.cpp), MicroK8s (layout_microk8s.cpp) and OpenShift 4 (layout_openshift.cpp), each
// one data table of files read by one generic checker (layout.cpp), and the detection of which
// of them a root filesystem holds.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "certs/pki.h"
#include "core/util/result.h"

namespace kp::certs {

enum class Distro { kubeadm, k3s, rke2, microk8s, openshift };

// --distro's names ("kubeadm", "k3s", ...), and the value of details.distro.
std::string_view distro_name(Distro distro);
// --distro: auto (nullopt) or a distribution's name.
core::Result<std::optional<Distro>> parse_distro(std::string_view text);

enum class EntryKind {
  certificate,  // a certificate with its key (when `key` is set) and its CA (when `ca` is set)
  authority,    // a CA certificate and its key, checked like a certificate; listed as a CA
  bundle,       // CA certificates without keys: one check per certificate in the file
  kubeconfig,   // a kubeconfig whose users' client certificates are checked (signed by `ca`)
  serviceKey,   // the service-account signing key: it must read as a private key
};

// One file a distribution writes. Paths are relative to the root filesystem and may hold one
// '*' in the file name (a node name): every matching file is checked, and `key` and `name` get
// the same text in place of their '*'. A file matched by an earlier entry is not matched again.
struct LayoutEntry {
  std::string name;  // details.name: the distribution's own name for it
  std::string path;
  EntryKind kind = EntryKind::certificate;
  std::string key;        // its private key; "" when none is kept on disk
  std::string ca;         // the `name` of the entry holding its CA; "" for a root or no CA on disk
  std::string cn;         // the subject CN the distribution gives it; "pre*" = prefix; "" = any
  std::string org;        // a subject O it must carry; "" = any
  std::string issuer;     // the issuer CN when its CA is not on disk ("pre*" = prefix); "" = any
  std::string renew;      // the distribution's renewal command (the hint for expiry)
  bool optional = false;  // absent is normal (a feature off, an older release)
  // Replaced by the platform on its own well before expiry (OpenShift's operators, some after 15
  // of 30 days): a warning comes within --warn-within or 40% of its lifetime, whichever is
  // shorter, so a healthy short-lived certificate does not warn for ever.
  bool rotated = false;
};

// A part of a layout (a server's or an agent's files): when its directory is absent the part is
// one `skip` check saying why, not a missing file per entry.
struct LayoutPart {
  std::string dir;     // relative to the root; entries under it belong to it
  std::string absent;  // why it may be absent ("an agent node: no server certificates")
};

struct Layout {
  Distro distro;
  std::vector<std::string> markers;  // directories (relative to the root); any present: found
  std::vector<LayoutPart> parts;
  std::vector<LayoutEntry> entries;
};

// What to do when OpenShift's `component` operator (kube-apiserver, etcd, ...) does not rotate
// a certificate it owns.
std::string openshift_operator_hint(const std::string& component);

// The tables, one per distribution (kubeadm's is pki.cpp's own).
Layout k3s_layout(Distro distro);  // k3s or rke2: RKE2 is k3s built with Program "rke2"
Layout microk8s_layout();
Layout openshift_layout();

// The distributions whose layout `root` holds, in the order of Distro: kubeadm when
// ROOT/etc/kubernetes/pki is a directory, the others by their tables' markers.
std::vector<Distro> detect_distros(const PkiFiles& files, const std::string& root);

// Every entry of `layout` under `root`: details carry distro, name, ca and source (the path as
// on the node, without `root`).
core::Report check_layout(const Layout& layout, const PkiFiles& files, const std::string& root,
                          const CommonOptions& common);

// `pki --root`: which layouts to check and how.
struct RootOptions {
  CommonOptions common;
  std::string root = "/";
  std::optional<Distro> distro;  // nullopt: every one detected
  // kubeadm's directories when given (--dir, --kubeconfig-dir); else under the root.
  std::optional<std::string> kubeadmDir;
  std::optional<std::string> kubeadmKubeconfigDir;
  PkiFiles files = PkiFiles::local();
};

// The checks of every layout chosen, each tagged details.distro. The error: nothing to check
// (no layout found under the root, with what was looked for).
core::Result<core::Report> check_root(const RootOptions& options);

// The text header of a report whose checks carry details.distro: "distribution: k3s"; "" when
// none does.
std::string distro_header(const core::Report& report);

}  // namespace kp::certs
