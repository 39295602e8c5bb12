#include "alert_feed.hpp"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/URI.h>

#include <memory>

#include "alerts.hpp"
#include "cap.hpp"
#include "microscape/controller/repo.hpp"
#include "microscape/controller/security.hpp"
#include "store/job_lock.hpp"

namespace microscape::controller {

namespace {

constexpr std::size_t kMaxLinksRemembered = 10'000;

bool sameOrigin(const Poco::URI& a, const Poco::URI& b) {
    return a.getScheme() == b.getScheme() && Poco::toLower(a.getHost()) == Poco::toLower(b.getHost()) &&
           a.getPort() == b.getPort();
}

}  // namespace

AlertFeedPoller::AlertFeedPoller(Services& svc, Poco::Logger& log) : svc_(svc), log_(log) {}

AlertFeedPoller::~AlertFeedPoller() {
    stop();
}

void AlertFeedPoller::start() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = false;
    }
    thread_ = std::thread([this] { run(); });
}

void AlertFeedPoller::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void AlertFeedPoller::run() {
    log_.information("polling the alert feed %s every %d s as '%s'", svc_.config.alertFeedUrl,
                     svc_.config.alertPollSeconds, svc_.config.alertFeedAccount);
    // Several nodes: one node polls at a time (each node's poll takes what is new).
    sql::JobLock job(svc_.db.url());
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        lock.unlock();
        try {
            if (!job.runExclusive("alert-feed", [this] { pollOnce(); }))
                log_.debug("alert feed: another controller node is polling it");
        } catch (const std::exception& e) {  // nothing leaves the thread
            log_.error("alert feed: %s", std::string(e.what()));
        }
        lock.lock();
        wake_.wait_for(lock, std::chrono::seconds(svc_.config.alertPollSeconds), [this] { return stopping_; });
    }
}

std::optional<std::string> AlertFeedPoller::fetch(const std::string& url, std::size_t maxBytes) {
    try {
        Poco::URI uri(url);
        std::unique_ptr<Poco::Net::HTTPClientSession> session;
        if (uri.getScheme() == "https") {
            Poco::Net::Context::Ptr ctx = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", "",
                                                                 Poco::Net::Context::VERIFY_RELAXED, 9, true);
            session = std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), ctx);
        } else {
            session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
        }
        session->setTimeout(Poco::Timespan(10, 0));
        Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_GET, uri.getPathEtc(),
                                   Poco::Net::HTTPMessage::HTTP_1_1);
        req.set("Accept", "application/atom+xml, application/rss+xml, application/cap+xml, application/xml");
        session->sendRequest(req);
        Poco::Net::HTTPResponse resp;
        auto& in = session->receiveResponse(resp);
        if (resp.getStatus() != Poco::Net::HTTPResponse::HTTP_OK) {
            log_.warning("alert feed: GET %s answered %d (redirects are not followed)", url,
                         static_cast<int>(resp.getStatus()));
            return std::nullopt;
        }
        std::string body;
        char buf[16384];
        while (in) {
            in.read(buf, sizeof buf);
            const auto n = static_cast<std::size_t>(in.gcount());
            if (n == 0) break;
            if (body.size() + n > maxBytes) {
                log_.warning("alert feed: %s is larger than %z bytes; not read", url, maxBytes);
                return std::nullopt;
            }
            body.append(buf, n);
        }
        return body;
    } catch (const Poco::Exception& e) {
        log_.warning("alert feed: GET %s failed: %s", url, e.displayText());
    } catch (const std::exception& e) {
        log_.warning("alert feed: GET %s failed: %s", url, std::string(e.what()));
    }
    return std::nullopt;
}

int AlertFeedPoller::pollOnce() {
    const auto& cfg = svc_.config;
    auto account = svc_.db.read([&](DbConn& c) { return repo::userByName(c, cfg.alertFeedAccount); });
    if (!account || account->disabled || account->role != Role::AlertFeed) {
        log_.warning("alert feed: not polled: alerts.feedAccount '%s' is not an enabled alert_feed user",
                     cfg.alertFeedAccount);
        return 0;
    }
    const std::size_t feedMax = std::min<std::size_t>(cfg.alertMaxBytes * 16, 16u << 20);
    auto body = fetch(cfg.alertFeedUrl, feedMax);
    if (!body) return 0;
    auto entries = cap::parseFeed(*body, feedMax);
    if (!entries) {
        log_.warning("alert feed: %s refused: %s (%s)", cfg.alertFeedUrl, escapeControl(entries.problem().message),
                     entries.problem().code);
        return 0;
    }
    const Poco::URI base(cfg.alertFeedUrl);
    int taken = 0;
    auto take = [&](const std::string& xml, const std::string& where) {
        try {
            auto out = ingestAlert(svc_, xml, *account, "feed");
            if (out.created) {
                ++taken;
                log_.information("alert feed: took %s as alert %Ld", where, out.json->getValue<Poco::Int64>("id"));
            }
            return true;
        } catch (const ApiError& e) {
            // Try again on the next poll: a server fault, or an Update met before its Alert.
            if (e.status >= 500 || e.code == "unknown_reference") return false;
            log_.warning("alert feed: %s refused: %s (%s)", where, escapeControl(e.what()), e.code);
            return true;
        }
    };
    // Feeds list the newest first: take the oldest first, so an Alert precedes its Update.
    for (auto it = entries->rbegin(); it != entries->rend(); ++it) {
        const auto& e = *it;
        {
            std::lock_guard lock(mutex_);
            if (stopping_) break;
        }
        if (!e.capXml.empty()) {
            take(e.capXml, "an entry of " + cfg.alertFeedUrl);
            continue;
        }
        Poco::URI link;
        try {
            link = Poco::URI(base, e.link);
        } catch (const Poco::Exception&) {
            log_.warning("alert feed: entry link '%s' is not a URL", escapeControl(e.link));
            continue;
        }
        const std::string url = link.toString();
        if (linksDone_.count(url)) continue;
        if (!sameOrigin(link, base)) {
            log_.warning("alert feed: %s is not on the feed's host; not fetched", escapeControl(url));
            linksDone_.insert(url);
            continue;
        }
        auto xml = fetch(url, cfg.alertMaxBytes);
        if (!xml) continue;
        if (take(*xml, url)) {
            if (linksDone_.size() >= kMaxLinksRemembered) linksDone_.clear();
            linksDone_.insert(url);
        }
    }
    return taken;
}

}  // namespace microscape::controller
