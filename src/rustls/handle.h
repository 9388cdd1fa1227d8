// std::unique_ptr owners for bridge handles, each with the bridge's own free function.
#pragma once

#include <memory>

#include "tls_bridge.h"

namespace tls {

template <class T, void (*Free)(T *)>
struct BridgeDeleter {
    void operator()(T *p) const { Free(p); }
};

template <class T, void (*Free)(T *)>
using BridgeHandle = std::unique_ptr<T, BridgeDeleter<T, Free>>;

using CertifiedKeyHandle = BridgeHandle<tlsb_certified_key, tlsb_certified_key_free>;
using ServerConfigHandle = BridgeHandle<tlsb_server_config, tlsb_server_config_free>;
using ConnectionHandle = BridgeHandle<tlsb_conn, tlsb_conn_free>;
using ClientConfigHandle = BridgeHandle<tlsb_client_config, tlsb_client_config_free>;
using ClientVerifierHandle = BridgeHandle<tlsb_client_verifier, tlsb_client_verifier_free>;
using TicketKeysHandle = BridgeHandle<tlsb_ticket_keys, tlsb_ticket_keys_free>;

}  // namespace tls
