// The distributions' layouts (layout.h): detection, the generic checker over each table, the
// kubeadm path left as it was, certs node's view of the same files, and the Secrets the
// distributions keep their own certificates in. Files live in memory (a PkiFiles over a map),
// certificates are made at test time.
#include <map>
#include <sstream>

#include <catch2/catch.hpp>

#include "certs/certcheck.h"
#include "certs/layout.h"
#include "certs/node.h"
#include "certs/pki.h"
#include "certs/secrets.h"
#include "core/util/base64.h"
#include "support_invoke.h"
#include "test_support_certs.h"

using namespace kp;
using kp::testcerts::CertSpec;
using kp::testcerts::issue;
using kp::testcerts::Issued;
using kp::testcerts::kDay;

namespace {

// Every certificate below is dated from a fixed clock.
using kp::testcerts::kNow;
const std::string kTls = "/var/lib/rancher/k3s/server/tls/";
const std::string kAgent = "/var/lib/rancher/k3s/agent/";

// A root filesystem in memory: path -> bytes.
struct MemoryRoot {
  std::map<std::string, std::string> files;

  certs::PkiFiles pki_files() const {
    certs::PkiFiles pki;
    const auto* map = &files;
    pki.exists = [map](const std::string& path) { return map->count(path) > 0; };
    pki.isDirectory = [map](const std::string& path) {
      const auto it = map->lower_bound(path + "/");
      return it != map->end() && it->first.starts_with(path + "/");
    };
    pki.read = [map](const std::string& path) -> core::Result<std::string> {
      const auto it = map->find(path);
      if (it == map->end()) {
        return core::Error{"open " + path + ": no such file or directory"};
      }
      return it->second;
    };
    pki.parseKey = [](const std::string& pem) { return core::parse_private_key(pem); };
    pki.list = [map](const std::string& dir) {
      std::vector<std::string> names;
      for (auto it = map->lower_bound(dir + "/");
           it != map->end() && it->first.starts_with(dir + "/"); ++it) {
        const std::string name = it->first.substr(dir.size() + 1);
        if (name.find('/') == std::string::npos) {
          names.push_back(name);
        }
      }
      return names;
    };
    return pki;
  }

  void pair(const std::string& path, const Issued& issued, const Issued* chainedCa = nullptr) {
    files[path + ".crt"] = issued.certPem() + (chainedCa ? chainedCa->certPem() : "");
    files[path + ".key"] = testcerts::key_pem_pkcs8(issued.key);
  }
};

CertSpec spec(std::string cn, std::int64_t notAfter, std::vector<std::string> orgs = {}) {
  CertSpec s;
  s.commonName = std::move(cn);
  s.organizations = std::move(orgs);
  s.notBefore = kNow - 30 * kDay;
  s.notAfter = notAfter;
  return s;
}

// A CA with the run's shared key, or a key of its own (a stranger that copies a CA's name).
Issued make_ca(const std::string& cn, bool ownKey = false) {
  CertSpec s = spec(cn, kNow + 3650 * kDay);
  s.isCA = true;
  if (ownKey) {
    s.key = testcerts::make_key(testcerts::KeyKind::ecdsaP256);
  }
  return issue(s);
}

certs::CommonOptions common() {
  certs::CommonOptions o;
  o.now = [] { return kNow; };
  return o;
}

// A k3s server and agent as deps.go makes them (names, CNs, O, CAs; leaves chained).
struct K3sRoot : MemoryRoot {
  std::map<std::string, Issued> cas;

