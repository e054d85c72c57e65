#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "certs/certcheck.h"
#include "certs/certs.h"
#include "certs/kubeconfig.h"
#include "certs/pki.h"
#include "certs/server.h"
#include "core/util/base64.h"
#include "test_support_certs.h"

using namespace kp;
using kp::testcerts::CertSpec;
using kp::testcerts::issue;
using kp::testcerts::Issued;
using kp::testcerts::kDay;

namespace {

// Every certificate below is dated from a fixed clock.
using kp::testcerts::kNow;

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("kp-certs-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string write(const std::string& name, const std::string& bytes) const {
    const auto file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << bytes;
    return file.string();
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  static inline int counter_ = 0;
};

CertSpec spec(std::string cn, std::int64_t notAfter, std::uint64_t serial = 0) {
  CertSpec s;
  s.commonName = std::move(cn);
  s.notBefore = kNow - 30 * kDay;
  s.notAfter = notAfter;
  s.serial = serial;
  return s;
}

const Issued& test_ca() {
  static const Issued ca = [] {
    CertSpec s = spec("test-ca", kNow + 3650 * kDay, 1);
    s.isCA = true;
    return issue(s);
  }();
  return ca;
}

core::PrivateKey rsa1024() {
  EVP_PKEY* key = EVP_RSA_gen(1024);
  REQUIRE(key != nullptr);
  return core::PrivateKey::adopt(key);
}

certs::FileOptions file_options(std::vector<std::string> paths) {
  certs::FileOptions options;
  options.common.now = [] { return kNow; };
  options.paths = std::move(paths);
  return options;
}

}  // namespace

TEST_CASE("certs::parse_warn_within takes days and Go durations", "[certs]") {
  CHECK(*certs::parse_warn_within("30d") == 30 * kDay);
  CHECK(*certs::parse_warn_within("720h") == 30 * kDay);
  CHECK(*certs::parse_warn_within("90") == 90);
  CHECK(certs::parse_warn_within("soon").error().message ==
        "--warn-within: invalid duration \"soon\": use days (30d) or a duration such as 720h");
  CHECK(!certs::parse_warn_within("d"));
  CHECK(!certs::parse_warn_within("1xd"));
}

TEST_CASE("certs::parse_output accepts prometheus", "[certs]") {
  CHECK(*certs::parse_output("prometheus") == certs::Output::prometheus);
  CHECK(*certs::parse_output("json") == certs::Output::json);
  CHECK(certs::parse_output("xml").error().message ==
        "-o: unknown output format \"xml\": use text, json, yaml or prometheus");
}

TEST_CASE("certs::residual_time, expires_text and common_name_of", "[certs]") {
  CHECK(certs::residual_time(0) == "expired");
  CHECK(certs::residual_time(-5) == "expired");
  CHECK(certs::residual_time(59) == "59s");
  CHECK(certs::residual_time(120) == "2m");
  CHECK(certs::residual_time(23 * 3600 + 59) == "23h");
  CHECK(certs::residual_time(47 * 3600) == "47h");
  CHECK(certs::residual_time(364 * kDay + 5) == "364d");
  CHECK(certs::residual_time(10 * 365 * kDay) == "10y");
  CHECK(certs::expires_text(kNow + 365 * kDay) == "Nov 26, 2027 06:50 UTC");
  CHECK(certs::common_name_of("CN=kube-apiserver") == "kube-apiserver");
  CHECK(certs::common_name_of("CN=system:node:a,O=system:nodes") == "system:node:a");
  CHECK(certs::common_name_of("O=x\\,y,CN=a\\,b") == "a,b");
  CHECK(certs::common_name_of("O=only") == "");
}

