// libFuzzer target: the node files and tool outputs `netdebug local` parses (plugins/netdebug
// local.h): the kube-apiserver static pod manifest (YAML), /proc/net/tcp, iptables-save, nft
// -j list ruleset and its handles listing, `ip -j route get` and ping's MTU output. The same
// bytes go to every parser.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "fuzz/fuzz_util.h"
#include "netdebug/local.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace nd = kp::netdebug;
  const std::string_view text = kp::fuzz::as_text(data, size);
  const auto manifest = nd::parse_manifest(text);
  (void)manifest;
  for (const nd::TcpSocket& socket : nd::parse_proc_net_tcp(text)) {
    (void)socket;
  }
  (void)nd::decode_proc_address(text.substr(0, 40));
  (void)nd::analyze_iptables_save(text, 6443, "iptables");
  const std::map<std::string, std::string> handles = nd::nft_rule_texts(text);
  (void)nd::analyze_nft_json(text, 6443, handles);
  (void)nd::parse_ip_route_get(text);
  if (const auto mtu = nd::parse_ping_mtu(text)) {
    (void)*mtu;
  }
  return 0;
}