  K3sRoot() {
    for (const auto& [name, cn] : std::vector<std::pair<std::string, std::string>>{
             {"server-ca", "k3s-server-ca@1700000000"},
             {"client-ca", "k3s-client-ca@1700000000"},
             {"request-header-ca", "k3s-request-header-ca@1700000000"},
             {"etcd/server-ca", "etcd-server-ca@1700000000"},
             {"etcd/peer-ca", "etcd-peer-ca@1700000000"}}) {
      cas[name] = make_ca(cn);
      pair(kTls + name, cas[name]);
    }
    struct Leaf {
      std::string name, ca, cn;
      std::vector<std::string> orgs;
    };
    for (const Leaf& leaf : std::vector<Leaf>{
             {"serving-kube-apiserver", "server-ca", "kube-apiserver", {}},
             {"client-admin", "client-ca", "system:admin", {"system:masters"}},
             {"client-supervisor", "client-ca", "system:k3s-supervisor", {"system:masters"}},
             {"client-controller", "client-ca", "system:kube-controller-manager", {}},
             {"client-scheduler", "client-ca", "system:kube-scheduler", {}},
             {"client-kube-apiserver", "client-ca", "system:kube-apiserver", {"system:masters"}},
             {"client-kube-proxy", "client-ca", "system:kube-proxy", {}},
             {"client-k3s-controller", "client-ca", "system:k3s-controller", {}},
             {"client-k3s-cloud-controller", "client-ca", "k3s-cloud-controller-manager", {}},
             {"client-auth-proxy", "request-header-ca", "system:auth-proxy", {}},
             {"etcd/client", "etcd/server-ca", "etcd-client", {}},
             {"etcd/server-client", "etcd/server-ca", "etcd-server", {}},
             {"etcd/peer-server-client", "etcd/peer-ca", "etcd-peer", {}}}) {
      pair(kTls + leaf.name, issue(spec(leaf.cn, kNow + 365 * kDay, leaf.orgs), &cas[leaf.ca]),
           &cas[leaf.ca]);
    }
    files[kTls + "service.key"] =
        testcerts::key_pem_pkcs8(testcerts::shared_key(testcerts::KeyKind::rsa2048));
    files[kAgent + "client-ca.crt"] = cas["client-ca"].certPem();
    files[kAgent + "server-ca.crt"] = cas["server-ca"].certPem();
    pair(kAgent + "client-kubelet",
         issue(spec("system:node:n1", kNow + 365 * kDay, {"system:nodes"}), &cas["client-ca"]),
         &cas["client-ca"]);
    pair(kAgent + "serving-kubelet", issue(spec("n1", kNow + 365 * kDay), &cas["server-ca"]),
         &cas["server-ca"]);
    pair(kAgent + "client-kube-proxy",
         issue(spec("system:kube-proxy", kNow + 365 * kDay), &cas["client-ca"]), &cas["client-ca"]);
  }

  core::Report check() const {
    return certs::check_layout(certs::k3s_layout(certs::Distro::k3s), pki_files(), "/", common());
  }
};

const core::Check& find_check(const core::Report& report, const std::string& source) {
  for (const core::Check& check : report.checks) {
    if (check.details.is_object() && check.details.value("source", "") == source) {
      return check;
    }
  }
  FAIL("no check with source " << source);
  throw std::logic_error("unreachable");
}

std::vector<std::string> not_ok(const core::Report& report) {
  std::vector<std::string> sources;
  for (const core::Check& check : report.checks) {
    if (check.status != core::CheckStatus::ok) {
      sources.push_back(check.details.value("source", check.id) + " " +
                        std::string(core::to_string(check.status)));
    }
  }
  return sources;
}

}  // namespace

TEST_CASE("certs::parse_distro takes auto and the distributions' names", "[certs][distro]") {
  CHECK(*certs::parse_distro("auto") == std::nullopt);
  CHECK(*certs::parse_distro("k3s") == certs::Distro::k3s);
  CHECK(*certs::parse_distro("openshift") == certs::Distro::openshift);
  CHECK(certs::distro_name(certs::Distro::microk8s) == "microk8s");
  const auto bad = certs::parse_distro("k8s");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message ==
        "--distro: unknown distribution \"k8s\": use auto, kubeadm, k3s, rke2, microk8s or "
        "openshift");
}

TEST_CASE("certs::detect_distros finds each layout by its directories", "[certs][distro]") {
  MemoryRoot root;
  CHECK(certs::detect_distros(root.pki_files(), "/").empty());
  root.files["/r/etc/kubernetes/pki/ca.crt"] = "x";
  root.files["/r/var/lib/rancher/rke2/agent/client-ca.crt"] = "x";
  root.files["/r/var/snap/microk8s/current/certs/ca.crt"] = "x";
  CHECK(certs::detect_distros(root.pki_files(), "/r") ==
        std::vector<certs::Distro>{certs::Distro::kubeadm, certs::Distro::rke2,
                                   certs::Distro::microk8s});
  root.files.clear();
  root.files["/etc/kubernetes/static-pod-resources/kube-apiserver-certs/secrets/a/tls.crt"] = "x";
  root.files["/var/lib/rancher/k3s/server/tls/server-ca.crt"] = "x";
  CHECK(certs::detect_distros(root.pki_files(), "/") ==
        std::vector<certs::Distro>{certs::Distro::k3s, certs::Distro::openshift});
}

