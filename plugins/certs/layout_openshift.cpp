// OpenShift 4's control-plane certificates on a control-plane node: the operators copy their
// Secrets (tls.crt, tls.key) and ConfigMaps (ca-bundle.crt) into
// /etc/kubernetes/static-pod-resources/<component>-certs/{secrets,configmaps}/<name>/. From
// openshift/origin tls/ (the certificate ownership docs: names, locations, CNs and signers of the
// kube-apiserver serving certificates: kube-apiserver-localhost-signer, -service-network-signer,
// -lb-signer, ..._localhost-recovery-serving-signer@<time>) and the same directories as
// openshift's own certificate monitors list them. The signers' keys stay in the operators'
// namespaces, so serving certificates are checked by issuer name; client certificates against
// the client-ca and aggregator-client-ca bundles on disk; etcd's (one file per node name) against
// etcd-serving-ca and etcd-peer-client-ca. Nothing here is renewed by hand: the operators rotate
// it, and the hint says what to look at when they do not.
#include "certs/layout.h"

namespace kp::certs {

std::string openshift_operator_hint(const std::string& component) {
  return "OpenShift's " + component + " operator rotates it; when it does not: oc get " +
         "clusteroperator " + component + " (Degraded, Progressing), oc logs -n openshift-" +
         component + "-operator deployment/" + component +
         "-operator, and after a long shutdown approve the pending CSRs (oc get csr) as in "
         "'Recovering from expired control plane certificates'";
}

Layout openshift_layout() {
  const std::string base = "etc/kubernetes/static-pod-resources/";
  const std::string apiserver = base + "kube-apiserver-certs/";
  const std::string apiserverHint = openshift_operator_hint("kube-apiserver");
  const std::string kcmHint = openshift_operator_hint("kube-controller-manager");
  const std::string etcdHint = openshift_operator_hint("etcd");
  const auto bundle = [&](const std::string& name, const std::string& dir,
                          const std::string& hint) {
    return LayoutEntry{
        name, dir + "configmaps/" + name + "/ca-bundle.crt", EntryKind::bundle, "", "", "", "", "",
        hint};
  };
  // A Secret copied to disk: secrets/NAME/tls.crt and tls.key.
  const auto secret = [&](const std::string& dir, const std::string& name, EntryKind kind,
                          const std::string& ca, const std::string& cn, const std::string& issuer,
                          const std::string& hint) {
    const std::string path = dir + "secrets/" + name + "/";
    return LayoutEntry{name, path + "tls.crt", kind, path + "tls.key", ca, cn, "", issuer, hint};
  };
  const auto etcd = [&](const std::string& prefix, const std::string& ca) {
    const std::string dir = base + "etcd-certs/secrets/etcd-all-certs/";
    return LayoutEntry{prefix + "*",
                       dir + prefix + "*.crt",
                       EntryKind::certificate,
                       dir + prefix + "*.key",
                       ca,
                       "",
                       "",
                       "",
                       etcdHint};
  };

  Layout layout{Distro::openshift, {base + "kube-apiserver-certs"}, {}, {}};
  layout.parts = {
      {base + "kube-apiserver-certs", "not a control-plane node, or its first revision"},
      {base + "kube-controller-manager-certs", "not a control-plane node"},
      {base + "kube-scheduler-certs", "not a control-plane node"},
      {base + "etcd-certs", "not a control-plane node"},
  };
  layout.entries = {
      bundle("client-ca", apiserver, apiserverHint),
      bundle("aggregator-client-ca", apiserver, apiserverHint),
      bundle("etcd-serving-ca", base + "etcd-certs/", etcdHint),
      bundle("etcd-peer-client-ca", base + "etcd-certs/", etcdHint),
      secret(apiserver, "localhost-serving-cert-certkey", EntryKind::certificate, "", "127.0.0.1",
             "kube-apiserver-localhost-signer", apiserverHint),
      secret(apiserver, "service-network-serving-certkey", EntryKind::certificate, "", "",
             "kube-apiserver-service-network-signer", apiserverHint),
      secret(apiserver, "external-loadbalancer-serving-certkey", EntryKind::certificate, "",
             "api.*", "kube-apiserver-lb-signer", apiserverHint),
      secret(apiserver, "internal-loadbalancer-serving-certkey", EntryKind::certificate, "",
             "api-int.*", "kube-apiserver-lb-signer", apiserverHint),
      secret(apiserver, "localhost-recovery-serving-certkey", EntryKind::certificate, "", "",
             "openshift-kube-apiserver-operator_localhost-recovery-serving-signer@*",
             apiserverHint),
      secret(apiserver, "aggregator-client", EntryKind::certificate, "aggregator-client-ca", "", "",
             apiserverHint),
      secret(apiserver, "kubelet-client", EntryKind::certificate, "", "system:kube-apiserver", "",
             apiserverHint),
      secret(apiserver, "control-plane-node-admin-client-cert-key", EntryKind::certificate,
             "client-ca", "", "", apiserverHint),
      secret(apiserver, "check-endpoints-client-cert-key", EntryKind::certificate, "client-ca", "",
             "", apiserverHint),
      secret(base + "kube-controller-manager-certs/", "kube-controller-manager-client-cert-key",
             EntryKind::certificate, "client-ca", "system:kube-controller-manager", "", kcmHint),
      secret(base + "kube-controller-manager-certs/", "csr-signer", EntryKind::authority, "", "",
             "", kcmHint),
      secret(base + "kube-scheduler-certs/", "kube-scheduler-client-cert-key",
             EntryKind::certificate, "client-ca", "system:kube-scheduler", "",
             openshift_operator_hint("kube-scheduler")),
      // The metrics certificates first: "etcd-serving-*" would match them too.
      etcd("etcd-serving-metrics-", ""),
      etcd("etcd-serving-", "etcd-serving-ca"),
      etcd("etcd-peer-", "etcd-peer-client-ca"),
      LayoutEntry{"node-kubeconfigs/*", apiserver + "secrets/node-kubeconfigs/*.kubeconfig",
                  EntryKind::kubeconfig, "", "client-ca", "", "", "", apiserverHint, true},
  };
  for (LayoutEntry& entry : layout.entries) {
    entry.rotated = true;
  }
  return layout;
}

}  // namespace kp::certs
