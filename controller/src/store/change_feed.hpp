// How a change made on one controller node reaches the others: the writer
// announces it inside its transaction (PostgreSQL's NOTIFY: delivered to every
// listening node when the transaction commits, never when it rolls back), and
// each node's ChangeFeed listens on its own connection and hands each
// announcement to a callback. With SQLite there is one node and nothing to
// send: announce() does nothing and the feed never calls back.
//
// Thread-safety: announce() runs on the writer's thread inside Database::write.
// The callbacks run on the feed's own thread, one at a time; they must not
// block for long (post to the owner and return).
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "store/database.hpp"

namespace microscape::controller::sql {

// The channel all nodes of a deployment listen on.
inline constexpr std::string_view kChangeChannel = "microscape_changes";

// Announces payload (at most 7999 bytes: PostgreSQL's limit) to every node,
// this one included, when c's transaction commits. Does nothing on SQLite.
void announce(Conn& c, std::string_view payload);

class ChangeFeed {
  public:
    struct Callbacks {
        std::function<void(const std::string& payload)> onChange;
        // The listening connection was (re)established after a loss: changes
        // may have been missed, so the owner reads the state it cares about again.
        std::function<void()> onResync;
    };

    // PostgreSQL: starts listening before it returns (a change committed after
    // the constructor returns is delivered). SQLite: inert.
    ChangeFeed(const StoreUrl& url, Callbacks callbacks);
    ~ChangeFeed();  // stops the thread
    ChangeFeed(const ChangeFeed&) = delete;
    ChangeFeed& operator=(const ChangeFeed&) = delete;

    // Announcements delivered so far and connections lost (for /metrics and tests).
    std::uint64_t delivered() const { return delivered_.load(); }
    std::uint64_t reconnects() const { return reconnects_.load(); }

  private:
    void run(std::stop_token stop);

    StoreUrl url_;
    Callbacks callbacks_;
    std::atomic<std::uint64_t> delivered_{0};
    std::atomic<std::uint64_t> reconnects_{0};
    std::atomic<bool> listening_{false};
    std::jthread thread_;
};

}  // namespace microscape::controller::sql
