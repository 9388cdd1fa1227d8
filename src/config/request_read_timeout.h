// The handshake stage of mod_reqtimeout's RequestReadTimeout, read by us too: an asynchronous
// handshake waits in the MPM, where no filter runs, so the module itself wakes a handshake that
// has waited past that stage's time (connection/handshake_wakeup.h). Apache-free for unit tests.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace mod_tls {

// The longest a handshake may take by one RequestReadTimeout line's arguments
// ("handshake=5", "handshake=5-10,MinRate=500 header=20"): the upper end of a range, else the
// value. nullopt when the line does not set the handshake stage; zero when it disables it.
std::optional<std::chrono::seconds> handshake_stage_limit(std::string_view args);

}  // namespace mod_tls