TEST_CASE("certs::check_layout finds every k3s certificate, named as k3s names them",
          "[certs][distro]") {
  K3sRoot root;
  const core::Report report = root.check();
  CHECK(not_ok(report) ==
        std::vector<std::string>{"/etc/rancher/k3s/k3s.yaml skip",
                                 "/var/lib/rancher/k3s/agent/client-k3s-controller.crt skip"});
  // 5 CAs, 13 server leaves, service.key, 2 agent CA copies, 3 agent leaves, 2 optional skips.
  CHECK(report.checks.size() == 26);
  const core::Check& admin = find_check(report, kTls + "client-admin.crt");
  CHECK(admin.status == core::CheckStatus::ok);
  CHECK(admin.details["distro"] == "k3s");
  CHECK(admin.details["name"] == "client-admin");
  CHECK(admin.details["ca"] == "client-ca");
  const core::Check& ca = find_check(report, kTls + "etcd/peer-ca.crt");
  CHECK(ca.details["isCA"] == true);
  CHECK(ca.details["name"] == "etcd/peer-ca");
  const core::Check& sa = find_check(report, kTls + "service.key");
  CHECK(sa.message == "the service-account signing key (RSA 2048 bits)");
  for (const core::Check& check : report.checks) {
    CHECK(check.details["distro"] == "k3s");
  }
}

TEST_CASE("certs::check_layout fails expired, mismatched, wrongly signed and misnamed k3s files",
          "[certs][distro]") {
  K3sRoot root;
  const Issued& clientCa = root.cas["client-ca"];
  CertSpec expired = spec("system:admin", kNow - 3 * kDay, {"system:masters"});
  expired.notBefore = kNow - 400 * kDay;
  root.pair(kTls + "client-admin", issue(expired, &clientCa), &clientCa);
  root.pair(kAgent + "serving-kubelet",
            issue(spec("n1", kNow + 10 * kDay), &root.cas["server-ca"]));
  root.files[kTls + "client-scheduler.key"] =
      testcerts::key_pem_pkcs8(testcerts::make_key(testcerts::KeyKind::ecdsaP256));
  const Issued stranger = make_ca("etcd-server-ca@1700000000", true);  // the same name
  root.pair(kTls + "etcd/client", issue(spec("etcd-client", kNow + 365 * kDay), &stranger),
            &stranger);
  root.pair(kTls + "client-kube-proxy",
            issue(spec("system:kube-proxy-x", kNow + 365 * kDay, {"other"}), &clientCa));
  const core::Report report = root.check();

  const core::Check& admin = find_check(report, kTls + "client-admin.crt");
  CHECK(admin.status == core::CheckStatus::fail);
  CHECK(admin.message == "expired 3 days ago (notAfter 2026-11-23T06:50:00Z)");
  CHECK(admin.hint == "k3s certificate rotate --service admin, then restart k3s");

  const core::Check& kubelet = find_check(report, kAgent + "serving-kubelet.crt");
  CHECK(kubelet.status == core::CheckStatus::warn);
  CHECK(kubelet.message == "expires in 10 days (notAfter 2026-12-06T06:50:00Z)");
  CHECK(kubelet.hint == "k3s certificate rotate --service kubelet, then restart k3s");

  const core::Check& scheduler = find_check(report, kTls + "client-scheduler.crt");
  CHECK(scheduler.status == core::CheckStatus::fail);
  CHECK(scheduler.message.starts_with("does not match its key " + kTls + "client-scheduler.key"));
  CHECK(scheduler.hint.ends_with("k3s certificate rotate --service scheduler, then restart k3s"));

  const core::Check& etcd = find_check(report, kTls + "etcd/client.crt");
  CHECK(etcd.status == core::CheckStatus::fail);
  CHECK(etcd.message.starts_with("not signed by etcd/server-ca (" + kTls + "etcd/server-ca.crt)"));
  CHECK(etcd.hint ==
        "re-issue it from etcd/server-ca: k3s certificate rotate --service etcd, "
        "then restart k3s");

  const core::Check& proxy = find_check(report, kTls + "client-kube-proxy.crt");
  CHECK(proxy.status == core::CheckStatus::fail);
  CHECK(
      proxy.message.starts_with("subject CN is \"system:kube-proxy-x\", not "
                                "\"system:kube-proxy\" as k3s makes client-kube-proxy; "));
  CHECK(proxy.hint ==
        "this is not the certificate k3s keeps here: restore it from a backup, or "
        "k3s certificate rotate --service kube-proxy, then restart k3s");

  CHECK(not_ok(report).size() == 2 + 5);  // the two optional skips and the five faults
}