TEST_CASE("certs::check_certificate statuses and details", "[certs]") {
  const std::string hint = "renew it";
  SECTION("valid") {
    CertSpec s = spec("valid", kNow + 365 * kDay, 0x1234);
    s.dnsNames = {"a.example", "b.example"};
    s.ipAddresses = {"10.0.0.1"};
    const Issued leaf = issue(s, &test_ca());
    const core::Check check =
        certs::check_certificate(leaf.cert, "cert.file", "x.crt", kNow, 30 * kDay, hint);
    CHECK(check.id == "cert.file");
    CHECK(check.layer == core::Layer::cert);
    CHECK(check.status == core::CheckStatus::ok);
    CHECK(check.message == "valid until 2027-11-26T06:50:00Z (365 days left)");
    CHECK(check.hint.empty());
    CHECK(check.details["source"] == "x.crt");
    CHECK(check.details["subject"] == "CN=valid");
    CHECK(check.details["issuer"] == "CN=test-ca");
    CHECK(check.details["serial"] == "1234");
    CHECK(check.details["notBefore"] == "2026-10-27T06:50:00Z");
    CHECK(check.details["notAfter"] == "2027-11-26T06:50:00Z");
    CHECK(check.details["daysLeft"] == 365);
    CHECK(check.details["sans"] ==
          nlohmann::ordered_json::array({"a.example", "b.example", "10.0.0.1"}));
    CHECK(check.details["isCA"] == false);
    CHECK(check.details["keyType"] == "ECDSA");
    CHECK(check.details["keyBits"] == 256);
    CHECK(check.details["signatureAlgorithm"] == "ecdsa-with-SHA256");
  }
  SECTION("expiring within the window warns, floor of days") {
    const Issued leaf = issue(spec("soon", kNow + 10 * kDay + 3600), &test_ca());
    const core::Check check =
        certs::check_certificate(leaf.cert, "cert.file", "x.crt", kNow, 30 * kDay, hint);
    CHECK(check.status == core::CheckStatus::warn);
    CHECK(check.message == "expires in 10 days (notAfter 2026-12-06T07:50:00Z)");
    CHECK(check.hint == hint);
    CHECK(check.details["daysLeft"] == 10);
    // A smaller window: ok.
    CHECK(certs::check_certificate(leaf.cert, "cert.file", "x.crt", kNow, 7 * kDay, hint).status ==
          core::CheckStatus::ok);
  }
  SECTION("expiring today") {
    const Issued leaf = issue(spec("hours", kNow + 5 * 3600), &test_ca());
    const core::Check check =
        certs::check_certificate(leaf.cert, "cert.file", "x.crt", kNow, 30 * kDay, hint);
    CHECK(check.status == core::CheckStatus::warn);
    CHECK(check.message == "expires in 5h (notAfter 2026-11-26T11:50:00Z)");
  }
  SECTION("expired fails") {
    CertSpec s = spec("old", kNow - 3 * kDay);
    s.notBefore = kNow - 400 * kDay;
    const Issued leaf = issue(s, &test_ca());
    const core::Check check =
        certs::check_certificate(leaf.cert, "cert.file", "x.crt", kNow, 30 * kDay, hint);
    CHECK(check.status == core::CheckStatus::fail);
    CHECK(check.message == "expired 3 days ago (notAfter 2026-11-23T06:50:00Z)");
    CHECK(check.hint == hint);
    CHECK(check.details["daysLeft"] == -3);
  }
  SECTION("not yet valid fails") {
    CertSpec s = spec("future", kNow + 365 * kDay);
    s.notBefore = kNow + 2 * 3600;
    const Issued leaf = issue(s, &test_ca());
    const core::Check check =
        certs::check_certificate(leaf.cert, "cert.file", "x.crt", kNow, 30 * kDay, hint);
    CHECK(check.status == core::CheckStatus::fail);
    CHECK(check.message ==
          "not yet valid: valid from 2026-11-26T08:50:00Z (in 2h; check this machine's clock)");
    CHECK(!check.hint.empty());
  }
  SECTION("SHA-1 signature warns") {
    CertSpec s = spec("sha1", kNow + 365 * kDay);
    s.digest = "SHA1";
    const Issued leaf = issue(s, &test_ca());
    const core::Check check =
        certs::check_certificate(leaf.cert, "cert.file", "x.crt", kNow, 30 * kDay, hint);
    CHECK(check.status == core::CheckStatus::warn);
    CHECK(check.message ==
          "valid until 2027-11-26T06:50:00Z (365 days left); weak: SHA1 "
          "signature (ecdsa-with-SHA1): Go clients such as kubectl reject it");
    CHECK(check.hint ==
          "re-issue it with a SHA-256 signature and an RSA key of at least 2048 "
          "bits (or ECDSA)");
  }
  SECTION("RSA-1024 warns") {
    CertSpec s = spec("small", kNow + 365 * kDay);
    s.key = rsa1024();
    const Issued leaf = issue(s, &test_ca());
    const core::Check check =
        certs::check_certificate(leaf.cert, "cert.file", "x.crt", kNow, 30 * kDay, hint);
    CHECK(check.status == core::CheckStatus::warn);
    CHECK(check.message ==
          "valid until 2027-11-26T06:50:00Z (365 days left); weak: RSA key of "
          "1024 bits (under 2048)");
    CHECK(check.details["keyBits"] == 1024);
  }
}

TEST_CASE("certs::file reads PEM, DER, bundles and reports unreadable files", "[certs]") {
  TempDir dir;
  const Issued valid = issue(spec("valid", kNow + 365 * kDay), &test_ca());
  const Issued expired = [] {
    CertSpec s = spec("expired", kNow - 3 * kDay);
    s.notBefore = kNow - 400 * kDay;
    return issue(s, &test_ca());
  }();
  const std::string pem = dir.write("valid.crt", valid.certPem());
  const std::string der = dir.write("valid.der", valid.cert.der());
  const std::string bundle = dir.write("bundle.pem", valid.certPem() + test_ca().certPem());
  const std::string old = dir.write("expired.crt", expired.certPem());
  const std::string garbage = dir.write("garbage.crt", "hello world\n");
  const std::string missing = (dir.path() / "missing.crt").string();

  SECTION("one check per certificate, sources with #index for bundles") {
    const core::Report report = certs::check_files(file_options({pem, der, bundle}));
    REQUIRE(report.checks.size() == 4);
    CHECK(report.tool == "certs");
    CHECK(report.checks[0].details["source"] == pem);
    CHECK(report.checks[1].details["source"] == der);
    CHECK(report.checks[2].details["source"] == bundle + "#0");
    CHECK(report.checks[3].details["source"] == bundle + "#1");
    CHECK(report.checks[3].details["isCA"] == true);
    CHECK(report.checks[3].details["subject"] == "CN=test-ca");
    for (const core::Check& check : report.checks) {
      CHECK(check.status == core::CheckStatus::ok);
      CHECK(check.id == "cert.file");
    }
    std::ostringstream out, err;
    CHECK(certs::run_file(file_options({pem, der, bundle}), out, err) == 0);
  }
  SECTION("expired, garbage and missing files are failed checks, exit 1") {
    const core::Report report = certs::check_files(file_options({old, garbage, missing}));
    REQUIRE(report.checks.size() == 3);
    CHECK(report.checks[0].status == core::CheckStatus::fail);
    CHECK(report.checks[0].hint ==
          "re-issue it from its CA; for kubeadm: kubeadm certs renew <name>");
    CHECK(report.checks[1].status == core::CheckStatus::fail);
    CHECK(report.checks[1].message ==
          garbage + ": " + core::parse_certificates("hello world\n").error().message);
    CHECK(report.checks[1].message == garbage + ": not PEM or DER (starts with \"hello world\")");
    CHECK(report.checks[2].status == core::CheckStatus::fail);
    CHECK(report.checks[2].message == missing + ": no such file");
    CHECK(report.checks[2].details["source"] == missing);
    std::ostringstream out, err;
    CHECK(certs::run_file(file_options({old, garbage, missing}), out, err) == 1);
  }
  SECTION("--fail-on=warn turns an expiring certificate into exit 1") {
    const Issued soon = issue(spec("soon", kNow + 10 * kDay), &test_ca());
    const std::string path = dir.write("soon.crt", soon.certPem());
    certs::FileOptions options = file_options({path});
    std::ostringstream out, err;
    CHECK(certs::run_file(options, out, err) == 0);
    options.common.failOn = core::FailOn::warn;
    CHECK(certs::run_file(options, out, err) == 1);
  }
  SECTION("hundreds of files: checked on two threads, reported in the order given") {
    std::vector<std::string> paths;
    for (int i = 0; i < 600; ++i) {  // over two batches, each split in two
      paths.push_back(i % 4 == 0 ? bundle : i % 4 == 1 ? old : i % 4 == 2 ? missing : pem);
    }
    certs::FileOptions options = file_options(paths);
    const core::Report report = certs::check_files(options);
    REQUIRE(report.checks.size() == 750);
    std::size_t at = 0;
    for (int i = 0; i < 600; ++i) {
      CAPTURE(i);
      const std::string source = report.checks[at].details["source"];
      CHECK(source == (i % 4 == 0 ? bundle + "#0" : paths[i]));
      at += i % 4 == 0 ? 2 : 1;
    }
    for (const auto& [output, format] :
         {std::pair{certs::Output::json, core::OutputFormat::json},
          std::pair{certs::Output::yaml, core::OutputFormat::yaml}}) {
      options.common.output = output;
      std::ostringstream expected, out, err;
      core::render(expected, report, format, false);
      CHECK(certs::run_file(options, out, err) == 1);
      CHECK(out.str() == expected.str());
    }
  }
  SECTION("json output is the core report") {
    certs::FileOptions options = file_options({pem});
    options.common.output = certs::Output::json;
    std::ostringstream out, err;
    CHECK(certs::run_file(options, out, err) == 0);
    const auto doc = nlohmann::json::parse(out.str());
    CHECK(doc["tool"] == "certs");
    CHECK(doc["verdict"] == "ok");
    CHECK(doc["checks"][0]["layer"] == "cert");
    CHECK(doc["checks"][0]["details"]["source"] == pem);
  }
}

