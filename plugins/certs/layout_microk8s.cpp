// MicroK8s's certificates, as the snap makes them (canonical/microk8s):
//   microk8s-resources/actions/common/utils.sh  produce_certs (RSA 2048 keys; the CA "CN =
//     10.152.183.1" and front-proxy-ca, 10 years), gen_server_cert and gen_proxy_client_cert
//     (1 year, from certs/csr.conf: server.crt is "CN = 127.0.0.1, O = Canonical"),
//     create_user_certificates (kubelet, client, proxy, scheduler, controller and
//     apiserver-kubelet-client, signed by the CA for 10 years) and create_kubeconfig_x509 (the
//     credentials/*.config files, certificates embedded); the dqlite cluster certificate
//     var/kubernetes/backend/cluster.crt ("CN = k8s", self-signed, RSA 4096);
//   scripts/wrappers/refresh_certs.py  `microk8s refresh-certs --cert` takes ca.crt, server.crt
//     or front-proxy-client.crt (ca.crt re-creates everything the CA signs).
#include "certs/layout.h"

namespace kp::certs {

Layout microk8s_layout() {
  const std::string snap = "var/snap/microk8s/current/";
  const std::string certs = snap + "certs/";
  const std::string refreshCa =
      "microk8s refresh-certs --cert ca.crt (re-creates the CA and every certificate it signs; "
      "other nodes must leave and join again)";
  const auto pair = [&](const std::string& name, EntryKind kind, const std::string& ca,
                        const std::string& cn, const std::string& org, const std::string& renew,
                        bool optional) {
    return LayoutEntry{
        name, certs + name + ".crt", kind, certs + name + ".key", ca, cn, org, "", renew, optional};
  };
  const auto user = [&](const std::string& name, const std::string& cn, const std::string& org) {
    // Older releases authenticated these components with tokens: the files may be absent.
    return pair(name, EntryKind::certificate, "ca", cn, org, refreshCa, true);
  };
  const auto kubeconfig = [&](const std::string& name) {
    return LayoutEntry{"credentials/" + name,
                       snap + "credentials/" + name,
                       EntryKind::kubeconfig,
                       "",
                       "ca",
                       "",
                       "",
                       "",
                       refreshCa,
                       true};
  };

  Layout layout{Distro::microk8s, {snap + "certs"}, {}, {}};
  layout.entries = {
      pair("ca", EntryKind::authority, "", "10.152.183.1", "", refreshCa, false),
      pair("front-proxy-ca", EntryKind::authority, "", "front-proxy-ca", "",
           "move front-proxy-ca.crt and front-proxy-ca.key away, then microk8s refresh-certs "
           "--cert ca.crt (produce_certs makes a missing front-proxy CA, then re-issues what "
           "it signs)",
           false),
      pair("server", EntryKind::certificate, "ca", "127.0.0.1", "Canonical",
           "microk8s refresh-certs --cert server.crt", false),
      pair("front-proxy-client", EntryKind::certificate, "front-proxy-ca", "front-proxy-client", "",
           "microk8s refresh-certs --cert front-proxy-client.crt", false),
      user("kubelet", "system:node:*", "system:nodes"),
      user("client", "admin", "system:masters"),
      user("proxy", "system:kube-proxy", ""),
      user("scheduler", "system:kube-scheduler", ""),
      user("controller", "system:kube-controller-manager", ""),
      user("apiserver-kubelet-client", "kube-apiserver-kubelet-client", "system:masters"),
      LayoutEntry{"serviceaccount.key", certs + "serviceaccount.key", EntryKind::serviceKey, "", "",
                  "", "", "", "restore it from the certs-backup folder", false},
      LayoutEntry{"dqlite cluster", snap + "var/kubernetes/backend/cluster.crt",
                  EntryKind::certificate, snap + "var/kubernetes/backend/cluster.key", "", "k8s",
                  "", "", "restore it from a backup: every dqlite node shares this certificate",
                  true},
      kubeconfig("client.config"),
      kubeconfig("controller.config"),
      kubeconfig("scheduler.config"),
      kubeconfig("proxy.config"),
      kubeconfig("kubelet.config"),
  };
  return layout;
}

}  // namespace kp::certs
