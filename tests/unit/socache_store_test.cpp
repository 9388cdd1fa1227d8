// The session store on a remote socache provider (src/integration/socache_store.cpp, the real
// file) with a fake provider whose calls block until the test lets them go: a call that outlives
// its deadline keeps running on its helper thread, and must still be safe when it finishes after
// the configuration pool that held the store has been destroyed (graceful restart, stop). Run it
// under ASan (make asan-test): a finished call touching freed memory is a heap-use-after-free.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "apache/pool_owned.h"
#include "integration/socache_store.h"

// The fake provider's instance: what a real one keeps (memcache: its server list and
// connections), allocated from the pool the provider is given.
struct ap_socache_instance_t {
    int calls = 0;
};

namespace {

using namespace std::chrono_literals;
using mod_tls::SocacheStore;

// Holds the fake provider's calls until opened; counts calls and destroys.
struct Gate {
    std::mutex m;
    std::condition_variable cv;
    bool open = false;
    int waiting = 0;
    int finished = 0;
    int destroyed = 0;

    void let_go() {
        std::lock_guard<std::mutex> g(m);
        open = true;
        cv.notify_all();
    }
    template <class Pred>
    bool wait_until(Pred pred, std::chrono::milliseconds limit = 5000ms) {
        std::unique_lock<std::mutex> lk(m);
        return cv.wait_for(lk, limit, pred);
    }
};
Gate *g_gate = nullptr;

// A provider call: waits at the gate, then uses its instance and the server it was given, as
// providers do (memcache reads its connection list, logs with the server).
apr_status_t blocked_call(ap_socache_instance_t *instance, const server_rec *s) {
    {
        std::unique_lock<std::mutex> lk(g_gate->m);
        ++g_gate->waiting;
        g_gate->cv.notify_all();
        g_gate->cv.wait(lk, [] { return g_gate->open; });
    }
    ++instance->calls;
    const int level = s->log.level;
    std::lock_guard<std::mutex> g(g_gate->m);
    ++g_gate->finished;
    g_gate->cv.notify_all();
    return level >= 0 ? APR_SUCCESS : APR_EGENERAL;
}

const char *fake_create(ap_socache_instance_t **instance, const char *, apr_pool_t *,
                        apr_pool_t *p) {
    *instance = static_cast<ap_socache_instance_t *>(apr_pcalloc(p, sizeof(ap_socache_instance_t)));
    return nullptr;
}
apr_status_t fake_init(ap_socache_instance_t *, const char *, const ap_socache_hints *,
                       server_rec *, apr_pool_t *) {
    return APR_SUCCESS;
}
void fake_destroy(ap_socache_instance_t *instance, server_rec *) {
    ++instance->calls;
    std::lock_guard<std::mutex> g(g_gate->m);
    ++g_gate->destroyed;
    g_gate->cv.notify_all();
}
apr_status_t fake_store(ap_socache_instance_t *instance, server_rec *s, const unsigned char *,
                        unsigned int, apr_time_t, unsigned char *, unsigned int, apr_pool_t *) {
    return blocked_call(instance, s);
}
apr_status_t fake_retrieve(ap_socache_instance_t *instance, server_rec *s, const unsigned char *,
                           unsigned int, unsigned char *, unsigned int *len, apr_pool_t *) {
    *len = 1;
    return blocked_call(instance, s);
}
apr_status_t fake_remove(ap_socache_instance_t *instance, server_rec *, const unsigned char *,
                         unsigned int, apr_pool_t *) {
    ++instance->calls;
    return APR_SUCCESS;
}

// Named "memcache": the store runs its calls on helper threads, under the deadline.
const ap_socache_provider_t kFakeRemote = {"memcache", 0, fake_create, fake_init, fake_destroy,
                                           fake_store, fake_retrieve, fake_remove, nullptr, nullptr};

class SocacheStoreTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { ASSERT_EQ(apr_initialize(), APR_SUCCESS); }

