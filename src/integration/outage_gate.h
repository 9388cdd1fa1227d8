// Decides when a failing external service (the session cache) deserves an error-log line: the
// first failure of an outage, then at most once per `repeat_secs` while it lasts, and one line
// when it works again — never one line per connection. Thread-safe; one per process.
#pragma once

#include <atomic>
#include <cstdint>

namespace mod_tls {

class OutageGate {
public:
    enum class Report { None, Down, StillDown, Recovered };

    explicit OutageGate(int64_t repeat_secs) : repeat_secs_(repeat_secs) {}

    Report failure(int64_t now_secs) {
        if (!down_.exchange(true)) {
            last_report_.store(now_secs);
            return Report::Down;
        }
        int64_t last = last_report_.load();
        if (now_secs - last >= repeat_secs_ && last_report_.compare_exchange_strong(last, now_secs))
            return Report::StillDown;
        return Report::None;
    }

    Report success() {
        if (down_.load() && down_.exchange(false)) return Report::Recovered;
        return Report::None;
    }

private:
    const int64_t repeat_secs_;
    std::atomic<bool> down_{false};
    std::atomic<int64_t> last_report_{0};
};

}  // namespace mod_tls