TEST_CASE("certs::file through the command table: flags and exit codes", "[certs]") {
  TempDir dir;
  const std::int64_t now = testcerts::now_unix();
  CertSpec s;
  s.commonName = "live";
  s.notAfter = now + 10 * kDay + 3600;
  const std::string path = dir.write("live.crt", issue(s).certPem());
  auto run = [](std::vector<std::string> args, std::string& out, std::string& err) {
    std::ostringstream o, e;
    const core::Invocation invocation{
        "kubectl certs", "certs", "file", "Inspect files", args, o, e};
    const int code = certs::file_command(invocation);
    out = o.str();
    err = e.str();
    return code;
  };
  std::string out, err;
  CHECK(run({path}, out, err) == 0);
  CHECK(out.find("verdict: warn") != std::string::npos);
  CHECK(run({path, "--fail-on=warn"}, out, err) == 1);
  CHECK(run({path, "--warn-within", "7d"}, out, err) == 0);
  CHECK(out.find("verdict: ok") != std::string::npos);
  CHECK(run({path, "--warn-within=soon"}, out, err) == 2);
  CHECK(err ==
        "kubectl-certs: error: --warn-within: invalid duration \"soon\": use days (30d) "
        "or a duration such as 720h\n");
  CHECK(run({path, "-o", "xml"}, out, err) == 2);
  CHECK(run({}, out, err) == 2);
  CHECK(err == "kubectl-certs: error: give at least one file: kubectl certs file PATH...\n");
  CHECK(run({"--help"}, out, err) == 0);
  CHECK(out.find("--warn-within") != std::string::npos);
}

TEST_CASE("certs::render_table sorts by expiry and puts CAs in their own table", "[certs]") {
  core::Report report;
  report.tool = "certs";
  const Issued far = issue(spec("kube-apiserver", kNow + 365 * kDay), &test_ca());
  const Issued soon = issue(spec("admin", kNow + 23 * 3600 + 120), &test_ca());
  CertSpec expiredSpec = spec("old", kNow - kDay);
  expiredSpec.notBefore = kNow - 100 * kDay;
  const Issued expired = issue(expiredSpec, &test_ca());
  const std::string hint = "renew";
  report.checks.push_back(
      certs::check_certificate(far.cert, "cert.file", "apiserver.crt", kNow, 30 * kDay, hint));
  report.checks.push_back(
      certs::check_certificate(test_ca().cert, "cert.file", "ca.crt", kNow, 30 * kDay, hint));
  report.checks.push_back(
      certs::check_certificate(soon.cert, "cert.file", "admin.crt", kNow, 30 * kDay, hint));
  report.checks.push_back(
      certs::check_certificate(expired.cert, "cert.file", "old.crt", kNow, 30 * kDay, hint));
  std::ostringstream out;
  certs::render_table(out, report, kNow);
  CHECK(out.str() ==
        "CERTIFICATE      SOURCE          EXPIRES                  RESIDUAL TIME   CA        "
        "STATUS\n"
        "old              old.crt         Nov 25, 2026 06:50 UTC   expired         test-ca   "
        "fail\n"
        "admin            admin.crt       Nov 27, 2026 05:52 UTC   23h             test-ca   "
        "warn\n"
        "kube-apiserver   apiserver.crt   Nov 26, 2027 06:50 UTC   365d            test-ca   "
        "ok\n"
        "\n"
        "CERTIFICATE AUTHORITY   SOURCE   EXPIRES                  RESIDUAL TIME   CA        "
        "STATUS\n"
        "test-ca                 ca.crt   Nov 23, 2036 06:50 UTC   10y             test-ca   "
        "ok\n"
        "\n"
        "warn  admin.crt: expires in 23h (notAfter 2026-11-27T05:52:00Z)\n"
        "      hint: renew\n"
        "fail  old.crt: expired 1 day ago (notAfter 2026-11-25T06:50:00Z)\n"
        "      hint: renew\n"
        "\n"
        "verdict: fail\n");
}

