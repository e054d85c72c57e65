// k3s's and RKE2's certificates, as k3s writes them (RKE2 is k3s built with version.Program
// "rke2": the same code, "rke2" in names and paths). From k3s-io/k3s:
//   pkg/daemons/control/deps/deps.go  CreateRuntimeCertFiles (file names), genClientCerts,
//     genServerCerts, genRequestHeaderCerts, genETCDCerts (CN, O, which CA signs what; each CA
//     "<prefix>-ca@<unix time>"; leaf files hold the leaf then its CA), genServiceAccount;
//   pkg/util/services/services.go  FilesForServices: the --service of `certificate rotate`
//     that re-issues each file (CAs: `certificate rotate-ca`);
//   pkg/agent/config/config.go  the agent's copies of client-ca.crt and server-ca.crt,
//     serving-kubelet.crt and the client certificates the supervisor signs for the agent;
//   pkg/cli/cmds/server.go  the admin kubeconfig, /etc/rancher/<program>/<program>.yaml.
// rancher/rke2 pkg/cli/cmds/cert.go: `rke2 certificate rotate` is k3s's, data-dir
// /var/lib/rancher/rke2.
#include "certs/layout.h"

namespace kp::certs {

Layout k3s_layout(Distro distro) {
  const std::string program(distro_name(distro));
  const std::string server = "var/lib/rancher/" + program + "/server/tls/";
  const std::string agent = "var/lib/rancher/" + program + "/agent/";
  const std::string rotate = program + " certificate rotate --service ";
  const std::string restart = ", then restart " + program;
  const std::string rotateCa =
      program + " certificate rotate-ca --path DIR with new CA files (not rotated by " + program +
      " certificate rotate: see the " + program + " docs, 'CA certificate rotation')";

  // A CA: NAME.crt and NAME.key, CN "<prefix>-ca@<time>".
  const auto authority = [&](const std::string& name, const std::string& cnPrefix) {
    return LayoutEntry{name,
                       server + name + ".crt",
                       EntryKind::authority,
                       server + name + ".key",
                       "",
                       cnPrefix + "-ca@*",
                       "",
                       "",
                       rotateCa};
  };
  // A certificate the server signs for itself: NAME.crt and NAME.key.
  const auto leaf = [&](const std::string& name, const std::string& ca, const std::string& cn,
                        const std::string& org, const std::string& service) {
    return LayoutEntry{name,
                       server + name + ".crt",
                       EntryKind::certificate,
                       server + name + ".key",
                       ca,
                       cn,
                       org,
                       "",
                       rotate + service + restart};
  };
  // A certificate the agent keeps under its data dir, signed by its copy of a CA.
  const auto agentLeaf = [&](const std::string& name, const std::string& ca, const std::string& cn,
                             const std::string& org, const std::string& service, bool optional) {
    return LayoutEntry{"agent/" + name,
                       agent + name + ".crt",
                       EntryKind::certificate,
                       agent + name + ".key",
                       ca,
                       cn,
                       org,
                       "",
                       rotate + service + restart,
                       optional};
  };
  const auto agentCa = [&](const std::string& name) {
    return LayoutEntry{"agent/" + name,
                       agent + name + ".crt",
                       EntryKind::bundle,
                       "",
                       "",
                       "",
                       "",
                       "",
                       "the agent copies it from the server at start: restart " + program};
  };

  Layout layout{distro, {}, {}, {}};
  layout.markers = {"var/lib/rancher/" + program + "/server/tls",
                    "var/lib/rancher/" + program + "/agent"};
  layout.parts = {
      {"var/lib/rancher/" + program + "/server",
       "an agent node: the server certificates live on the server nodes"},
      {"var/lib/rancher/" + program + "/agent", "no agent has started on this node yet"},
  };
  layout.entries = {
      authority("server-ca", program + "-server"),
      authority("client-ca", program + "-client"),
      authority("request-header-ca", program + "-request-header"),
      authority("etcd/server-ca", "etcd-server"),
      authority("etcd/peer-ca", "etcd-peer"),
      leaf("serving-kube-apiserver", "server-ca", "kube-apiserver", "", "api-server"),
      leaf("client-admin", "client-ca", "system:admin", "system:masters", "admin"),
      leaf("client-supervisor", "client-ca", "system:" + program + "-supervisor", "system:masters",
           "supervisor"),
      leaf("client-controller", "client-ca", "system:kube-controller-manager", "",
           "controller-manager"),
      leaf("client-scheduler", "client-ca", "system:kube-scheduler", "", "scheduler"),
      leaf("client-kube-apiserver", "client-ca", "system:kube-apiserver", "system:masters",
           "api-server"),
      leaf("client-kube-proxy", "client-ca", "system:kube-proxy", "", "kube-proxy"),
      leaf("client-" + program + "-controller", "client-ca", "system:" + program + "-controller",
           "", program + "-controller"),
      leaf("client-" + program + "-cloud-controller", "client-ca",
           program + "-cloud-controller-manager", "", "cloud-controller"),
      leaf("client-auth-proxy", "request-header-ca", "system:auth-proxy", "", "auth-proxy"),
      leaf("etcd/client", "etcd/server-ca", "etcd-client", "", "etcd"),
      leaf("etcd/server-client", "etcd/server-ca", "etcd-server", "", "etcd"),
      leaf("etcd/peer-server-client", "etcd/peer-ca", "etcd-peer", "", "etcd"),
      LayoutEntry{"service.key", server + "service.key", EntryKind::serviceKey, "", "", "", "", "",
                  "restore " + server + "service.key from a backup, then restart " + program},
      LayoutEntry{program + ".yaml", "etc/rancher/" + program + "/" + program + ".yaml",
                  EntryKind::kubeconfig, "", "client-ca", "", "", "",
                  rotate + "admin" + restart + " (it rewrites " + program + ".yaml)", true},
      agentCa("client-ca"),
      agentCa("server-ca"),
      agentLeaf("client-kubelet", "agent/client-ca", "system:node:*", "system:nodes", "kubelet",
                false),
      agentLeaf("serving-kubelet", "agent/server-ca", "", "", "kubelet", false),
      agentLeaf("client-kube-proxy", "agent/client-ca", "system:kube-proxy", "", "kube-proxy",
                false),
      // Written by agents of releases that run the program's own controller with its own identity.
      agentLeaf("client-" + program + "-controller", "agent/client-ca",
                "system:" + program + "-controller", "", program + "-controller", true),
  };
  return layout;
}

}  // namespace kp::certs
