// Key exchange group names as TLSGroups accepts them: the IANA TLS Supported Groups names of the
// groups the bridge offers (X25519MLKEM768, x25519, secp256r1, secp384r1), in any letter case.
// Apache-free (unit-tested).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mod_tls {

// The groups of `args` (each may hold several ':'-separated names) as IANA ids, in the given
// order, a repeated name counted once. Returns "" or, for a name that is not a supported group,
// an error naming it and the valid names.
std::string parse_kx_groups(std::span<const std::string_view> args, std::vector<uint16_t> &ids);

// The valid names, space-separated, in the default preference order.
std::string kx_group_names();

}  // namespace mod_tls