TEST_CASE("certs::render_prometheus escapes label values", "[certs]") {
  CHECK(certs::prometheus_escape("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
  core::Report report;
  CertSpec s = spec("we\"ird\\name", kNow + 365 * kDay);
  const Issued leaf = issue(s, &test_ca());
  report.checks.push_back(
      certs::check_certificate(leaf.cert, "cert.file", "a\nb.crt", kNow, 30 * kDay, "renew"));
  core::Check unreadable;
  unreadable.status = core::CheckStatus::fail;
  unreadable.details = {{"source", "bad.crt"}};
  report.checks.push_back(unreadable);
  std::ostringstream out;
  certs::render_prometheus(out, report);
  const std::string subject = leaf.cert ? core::inspect(leaf.cert).subject : "";
  CHECK(out.str() ==
        "# HELP kubectl_certs_not_after_seconds The certificate's notAfter as a Unix "
        "timestamp.\n"
        "# TYPE kubectl_certs_not_after_seconds gauge\n"
        "kubectl_certs_not_after_seconds{source=\"a\\nb.crt\",subject=\"" +
            certs::prometheus_escape(subject) + "\",issuer=\"CN=test-ca\"} " +
            std::to_string(kNow + 365 * kDay) + "\n");
  CHECK(subject.find('"') != std::string::npos);
}

namespace {

std::string kubeconfig_yaml(const std::string& caPem, const std::string& user,
                            const std::string& certPem, const std::string& keyPem) {
  return "apiVersion: v1\nkind: Config\nclusters:\n- name: kubernetes\n  cluster:\n"
         "    server: https://10.0.0.1:6443\n    certificate-authority-data: " +
         core::encode_base64(caPem) +
         "\ncontexts:\n- name: ctx\n  context:\n    cluster: kubernetes\n    user: " + user +
         "\ncurrent-context: ctx\nusers:\n- name: " + user +
         "\n  user:\n    client-certificate-data: " + core::encode_base64(certPem) +
         "\n    client-key-data: " + core::encode_base64(keyPem) + "\n";
}

// A kubeadm-like tree with external etcd: pki/{ca,apiserver,apiserver-kubelet-client,
// front-proxy-ca,front-proxy-client}.{crt,key}, pki/sa.{key,pub}, and the kubeconfig files.
struct PkiTree {
  TempDir dir;
  Issued ca, frontProxyCa;
  core::PrivateKey key = testcerts::shared_key(testcerts::KeyKind::ecdsaP256);

  PkiTree() {
    CertSpec caSpec = spec("kubernetes", kNow + 3650 * kDay, 1);
    caSpec.isCA = true;
    ca = issue(caSpec);
    CertSpec fpSpec = spec("front-proxy-ca", kNow + 3650 * kDay, 2);
    fpSpec.isCA = true;
    frontProxyCa = issue(fpSpec);
    write_pair("ca", ca);
    write_pair("front-proxy-ca", frontProxyCa);
    write_leaf("apiserver", "kube-apiserver", kNow + 365 * kDay, ca);
    write_leaf("apiserver-kubelet-client", "kube-apiserver-kubelet-client", kNow + 365 * kDay, ca);
    write_leaf("front-proxy-client", "front-proxy-client", kNow + 365 * kDay, frontProxyCa);
    dir.write("pki/sa.key", testcerts::key_pem_pkcs8(key));
    dir.write("pki/sa.pub", testcerts::public_key_pem(key, false));
    for (const char* conf : {"admin.conf", "controller-manager.conf", "scheduler.conf"}) {
      write_conf(conf, std::string("system:") + conf, kNow + 365 * kDay, ca);
    }
    write_conf("kubelet.conf", "system:node:cp", kNow + 365 * kDay, ca);
  }

  void write_pair(const std::string& name, const Issued& issued) {
    dir.write("pki/" + name + ".crt", issued.certPem());
    dir.write("pki/" + name + ".key", testcerts::key_pem_pkcs8(issued.key));
  }
  void write_leaf(const std::string& name, const std::string& cn, std::int64_t notAfter,
                  const Issued& issuer) {
    CertSpec s = spec(cn, notAfter);
    if (notAfter <= kNow) {
      s.notBefore = notAfter - 365 * kDay;
    }
    write_pair(name, issue(s, &issuer));
  }
  void write_conf(const std::string& name, const std::string& cn, std::int64_t notAfter,
                  const Issued& issuer) {
    const Issued client = issue(spec(cn, notAfter), &issuer);
    dir.write(name, kubeconfig_yaml(ca.certPem(), "user", client.certPem(),
                                    testcerts::key_pem_pkcs8(client.key)));
  }
  std::string pki(const std::string& name) const { return (dir.path() / "pki" / name).string(); }

  certs::PkiOptions options() const {
    certs::PkiOptions o;
    o.common.now = [] { return kNow; };
    o.dir = (dir.path() / "pki").string();
    o.kubeconfigDir = dir.path().string();
    return o;
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

}  // namespace

TEST_CASE("certs::pki checks a healthy kubeadm tree with external etcd", "[certs]") {
  PkiTree tree;
  const core::Report report = certs::check_pki(tree.options());
  // 10 PKI certificates + sa + 5 kubeconfig files.
  REQUIRE(report.checks.size() == 16);
  for (const core::Check& check : report.checks) {
    CHECK(check.id == "cert.pki");
    CHECK(check.layer == core::Layer::cert);
  }
  const core::Check& apiserver = find_check(report, tree.pki("apiserver.crt"));
  CHECK(apiserver.status == core::CheckStatus::ok);
  CHECK(apiserver.details["ca"] == "ca");
  CHECK(apiserver.details["name"] == "apiserver");
  CHECK(apiserver.details["subject"] == "CN=kube-apiserver");
  CHECK(find_check(report, tree.pki("ca.crt")).status == core::CheckStatus::ok);
  CHECK(find_check(report, tree.pki("ca.crt")).details["isCA"] == true);
  CHECK(find_check(report, tree.pki("front-proxy-client.crt")).details["ca"] == "front-proxy-ca");
  CHECK(find_check(report, tree.pki("front-proxy-client.crt")).status == core::CheckStatus::ok);
  const core::Check& etcdServer = find_check(report, tree.pki("etcd/server.crt"));
  CHECK(etcdServer.status == core::CheckStatus::skip);
  CHECK(etcdServer.message == tree.pki("etcd/server.crt") + ": not found; " + tree.options().dir +
                                  " has no etcd folder (external etcd)");
  CHECK(find_check(report, tree.pki("apiserver-etcd-client.crt")).status ==
        core::CheckStatus::skip);
  const core::Check& sa = find_check(report, tree.pki("sa.key"));
  CHECK(sa.status == core::CheckStatus::ok);
  CHECK(sa.message == "sa.pub is the public half of sa.key");
  const core::Check& admin = find_check(report, "admin.conf");
  CHECK(admin.status == core::CheckStatus::ok);
  CHECK(admin.details["ca"] == "ca");
  CHECK(admin.details["subject"] == "CN=system:admin.conf");
  CHECK(find_check(report, "kubelet.conf").status == core::CheckStatus::ok);
  const core::Check& superAdmin = find_check(report, "super-admin.conf");
  CHECK(superAdmin.status == core::CheckStatus::skip);
  CHECK(core::verdict(report) == core::CheckStatus::ok);
  std::ostringstream out, err;
  CHECK(certs::run_pki(tree.options(), out, err) == 0);
  CHECK(out.str().find("CERTIFICATE AUTHORITY") != std::string::npos);
}

TEST_CASE("certs::pki finds broken pairs, wrong CAs, missing and expired files", "[certs]") {
  PkiTree tree;
  const std::string apiserverCrt = tree.pki("apiserver.crt");
  SECTION("a key that does not match") {
    tree.dir.write("pki/apiserver.key",
                   testcerts::key_pem_pkcs8(testcerts::make_key(testcerts::KeyKind::ecdsaP256)));
    const core::Check check = find_check(certs::check_pki(tree.options()), apiserverCrt);
    CHECK(check.status == core::CheckStatus::fail);
    CHECK(check.message == "does not match its key " + tree.pki("apiserver.key") +
                               "; valid until 2027-11-26T06:50:00Z (365 days left)");
    CHECK(check.hint ==
          "the .crt and .key come from different pairs: restore the pair from a "
          "backup or re-issue both: kubeadm certs renew apiserver");
  }
  SECTION("a certificate signed by the wrong CA") {
    CertSpec other = spec("other-ca", kNow + 3650 * kDay);
    other.isCA = true;
    tree.write_leaf("apiserver", "kube-apiserver", kNow + 365 * kDay, issue(other));
    const core::Check check = find_check(certs::check_pki(tree.options()), apiserverCrt);
    CHECK(check.status == core::CheckStatus::fail);
    CHECK(check.message == "not signed by ca (" + tree.pki("ca.crt") +
                               "); valid until 2027-11-26T06:50:00Z (365 days left)");
    CHECK(check.hint == "re-issue it from ca: kubeadm certs renew apiserver");
    // front-proxy-client signed by the cluster CA instead of front-proxy-ca.
    tree.write_leaf("front-proxy-client", "front-proxy-client", kNow + 365 * kDay, tree.ca);
    const core::Check fp =
        find_check(certs::check_pki(tree.options()), tree.pki("front-proxy-client.crt"));
    CHECK(fp.status == core::CheckStatus::fail);
    CHECK(fp.message.starts_with("not signed by front-proxy-ca ("));
  }
  SECTION("a missing certificate kubeadm always makes") {
    std::filesystem::remove(apiserverCrt);
    const core::Report report = certs::check_pki(tree.options());
    const core::Check& check = find_check(report, apiserverCrt);
    CHECK(check.status == core::CheckStatus::fail);
    CHECK(check.message == apiserverCrt + ": missing (kubeadm always creates it)");
    CHECK(check.hint == "kubeadm init phase certs apiserver (or restore it from a backup)");
    std::ostringstream out, err;
    CHECK(certs::run_pki(tree.options(), out, err) == 1);
  }
  SECTION("an expired certificate and an expired admin.conf") {
    tree.write_leaf("apiserver-kubelet-client", "kube-apiserver-kubelet-client", kNow - 2 * kDay,
                    tree.ca);
    tree.write_conf("admin.conf", "kubernetes-admin", kNow - kDay, tree.ca);
    const core::Report report = certs::check_pki(tree.options());
    const core::Check& client = find_check(report, tree.pki("apiserver-kubelet-client.crt"));
    CHECK(client.status == core::CheckStatus::fail);
    CHECK(client.message == "expired 2 days ago (notAfter 2026-11-24T06:50:00Z)");
    CHECK(client.hint == "kubeadm certs renew apiserver-kubelet-client");
    const core::Check& admin = find_check(report, "admin.conf");
    CHECK(admin.status == core::CheckStatus::fail);
    CHECK(admin.hint == "kubeadm certs renew admin.conf");
  }
  SECTION("an expiring CA and kubelet.conf get their own hints") {
    CertSpec caSpec = spec("kubernetes", kNow + 5 * kDay, 1);
    caSpec.isCA = true;
    caSpec.key = tree.ca.key;
    tree.write_pair("ca", issue(caSpec));
    tree.write_conf("kubelet.conf", "system:node:cp", kNow + 5 * kDay, tree.ca);
    const core::Report report = certs::check_pki(tree.options());
    const core::Check& ca = find_check(report, tree.pki("ca.crt"));
    CHECK(ca.status == core::CheckStatus::warn);
    CHECK(ca.hint ==
          "CAs are not renewed by kubeadm certs renew: see 'Manual certificate "
          "renewal' / kubeadm certs generate-csr");
    const core::Check& kubelet = find_check(report, "kubelet.conf");
    CHECK(kubelet.status == core::CheckStatus::warn);
    CHECK(kubelet.hint ==
          "kubelet client certificates rotate on their own "
          "(rotateCertificates); check "
          "/var/lib/kubelet/pki/kubelet-client-current.pem");
    // The leaves still verify against the re-issued CA (same key, same name).
    CHECK(find_check(report, apiserverCrt).status == core::CheckStatus::ok);
  }
  SECTION("sa.pub from another key") {
    tree.dir.write("pki/sa.pub", testcerts::public_key_pem(
                                     testcerts::make_key(testcerts::KeyKind::ecdsaP256), false));
    const core::Check sa = find_check(certs::check_pki(tree.options()), tree.pki("sa.key"));
    CHECK(sa.status == core::CheckStatus::fail);
    CHECK(sa.message == "sa.pub is not the public half of sa.key");
  }
  SECTION("a local etcd folder makes etcd certificates required") {
    std::filesystem::create_directories(tree.dir.path() / "pki" / "etcd");
    const core::Check etcd = find_check(certs::check_pki(tree.options()), tree.pki("etcd/ca.crt"));
    CHECK(etcd.status == core::CheckStatus::fail);
  }
}

namespace {

// Two clusters (lab: lab-ca inline; other: other-ca from a file), users admin (inline, from
// lab-ca, expiring in 10 days), dev (files, from other-ca but paired with lab by a context) and
// a token user.
struct KubeconfigTree {
  TempDir dir;
  Issued labCa, otherCa, admin, dev;
  std::string path;

  KubeconfigTree() {
    CertSpec s = spec("lab-ca", kNow + 3650 * kDay, 1);
    s.isCA = true;
    labCa = issue(s);
    s = spec("other-ca", kNow + 3650 * kDay, 2);
    s.isCA = true;
    otherCa = issue(s);
    admin = issue(spec("kubernetes-admin", kNow + 10 * kDay), &labCa);
    CertSpec devSpec = spec("dev", kNow + 365 * kDay);
    devSpec.key = testcerts::make_key(testcerts::KeyKind::ecdsaP256);
    dev = issue(devSpec, &otherCa);
    dir.write("other-ca.crt", otherCa.certPem());
    dir.write("dev.crt", dev.certPem());
    dir.write("dev.key", testcerts::key_pem_pkcs8(dev.key));
    path = dir.write(
        "config",
        "apiVersion: v1\nkind: Config\ncurrent-context: lab-admin\nclusters:\n"
        "- name: lab\n  cluster:\n    server: https://lab:6443\n"
        "    certificate-authority-data: " +
            core::encode_base64(labCa.certPem()) +
            "\n- name: other\n  cluster:\n    server: https://other:6443\n"
            "    certificate-authority: other-ca.crt\n"
            "contexts:\n- name: lab-admin\n  context: {cluster: lab, user: admin}\n"
            "- name: lab-dev\n  context: {cluster: lab, user: dev}\n"
            "- name: other-dev\n  context: {cluster: other, user: dev}\n"
            "users:\n- name: admin\n  user:\n    client-certificate-data: " +
            core::encode_base64(admin.certPem()) +
            "\n    client-key-data: " + core::encode_base64(testcerts::key_pem_pkcs8(admin.key)) +
            "\n- name: dev\n  user:\n    client-certificate: dev.crt\n    client-key: dev.key\n"
            "- name: robot\n  user:\n    token: abc\n");
  }

  certs::KubeconfigOptions options() const {
    certs::KubeconfigOptions o;
    o.common.now = [] { return kNow; };
    o.rules.explicitPath = path;
    return o;
  }
};

}  // namespace

TEST_CASE("certs::kubeconfig checks CAs and client certificates", "[certs]") {
  KubeconfigTree tree;
  core::Result<core::Kubeconfig> config = core::load_kubeconfig(tree.options().rules);
  REQUIRE(config);
  SECTION("every cluster and user") {
    core::Result<core::Report> report = certs::check_kubeconfig(*config, tree.options());
    REQUIRE(report);
    REQUIRE(report->checks.size() == 4);
    for (const core::Check& check : report->checks) {
      CHECK(check.id == "cert.kubeconfig");
    }
    const core::Check& lab = find_check(*report, "kubeconfig/cluster/lab");
    CHECK(lab.status == core::CheckStatus::ok);
    CHECK(lab.details["subject"] == "CN=lab-ca");
    CHECK(find_check(*report, "kubeconfig/cluster/other").details["subject"] == "CN=other-ca");
    const core::Check& admin = find_check(*report, "kubeconfig/user/admin");
    CHECK(admin.status == core::CheckStatus::warn);
    CHECK(admin.message == "expires in 10 days (notAfter 2026-12-06T06:50:00Z)");
    CHECK(admin.hint ==
          "re-issue the kubeconfig's client certificate (kubeadm kubeconfig user "
          "--client-name kubernetes-admin)");
    CHECK(admin.details["clusters"] == nlohmann::ordered_json::array({"lab"}));
    const core::Check& dev = find_check(*report, "kubeconfig/user/dev");
    CHECK(dev.status == core::CheckStatus::fail);
    CHECK(dev.message ==
          "not signed by the CA of cluster \"lab\" (the API server will reject "
          "it); valid until 2027-11-26T06:50:00Z (365 days left)");
    CHECK(dev.details["clusters"] == nlohmann::ordered_json::array({"lab", "other"}));
    std::ostringstream out, err;
    CHECK(certs::run_kubeconfig(tree.options(), out, err) == 1);
  }
  SECTION("--current limits to the current context") {
    certs::KubeconfigOptions options = tree.options();
    options.current = true;
    core::Result<core::Report> report = certs::check_kubeconfig(*config, options);
    REQUIRE(report);
    REQUIRE(report->checks.size() == 2);
    CHECK(report->checks[0].details["source"] == "kubeconfig/cluster/lab");
    CHECK(report->checks[1].details["source"] == "kubeconfig/user/admin");
    std::ostringstream out, err;
    CHECK(certs::run_kubeconfig(options, out, err) == 0);
    options.common.failOn = core::FailOn::warn;
    CHECK(certs::run_kubeconfig(options, out, err) == 1);
    options.context = "other-dev";
    report = certs::check_kubeconfig(*config, options);
    REQUIRE(report);
    REQUIRE(report->checks.size() == 2);
    CHECK(report->checks[1].details["source"] == "kubeconfig/user/dev");
    CHECK(report->checks[1].status == core::CheckStatus::ok);
    options.context = "nope";
    CHECK(certs::check_kubeconfig(*config, options).error().message ==
          "--current: context \"nope\" not found in the kubeconfig");
  }
  SECTION("a key that does not match, a missing CA file") {
    tree.dir.write("dev.key", testcerts::key_pem_pkcs8(tree.admin.key));
    std::filesystem::remove(tree.dir.path() / "other-ca.crt");
    core::Result<core::Report> report = certs::check_kubeconfig(*config, tree.options());
    REQUIRE(report);
    const core::Check& dev = find_check(*report, "kubeconfig/user/dev");
    CHECK(dev.status == core::CheckStatus::fail);
    CHECK(dev.message.starts_with("not signed by the CA of cluster \"lab\""));
    CHECK(dev.message.find("does not match its client key") != std::string::npos);
    const core::Check& other = find_check(*report, "kubeconfig/cluster/other");
    CHECK(other.status == core::CheckStatus::fail);
    CHECK(other.message.find("certificate-authority: open ") != std::string::npos);
  }
  SECTION("DER, which kubectl cannot read") {
    tree.dir.write("dev.key", testcerts::key_der(tree.dev.key));
    core::Result<core::Report> report = certs::check_kubeconfig(*config, tree.options());
    REQUIRE(report);
    const core::Check& dev = find_check(*report, "kubeconfig/user/dev");
    CHECK(dev.status == core::CheckStatus::fail);
    CHECK(dev.message.find("client-key is DER, which kubectl cannot read (PEM only)") !=
          std::string::npos);
    CHECK(dev.message.find("does not match") == std::string::npos);
    tree.dir.write("dev.crt", tree.dev.cert.der());
    report = certs::check_kubeconfig(*config, tree.options());
    REQUIRE(report);
    CHECK(find_check(*report, "kubeconfig/user/dev")
              .message.find("client-certificate is DER, which kubectl cannot read") !=
          std::string::npos);
  }
  SECTION("a kubeconfig that does not load is exit 2") {
    certs::KubeconfigOptions options = tree.options();
    options.rules.explicitPath = (tree.dir.path() / "missing").string();
    std::ostringstream out, err;
    CHECK(certs::run_kubeconfig(options, out, err) == 2);
    CHECK(err.str().starts_with("kubectl-certs: error: "));
  }
}

TEST_CASE("certs::parse_host_port", "[certs]") {
  CHECK(*certs::parse_host_port("api.lab.test:6443") ==
        std::make_pair(std::string("api.lab.test"), 6443));
  CHECK(*certs::parse_host_port("[::1]:443") == std::make_pair(std::string("::1"), 443));
  CHECK(certs::parse_host_port("api").error().message == "--host: \"api\" is not host:port");
  CHECK(!certs::parse_host_port("::1:443"));
  CHECK(!certs::parse_host_port("api:0"));
  CHECK(!certs::parse_host_port("api:70000"));
  CHECK(!certs::parse_host_port(":443"));
}

TEST_CASE("certs::server checks the served chain, its CA and the name dialled", "[certs]") {
  CertSpec caSpec = spec("lab-ca", kNow + 3650 * kDay, 1);
  caSpec.isCA = true;
  const Issued ca = issue(caSpec);
  CertSpec leafSpec = spec("kube-apiserver", kNow + 365 * kDay, 2);
  leafSpec.dnsNames = {"api.lab.test", "kubernetes"};
  leafSpec.ipAddresses = {"10.96.0.1"};
  leafSpec.extKeyUsage = {"serverAuth"};
  const Issued leaf = issue(leafSpec, &ca);

  certs::ServerOptions options;
  options.common.now = [] { return kNow; };
  options.host = "api.lab.test";
  options.port = 6443;
  options.caPem = ca.certPem();
  options.caSource = "/k/ca.crt";
  std::string probedName;
  options.probe = [&](const std::string&, int, const core::TlsProbeOptions& probeOptions) {
    probedName = probeOptions.serverName;
    core::TlsProbe probe;
    probe.chain = {leaf.cert, ca.cert};
    return core::Result<core::TlsProbe>(probe);
  };

  SECTION("a good chain") {
    const core::Report report = certs::check_server(options);
    REQUIRE(report.checks.size() == 2);
    CHECK(probedName == "api.lab.test");
    CHECK(report.checks[0].id == "cert.server");
    CHECK(report.checks[0].endpoint == "api.lab.test:6443");
    CHECK(report.checks[0].details["source"] == "api.lab.test:6443#0");
    CHECK(report.checks[1].details["source"] == "api.lab.test:6443#1");
    CHECK(report.checks[0].status == core::CheckStatus::ok);
    CHECK(report.checks[0].details["verified"] == true);
    CHECK(report.checks[0].details["verifiedAgainst"] == "/k/ca.crt");
    CHECK(report.checks[1].details["isCA"] == true);
    std::ostringstream out, err;
    CHECK(certs::run_server(options, out, err) == 0);
  }
  SECTION("--sni changes the name checked") {
    options.serverName = "kubernetes";
    options.host = "198.18.0.2";
    CHECK(certs::check_server(options).checks[0].status == core::CheckStatus::ok);
    CHECK(probedName == "kubernetes");
  }
  SECTION("a name the certificate does not hold") {
    options.host = "198.18.0.32";
    const core::Report report = certs::check_server(options);
    CHECK(report.checks[0].status == core::CheckStatus::fail);
    CHECK(report.checks[0].message ==
          "certificate is valid for api.lab.test, kubernetes, 10.96.0.1, not 198.18.0.32; valid "
          "until 2027-11-26T06:50:00Z (365 days left)");
    CHECK(report.checks[0].hint.starts_with("add the name to the serving certificate's SANs"));
    CHECK(report.checks[1].status == core::CheckStatus::ok);
  }
  SECTION("a chain from another CA") {
    CertSpec otherSpec = spec("other-ca", kNow + 3650 * kDay, 3);
    otherSpec.isCA = true;
    options.caPem = issue(otherSpec).certPem();
    const core::Report report = certs::check_server(options);
    CHECK(report.checks[0].status == core::CheckStatus::fail);
    CHECK(report.checks[0].message.starts_with("chain does not verify against /k/ca.crt"));
    CHECK(report.checks[0].message.find("ends at its own root CA CN=lab-ca") != std::string::npos);
    CHECK(report.checks[0].hint.starts_with("set /k/ca.crt to the CA that signed"));
    CHECK(report.checks[0].details["verified"] == false);
  }
  SECTION("a leaf served without its intermediate: the same diagnosis as apicheck's") {
    CertSpec middleSpec = spec("lab-intermediate", kNow + 3650 * kDay, 4);
    middleSpec.isCA = true;
    const Issued middle = issue(middleSpec, &ca);
    const Issued below = issue(leafSpec, &middle);
    options.probe = [&](const std::string&, int, const core::TlsProbeOptions&) {
      core::TlsProbe probe;
      probe.chain = {below.cert};
      probe.clientCertRequested = true;
      probe.acceptableClientCaNames = {"CN=lab-ca"};
      return core::Result<core::TlsProbe>(probe);
    };
    const core::Report report = certs::check_server(options);
    CHECK(report.checks[0].status == core::CheckStatus::fail);
    CHECK(report.checks[0].message.find(
              "the server sent only its own certificate, issued by CN=lab-intermediate") !=
          std::string::npos);
    CHECK(report.checks[0].message.find("the served chain is incomplete") != std::string::npos);
    CHECK(report.checks[0].hint.starts_with("serve the full chain"));
    CHECK(report.checks[0].hint.find("add that intermediate to /k/ca.crt") != std::string::npos);
  }
  SECTION("an expired serving certificate") {
    CertSpec old = leafSpec;
    old.notBefore = kNow - 400 * kDay;
    old.notAfter = kNow - 3 * kDay;
    const Issued expired = issue(old, &ca);
    options.probe = [&](const std::string&, int, const core::TlsProbeOptions&) {
      core::TlsProbe probe;
      probe.chain = {expired.cert};
      return core::Result<core::TlsProbe>(probe);
    };
    const core::Report report = certs::check_server(options);
    REQUIRE(report.checks.size() == 1);
    CHECK(report.checks[0].status == core::CheckStatus::fail);
    CHECK(report.checks[0].message == "expired 3 days ago (notAfter 2026-11-23T06:50:00Z)");
    CHECK(report.checks[0].hint ==
          "renew the serving certificate, e.g. kubeadm certs renew "
          "apiserver, then restart kube-apiserver");
  }
  SECTION("a server that cannot be reached") {
    options.probe = [](const std::string&, int, const core::TlsProbeOptions&) {
      return core::Result<core::TlsProbe>(
          core::Error{"dial tcp 10.0.0.1:6443: connect: connection refused"});
    };
    const core::Report report = certs::check_server(options);
    REQUIRE(report.checks.size() == 1);
    CHECK(report.checks[0].status == core::CheckStatus::fail);
    CHECK(report.checks[0].message == "dial tcp 10.0.0.1:6443: connect: connection refused");
    std::ostringstream out, err;
    CHECK(certs::run_server(options, out, err) == 1);
  }
}

TEST_CASE("certs::pki through the command table", "[certs]") {
  PkiTree tree;
  auto run = [](std::vector<std::string> args, std::string& out, std::string& err) {
    std::ostringstream o, e;
    const core::Invocation invocation{"kubectl certs", "certs", "pki", "Inspect a PKI", args, o, e};
    const int code = certs::pki_command(invocation);
    out = o.str();
    err = e.str();
    return code;
  };
  std::string out, err;
  const std::string missing = (tree.dir.path() / "nope").string();
  CHECK(run({"--dir", missing}, out, err) == 2);
  CHECK(err == "kubectl-certs: error: --dir: " + missing +
                   ": no such directory (run this on a control-plane node, or use --dir)\n");
  CHECK(run({"--dir", tree.options().dir, "--kubeconfig-dir", tree.options().kubeconfigDir, "-o",
             "prometheus"},
            out, err) != 2);  // the tree is dated from kNow, the command uses the real clock
  CHECK(out.find("kubectl_certs_not_after_seconds{source=\"admin.conf\",subject=\"CN=system:"
                 "admin.conf\",issuer=\"CN=kubernetes\"}") != std::string::npos);
  CHECK(run({"--help"}, out, err) == 0);
  CHECK(out.find("--kubeconfig-dir") != std::string::npos);
  CHECK(run({"extra"}, out, err) == 2);
}

TEST_CASE("certs::pki text output names certificates as kubeadm does", "[certs]") {
  PkiTree tree;
  std::ostringstream out, err;
  CHECK(certs::run_pki(tree.options(), out, err) == 0);
  INFO(out.str());
  std::istringstream lines(out.str());
  std::vector<std::string> names;
  for (std::string line; std::getline(lines, line);) {
    names.push_back(line.substr(0, line.find(' ')));
  }
  // Leaves by expiry (all equal: table order kept), then the CAs, then the skipped ones.
  REQUIRE(names.size() >= 14);
  CHECK(names[0] == "CERTIFICATE");
  CHECK(std::vector<std::string>(names.begin() + 1, names.begin() + 8) ==
        std::vector<std::string>{"apiserver", "apiserver-kubelet-client", "front-proxy-client",
                                 "admin.conf", "controller-manager.conf", "scheduler.conf",
                                 "kubelet.conf"});
  CHECK(names[8] == "");
  CHECK(names[9] == "CERTIFICATE");  // "CERTIFICATE AUTHORITY"
  CHECK(names[10] == "ca");
  CHECK(names[11] == "front-proxy-ca");
  CHECK(out.str().find("skip  super-admin.conf: ") != std::string::npos);
  CHECK(out.str().ends_with("\nverdict: ok\n"));
}

TEST_CASE("certs::pki accepts an external CA (no ca.key) but not a leaf without its key",
          "[certs]") {
  PkiTree tree;
  std::filesystem::remove(tree.dir.path() / "pki" / "ca.key");
  std::filesystem::remove(tree.dir.path() / "pki" / "apiserver.key");
  const core::Report report = certs::check_pki(tree.options());
  const core::Check ca = find_check(report, tree.pki("ca.crt"));
  CHECK(ca.status == core::CheckStatus::ok);
  CHECK(ca.details["externallyManaged"] == true);
  const core::Check apiserver = find_check(report, tree.pki("apiserver.crt"));
  CHECK(apiserver.status == core::CheckStatus::fail);
  CHECK(apiserver.message == "cannot read its key: open " + tree.pki("apiserver.key") +
                                 ": no such file or directory; valid until 2027-11-26T06:50:00Z "
                                 "(365 days left)");
  CHECK(apiserver.hint == "restore " + tree.pki("apiserver.key") +
                              " from a backup, or re-issue both: kubeadm certs renew apiserver");
}
