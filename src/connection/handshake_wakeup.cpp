#include "connection/handshake_wakeup.h"

#include <strings.h>
#include <sys/socket.h>

#include <util_cfgtree.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>

#include "config/request_read_timeout.h"
#include "config/server_config.h"

namespace mod_tls {

namespace {

// The armed wake-ups of this worker process and the thread that fires them. Our own thread, not
// the MPM's timers: the event MPM runs a timer only when its listener happens to wake up, which
// may be as late as the next Timeout. A connection leaves the registry (under the lock) before its
// socket is closed, so the thread never shuts a socket that belongs to someone else.
class Waker {
public:
    using Clock = std::chrono::steady_clock;

    uint64_t add(apr_os_sock_t fd, Clock::time_point when) {
        std::lock_guard lock(mutex_);
        if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
        const uint64_t id = ++last_id_;
        sockets_.emplace(id, Entry{fd, when});
        queue_.emplace(when, id);
        // Wake the thread only if it would sleep past this deadline. Deadlines are mostly later
        // than the ones before them, so most handshakes that wait cost no wake-up (a futex call
        // and two context switches each).
        if (when < asleep_until_) wanted_.notify_one();
        return id;
    }

    // Leaves the thread asleep until the removed deadline, if that was the next: it then finds
    // the next one, or nothing.
    void remove(uint64_t id) {
        std::lock_guard lock(mutex_);
        auto it = sockets_.find(id);
        if (it == sockets_.end()) return;
        queue_.erase({it->second.when, id});
        sockets_.erase(it);
    }

    bool contains(uint64_t id) {
        std::lock_guard lock(mutex_);
        return sockets_.contains(id);
    }

    ~Waker() {  // the process exits
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
            wanted_.notify_one();
        }
        if (thread_.joinable()) thread_.join();
    }

private:
    struct Entry {
        apr_os_sock_t fd;
        Clock::time_point when;
    };

    void run() {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            if (queue_.empty()) {
                asleep_until_ = Clock::time_point::max();
                wanted_.wait(lock);
                continue;
            }
            const auto [when, id] = *queue_.begin();
            if (Clock::now() < when) {
                asleep_until_ = when;
                wanted_.wait_until(lock, when);
                continue;
            }
            queue_.erase(queue_.begin());
            ::shutdown(sockets_.at(id).fd, SHUT_RD);
            sockets_.erase(id);
        }
    }

    std::mutex mutex_;
    std::condition_variable wanted_;
    std::unordered_map<uint64_t, Entry> sockets_;
    std::set<std::pair<Clock::time_point, uint64_t>> queue_;  // by deadline
    uint64_t last_id_ = 0;
    Clock::time_point asleep_until_ = Clock::time_point::max();  // when the thread wakes by itself
    bool stopping_ = false;
    std::thread thread_;
};

Waker &waker() {
    static Waker w;
    return w;
}

bool is(const ap_directive_t *d, std::string_view name) {
    return d->directive != nullptr && strcasecmp(d->directive, std::string(name).c_str()) == 0;
}

server_rec *virtual_host_of(server_rec *main_server, const ap_directive_t *section) {
    for (server_rec *s = main_server->next; s != nullptr; s = s->next) {
        if (s->defn_line_number == static_cast<unsigned>(section->line_num) &&
            s->defn_name != nullptr && section->filename != nullptr &&
            std::string_view(s->defn_name) == section->filename)
            return s;
    }
    return nullptr;
}

// RequestReadTimeout lines apply to the server whose section holds them; other containers
// (<IfModule>, <IfDefine>, ...) are looked into as if their condition held: the directive only
// exists where mod_reqtimeout is loaded.
void read_limits(const ap_directive_t *first, server_rec *main_server, server_rec *s) {
    for (const ap_directive_t *d = first; d != nullptr; d = d->next) {
        if (is(d, "RequestReadTimeout")) {
            if (auto limit = handshake_stage_limit(d->args ? d->args : ""))
                server_config(s)->handshake_stage = *limit;
        } else if (is(d, "<VirtualHost")) {
            if (server_rec *vhost = virtual_host_of(main_server, d))
                read_limits(d->first_child, main_server, vhost);
        } else if (d->first_child != nullptr) {
            read_limits(d->first_child, main_server, s);
        }
    }
}

}  // namespace

bool HandshakeWakeup::arm(conn_rec *c, apr_interval_time_t after) {
    disarm();
    apr_os_sock_t fd = -1;
    if (apr_os_sock_get(&fd, ap_get_conn_socket(c)) != APR_SUCCESS) return false;
    id_ = waker().add(fd, Waker::Clock::now() + std::chrono::microseconds(after));
    return true;
}

void HandshakeWakeup::disarm() {
    if (id_ == 0) return;
    waker().remove(id_);
    id_ = 0;
}

bool HandshakeWakeup::fired() const { return id_ != 0 && !waker().contains(id_); }

int read_handshake_limits(apr_pool_t *, apr_pool_t *, apr_pool_t *, server_rec *main_server) {
    read_limits(ap_conftree, main_server, main_server);
    return OK;
}

apr_interval_time_t handshake_limit(const conn_rec *c) {
    const server_rec *s = c->base_server;
    std::optional<std::chrono::seconds> stage = server_config(s)->handshake_stage;
    if (!stage && ap_server_conf != nullptr) stage = server_config(ap_server_conf)->handshake_stage;
    if (stage && stage->count() > 0) return apr_time_from_sec(stage->count());
    return s->timeout;
}

}  // namespace mod_tls
