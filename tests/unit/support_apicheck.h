// apicheck's run with the network, TLS and HTTP faked: a healthy API server at
// https://api.test:6443 that a test then breaks, for the apicheck unit tests.
#pragma once

#include <fcntl.h>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unistd.h>
#include <vector>

#include "apicheck/apicheck.h"
#include "core/net/socket.h"
#include "support_http.h"
#include "support_posix.h"
#include "test_support_certs.h"

namespace kp::testsupport {

struct FakeNetwork : kp::core::Network {
  std::map<std::string, std::vector<std::string>> names;   // host -> addresses (absent: NXDOMAIN)
  std::map<std::string, kp::core::ConnectFailure> broken;  // "ip:port" -> failure
  std::map<std::string, std::string> files;
  std::vector<std::string> connects;
  std::mutex mutex;  // HA backends are probed concurrently

  kp::core::Result<kp::core::ResolveResult, kp::core::DnsError> resolve(
      std::string_view host, std::chrono::milliseconds) override {
    const auto it = names.find(std::string(host));
    if (it == names.end()) {
      return kp::core::DnsError{kp::core::DnsFailure::nxdomain, "NXDOMAIN"};
    }
    return kp::core::ResolveResult{it->second, 0.5};
  }
  kp::core::Result<kp::core::DnsAnswer, kp::core::DnsError> query(
      std::string_view server, std::string_view name, std::chrono::milliseconds) override {
    const auto it = names.find(std::string(name));
    if (it == names.end()) {
      return kp::core::DnsError{kp::core::DnsFailure::nxdomain,
                                "NXDOMAIN from " + std::string(server)};
    }
    return kp::core::DnsAnswer{it->second, std::string(server), 0.3};
  }
  kp::core::Result<kp::core::Connection, kp::core::ConnectError> connect(
      std::string_view ip, int port, std::chrono::milliseconds) override {
    const std::string key = std::string(ip) + ":" + std::to_string(port);
    {
      std::lock_guard<std::mutex> lock(mutex);
      connects.push_back(key);
    }
    if (const auto it = broken.find(key); it != broken.end()) {
      return kp::core::ConnectError{it->second, 111, "", 0.2};
    }
    kp::core::Connection c;
#ifdef _WIN32
    // UniqueFd holds a socket on Windows: an unconnected one stands for the connection.
    c.fd = kp::core::UniqueFd(kp::core::sock::open(AF_INET, SOCK_STREAM));
#else
    c.fd = kp::core::UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
#endif
    c.address = std::string(ip);
    c.port = port;
    c.ms = 0.2;
    return c;
  }
  std::string read_file(const std::string& path) override {
    const auto it = files.find(path);
    return it == files.end() ? "" : it->second;
  }
  // The fake machine's resolv.conf on every platform (Windows would ask its adapters).
  std::vector<std::string> dns_servers() override {
    return kp::core::resolv_conf_nameservers(read_file("/etc/resolv.conf"));
  }
};

inline kp::core::HttpResponse answer(long status, std::string body) {
  kp::core::HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.httpVersion = "HTTP/2";
  return r;
}

// A healthy API server at https://api.test:6443 (198.51.100.7 is never dialled: all is fake).
struct ApicheckWorld {
  std::shared_ptr<FakeNetwork> net = std::make_shared<FakeNetwork>();
  kp::testsupport::FakeHttp http;  // answers by path; 404 for the rest
  kp::core::TlsProbe tls;
  kp::apicheck::Options options;

  ApicheckWorld() {
    net->names["api.test"] = {"198.51.100.7"};
    net->files["/etc/resolv.conf"] = "nameserver 192.0.2.53\n";
    tls.version = "TLSv1.3";
    tls.cipher = "TLS_AES_128_GCM_SHA256";
    tls.alpn = "h2";
    tls.verify.ok = true;
    tls.nameMatches = true;
    tls.nameChecked = "api.test";
    http.on("/livez", answer(200, "ok"));
    http.on("/readyz?verbose", answer(200, "[+]ping ok\n[+]etcd ok\nreadyz check passed\n"));
    http.on("/healthz", answer(200, "ok"));
    http.on(
        "/version",
        answer(200, R"({"major":"1","minor":"37","gitVersion":"v1.37.2","goVersion":"go1.26.8",)"
                    R"("platform":"linux/amd64"})"));
    http.on(
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        answer(201,
               R"({"kind":"SelfSubjectReview","apiVersion":"authentication.k8s.io/v1",)"
               R"("status":{"userInfo":{"username":"alice","groups":["system:authenticated"]}}})"));
    options.client.contextName = "test";
    options.client.clusterName = "test";
    options.client.server = "https://api.test:6443";
    options.client.token = "s3cr3t-token-value";
    options.client.authMethod = "token";
    options.client.namespaceName = "default";
    options.timeout = std::chrono::milliseconds(1000);
    options.deps.net = net;
    options.deps.tls = [this](int, const kp::core::TlsProbeOptions&)
        -> kp::core::Result<kp::core::TlsProbe, kp::core::TlsError> { return tls; };
    options.deps.http = http.factory();
    options.deps.env = [](const std::string&) { return std::optional<std::string>(); };
    options.deps.now = [] { return kp::testcerts::kNow; };
    options.deps.kubectl = [] {
      kp::core::KubectlBinary k;
      k.path = k.target = "/usr/bin/kubectl";
      k.gitVersion = "v1.37.0";
      return k;
    };
  }

  const kp::core::Check* find(const kp::core::Report& report, const std::string& id) {
    for (const kp::core::Check& c : report.checks) {
      if (c.id == id) {
        return &c;
      }
    }
    return nullptr;
  }
};

inline bool sent_credentials(const std::vector<kp::core::HttpRequest>& sent) {
  for (const kp::core::HttpRequest& r : sent) {
    for (const auto& [name, value] : r.headers) {
      if (name == "Authorization") {
        return true;
      }
    }
    if (!r.clientCertPem.empty()) {
      return true;
    }
  }
  return false;
}

// The anonymous health requests go out beside the diagnostic handshake, before its verdict:
// true when `r` is one of them and carries nothing but what any client may send (a GET with no
// header or client certificate, over HTTP/1.1, verifying the server as the kubeconfig says).
inline bool early_health_request(const kp::core::HttpRequest& r,
                                 const kp::core::ClientConfig& client) {
  return r.http1 && r.method == "GET" && r.headers.empty() && r.clientCertPem.empty() &&
         r.clientKeyPem.empty() && r.insecure == client.insecure && r.caPem == client.caPem;
}

// The paths of the requests in `sent` other than the early health requests.
inline std::vector<std::string> paths_besides_early_health(
    const std::vector<kp::core::HttpRequest>& sent, const kp::core::ClientConfig& client) {
  std::vector<std::string> paths;
  for (const kp::core::HttpRequest& r : sent) {
    if (!early_health_request(r, client)) {
      paths.push_back(r.url.substr(r.url.find('/', r.url.find("://") + 3)));
    }
  }
  return paths;
}

}  // namespace kp::testsupport