TEST_CASE("certs::check_layout says once that a part is absent", "[certs][distro]") {
  K3sRoot root;
  std::erase_if(root.files, [](const auto& file) { return file.first.starts_with(kTls); });
  const core::Report report = root.check();
  const core::Check& server = find_check(report, "/var/lib/rancher/k3s/server");
  CHECK(server.status == core::CheckStatus::skip);
  CHECK(server.message ==
        "/var/lib/rancher/k3s/server: not present (an agent node: the server "
        "certificates live on the server nodes)");
  CHECK(not_ok(report).size() == 3);  // that, k3s.yaml and the agent's optional controller
  CHECK(core::verdict(report) == core::CheckStatus::ok);
}

TEST_CASE("certs::check_layout names garbage files and the kubeconfig's problems",
          "[certs][distro]") {
  K3sRoot root;
  root.files[kTls + "client-controller.crt"] = "hello, I am not a certificate\n";
  root.files[kTls + "client-admin.key"] = "not a key";
  root.files[kTls + "service.key"] = "";
  root.files["/etc/rancher/k3s/k3s.yaml"] = "apiVersion: v1\nusers: [\n";
  root.files.erase(kTls + "client-scheduler.crt");
  const core::Report report = root.check();
  const core::Check& garbage = find_check(report, kTls + "client-controller.crt");
  CHECK(garbage.status == core::CheckStatus::fail);
  CHECK(garbage.message.starts_with(kTls + "client-controller.crt: not PEM or DER"));
  const core::Check& key = find_check(report, kTls + "client-admin.crt");
  CHECK(key.status == core::CheckStatus::fail);
  CHECK(key.message.starts_with(kTls + "client-admin.key: "));
  const core::Check& sa = find_check(report, kTls + "service.key");
  CHECK(sa.status == core::CheckStatus::fail);
  CHECK(sa.message.starts_with(kTls + "service.key: "));
  const core::Check& yaml = find_check(report, "/etc/rancher/k3s/k3s.yaml");
  CHECK(yaml.status == core::CheckStatus::fail);
  CHECK(yaml.message.starts_with("/etc/rancher/k3s/k3s.yaml: "));
  const core::Check& missing = find_check(report, kTls + "client-scheduler.crt");
  CHECK(missing.status == core::CheckStatus::fail);
  CHECK(missing.message == kTls + "client-scheduler.crt: missing (k3s creates it)");
  CHECK(missing.hint ==
        "k3s certificate rotate --service scheduler, then restart k3s (or restore it from a "
        "backup)");
}

