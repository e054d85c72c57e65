#include "core/report/transport.h"

namespace kp::core {

Layer transport_layer(TransportError kind, TransferPhase phase, Layer answered) {
  switch (kind) {
    case TransportError::badUrl:
      return Layer::config;
    case TransportError::proxy:
      return Layer::proxy;
    default:
      break;
  }
  switch (phase) {
    case TransferPhase::dns:
      return Layer::dns;
    case TransferPhase::connect:
      return Layer::tcp;
    case TransferPhase::tls:
      return Layer::tls;
    case TransferPhase::response:
      return answered;
    case TransferPhase::unknown:
      break;
  }
  switch (kind) {
    case TransportError::dns:
      return Layer::dns;
    case TransportError::connect:
    case TransportError::timeout:
      return Layer::tcp;
    case TransportError::tlsVerify:
    case TransportError::tlsCa:
    case TransportError::tlsHandshake:
      return Layer::tls;
    default:
      return answered;
  }
}

}  // namespace kp::core
