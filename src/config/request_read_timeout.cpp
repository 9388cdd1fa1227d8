#include "config/request_read_timeout.h"

#include <strings.h>

#include <charconv>

namespace mod_tls {

namespace {

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() &&
           strncasecmp(text.data(), prefix.data(), prefix.size()) == 0;
}

std::optional<long> seconds_at(std::string_view text) {
    long value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end == text.data() || value < 0) return std::nullopt;
    return value;
}

}  // namespace

std::optional<std::chrono::seconds> handshake_stage_limit(std::string_view args) {
    constexpr std::string_view kKey = "handshake=";
    while (!args.empty()) {
        const size_t space = args.find_first_of(" \t");
        std::string_view word = args.substr(0, space);
        args = space == std::string_view::npos ? std::string_view() : args.substr(space + 1);
        if (!starts_with_nocase(word, kKey)) continue;
        word.remove_prefix(kKey.size());
        word = word.substr(0, word.find(','));        // ",MinRate=..." extends up to the range's end
        const size_t dash = word.find('-');
        const auto low = seconds_at(word.substr(0, dash));
        const auto high = dash == std::string_view::npos ? low : seconds_at(word.substr(dash + 1));
        // mod_reqtimeout refuses a malformed value at startup; nothing to bound then.
        if (!low || !high) return std::nullopt;
        return std::chrono::seconds(*high);
    }
    return std::nullopt;
}

}  // namespace mod_tls
