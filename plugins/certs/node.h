// `kubectl certs node NODE`: the `pki` checks on a node (its distribution detected as `pki
// --root` does, layout.h), read through a short-lived debug pod (core/debugpod.h) that mounts
// the node's /etc and /var read-only and runs node_pki.sh, which prints the distributions'
// certificate files and only the public halves of keys.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "certs/pki.h"
#include "core/cli/cli.h"
#include "core/util/result.h"

namespace kp::certs {

// What node_pki.sh printed: each file's bytes, or why it could not be read. The error says
// what was wrong with the output (a line that is not "file|error PATH BASE64", no "done").
struct NodeFiles {
  std::map<std::string, core::Result<std::string>> files;  // by path on the node
};
core::Result<NodeFiles> parse_node_output(std::string_view text);

// PkiFiles over a node's files: exists/read/list from the map; keys are public halves.
PkiFiles node_pki_files(const NodeFiles& files);

// The subcommand entry point from the command table.
int node_command(const core::Invocation& invocation);

}  // namespace kp::certs
