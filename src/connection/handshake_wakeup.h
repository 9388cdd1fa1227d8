// The bound on an asynchronous handshake. On the event MPM a handshake that waits for the client
// sits in the MPM's poll set (CONN_STATE_ASYNC_WAITIO), where no filter runs, so mod_reqtimeout's
// handshake stage cannot end it, and the MPM's own wait is bounded per wait (Timeout), not for
// the whole handshake. A thread of the module shuts the socket's reading side at the handshake's
// deadline: the MPM sees the socket readable and hands the connection back, and the handshake
// fails as timed out. The thread never touches the connection: it finds the socket through a
// registry that the connection leaves (under a lock) before its socket is closed.
#pragma once

#include <cstdint>

#include "apache/includes.h"

namespace mod_tls {

class HandshakeWakeup {
public:
    HandshakeWakeup() = default;
    HandshakeWakeup(const HandshakeWakeup &) = delete;
    HandshakeWakeup &operator=(const HandshakeWakeup &) = delete;
    ~HandshakeWakeup() { disarm(); }

    // Shuts c's socket for reading `after` from now, unless disarmed first.
    bool arm(conn_rec *c, apr_interval_time_t after);
    void disarm();
    bool armed() const { return id_ != 0; }
    // Whether the timer went off (the socket's reading side is shut).
    bool fired() const;

private:
    uint64_t id_ = 0;
};

// post_config hook: reads RequestReadTimeout's handshake stage of every server from the
// configuration tree (mod_reqtimeout keeps its settings to itself).
int read_handshake_limits(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                          server_rec *main_server);

// How long a handshake on c may take: mod_reqtimeout's handshake stage for the host the
// connection arrived on (the upper end of a range), else that host's Timeout.
apr_interval_time_t handshake_limit(const conn_rec *c);

}  // namespace mod_tls
