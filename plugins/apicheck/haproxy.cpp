// HAProxy's view of the API server backends (--haproxy-stats): its `show stat` CSV, read from
// the stats socket or the stats page, and what its health check really tests.
#include <string>
#include <string_view>
#include <vector>

#include "apicheck/run.h"
#include "core/net/proxy.h"
#include "core/util/text.h"

namespace kp::apicheck::detail {

namespace {

std::vector<std::string> split_csv_line(std::string_view line) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    fields.emplace_back(line.substr(start, comma - start));
    if (comma == std::string_view::npos) {
      return fields;
    }
    start = comma + 1;
  }
}

}  // namespace

core::Result<std::vector<HaproxyServer>> parse_haproxy_stats(std::string_view csv) {
  const std::size_t eol = csv.find('\n');
  const std::string_view head = csv.substr(0, eol);
  if (!head.starts_with("# ")) {
    return core::Error{"not HAProxy's CSV statistics (the first line is not \"# pxname,...\": " +
                       core::quote_bytes(head, 60) + ")"};
  }
  const std::vector<std::string> columns = split_csv_line(head.substr(2));
  const auto column = [&columns](std::string_view name) {
    for (std::size_t i = 0; i < columns.size(); ++i) {
      if (columns[i] == name) {
        return i;
      }
    }
    return std::string::npos;
  };
  const std::size_t pxname = column("pxname"), svname = column("svname"), status = column("status"),
                    checkStatus = column("check_status"), checkDesc = column("check_desc"),
                    addr = column("addr");
  if (pxname == std::string::npos || svname == std::string::npos || status == std::string::npos) {
    return core::Error{"HAProxy's CSV statistics have no pxname, svname or status column"};
  }
  std::vector<HaproxyServer> servers;
  std::size_t pos = eol == std::string_view::npos ? csv.size() : eol + 1;
  while (pos < csv.size()) {
    std::size_t end = csv.find('\n', pos);
    if (end == std::string_view::npos) {
      end = csv.size();
    }
    const std::string_view line = csv.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line.starts_with('#')) {
      continue;
    }
    const std::vector<std::string> fields = split_csv_line(line);
    const auto field = [&fields](std::size_t i) {
      return i < fields.size() ? std::string(core::trim(fields[i])) : std::string();
    };
    HaproxyServer server;
    server.proxy = field(pxname);
    server.server = field(svname);
    if (server.server == "FRONTEND" || server.server == "BACKEND" || server.server.empty()) {
      continue;
    }
    server.status = field(status);
    server.checkStatus = field(checkStatus);
    if (server.checkStatus.starts_with("* ")) {  // a check in progress
      server.checkStatus.erase(0, 2);
    }
    server.checkDesc = field(checkDesc);
    server.address = field(addr);
    servers.push_back(std::move(server));
  }
  return servers;
}

bool HaproxyServer::sends_traffic() const {
  return status.starts_with("UP") || status == "no check";
}

std::string HaproxyServer::check_kind() const {
  if (checkStatus.starts_with("L7")) {
    return "an HTTP check";
  }
  if (checkStatus.starts_with("L6")) {
    return "a TLS-handshake-only check";
  }
  if (checkStatus.starts_with("L4")) {
    return "a TCP-connect-only check";
  }
  return status == "no check" ? "no health check" : "its health check";
}

core::Result<std::vector<HaproxyServer>> read_haproxy_stats(const Run& run) {
  // A stats URL may carry stats auth's user:password: shown with the password masked.
  const std::string source = core::mask_proxy_url(run.options.haproxyStats);
  core::Result<std::string> csv =
      run.options.deps.haproxyStats(run.options.haproxyStats, run.options.timeout);
  if (!csv) {
    return csv.error();
  }
  core::Result<std::vector<HaproxyServer>> servers = parse_haproxy_stats(*csv);
  run.log("HAProxy statistics from " + source + ": " + std::to_string(csv->size()) + " bytes, " +
          (servers ? std::to_string(servers->size()) + " servers" : servers.error().message));
  if (!servers) {
    return core::Error{source + ": " + servers.error().message};
  }
  return servers;
}

}  // namespace kp::apicheck::detail
