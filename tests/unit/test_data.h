// The bridge's test certificates and keys (bridge/tests/data), shared by the unit tests.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace test_data {

inline const std::string kDir = std::string(MOD_TLS_TEST_DATA) + "/";

// The whole file `name` from the test data directory (a test failure when it is missing).
inline std::string slurp(const std::string &name) {
    std::ifstream in(kDir + name, std::ios::binary);
    EXPECT_TRUE(in.good()) << "missing test file " << name;
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace test_data