    void SetUp() override {
        g_gate = &gate_;
        main_.log.level = APLOG_WARNING;
        // With its own allocator, so that destroying it gives its memory back to malloc, where
        // ASan sees any later use (a shared allocator would keep the blocks for reuse).
        apr_allocator_t *allocator = nullptr;
        ASSERT_EQ(apr_allocator_create(&allocator), APR_SUCCESS);
        ASSERT_EQ(apr_pool_create_ex(&pconf_, nullptr, nullptr, allocator), APR_SUCCESS);
        apr_allocator_owner_set(allocator, pconf_);
    }
    void TearDown() override {
        gate_.let_go();
        // Whatever still runs finishes before the gate goes away.
        EXPECT_TRUE(gate_.wait_until([&] { return gate_.finished == gate_.waiting; }));
        std::this_thread::sleep_for(100ms);
        if (pconf_ != nullptr) apr_pool_destroy(pconf_);
        g_gate = nullptr;
    }

    // The store as post_config makes it: owned by the configuration pool.
    SocacheStore *make_store() {
        auto cache = std::make_shared<mod_tls::SocacheInstance>(&kFakeRemote);
        EXPECT_EQ(cache->create(nullptr, pconf_), nullptr);
        EXPECT_EQ(cache->init("test", ap_socache_hints{}, &main_), APR_SUCCESS);
        return mod_tls::make_pool_owned<SocacheStore>(pconf_, cache, "memcache:fake", 300, &main_);
    }
    // A lookup that the store gives up on (the call stays blocked at the gate).
    void lookup_given_up(SocacheStore *store) {
        std::array<uint8_t, 64> out{};
        const auto began = std::chrono::steady_clock::now();
        EXPECT_FALSE(store->get(key_, /*remove=*/true, out)) << "the call is still blocked";
        EXPECT_GE(std::chrono::steady_clock::now() - began, SocacheStore::kCallDeadline);
        ASSERT_EQ(gate_.waiting, 1);
    }
    // What clearing the configuration pool does to the store (graceful restart, stop).
    void destroy_pconf() {
        apr_pool_destroy(pconf_);
        pconf_ = nullptr;
    }

    Gate gate_;
    server_rec main_{};
    apr_pool_t *pconf_ = nullptr;
    const std::array<uint8_t, 8> key_{1, 2, 3, 4, 5, 6, 7, 8};
};

TEST_F(SocacheStoreTest, CallPastItsDeadlineFinishesSafelyAfterThePoolIsGone) {
    lookup_given_up(make_store());
    const auto began = std::chrono::steady_clock::now();
    destroy_pconf();
    EXPECT_LT(std::chrono::steady_clock::now() - began, SocacheStore::kDrainWait + 500ms)
        << "the store waits for running calls, but not forever";
    EXPECT_EQ(gate_.destroyed, 0) << "the blocked call still holds the provider instance";
    gate_.let_go();  // the call returns now and goes on (remove, then its result)
    EXPECT_TRUE(gate_.wait_until([&] { return gate_.finished == 1; }));
    EXPECT_TRUE(gate_.wait_until([&] { return gate_.destroyed == 1; }))
        << "the last owner, the call, destroys the provider instance";
}

TEST_F(SocacheStoreTest, StoreStillBlockedWhenThePoolIsGone) {
    SocacheStore *store = make_store();
    const std::array<uint8_t, 16> session{};
    EXPECT_FALSE(store->put(key_, session));
    ASSERT_EQ(gate_.waiting, 1);
    destroy_pconf();
    gate_.let_go();
    EXPECT_TRUE(gate_.wait_until([&] { return gate_.finished == 1; }));
    EXPECT_TRUE(gate_.wait_until([&] { return gate_.destroyed == 1; }));
}

TEST_F(SocacheStoreTest, ClearingThePoolWaitsForACallAboutToFinish) {
    lookup_given_up(make_store());
    std::thread answer([&] {
        std::this_thread::sleep_for(200ms);
        gate_.let_go();
    });
    destroy_pconf();
    answer.join();
    EXPECT_EQ(gate_.finished, 1);
    EXPECT_EQ(gate_.destroyed, 1) << "torn down by the store, in order, once the call finished";
}

}  // namespace