TEST_CASE("certs::check_layout checks k3s.yaml's embedded admin against client-ca",
          "[certs][distro]") {
  K3sRoot root;
  const Issued admin =
      issue(spec("system:admin", kNow + 365 * kDay, {"system:masters"}), &root.cas["client-ca"]);
  const Issued stranger = issue(spec("system:admin", kNow + 365 * kDay), &root.cas["server-ca"]);
  const auto kubeconfig = [](const Issued& user) {
    return "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers:\n- name: default\n"
           "  user:\n    client-certificate-data: " +
           core::encode_base64(user.certPem()) +
           "\n    client-key-data: " + core::encode_base64(testcerts::key_pem_pkcs8(user.key)) +
           "\n";
  };
  root.files["/etc/rancher/k3s/k3s.yaml"] = kubeconfig(admin);
  const core::Check ok = find_check(root.check(), "/etc/rancher/k3s/k3s.yaml");
  CHECK(ok.status == core::CheckStatus::ok);
  CHECK(ok.details["name"] == "k3s.yaml");
  CHECK(ok.details["ca"] == "client-ca");
  root.files["/etc/rancher/k3s/k3s.yaml"] = kubeconfig(stranger);
  const core::Check bad = find_check(root.check(), "/etc/rancher/k3s/k3s.yaml");
  CHECK(bad.status == core::CheckStatus::fail);
  CHECK(bad.message.starts_with("not signed by client-ca (" + kTls + "client-ca.crt)"));
}

TEST_CASE("certs::check_layout matches OpenShift's per-node files once and checks signers by name",
          "[certs][distro]") {
  MemoryRoot root;
  const std::string base = "/etc/kubernetes/static-pod-resources/";
  const std::string etcd = base + "etcd-certs/secrets/etcd-all-certs/";
  const Issued etcdSigner = make_ca("etcd-signer");
  root.files[base + "etcd-certs/configmaps/etcd-serving-ca/ca-bundle.crt"] = etcdSigner.certPem();
  root.pair(etcd + "etcd-serving-m0",
            issue(spec("system:etcd-server:m0", kNow + kDay * 900), &etcdSigner));
  root.pair(etcd + "etcd-serving-metrics-m0",
            issue(spec("system:etcd-metric:m0", kNow + kDay * 900), &etcdSigner));
  const Issued localhost = make_ca("kube-apiserver-localhost-signer");
  const Issued other = make_ca("someone-else");
  const std::string serving = base + "kube-apiserver-certs/secrets/localhost-serving-cert-certkey/";
  // 30 days of life, 20 left: OpenShift replaces it on its own, so no warning yet.
  CertSpec fresh = spec("127.0.0.1", kNow + 20 * kDay);
  fresh.notBefore = kNow - 10 * kDay;
  root.files[serving + "tls.crt"] = issue(fresh, &localhost).certPem();
  const certs::Layout layout = certs::openshift_layout();
  core::Report report = certs::check_layout(layout, root.pki_files(), "/", common());
  CHECK(find_check(report, etcd + "etcd-serving-m0.crt").details["name"] == "etcd-serving-m0");
  CHECK(find_check(report, etcd + "etcd-serving-m0.crt").status == core::CheckStatus::ok);
  CHECK(find_check(report, etcd + "etcd-serving-metrics-m0.crt").details["name"] ==
        "etcd-serving-metrics-m0");
  std::size_t metrics = 0;
  for (const core::Check& check : report.checks) {
    metrics += check.details.value("source", "").find("metrics") != std::string::npos ? 1 : 0;
  }
  CHECK(metrics == 1);
  const core::Check& peer = find_check(report, etcd + "etcd-peer-*.crt");
  CHECK(peer.status == core::CheckStatus::fail);
  CHECK(peer.message == etcd + "etcd-peer-*.crt: no such file");
  // Its key is not in the map: the check says which file.
  const core::Check& localhostCheck = find_check(report, serving + "tls.crt");
  CHECK(localhostCheck.status == core::CheckStatus::fail);
  CHECK(localhostCheck.message.starts_with("cannot read its key: open " + serving + "tls.key"));

  root.files[serving + "tls.key"] =
      testcerts::key_pem_pkcs8(testcerts::shared_key(testcerts::KeyKind::ecdsaP256));
  report = certs::check_layout(layout, root.pki_files(), "/", common());
  CHECK(find_check(report, serving + "tls.crt").status == core::CheckStatus::ok);
  // The same 20 days left on a certificate of a year's life: within --warn-within, it warns.
  CertSpec year = spec("127.0.0.1", kNow + 20 * kDay);
  year.notBefore = kNow - 345 * kDay;
  root.files[serving + "tls.crt"] = issue(year, &localhost).certPem();
  report = certs::check_layout(layout, root.pki_files(), "/", common());
  CHECK(find_check(report, serving + "tls.crt").status == core::CheckStatus::warn);
  root.files[serving + "tls.crt"] = issue(fresh, &other).certPem();
  report = certs::check_layout(layout, root.pki_files(), "/", common());
  const core::Check& wrong = find_check(report, serving + "tls.crt");
  CHECK(wrong.status == core::CheckStatus::fail);
  CHECK(
      wrong.message.starts_with("issued by \"someone-else\", not by openshift's "
                                "\"kube-apiserver-localhost-signer\""));
  CHECK(wrong.hint.find("oc get clusteroperator kube-apiserver") != std::string::npos);
}

