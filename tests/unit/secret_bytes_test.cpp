// SecretBytes (src/apache/secret_bytes.h): key text is cleared before its memory goes back to
// the allocator. The tests look at the block when operator delete[] frees it
// (tests/support/freed_blocks.h). Like the module's key text, the bytes are filled, read and
// dropped in one function whose owner's address goes nowhere else: the shape in which a
// compiler drops a plain clear as a dead store (g++ 12 -O2 does, for std::fill).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#include "apache/secret_bytes.h"
#include "freed_blocks.h"

namespace {

constexpr size_t kSize = 4099;  // a size nothing else in the test allocates
char g_key_material[kSize];     // filled at run time: the compiler cannot know it

long sum(std::span<const char> bytes) { return std::accumulate(bytes.begin(), bytes.end(), 0L); }

// Key text as the module holds it: read in, used, gone.
__attribute__((noinline)) long use_key_text() {
    mod_tls::SecretBytes key_text(kSize);
    std::memcpy(key_text.data(), g_key_material, kSize);
    return sum(key_text.view());
}

// The same, then replaced by other contents: what it held goes.
__attribute__((noinline)) long use_and_replace_key_text() {
    mod_tls::SecretBytes key_text(kSize);
    std::memcpy(key_text.data(), g_key_material, kSize);
    mod_tls::SecretBytes moved(std::move(key_text));
    const long used = sum(moved.view()) + static_cast<long>(key_text.size());
    moved = mod_tls::SecretBytes(16);
    return used + static_cast<long>(moved.size());
}

bool all_zero(const std::vector<char> &bytes) {
    return std::ranges::all_of(bytes, [](char c) { return c == '\0'; });
}

class SecretBytesTest : public ::testing::Test {
protected:
    void SetUp() override { std::memset(g_key_material, 'k', kSize); }
    void TearDown() override { freed_blocks::unwatch(); }
    const long key_sum_ = 'k' * static_cast<long>(kSize);
};

TEST_F(SecretBytesTest, ClearedBeforeItsMemoryIsFreed) {
    std::vector<char> seen;
    freed_blocks::watch_size(kSize, &seen);
    EXPECT_EQ(use_key_text(), key_sum_);
    ASSERT_EQ(seen.size(), kSize) << "operator delete[] did not see the buffer";
    EXPECT_TRUE(all_zero(seen)) << "the key text was still in the freed block";
}

TEST_F(SecretBytesTest, ReplacedContentsAreClearedToo) {
    std::vector<char> seen;
    freed_blocks::watch_size(kSize, &seen);
    EXPECT_EQ(use_and_replace_key_text(), key_sum_ + 16);
    ASSERT_EQ(seen.size(), kSize);
    EXPECT_TRUE(all_zero(seen)) << "the key text was still in the freed block";
}

}  // namespace
