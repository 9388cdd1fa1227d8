// Where a directive was written (file and line), for startup error messages.
#pragma once

#include <string>

namespace mod_tls {

struct DirectiveSite {
    std::string file;
    unsigned line = 0;
    std::string describe() const { return file + ":" + std::to_string(line); }
};

}  // namespace mod_tls