TEST_CASE("certs::check_root picks the layouts found and leaves kubeadm's checks as they were",
          "[certs][distro]") {
  K3sRoot root;
  certs::RootOptions options;
  options.common = common();
  options.files = root.pki_files();
  core::Result<core::Report> k3s = certs::check_root(options);
  REQUIRE(k3s);
  CHECK(certs::distro_header(*k3s) == "distribution: k3s");

  options.root = "/elsewhere";
  const core::Result<core::Report> none = certs::check_root(options);
  REQUIRE_FALSE(none);
  CHECK(none.error().message ==
        "no Kubernetes certificate layout under /elsewhere: looked for kubeadm "
        "(etc/kubernetes/pki); k3s (var/lib/rancher/k3s/server/tls, var/lib/rancher/k3s/agent); "
        "rke2 (var/lib/rancher/rke2/server/tls, var/lib/rancher/rke2/agent); microk8s "
        "(var/snap/microk8s/current/certs); openshift "
        "(etc/kubernetes/static-pod-resources/kube-apiserver-certs) (run this on a node, or use "
        "--root, --distro or --dir)");
  options.distro = certs::Distro::microk8s;
  CHECK(certs::check_root(options).error().message ==
        "no microk8s files under /elsewhere: looked for var/snap/microk8s/current/certs");

  // kubeadm beside k3s: both, kubeadm's checks exactly as check_pki gives them.
  const Issued ca = make_ca("kubernetes");
  root.pair("/etc/kubernetes/pki/ca", ca);
  options.root = "/";
  options.distro.reset();
  core::Result<core::Report> both = certs::check_root(options);
  REQUIRE(both);
  CHECK(certs::distro_header(*both) == "distributions: kubeadm, k3s");
  certs::PkiOptions kubeadm;
  kubeadm.common = common();
  kubeadm.files = root.pki_files();
  const core::Report alone = certs::check_pki(kubeadm);
  REQUIRE(both->checks.size() > alone.checks.size());
  for (std::size_t i = 0; i < alone.checks.size(); ++i) {
    core::Check tagged = both->checks[i];
    CHECK(tagged.details["distro"] == "kubeadm");
    tagged.details.erase("distro");
    CHECK(tagged.details == alone.checks[i].details);
    CHECK(tagged.message == alone.checks[i].message);
    CHECK(tagged.status == alone.checks[i].status);
  }
  std::ostringstream text;
  certs::render_table(text, *both, kNow);
  CHECK(text.str().starts_with("distributions: kubeadm, k3s\n\nCERTIFICATE "));
}

TEST_CASE("certs::node_pki_files lists a node's directory and feeds the same detection",
          "[certs][distro]") {
  K3sRoot root;
  std::string output;
  for (const auto& [path, bytes] : root.files) {
    std::string shown = bytes;
    if (path.ends_with(".key")) {  // what node_pki.sh prints for a key: its public half
      core::Result<core::PrivateKey> key = core::parse_private_key(bytes);
      REQUIRE(key);
      shown = testcerts::public_key_pem(*key, false);
    }
    output += "file " + path + " " + core::encode_base64(shown) + "\n";
  }
  output += "done " + std::to_string(root.files.size()) + "\n";
  core::Result<certs::NodeFiles> node = certs::parse_node_output(output);
  REQUIRE(node);
  const certs::PkiFiles files = certs::node_pki_files(*node);
  CHECK(files.list("/var/lib/rancher/k3s/agent") ==
        std::vector<std::string>{"client-ca.crt", "client-kube-proxy.crt", "client-kube-proxy.key",
                                 "client-kubelet.crt", "client-kubelet.key", "server-ca.crt",
                                 "serving-kubelet.crt", "serving-kubelet.key"});
  certs::RootOptions options;
  options.common = common();
  options.files = files;
  core::Result<core::Report> report = certs::check_root(options);
  REQUIRE(report);
  CHECK(not_ok(*report) == not_ok(root.check()));
  CHECK(find_check(*report, kTls + "service.key").status == core::CheckStatus::ok);
}

