// The arguments of the cipher directives (TLSCiphersPrefer/Suppress, TLSProxyCiphersPrefer/
// Suppress), shared by the frontend and the proxy directive handlers.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "apache/includes.h"

namespace mod_tls {

// Names as separate arguments and/or ':'-separated; `clear_word` alone gives the empty list.
// Unknown names are an error; with warn_unsupported, a known suite rustls does not implement
// gets a startup warning. Returns nullptr and fills `ids`, or the error message.
const char *parse_cipher_arguments(cmd_parms *cmd, std::string_view clear_word,
                                   bool warn_unsupported, int argc, char *const argv[],
                                   std::vector<uint16_t> &ids);

}  // namespace mod_tls
