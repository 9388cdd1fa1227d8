#include "config/group_names.h"

#include <algorithm>
#include <strings.h>

#include "config/cipher_names.h"
#include "rustls/connection.h"

namespace mod_tls {

namespace {

bool same_name(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::string kx_group_names() {
    std::string out;
    for (uint16_t id : tls::supported_kx_groups()) {
        if (!out.empty()) out += ' ';
        out += tls::kx_group_name(id);
    }
    return out;
}

std::string parse_kx_groups(std::span<const std::string_view> args, std::vector<uint16_t> &ids) {
    ids.clear();
    const auto supported = tls::supported_kx_groups();
    for (const std::string &name : split_cipher_names(args)) {
        const auto found = std::find_if(supported.begin(), supported.end(), [&](uint16_t id) {
            return same_name(name, tls::kx_group_name(id));
        });
        if (found == supported.end()) {
            return "unknown key exchange group '" + name + "'; the valid names are: " + kx_group_names();
        }
        if (std::find(ids.begin(), ids.end(), *found) == ids.end()) ids.push_back(*found);
    }
    if (ids.empty()) return "name at least one key exchange group: " + kx_group_names();
    return "";
}

}  // namespace mod_tls