TEST_CASE("certs::distro_secret names the distributions' own Secrets", "[certs][distro]") {
  const auto secret = [](const std::string& ns, const std::string& name) {
    return nlohmann::json{{"metadata", {{"namespace", ns}, {"name", name}}},
                          {"type", "kubernetes.io/tls"}};
  };
  const auto k3s = certs::distro_secret(secret("kube-system", "k3s-serving"));
  REQUIRE(k3s);
  CHECK(k3s->distro == "k3s");
  CHECK(k3s->hint ==
        "k3s renews it itself when it starts; to force a new one: k3s certificate "
        "rotate --service k3s-server on each server, then restart k3s");
  CHECK(certs::renew_hint(secret("kube-system", "rke2-serving"), "tls.crt") ==
        "rke2 renews it itself when it starts; to force a new one: rke2 certificate rotate "
        "--service rke2-server on each server, then restart rke2");
  const auto etcd = certs::distro_secret(secret("openshift-etcd", "etcd-peer-master-0"));
  REQUIRE(etcd);
  CHECK(etcd->role == "OpenShift etcd control-plane certificate");
  CHECK(
      etcd->hint.starts_with("OpenShift's etcd operator rotates it; when it does not: oc get "
                             "clusteroperator etcd"));
  CHECK(certs::distro_secret(secret("openshift-kube-apiserver-operator", "x"))->distro ==
        "openshift");
  CHECK_FALSE(certs::distro_secret(secret("default", "k3s-serving")));
  CHECK_FALSE(certs::distro_secret(secret("kube-system", "other")));
  CHECK_FALSE(certs::distro_secret(secret("openshift-ingress", "router-certs")));

  // check_secret carries them in details.
  const Issued ca = make_ca("k3s-server-ca@1700000000");
  const Issued serving = issue(spec("k3s", kNow + 5 * kDay, {"k3s"}), &ca);
  nlohmann::json s = secret("kube-system", "k3s-serving");
  s["data"] = {{"tls.crt", core::encode_base64(serving.certPem())},
               {"tls.key", core::encode_base64(testcerts::key_pem_pkcs8(serving.key))}};
  const std::vector<core::Check> checks = certs::check_secret(s, kNow, 30 * kDay);
  REQUIRE(checks.size() == 1);
  CHECK(checks[0].status == core::CheckStatus::warn);
  CHECK(checks[0].details["distro"] == "k3s");
  CHECK(checks[0].details["role"] ==
        "k3s's listener certificate for the supervisor and API "
        "server (dynamiclistener, signed by k3s-server-ca)");
  CHECK(checks[0].hint == k3s->hint);
}

TEST_CASE("certs::pki_command validates --root, --distro and kubeadm's flags", "[certs][distro]") {
  const testsupport::CommandName name{"kubectl certs", "certs", "pki", "Inspect"};
  auto run = [&](std::vector<std::string> args) {
    return testsupport::invoke_command(certs::pki_command, name, std::move(args));
  };
  testsupport::Invoked r = run({"--distro", "k8s"});
  CHECK(r.code == 2);
  CHECK(r.err ==
        "kubectl-certs: error: --distro: unknown distribution \"k8s\": use auto, "
        "kubeadm, k3s, rke2, microk8s or openshift\n");
  r = run({"--distro", "k3s", "--dir", "/tmp"});
  CHECK(r.code == 2);
  CHECK(r.err ==
        "kubectl-certs: error: --dir and --kubeconfig-dir are kubeadm's: use --root "
        "with --distro k3s\n");
  r = run({"--root", "/no/such/root"});
  CHECK(r.code == 2);
  CHECK(r.err == "kubectl-certs: error: --root: /no/such/root: no such directory\n");
  r = run({"--help"});
  CHECK(r.code == 0);
  CHECK(r.out.find("--distro NAME") != std::string::npos);
}
