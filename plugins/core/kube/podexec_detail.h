// The pieces of exec_in_pod that need no network, exposed for unit tests: the exec URL, the
// channel framing of the remotecommand WebSocket protocol (k8s.io/apimachinery
// util/remotecommand, client-go tools/remotecommand/websocket.go) and the Status that ends an
// exec.
//
// The protocol: every message is binary; its first byte is the channel (0 stdin, 1 stdout,
// 2 stderr, 3 error: one metav1.Status as JSON, 4 resize) and the rest is that channel's data.
// A message of the channel byte alone carries nothing (servers send those to open a channel).
// v5.channel.k8s.io adds channel 255, "close stream": the message {255, N} half-closes the
// client's stream N (stdin), which v4.channel.k8s.io cannot do.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/kube/podexec.h"
#include "core/util/result.h"

namespace kp::core::podexec_detail {

inline constexpr unsigned char kStdin = 0;
inline constexpr unsigned char kStdout = 1;
inline constexpr unsigned char kStderr = 2;
inline constexpr unsigned char kError = 3;
inline constexpr unsigned char kResize = 4;
inline constexpr unsigned char kCloseStream = 255;

inline constexpr std::string_view kProtocolV5 = "v5.channel.k8s.io";
inline constexpr std::string_view kProtocolV4 = "v4.channel.k8s.io";
// The Sec-WebSocket-Protocol offer, preferred first.
inline constexpr std::string_view kProtocolOffer = "v5.channel.k8s.io, v4.channel.k8s.io";

// The request target of the exec: `serverPath` (the path prefix of the server URL, "" or
// "/prefix", a trailing '/' ignored) + "/api/v1/namespaces/NS/pods/POD/exec?command=a&
// command=b[&container=C]&stdin=true|false&stdout=true&stderr=true" with every name and argument
// escaped. stdin is true only when the request has stdin data.
std::string exec_target(std::string_view serverPath, const PodExecRequest& request);

// One message: the channel byte before the data.
std::string encode_frame(unsigned char channel, std::string_view data);
// The v5 message that closes the client's `channel` (stdin).
std::string close_stream_frame(unsigned char channel);

struct Frame {
  unsigned char channel = 0;
  std::string_view data;  // points into the message
};
// Splits a message into channel and data; nullopt for an empty message (no channel at all).
std::optional<Frame> decode_frame(std::string_view message);

// What the status channel said.
struct ExecStatus {
  bool success = false;
  // 0 on Success; N for a Failure with reason NonZeroExitCode and a cause
  // {reason: ExitCode, message: "N"}; -1 for any other Failure (the command could not be run,
  // the container is gone, ...), whose message says why.
  int exitCode = 0;
  std::string reason;   // the Status reason: "NonZeroExitCode", "InternalError", ... or ""
  std::string message;  // the Status message ("" on Success)
};
// Parses the JSON of channel 3 (a metav1.Status, usually without kind/apiVersion). Anything
// that is not a JSON object with "status" Success or Failure is an error.
Result<ExecStatus> parse_exec_status(std::string_view json);

// Sorts the messages of one exec into stdout, stderr and the status, each of stdout and stderr
// bounded by maxOutputBytes (the status by 1 MiB). Stdin/resize echoes and unknown channels
// are ignored, as client-go does.
class ExecCollector {
 public:
  explicit ExecCollector(std::size_t maxOutputBytes) : max_(maxOutputBytes) {}

  // Takes one message; an error (naming the stream and the limit) when a stream would exceed
  // its limit, after which the collector should be dropped.
  Status add(std::string_view message);

  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }
  const std::string& status() const { return status_; }
  bool sawStatus() const { return sawStatus_; }
  std::string takeOut() { return std::move(out_); }
  std::string takeErr() { return std::move(err_); }

 private:
  std::size_t max_;
  std::string out_;
  std::string err_;
  std::string status_;
  bool sawStatus_ = false;
};

}  // namespace kp::core::podexec_detail
