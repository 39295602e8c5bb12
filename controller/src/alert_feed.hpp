// Polls alerts.feedUrl (an Atom or RSS feed of CAP 1.2 messages) every
// alerts.pollSeconds and takes each message through ingestAlert as the
// alerts.feedAccount user. Embedded messages are taken as they are; linked ones
// are fetched only from the feed's own scheme, host and port (nothing an alert
// or a feed names elsewhere is fetched), without following redirects.
// Thread-safety: start() and stop() from the owner's thread; the poll runs on
// the poller's own thread. stop() returns once that thread has ended.
#pragma once

#include <Poco/Logger.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "api.hpp"

namespace microscape::controller {

class AlertFeedPoller {
  public:
    AlertFeedPoller(Services& svc, Poco::Logger& log);
    ~AlertFeedPoller();  // stops
    AlertFeedPoller(const AlertFeedPoller&) = delete;
    AlertFeedPoller& operator=(const AlertFeedPoller&) = delete;

    void start();  // polls at once, then every alerts.pollSeconds
    void stop();

    // One poll (the poller's thread calls it). Returns how many messages were
    // newly taken; failures are logged, never thrown.
    int pollOnce();

  private:
    void run();
    // GET of an http(s) URL, at most maxBytes of body; nullopt (logged) on failure.
    std::optional<std::string> fetch(const std::string& url, std::size_t maxBytes);

    Services& svc_;
    Poco::Logger& log_;
    std::thread thread_;
    std::mutex mutex_;  // guards stopping_
    std::condition_variable wake_;
    bool stopping_ = false;
    std::set<std::string> linksDone_;  // linked messages taken or refused; poller thread only
};

}  // namespace microscape::controller
