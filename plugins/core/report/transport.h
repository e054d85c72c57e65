// Where a failed HTTP transfer broke, as a report layer.
#pragma once

#include "core/net/http.h"
#include "core/report/report.h"

namespace kp::core {

// The report layer a failed transfer broke at. Where it broke decides: a server that accepts
// TCP and never finishes TLS is a TLS problem (libcurl calls it a connection timeout), one that
// connects and then answers garbage, too slowly or not at all is `answered` (health for a
// health probe, auth for a whoami...). A bad URL or proxy is the config's or the proxy's
// wherever it is noticed. With no phase measured (a fake client), the kind decides.
Layer transport_layer(TransportError kind, TransferPhase phase, Layer answered);

}  // namespace kp::core
